"""The image sets a TCAV run reads: the target split's class images, the concept folders and
the random sets named in params, each as the model's input array."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from common.errors import PipelineError
from common.files import list_subfolders
from common.params import Params
from images.loading import load_folder

log = logging.getLogger(__name__)


def named_folder(root: Path, name: str, what: str) -> Path:
    """``root/name``; if it is not a folder, a :class:`PipelineError` listing what ``root`` holds."""
    folder = root / name
    if not folder.is_dir():
        existing = list_subfolders(root)
        raise PipelineError(
            f"{folder}: {what} folder not found; {root} holds: {', '.join(existing) or 'nothing'}"
        )
    return folder


def load_image_sets_with_files(
    params: Params, processed: Path, concepts_dir: Path
) -> tuple[tuple[dict[str, np.ndarray], ...], tuple[dict[str, list[Path]], ...]]:
    """``(classes, concepts, randoms)`` as model inputs and, in the same shape, the files each holds.

    Each set is its folder's first ``tcav.max_examples`` readable images in content order
    (:func:`images.loading.load_folder`).
    """
    size, limit, pixels = params.preprocess.image_size, params.tcav.max_examples, params.crawl.curation.max_pixels
    split_dir = processed / params.tcav.target_split
    random_root = concepts_dir / "random"
    folders = (
        {c: named_folder(split_dir, c, "class") for c in params.classes},
        {c: named_folder(concepts_dir, c, "concept") for c in params.tcav.concepts},
        {r: named_folder(random_root, r, "random set") for r in params.random_sets},
    )
    loaded = [{name: load_folder(folder, size, limit, pixels) for name, folder in group.items()} for group in folders]
    arrays = tuple({name: images for name, (images, _) in group.items()} for group in loaded)
    files = tuple({name: paths for name, (_, paths) in group.items()} for group in loaded)
    return arrays, files


def load_image_sets(params: Params, processed: Path, concepts_dir: Path) -> tuple[dict[str, np.ndarray], ...]:
    """Class, concept and random-set images as model inputs, each set its first ``max_examples`` in content order."""
    return load_image_sets_with_files(params, processed, concepts_dir)[0]


def warn_small_sets(params: Params, concepts: dict[str, np.ndarray], randoms: dict[str, np.ndarray]) -> list[str]:
    """Log a warning for each concept or random set under ``tcav.min_concept_images``; their names."""
    small = []
    for what, sets in (("concept", concepts), ("random set", randoms)):
        for name, images in sets.items():
            if len(images) < params.tcav.min_concept_images:
                small.append(name)
                log.warning(
                    "warning: %s %r has %d usable images, fewer than tcav.min_concept_images (%d): its CAVs are "
                    "noisy and findings resting on it are marked in the report", what, name, len(images),
                    params.tcav.min_concept_images)
    return small
