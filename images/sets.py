"""The image sets a TCAV run reads: the target split's class images, the concept folders and
the random sets named in params, each as the model's input array."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from common.errors import PipelineError
from common.files import list_subfolders
from common.params import Params
from images.loading import load_folder

def _folder(root: Path, name: str, what: str) -> Path:
    folder = root / name
    if not folder.is_dir():
        existing = list_subfolders(root)
        raise PipelineError(
            f"{folder}: {what} folder not found; {root} holds: {', '.join(existing) or 'nothing'}"
        )
    return folder


def load_image_sets(params: Params, processed: Path, concepts_dir: Path) -> tuple[dict[str, np.ndarray], ...]:
    """Class, concept and random-set images as model inputs, each set first ``max_examples`` by name."""
    size, limit, pixels = params.preprocess.image_size, params.tcav.max_examples, params.crawl.curation.max_pixels
    split_dir = processed / params.tcav.target_split
    classes = {c: load_folder(_folder(split_dir, c, "class"), size, limit, pixels)[0] for c in params.classes}
    concepts = {
        c: load_folder(_folder(concepts_dir, c, "concept"), size, limit, pixels)[0] for c in params.tcav.concepts
    }
    random_root = concepts_dir / "random"
    randoms = {
        r: load_folder(_folder(random_root, r, "random set"), size, limit, pixels)[0] for r in params.random_sets
    }
    return classes, concepts, randoms
