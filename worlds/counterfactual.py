"""Counterfactual pairs of the synthetic worlds: one scene drawn with and without a concept.

A pair is the same scene (same body shape, position, background, distractors and noise:
the same random draws) rendered twice, once with the concept and once without it, so the
two images differ only where the concept is. The change of a model's class logit over many
pairs is the model's measured dependence on the concept (``pipeline/truth.py``): the known
truth TCAV's findings are checked against.

How a concept is put into a scene of class ``k`` (:func:`intervention_for`):

- ``body colour``: the concept is ``k``'s own colour (colour world): the body as drawn vs the
  same body with its saturation removed (a grey body of the same shading).
- ``body texture``: the concept is ``k``'s own texture (texture world), or a texture in the
  colour world (where every class carries textures on its body a third of the time each):
  the body with the texture vs the plain body.
- ``distractor``: any other colour or texture: a shape of the concept (a solid patch of the
  colour, or the texture as a brightness pattern over a muted patch) added on the
  background (never over the body) vs not added.

Everything is a pure function of ``(seed, world, class, concept, index)``. The scene's random
stream depends on ``(seed, class, index)`` only, so every concept of a class is measured on
the same scenes; the intervention's own draws (where the distractor goes) come from a second
stream that both images of a pair consume identically.
"""

from __future__ import annotations

import functools
import zlib
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from worlds import colour as scenes
from worlds.drawing import checks_mask, place_shape, to_image as _to_image, unit_outline, world_pattern
from worlds.palette import hsv_to_rgb, sample_rgb

BODY_COLOUR = "body colour"
BODY_TEXTURE = "body texture"
DISTRACTOR = "distractor"
INTERVENTIONS = (BODY_COLOUR, BODY_TEXTURE, DISTRACTOR)

#: Texture concepts a scene can carry.
TEXTURES = scenes.TEXTURE_CONCEPTS + scenes.EXTRA_TEXTURE_CONCEPTS
# Stream codes, apart from the generator's image kinds (1-3): pair scenes never repeat an image of a set.
_SCENE_CODE = 4
_INTERVENTION_CODE = 5
#: Area of the image a distractor of the concept covers (before the body is cut out of it).
DISTRACTOR_AREA = (0.05, 0.09)
PLACEMENT_TRIES = 20


@dataclass(frozen=True)
class Pair:
    """One counterfactual pair: ``with_concept`` and ``without`` as float RGB arrays in [0, 1]."""

    with_concept: np.ndarray
    without: np.ndarray
    intervention: str


def known_concepts() -> tuple[str, ...]:
    """Every concept name a pair can be rendered for."""
    return scenes.COLOUR_CONCEPTS + TEXTURES


def classes_of(world: str) -> tuple[str, ...]:
    """The classes of ``world`` (``colour`` or ``texture``)."""
    return scenes.WORLDS[world]


def intervention_for(world: str, class_name: str, concept: str) -> str:
    """How ``concept`` is put into a scene of ``class_name`` (see the module docstring)."""
    if class_name not in scenes.WORLDS.get(world, ()):
        raise ValueError(f"class {class_name!r} is not a class of the {world!r} world")
    if concept not in known_concepts():
        raise ValueError(f"concept {concept!r} cannot be drawn into a scene; known: {', '.join(known_concepts())}")
    if world == "colour":
        if concept == scenes.CLASS_COLOURS[class_name]:
            return BODY_COLOUR
        return BODY_TEXTURE if concept in TEXTURES else DISTRACTOR
    return BODY_TEXTURE if concept == scenes.TEXTURE_CLASSES[class_name] else DISTRACTOR


def _stream(seed: int, code: int, *names_and_index) -> np.random.Generator:
    parts = [seed, code] + [zlib.crc32(n.encode("utf-8")) if isinstance(n, str) else int(n) for n in names_and_index]
    return np.random.default_rng(parts)


def _scene(class_name: str, seed: int, index: int, size: int, **switches) -> tuple[np.ndarray, dict]:
    if not switches:
        return _plain_scene(class_name, seed, index, size)
    rng = _stream(seed, _SCENE_CODE, class_name, index)
    return scenes.draw_class(class_name, rng, size, keep_mask=True, **switches)


@functools.lru_cache(maxsize=512)
def _plain_scene(class_name: str, seed: int, index: int, size: int) -> tuple[np.ndarray, dict]:
    """The scene as drawn (every distractor concept of a class adds to the same ones); read-only."""
    rng = _stream(seed, _SCENE_CODE, class_name, index)
    image, meta = scenes.draw_class(class_name, rng, size, keep_mask=True)
    image.setflags(write=False)
    meta["body_mask"].setflags(write=False)
    return image, meta


def _distractor(rng: np.random.Generator, concept: str, image: np.ndarray, body: np.ndarray) -> np.ndarray:
    """``image`` with a shape of ``concept`` added on the background (the body is left alone)."""
    size = image.shape[0]
    shape = str(rng.choice(["ellipse", "polygon", "square", "blob"]))
    area = float(rng.uniform(*DISTRACTOR_AREA))
    outline = unit_outline(rng, shape)
    for _ in range(PLACEMENT_TRIES):  # a place mostly off the body, so that the patch is seen
        shape_mask, _ = place_shape(rng, size, outline, area, margin=0.0)
        mask = shape_mask & ~body
        if mask.sum() >= 0.8 * shape_mask.sum():
            break
    if concept in TEXTURES:  # the pattern as a brightness change over a muted patch, as on a body
        base = hsv_to_rgb(rng.uniform(0, 360), rng.uniform(0.2, 0.6), rng.uniform(0.55, 0.9))
        factor = rng.uniform(0.4, 0.6)
        pattern = world_pattern(concept, rng, size)
        fill = np.where(pattern[..., None], base * factor, base)
    else:
        fill = np.broadcast_to(sample_rgb(rng, concept), image.shape)
    return np.where(mask[..., None], fill, image)


def render_pair(world: str, class_name: str, concept: str, index: int, size: int = 64, seed: int = 0) -> Pair:
    """Pair number ``index`` of (``class_name``, ``concept``) in ``world``."""
    how = intervention_for(world, class_name, concept)
    if how == BODY_COLOUR:
        with_concept, _ = _scene(class_name, seed, index, size)
        without, _ = _scene(class_name, seed, index, size, grey_body=True)
    elif how == BODY_TEXTURE:
        with_concept, _ = _scene(class_name, seed, index, size, texture_as=concept)
        without, _ = _scene(class_name, seed, index, size, texture_as=concept, show_texture=False)
    else:
        without, meta = _scene(class_name, seed, index, size)
        rng = _stream(seed, _INTERVENTION_CODE, class_name, concept, index)
        with_concept = _distractor(rng, concept, without, meta["body_mask"])
    return Pair(np.clip(with_concept, 0, 1), np.clip(without, 0, 1), how)


def pairs(world: str, class_name: str, concept: str, count: int, size: int = 64, seed: int = 0) -> Iterator[Pair]:
    """The first ``count`` pairs of (``class_name``, ``concept``)."""
    for index in range(count):
        yield render_pair(world, class_name, concept, index, size, seed)


def to_image(array: np.ndarray):
    """A pair image as an 8-bit PIL image, exactly as the generator stores its images."""
    return _to_image(array)
