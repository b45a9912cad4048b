"""A digest of exactly the concept folders and random sets a run reads.

Stages that read ``concepts/`` (tcav, insertion, views) depend on this digest instead of the
whole folder: a folder dropped into ``concepts/`` but not named in ``tcav.concepts``, or a
file that is not an image, changes nothing they read, so it must rerun none of them. The
digest lists every image file (by :func:`common.files.list_images`, the order and filter the
loaders use) of each named folder with its SHA-256, so any change to what the stages read
(a file added, removed, renamed or edited) changes it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from common.files import list_images
from common.params import Params
from images.sets import named_folder


def file_sha256(path: Path) -> str:
    """SHA-256 of the file's bytes, hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def folder_digest(folder: Path) -> list[list[str]]:
    """``[name, sha256]`` of every image file of ``folder``, in name order."""
    return [[path.name, file_sha256(path)] for path in list_images(folder)]


def concept_digest(params: Params, concepts_dir: Path) -> dict:
    """The digest of the folders ``tcav.concepts`` and the random sets name, under ``concepts_dir``.

    Raises :class:`common.errors.PipelineError` naming a missing folder and listing what exists,
    so a misspelt concept stops the run here, before any model is loaded.
    """
    random_root = concepts_dir / "random"
    return {
        "concepts": {c: folder_digest(named_folder(concepts_dir, c, "concept")) for c in params.tcav.concepts},
        "random": {r: folder_digest(named_folder(random_root, r, "random set")) for r in params.random_sets},
    }
