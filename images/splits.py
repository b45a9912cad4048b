"""Read the preprocessed class images of one split as model inputs and integer labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from common.errors import PipelineError
from common.files import content_order, list_images, list_subfolders
from images.loading import load_image

def load_split(processed: str | Path, split: str, classes: list[str], image_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Images ``(n, size, size, 3)`` in [0, 1] and labels (index into ``classes``) of one split.

    Each class's images come in content order (:func:`common.files.content_order`), so the
    training order, and so the model, do not depend on the files' names. An empty split (a val
    fraction of 0) gives empty arrays; a missing class folder is an error.
    """
    split_dir = Path(processed) / split
    images: list[np.ndarray] = []
    labels: list[int] = []
    for label, name in enumerate(classes):
        folder = split_dir / name
        if not folder.is_dir():
            raise PipelineError(
                f"{folder}: class folder missing from the preprocessed data "
                f"(found: {list_subfolders(split_dir) or 'nothing'}); rerun the preprocess stage"
            )
        for path in content_order(list_images(folder)):
            images.append(load_image(path, image_size))
            labels.append(label)
    if not images:
        return np.zeros((0, image_size, image_size, 3), np.float32), np.zeros((0,), np.int64)
    return np.stack(images), np.asarray(labels, dtype=np.int64)
