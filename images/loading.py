"""Reading images as model input, exactly as tcav's ``ImageActivationGenerator`` does.

``load_image`` = ``PIL.Image.open(path).convert('RGB').resize((size, size), BILINEAR)`` as
float32 divided by 255, so activations and scores can be compared with the reference library.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
from PIL import Image

from common.errors import PipelineError
from common.files import list_images

log = logging.getLogger(__name__)

MIN_IMAGES = 2


def to_model_input(image: Image.Image, size: int) -> np.ndarray:
    """A Pillow image as float32 ``(size, size, 3)`` in [0, 1] (RGB, bilinear resize)."""
    return np.array(image.convert("RGB").resize((size, size), Image.BILINEAR), dtype=np.float32) / 255.0


def load_image(path: str | os.PathLike, size: int) -> np.ndarray:
    """The image at ``path`` as model input (see :func:`to_model_input`).

    Raises whatever Pillow raises for a file it cannot decode.
    """
    with Image.open(path) as image:
        return to_model_input(image, size)


def load_folder(folder: str | os.PathLike, size: int, max_examples: int) -> tuple[np.ndarray, list[Path]]:
    """Up to ``max_examples`` images of ``folder`` (name order) as ``(n, size, size, 3)`` float32.

    Files with an image suffix are read in name order until ``max_examples`` have decoded;
    undecodable ones are skipped with a warning naming them. Returns the array and the paths
    of the images it holds. Raises :class:`PipelineError` naming the folder if it is missing or
    fewer than 2 usable images remain.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise PipelineError(f"image folder {str(folder)!r} does not exist")
    arrays: list[np.ndarray] = []
    paths: list[Path] = []
    for path in list_images(folder):
        if len(arrays) >= max_examples:
            break
        try:
            arrays.append(load_image(path, size))
        except Exception as error:  # any decoder failure: the file is skipped, not the run
            log.warning("skipping %s: not a readable image (%s: %s)", path, type(error).__name__, error)
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
