"""The ``local`` source: images from folders on this machine, under ``crawl.local_dir``.

A class or concept ``name`` is read from ``<local_dir>/<query>/`` (the query defaults to the
name), subfolders included, in **content order** (by the SHA-256 of each file), and each image
kept is stored under a content-hash name, as a download is (the manifest keeps the original
path as its ``url``). So which images are kept, how they are split and every score depend on
the images only, never on what the files are called: the same pictures under other names give
the same results, byte for byte. Random sets come either from
``<local_dir>/random500_<i>/`` (one folder per set, if ``random500_0`` exists) or from one pool
of diverse images, ``<local_dir>/<queries.random or "random">/`` (e.g. Caltech-256's
``256_ObjectCategories``), shuffled with ``seed`` (from content order) and dealt into the sets
without overlap. An exclude list may name a local file by its own name or by its stored one.
Every file goes through the same validation, cropping and duplicate removal as a download.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np

from common.errors import PipelineError
from common.files import IMAGE_SUFFIXES, content_order, list_subfolders
from common.params import random_set_names

MIN_IMAGES = 2


def _local_dir(params) -> Path:
    if not params.crawl.local_dir:
        raise PipelineError("crawl.local_dir: the local source needs a folder holding one subfolder per name")
    return Path(params.crawl.local_dir)


def source_folder(request, params) -> Path:
    """The folder a request reads from."""
    return _local_dir(params) / request.query


def list_images_recursive(folder: Path) -> list[Path]:
    """Image files under ``folder`` (any depth, hidden ones left out), in path order."""
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def pooled_random(params) -> bool:
    """Random sets come from one pool unless ``<local_dir>/random500_0/`` exists."""
    return not (_local_dir(params) / random_set_names(1)[0]).is_dir()


def origin(request, params) -> dict:
    return {"local_dir": str(_local_dir(params))}


def check(requests, params) -> None:
    """Every folder read must exist and hold at least 2 image files (2 per set for a pool)."""
    root = _local_dir(params)
    if not root.is_dir():
        raise PipelineError(f"crawl.local_dir: folder {str(root)!r} does not exist")
    problems = []
    for request in requests:
        folder = source_folder(request, params)
        if not folder.is_dir():
            problems.append(f"{str(folder)!r} is missing")
            continue
        needed = MIN_IMAGES * (params.crawl.num_random_sets if request.kind == "random" and request.name == "random" else 1)
        found = len(list_images_recursive(folder))
        if found < needed:
            problems.append(f"{str(folder)!r} has {found} image file{'s' if found != 1 else ''} (at least {needed} needed)")
    if problems:
        existing = list_subfolders(root)
        raise PipelineError(
            f"local source: {'; '.join(problems)} (files with suffix {'/'.join(IMAGE_SUFFIXES)}); "
            f"subfolders of {str(root)!r}: {', '.join(existing) if existing else '(none)'}"
        )


def fill(request, params, collector) -> None:
    """Offer the images of the source folder in content order (a random pool: shuffled from it),
    each under its content-hash name."""
    folder = source_folder(request, params)
    paths = content_order(list_images_recursive(folder))
    if request.kind == "random" and request.name == "random":
        rng = np.random.default_rng([params.seed, zlib.crc32(b"random-pool")])
        paths = [paths[i] for i in rng.permutation(len(paths))]
    root = _local_dir(params)
    for path in paths:
        if collector.done:
            return
        key = path.relative_to(root).as_posix()
        if collector.seen(key):
            continue
        # the exclude list may name the file as it is called here (or as the crawl named it
        # before files were stored by content hash: subfolders joined by "_")
        own = (path.name, "_".join(path.relative_to(folder).parts))
        collector.offer(key, path.read_bytes(), url=path.resolve().as_uri(), also_named=own)
