"""Generating the synthetic worlds' images: one seeded random stream per image.

Every image is a pure function of ``(seed, kind, name, index)``: regenerating gives
byte-identical PNG files.
"""

from __future__ import annotations

import zlib
from typing import Iterator, Sequence

import numpy as np
from PIL import Image

from worlds.colour import check_name, draw_class, draw_concept, draw_random
from worlds.drawing import to_image

_KIND_CODES = {"class": 1, "concept": 2, "random": 3}


def check_names(kind: str, names: Sequence[str], world: str = "colour") -> None:
    """Raise :class:`PipelineError` if the synthetic source cannot make any of ``names``."""
    for name in names:
        check_name(kind, name, world)


def image_rng(seed: int, kind: str, name: str, index: int) -> np.random.Generator:
    """The random stream of one image: a pure function of (seed, kind, name, index)."""
    return np.random.default_rng([seed, _KIND_CODES[kind], zlib.crc32(name.encode("utf-8")), index])


def file_name(index: int, count: int) -> str:
    """``0000.png``, ``0001.png``, ... (more digits when ``count`` needs them)."""
    return f"{index:0{max(4, len(str(count - 1)))}d}.png"


def draw(kind: str, name: str, index: int, size: int = 64, seed: int = 0,
         world: str = "colour") -> tuple[Image.Image, dict]:
    """Image number ``index`` of ``kind`` (class/concept/random) ``name``, and how it was drawn.

    ``world``: ``colour`` (the default) or ``texture`` (``crawl.synthetic_task``).
    """
    check_name(kind, name, world)
    rng = image_rng(seed, kind, name, index)
    if kind == "class":
        array, meta = draw_class(name, rng, size)
    elif kind == "concept":
        array, meta = draw_concept(name, rng, size)
    else:
        array, style = draw_random(rng, size, world=world)
        meta = {"kind": "random", "name": name, "style": style}
    return to_image(array), meta


def generate(
    kind: str, name: str, count: int, size: int = 64, seed: int = 0, *, with_meta: bool = False,
    world: str = "colour",
) -> Iterator[tuple]:
    """Yield ``(file_name, PIL.Image)`` for ``count`` images of ``kind`` (class/concept/random) ``name``.

    With ``with_meta=True`` yield ``(file_name, PIL.Image, meta)`` where ``meta`` is a dict
    describing how the image was drawn (e.g. ``meta["texture"]`` for class images).
    Each image depends only on (seed, kind, name, index), so any subset can be regenerated.
    """
    check_name(kind, name, world)
    for index in range(count):
        image, meta = draw(kind, name, index, size, seed, world)
        fname = file_name(index, count)
        yield (fname, image, meta) if with_meta else (fname, image)
