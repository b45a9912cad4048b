"""The concept insertion test: does putting a concept into a class image change the class logit?

It needs images only (no masks, no generator), so it checks a TCAV finding for any concept
folder. For each class image and each seeded draw, a region (a square of ``fraction`` of the
image side) is chosen, and the class logit of two images is compared:

- the image with concept content in the region, and
- the same image with a **control** in exactly the same region.

**Fits** (:data:`FITS`): how an image (concept or random) is fitted into the region.

- ``scale``: the whole image shrunk into the region. Fine for a colour, but a pattern shrinks
  with it: stripes or dots drawn at the scale of the image come out finer than the model
  ever saw them;
- ``crop``: a region-sized window of the image at its own scale (the image first brought to
  the carrier's size, as every scored image is), at a seeded place: the pattern keeps its scale,
  the content its resolution.

Pasting itself (new edges, hiding part of the object) is in both, so it cancels; what is left
is the concept's content against the control's. The effect is the mean of the paired
differences; its unit is the image (differences averaged over an image's draws), so the
confidence interval and the p-value (one-sample t-test against 0, two-sided) count images,
not draws. Controls (:data:`CONTROLS`):

- ``blur``: the region blurred (a box blur of radius ``blur`` x the region side): the image's
  own colours, without their shape or texture;
- ``elsewhere``: the region filled from another place of the same image (the image's own
  content, moved);
- ``mean``: the region filled with its own mean colour;
- ``random``: a random-set image fitted into the region like the concept (TCAV's
  counterexamples). It is not neutral: random images carry cues of the classes, so a concept
  that does nothing looks positive against it.

**Carriers** (:data:`CARRIERS`): what the concept is pasted into.

- ``class``: the class's own images. A cue they already carry everywhere (a body that is
  already red) changes little when pasted again, and whatever else the concept images hold
  (their backgrounds, other colours) is pasted with it;
- ``random``: random-set images (ones not used as controls), where the class's cues are
  absent: does the concept on its own move the class?
- ``both``: the effect must be significant on both carriers, the same way (an
  intersection-union test: the p-value is the larger of the two; the effect and interval
  reported are those on the class images).

Everything is plain NumPy over float images in [0, 1] of shape ``(n, h, w, 3)``; the model is
any function from such a batch to logits. Forward passes only.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import zlib
from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy import stats as _scipy_stats

CONTROLS = ("blur", "elsewhere", "mean", "random")
CARRIERS = ("class", "random", "both")
PLACEMENTS = ("random", "center")
FITS = ("scale", "crop")
#: Box-blur radius of the ``blur`` control, as a share of the region's side.
BLUR_RADIUS = 0.25

LogitFn = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class InsertionConfig:
    """How the test is run: the control, the region's size and placement, the draws per image."""

    control: str = "blur"
    fraction: float = 0.4
    placement: str = "random"
    draws: int = 4
    confidence: float = 0.95
    carrier: str = "class"
    fit: str = "scale"

    def __post_init__(self) -> None:
        if self.fit not in FITS:
            raise ValueError(f"fit must be one of {', '.join(FITS)}, got {self.fit!r}")
        if self.carrier not in CARRIERS:
            raise ValueError(f"carrier must be one of {', '.join(CARRIERS)}, got {self.carrier!r}")
        if self.control not in CONTROLS:
            raise ValueError(f"control must be one of {', '.join(CONTROLS)}, got {self.control!r}")
        if self.placement not in PLACEMENTS:
            raise ValueError(f"placement must be one of {', '.join(PLACEMENTS)}, got {self.placement!r}")
        if not 0 < self.fraction <= 1:
            raise ValueError(f"fraction must be in (0, 1], got {self.fraction!r}")
        if self.draws < 1:
            raise ValueError(f"draws must be at least 1, got {self.draws!r}")


@dataclass(frozen=True)
class InsertionResult:
    """One (class, concept) insertion test."""

    effect: float  # mean paired difference of the class logit (concept minus control)
    ci_low: float
    ci_high: float
    p_value: float  # two-sided, one-sample t-test of the per-image differences against 0
    n_images: int
    draws: int


def draw_rng(seed: int, *names: str) -> np.random.Generator:
    """A random stream that depends only on ``seed`` and ``names``."""
    return np.random.default_rng([seed, *(zlib.crc32(name.encode("utf-8")) for name in names)])


def in_content_order(images: np.ndarray) -> np.ndarray:
    """``images`` sorted by the SHA-256 of each image's bytes: the same array whatever its files were
    called or listed as, so that draws from it do not depend on names."""
    images = np.ascontiguousarray(images)
    keys = [hashlib.sha256(memoryview(image).cast("B")).hexdigest() for image in images]
    return images[np.argsort(keys, kind="stable")]


def content_name(images: np.ndarray) -> str:
    """A name for seeding draws from a set of images: its content fingerprint (order and names aside)."""
    from tcavcore.cav import set_fingerprint

    return set_fingerprint(images)[:16]


def region_boxes(rng: np.random.Generator, count: int, height: int, width: int, fraction: float,
                 placement: str = "random") -> np.ndarray:
    """``count`` squares ``(top, left, side)`` of ``fraction`` of the shorter side, inside the image."""
    side = max(1, int(round(fraction * min(height, width))))
    if placement == "center":
        top, left = (height - side) // 2, (width - side) // 2
        return np.tile(np.array([top, left, side]), (count, 1))
    tops = rng.integers(0, height - side + 1, count)
    lefts = rng.integers(0, width - side + 1, count)
    return np.stack([tops, lefts, np.full(count, side)], axis=1)


def resize(image: np.ndarray, height: int, width: int, shrink_by_area: bool = True) -> np.ndarray:
    """``image`` ``(h, w, 3)`` in float resized to ``(height, width, 3)``, channel by channel (no
    8-bit rounding): by averaging (area) when it shrinks and ``shrink_by_area``, else bilinear."""
    from PIL import Image

    if image.shape[:2] == (height, width):
        return image.astype(np.float32)
    channels = [Image.fromarray(np.ascontiguousarray(image[..., c], dtype=np.float32), "F") for c in range(3)]
    method = Image.BOX if shrink_by_area and height < image.shape[0] else Image.BILINEAR
    return np.stack([np.asarray(ch.resize((width, height), method), np.float32) for ch in channels], axis=-1)


def scale_to(image: np.ndarray, side: int) -> np.ndarray:
    """``image`` ``(h, w, 3)`` resized to ``(side, side, 3)`` by averaging (area) or bilinear sampling."""
    return resize(image, side, side)


def crop_to(image: np.ndarray, side: int, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A ``side x side`` window of ``image`` at its own scale, at a place drawn from ``rng``.

    ``image`` is first brought to ``shape`` (the carrier's height and width) when it differs,
    so that "its own scale" is the scale the model sees it at when it is scored.
    """
    height, width = shape
    image = resize(image, height, width, shrink_by_area=False)
    top = int(rng.integers(0, height - side + 1))
    left = int(rng.integers(0, width - side + 1))
    return image[top:top + side, left:left + side].astype(np.float32)


def fit_to(fit: str, image: np.ndarray, side: int, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """``image`` fitted into a ``side``-sided region of a carrier of ``shape``: scaled or cropped (:data:`FITS`)."""
    if fit == "crop":
        return crop_to(image, side, shape, rng)
    return scale_to(image, side)


def paste(image: np.ndarray, content: np.ndarray, box: np.ndarray) -> np.ndarray:
    """A copy of ``image`` with ``content`` (``side x side``) in ``box`` ``(top, left, side)``."""
    top, left, side = (int(v) for v in box)
    out = image.copy()
    out[top:top + side, left:left + side] = content
    return out


def box_blur(region: np.ndarray, radius: int) -> np.ndarray:
    """Box blur of ``region`` ``(s, s, 3)`` with edge padding (the region's own pixels only)."""
    if radius < 1:
        return region
    size = 2 * radius + 1
    padded = np.pad(region, ((radius, radius), (radius, radius), (0, 0)), mode="edge")
    cumulative = np.cumsum(np.cumsum(padded, axis=0), axis=1)
    cumulative = np.pad(cumulative, ((1, 0), (1, 0), (0, 0)))
    s = region.shape[0]
    total = (cumulative[size:size + s, size:size + s] - cumulative[:s, size:size + s]
             - cumulative[size:size + s, :s] + cumulative[:s, :s])
    return (total / (size * size)).astype(region.dtype)


def control_content(control: str, image: np.ndarray, box: np.ndarray, rng: np.random.Generator,
                    random_images: np.ndarray | None, fit: str = "scale") -> np.ndarray:
    """What the control puts into ``box`` of ``image`` (a random image fitted as ``fit`` says)."""
    top, left, side = (int(v) for v in box)
    region = image[top:top + side, left:left + side]
    if control == "blur":
        return box_blur(region, max(1, int(round(BLUR_RADIUS * side))))
    if control == "mean":
        return np.broadcast_to(region.reshape(-1, 3).mean(axis=0), region.shape).astype(region.dtype)
    if control == "elsewhere":
        height, width = image.shape[:2]
        # the farthest of a few candidate places, so that the content really comes from elsewhere
        candidates = region_boxes(rng, 4, height, width, side / min(height, width))
        distance = np.abs(candidates[:, 0] - top) + np.abs(candidates[:, 1] - left)
        t, l, _ = candidates[int(np.argmax(distance))]
        return image[t:t + side, l:l + side].copy()
    if control == "random":
        if random_images is None or len(random_images) == 0:
            raise ValueError("the random control needs random images")
        return fit_to(fit, random_images[int(rng.integers(len(random_images)))], side, image.shape[:2], rng)
    raise ValueError(f"control must be one of {', '.join(CONTROLS)}, got {control!r}")


def insertion_batches(class_images: np.ndarray, concept_images: np.ndarray, config: InsertionConfig,
                      rng: np.random.Generator, control_rng: np.random.Generator,
                      random_images: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The images with the concept and with the control: two arrays ``(n x draws, h, w, 3)``, paired by row.

    ``rng`` draws the regions and the concept images (the same whatever the control, so that
    controls are compared on the same insertions); ``control_rng`` the control's own draws.
    """
    n, height, width = class_images.shape[:3]
    boxes = region_boxes(rng, n * config.draws, height, width, config.fraction, config.placement)
    picks = rng.integers(0, len(concept_images), n * config.draws)
    with_concept, with_control = [], []
    scaled: dict[int, np.ndarray] = {}
    for row, (box, pick) in enumerate(zip(boxes, picks)):
        image = class_images[row // config.draws]
        side = int(box[2])
        if config.fit == "crop":  # a window at a new place for every insertion
            content = crop_to(concept_images[int(pick)], side, image.shape[:2], rng)
        else:  # the same scaled image whenever it is picked again
            if int(pick) not in scaled:
                scaled[int(pick)] = scale_to(concept_images[int(pick)], side)
            content = scaled[int(pick)]
        with_concept.append(paste(image, content, box))
        with_control.append(paste(image, control_content(config.control, image, box, control_rng, random_images,
                                                          config.fit), box))
    return np.stack(with_concept), np.stack(with_control)


def paired_effect(differences: np.ndarray, draws: int, confidence: float = 0.95) -> InsertionResult:
    """Mean, t interval and two-sided p of paired differences ``(n x draws,)``, images as the unit."""
    per_image = np.asarray(differences, dtype=np.float64).reshape(-1, draws).mean(axis=1)
    n = len(per_image)
    mean = float(per_image.mean()) if n else math.nan
    if n < 2:
        return InsertionResult(mean, math.nan, math.nan, math.nan, n, draws)
    sd = float(per_image.std(ddof=1))
    if sd == 0.0:
        p = 1.0 if mean == 0.0 else 0.0
        return InsertionResult(mean, mean, mean, p, n, draws)
    half = float(_scipy_stats.t.ppf(0.5 + confidence / 2, n - 1) * sd / math.sqrt(n))
    p = float(_scipy_stats.ttest_1samp(per_image, 0.0).pvalue)
    return InsertionResult(mean, mean - half, mean + half, p, n, draws)


def _one_carrier(logits: LogitFn, carrier_images: np.ndarray, class_id: int, concept_images: np.ndarray,
                 config: InsertionConfig, seed: int, names: tuple[str, ...],
                 random_images: np.ndarray | None) -> InsertionResult:
    rng = draw_rng(seed, "insertion", *names)
    control_rng = draw_rng(seed, "insertion-control", *names, config.control)
    with_concept, with_control = insertion_batches(carrier_images, concept_images, config, rng, control_rng,
                                                   random_images)
    differences = logits(with_concept)[:, class_id] - logits(with_control)[:, class_id]
    return paired_effect(differences, config.draws, config.confidence)


def combine_carriers(on_class: InsertionResult, on_random: InsertionResult) -> InsertionResult:
    """Both carriers must agree: p is the larger p-value when the effects share a sign, else 1."""
    same_way = np.sign(on_class.effect) == np.sign(on_random.effect) != 0
    p_value = max(on_class.p_value, on_random.p_value) if same_way else 1.0
    return dataclasses.replace(on_class, p_value=float(p_value))


def insertion_test(logits: LogitFn, class_images: np.ndarray, class_id: int, concept_images: np.ndarray,
                   config: InsertionConfig, *, seed: int, class_name: str, concept: str,
                   random_images: np.ndarray | None = None,
                   carrier_images: np.ndarray | None = None) -> InsertionResult:
    """The insertion test of one (class, concept): the class logit with the concept minus with the control.

    Seeded by ``(seed, class_name, concept)``: the same regions and concept images for every
    control; the control's own draws from ``(seed, class_name, concept, control)``.
    ``carrier_images``: the random images the ``random`` and ``both`` carriers paste into.
    """
    results = {}
    if config.carrier in ("class", "both"):
        results["class"] = _one_carrier(logits, class_images, class_id, concept_images, config, seed,
                                        (class_name, concept), random_images)
    if config.carrier in ("random", "both"):
        if carrier_images is None or len(carrier_images) < 2:
            raise ValueError("the random carrier needs at least 2 carrier images")
        results["random"] = _one_carrier(logits, carrier_images, class_id, concept_images, config, seed,
                                         (class_name, concept, "carrier"), random_images)
    if config.carrier == "both":
        return combine_carriers(results["class"], results["random"])
    return results[config.carrier]
