"""The scene test: what a concept does to the class logit when it is put into the class's own scenes.

The insertion test (:mod:`tcavcore.insertion`) asks whether a concept *on its own* moves a
class: a window of it on random images, where the class is absent. That is the right question
for "raises the class" (can the concept create evidence for the class?) but a weak one for
"lowers the class": on images without the class the logit has little to lose, and the model's
answer there is not what it does in the class's own pictures. The known truth of the built-in
worlds (``worlds/counterfactual.py``) puts a concept into the same scene as a distractor
object; this test does the closest thing a folder of images allows:

1. **Where.** For each image of the class, the region side is ``fraction`` of the image side.
   Every position on a grid is blurred in turn (:func:`blur_changes`); the blob goes among the
   :data:`PLACE_SHARE` of positions where blurring changes the class logit least: mostly
   beside the object (no masks needed; on the built-in worlds, measured with the generator's
   masks, a fifth to two fifths of a blob's weight still lies on the body, and blobs placed
   wholly off it moved the effects by 0.15 logit at most). The same ``draws`` positions per
   image are used for every concept and random set (a paired design).
2. **What.** A region-sized window of a concept image at its own scale (as the insertion test's
   ``crop`` fit), pasted through a soft disc (:func:`soft_disc`): an object-like blob of the
   concept with no square edges. With the default ``fraction`` 0.4 the blob weighs about 9%
   of the image, the size of the generator's distractor objects (5-9%).
3. **Against what.** The same blob filled from each random set, in the same places. Any foreign
   blob changes a class a little (it is new content); the random sets say how much. The effect
   of a concept on one image is its class logit (mean over draws) minus the mean over the
   random sets' blobs; over images: the mean, a t interval and a two-sided p. Each random set
   is also tested the same way against the others (leave one out): what a concept that does
   nothing scores, for :func:`tcavcore.confirmation.random_interval`.

Its effects are in logits, on the scale of the truth's: over the built-in worlds' distractors
(six seeds each, ``benchmarks/method_accuracy.py``) the scene effect was 0.91 x the measured
one + 0.15 on the colour world (r = 0.98) and 0.67 x - 0.03 on the texture world (r = 0.70);
the insertion test's 0.26 x (r = 0.75) and 0.14 x (r = 0.28). That is what allows a size
criterion (``insertion.min_effect``, :mod:`tcavcore.confirmation`). It shows little of a cue
the class's images already carry (a red blob beside a red creature adds little to its red
body: 0.14 x the measured effect of the body's colour).

**The object test** is the same comparison with the blob put *on the object* instead
(``where="object"``): a larger blob (``insertion.object_region``, 0.7 of the side) among the
:data:`PLACE_SHARE` of positions where blurring moves the class logit *most*, so that it
covers most of what the model reads the class from, against the random sets' blobs in the
same places. Every blob there takes the object away; what a concept's blob does beyond the
random sets' is what its content puts back. It sees a class's own cue, which the scene test
barely shows (a blob of stripes beside a striped creature adds little to its stripes; in
place of them it raises the class by 1-3 logit), and it also sees content the model merely
reads as a cue (dark marks on the body read as stripes). :mod:`tcavcore.confirmation` uses it
only to confirm a raise, and only when its whole interval lies beyond ``min_effect``.

Everything is plain NumPy over float images in [0, 1] of shape ``(n, h, w, 3)``; the model is
any function from such a batch to logits. Forward passes only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np

from tcavcore.insertion import InsertionResult, box_blur, content_name, crop_to, draw_rng, in_content_order, \
    paired_effect

LogitFn = Callable[[np.ndarray], np.ndarray]

#: Share of the grid positions a blob may go to: the least salient ones (the background) for the
#: scene test, the most salient ones (the object) for the object test.
PLACE_SHARE = 0.25
#: Where a blob goes: beside the object (the scene test) or on it (the object test).
BACKGROUND, OBJECT = "background", "object"
#: Share of the disc's radius over which a blob fades into the image.
SOFT_EDGE = 0.25
#: Grid step of the saliency scan, as a share of the region side (five positions per side's length).
SCAN_STEP = 0.2
#: Blur radius of the saliency scan, as a share of the region side (the insertion test's blur control).
SCAN_BLUR = 0.25


@dataclass(frozen=True)
class SceneConfig:
    """The scene (or object) test's settings: the region's side as a share of the image side, draws per
    image, and where the blobs go (:data:`BACKGROUND` or :data:`OBJECT`)."""

    fraction: float = 0.4
    draws: int = 4
    confidence: float = 0.95
    where: str = BACKGROUND

    def __post_init__(self) -> None:
        if self.where not in (BACKGROUND, OBJECT):
            raise ValueError(f"where must be {BACKGROUND!r} or {OBJECT!r}, got {self.where!r}")
        if not 0 < self.fraction < 1:
            raise ValueError(f"fraction must be in (0, 1), got {self.fraction!r}")
        if self.draws < 1:
            raise ValueError(f"draws must be at least 1, got {self.draws!r}")


def region_side(fraction: float, height: int, width: int) -> int:
    """The side in pixels of a region of ``fraction`` of the shorter image side."""
    return max(1, int(round(fraction * min(height, width))))


def soft_disc(side: int, edge: float = SOFT_EDGE) -> np.ndarray:
    """A ``(side, side, 1)`` weight: 1 inside a disc, falling to 0 at the square's inscribed circle."""
    centre = side / 2
    yy, xx = np.mgrid[0:side, 0:side] + 0.5
    radius = np.hypot(yy - centre, xx - centre) / centre
    return np.clip((1 - radius) / edge, 0, 1)[..., None].astype(np.float32)


def paste_blob(image: np.ndarray, content: np.ndarray, box: Sequence[int], weight: np.ndarray) -> np.ndarray:
    """A copy of ``image`` with ``content`` blended in at ``box`` ``(top, left, side)`` through ``weight``."""
    top, left, side = (int(v) for v in box)
    out = image.copy()
    region = out[top:top + side, left:left + side]
    out[top:top + side, left:left + side] = weight * content + (1 - weight) * region
    return out


def grid_boxes(height: int, width: int, side: int) -> np.ndarray:
    """Every ``(top, left, side)`` of the saliency scan: a grid with a step of :data:`SCAN_STEP` x side."""
    step = max(1, int(round(SCAN_STEP * side)))
    tops = np.arange(0, height - side + 1, step)
    lefts = np.arange(0, width - side + 1, step)
    return np.array([(t, l, side) for t in tops for l in lefts], dtype=np.int64)


def blur_changes(logits: LogitFn, images: np.ndarray, class_id: int, boxes: np.ndarray) -> np.ndarray:
    """``|change of the class logit|`` when each box of each image is blurred: ``(n, len(boxes))``."""
    base = logits(images)[:, class_id]
    changes = np.empty((len(images), len(boxes)), dtype=np.float64)
    for i, image in enumerate(images):
        blurred = []
        for box in boxes:
            top, left, side = (int(v) for v in box)
            region = image[top:top + side, left:left + side]
            out = image.copy()
            out[top:top + side, left:left + side] = box_blur(region, max(1, int(round(SCAN_BLUR * side))))
            blurred.append(out)
        changes[i] = np.abs(logits(np.stack(blurred))[:, class_id] - base[i])
    return changes


def blob_places(rng: np.random.Generator, boxes: np.ndarray, changes: np.ndarray, draws: int,
                share: float = PLACE_SHARE, where: str = BACKGROUND) -> np.ndarray:
    """Per image, ``draws`` boxes drawn among its ``share`` least salient ones (``where="object"``: its most
    salient ones): ``(n, draws, 3)``.

    Ties keep the scan's order (a stable sort), so the choice is the same on every machine.
    """
    keep = max(1, int(math.floor(share * len(boxes))))
    ranked = [np.argsort(row if where == BACKGROUND else -row, kind="stable") for row in changes]
    return np.stack([boxes[rng.choice(order[:keep], draws)] for order in ranked])


def blob_logits(logits: LogitFn, images: np.ndarray, class_id: int, boxes: np.ndarray, source: np.ndarray,
                rng: np.random.Generator) -> np.ndarray:
    """The class logit with a blob of ``source`` in each box (per blob a window of one of its images, drawn
    from ``rng``): ``(n, draws)``."""
    n, draws = boxes.shape[:2]
    side = int(boxes[0, 0, 2])
    weight = soft_disc(side)
    batch = []
    for i in range(n):
        for j in range(draws):
            window = crop_to(source[int(rng.integers(len(source)))], side, images.shape[1:3], rng)
            batch.append(paste_blob(images[i], window, boxes[i, j], weight))
    return logits(np.stack(batch))[:, class_id].reshape(n, draws)


def scene_logits(logits: LogitFn, images: np.ndarray, class_id: int, sources: Mapping[str, np.ndarray],
                 config: SceneConfig, *, seed: int) -> dict[str, np.ndarray]:
    """Per source (concept or random set), each class image's logit with its blobs, averaged over draws.

    The blobs go beside the object or on it as ``config.where`` says (the scene test, the object
    test: each with its own seeded draws). ``(n,)`` arrays, the class images in content order
    (:func:`tcavcore.insertion.in_content_order`).
    Every draw depends on content, never on names: the places on ``(seed, class images)``, so
    every source is pasted into the same ones; the windows on ``(seed, class images, source
    images)``, so a source's answer does not depend on which other sources are tested or on
    what its folder or files are called.
    """
    images = in_content_order(images)
    class_key = content_name(images)
    side = region_side(config.fraction, images.shape[1], images.shape[2])
    boxes = grid_boxes(images.shape[1], images.shape[2], side)
    changes = blur_changes(logits, images, class_id, boxes)
    label = "scene" if config.where == BACKGROUND else "object"
    places = blob_places(draw_rng(seed, label, class_key), boxes, changes, config.draws, where=config.where)
    return {name: blob_logits(logits, images, class_id, places, in_content_order(source),
                              draw_rng(seed, f"{label}-content", class_key, content_name(source))).mean(axis=1)
            for name, source in sources.items()}


def scene_results(per_image: Mapping[str, np.ndarray], concepts: Sequence[str], random_sets: Sequence[str],
                  confidence: float = 0.95) -> tuple[dict[str, InsertionResult], dict[str, InsertionResult]]:
    """The scene effects of ``concepts`` (against the mean of every random set) and of each random set
    (against the mean of the others), from :func:`scene_logits`' per-image logits.

    Raises ``ValueError`` without a random set: there is then nothing to compare with.
    """
    if not random_sets:
        raise ValueError("the scene test needs at least one random set to compare with")
    random_mean = np.mean([per_image[r] for r in random_sets], axis=0)
    concept_results = {c: paired_effect(per_image[c] - random_mean, 1, confidence) for c in concepts}
    random_results = {}
    if len(random_sets) > 1:
        for r in random_sets:
            others = np.mean([per_image[o] for o in random_sets if o != r], axis=0)
            random_results[r] = paired_effect(per_image[r] - others, 1, confidence)
    return concept_results, random_results
