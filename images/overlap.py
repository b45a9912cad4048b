"""Leakage between the sets a TCAV run compares, found before any work is done.

A concept folder that holds the class's own scored images makes the class "depend" on the
concept with a score near 1 (the CAV points at the class itself); a concept that shares
images with a random set, or a random set that is a copy of a concept, is quietly "not
learnable". The crawl keeps its own folders apart; this module checks every folder the run
reads, crawled or the user's, with the crawl's hashes (:mod:`collection.dedup`): exact
(SHA-256 of the file) and near duplicates (perceptual hash within
``crawl.curation.near_duplicate_distance`` bits, same colours).

:func:`find_overlaps` lists what is shared; :func:`check_overlaps` stops the stage with a
message naming the folders and files, or, with ``tcav.allow_overlap: true``, logs it as a
warning and lets the run go on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from collection.dedup import DuplicateIndex, ImageHashes, hash_image
from collection.validate import MAX_PIXELS, UnreadableImage, read_image
from common.errors import PipelineError
from common.params import Params

log = logging.getLogger(__name__)

#: How many shared files a message names per pair of folders.
SHOWN = 5


@dataclass
class Overlap:
    """Images of ``concept`` (a concept folder) that are also in ``other`` (a class or random folder)."""

    concept: Path
    other: Path
    other_kind: str  # "class" or "random set"
    shared: list[tuple[str, str, str]] = field(default_factory=list)  # (concept file, other file, exact/near)
    concept_size: int = 0
    other_size: int = 0

    @property
    def is_copy(self) -> bool:
        """Every image of both folders has its match in the other: the same set under two names."""
        return len(self.shared) == self.concept_size == self.other_size

    def describe(self) -> str:
        exact = sum(1 for *_, kind in self.shared if kind == "exact")
        near = len(self.shared) - exact
        if self.is_copy:
            head = f"{self.concept} is a copy of the {self.other_kind} {self.other} (all {self.concept_size} images)"
        else:
            head = (f"{self.concept} shares {len(self.shared)} of its {self.concept_size} images with the "
                    f"{self.other_kind} {self.other} ({exact} exact, {near} near duplicates)")
        shown = ", ".join(f"{a} = {b}" + (" (near)" if kind == "near" else "") for a, b, kind in self.shared[:SHOWN])
        more = f", ... ({len(self.shared) - SHOWN} more)" if len(self.shared) > SHOWN else ""
        return f"{head}: {shown}{more}"


def hash_files(paths: list[Path], max_pixels: int = MAX_PIXELS) -> list[tuple[Path, ImageHashes]]:
    """Each readable file of ``paths`` with the crawl's hashes of it (unreadable ones are left out:
    the loader skips them too)."""
    hashed = []
    for path in paths:
        try:
            image = read_image(path, max_pixels=max_pixels)
        except UnreadableImage:
            continue
        data = path.read_bytes()
        hashed.append((path, hash_image(image, data, data)))
    return hashed


def find_overlaps(concepts: dict[str, list[Path]], classes: dict[str, list[Path]], randoms: dict[str, list[Path]],
                  *, max_distance: int, max_pixels: int = MAX_PIXELS) -> list[Overlap]:
    """Every (concept folder, class or random folder) pair sharing an image, exactly or nearly.

    Each argument maps a set's name to the image files the run reads from it.
    """
    others: list[tuple[str, Path, DuplicateIndex, int]] = []
    for kind, sets in (("class", classes), ("random set", randoms)):
        for files in sets.values():
            if not files:
                continue
            index = DuplicateIndex(max_distance)
            hashed = hash_files(files, max_pixels)
            for path, hashes in hashed:
                index.add(path.name, hashes)
            others.append((kind, files[0].parent, index, len(hashed)))
    overlaps = []
    for files in concepts.values():
        if not files:
            continue
        hashed = hash_files(files, max_pixels)
        for kind, folder, index, size in others:
            found = Overlap(files[0].parent, folder, kind, concept_size=len(hashed), other_size=size)
            for path, hashes in hashed:
                match = index.find(hashes)
                if match is not None:
                    found.shared.append((path.name, match.label, match.kind))
            if found.shared:
                overlaps.append(found)
    return overlaps


def check_overlaps(overlaps: list[Overlap], *, allow: bool, params_file: str = "params.yaml") -> None:
    """Stop (:class:`PipelineError`) naming every overlap, or with ``allow`` log each as a warning."""
    if not overlaps:
        return
    lines = [overlap.describe() for overlap in overlaps]
    if allow:
        for line in lines:
            log.warning("warning: leakage allowed by tcav.allow_overlap: %s", line)
        return
    raise PipelineError(
        "concept images overlap the images they are compared with; a concept that contains the scored class "
        "images scores near 1 for that class, one that shares images with a random set cannot be told apart "
        f"from it. Remove the shared images, or set tcav.allow_overlap: true in {params_file} to score them "
        "anyway (a warning is logged):\n  " + "\n  ".join(lines)
    )


def check_image_sets(params: Params, files: tuple[dict[str, list[Path]], ...], params_file: str = "params.yaml") -> list[Overlap]:
    """:func:`find_overlaps` of the run's ``(classes, concepts, randoms)`` files, then :func:`check_overlaps`."""
    classes, concepts, randoms = files
    overlaps = find_overlaps(concepts, classes, randoms, max_distance=params.crawl.curation.near_duplicate_distance,
                             max_pixels=params.crawl.curation.max_pixels)
    check_overlaps(overlaps, allow=params.tcav.allow_overlap, params_file=params_file)
    return overlaps
