"""Reading images as model input: the crawl's decoder, then tcav's resize.

``load_image`` decodes with :func:`collection.validate.read_image` (the project's one decoder:
full decode, EXIF orientation, 16-bit grey scaled to 8 bits, transparency composited on white,
``crawl.curation.max_pixels`` enforced), then resizes as tcav's ``ImageActivationGenerator``
does (``resize((size, size), BILINEAR)``, float32 divided by 255). For a plain 8-bit RGB file
that is exactly the reference library's array, so scores stay comparable with it.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
from PIL import Image

from collection.validate import MAX_PIXELS, UnreadableImage, read_image
from common.errors import PipelineError
from common.files import content_order, list_images

log = logging.getLogger(__name__)

MIN_IMAGES = 2


def to_model_input(image: Image.Image, size: int) -> np.ndarray:
    """A Pillow image as float32 ``(size, size, 3)`` in [0, 1] (RGB, bilinear resize)."""
    return np.array(image.convert("RGB").resize((size, size), Image.BILINEAR), dtype=np.float32) / 255.0


def load_image(path: str | os.PathLike, size: int, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """The image at ``path`` as model input (decoded by :func:`read_image`, see :func:`to_model_input`).

    Raises :class:`UnreadableImage` naming the file for one that does not decode or has more
    than ``max_pixels`` pixels.
    """
    return to_model_input(read_image(path, max_pixels=max_pixels), size)


def load_folder(
    folder: str | os.PathLike, size: int, max_examples: int, max_pixels: int = MAX_PIXELS
) -> tuple[np.ndarray, list[Path]]:
    """Up to ``max_examples`` images of ``folder`` (content order) as ``(n, size, size, 3)`` float32.

    Files with an image suffix are read in content order (:func:`common.files.content_order`: by
    the SHA-256 of each file, so that which images are read, and the rows of every CAV's training
    set, do not depend on the files' names) until ``max_examples`` have decoded;
    undecodable ones (and those over ``max_pixels``) are skipped with a warning naming them and
    the reason. Returns the array and the paths
    of the images it holds. Raises :class:`PipelineError` naming the folder if it is missing or
    fewer than 2 usable images remain.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise PipelineError(f"image folder {str(folder)!r} does not exist")
    arrays: list[np.ndarray] = []
    paths: list[Path] = []
    for path in content_order(list_images(folder)):
        if len(arrays) >= max_examples:
            break
        try:
            arrays.append(load_image(path, size, max_pixels))
        except UnreadableImage as error:  # the file is skipped, not the run
            log.warning("skipping %s", error)
            continue
        paths.append(path)
    if len(arrays) < MIN_IMAGES:
        present = sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))
        shown = ", ".join(present[:10]) + (f", ... ({len(present)} in all)" if len(present) > 10 else "")
        raise PipelineError(
            f"image folder {str(folder)!r} has {len(arrays)} readable image(s); at least {MIN_IMAGES} are needed "
            f"(it holds: {shown or 'nothing'})"
        )
    return np.stack(arrays), paths
