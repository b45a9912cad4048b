"""The ``local`` source: copy images from ``crawl.local_dir/<name>/``.

Random sets come from ``crawl.local_dir/random500_<i>/``. Only files with an image suffix are
copied (the first ``count`` in name order); decoding is left to the preprocess stage (class
images) and the TCAV stage (concepts), which skip undecodable files with a warning.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Iterator

from pipeline.errors import PipelineError
from pipeline.fsutil import IMAGE_SUFFIXES, list_images, list_subfolders

MIN_IMAGES = 2


def _local_dir(params) -> Path:
    if not params.crawl.local_dir:
        raise PipelineError("crawl.local_dir: the local source needs a folder holding one subfolder per name")
    return Path(params.crawl.local_dir)


def source_folder(request, params) -> Path:
    """The folder a request copies from."""
    return _local_dir(params) / request.name


def check(requests, params) -> None:
    """Every requested folder must exist and hold at least 2 image files."""
    root = _local_dir(params)
    if not root.is_dir():
        raise PipelineError(f"crawl.local_dir: folder {str(root)!r} does not exist")
    problems = []
    for request in requests:
        folder = source_folder(request, params)
        if not folder.is_dir():
            problems.append(f"{str(folder)!r} is missing")
            continue
        found = len(list_images(folder))
        if found < MIN_IMAGES:
            problems.append(f"{str(folder)!r} has {found} image file{'s' if found != 1 else ''}")
    if problems:
        existing = list_subfolders(root)
        raise PipelineError(
            f"local source: {'; '.join(problems)} (each {_request_kinds(requests)} folder needs at least "
            f"{MIN_IMAGES} files with suffix {'/'.join(IMAGE_SUFFIXES)}); subfolders of {str(root)!r}: "
            f"{', '.join(existing) if existing else '(none)'}"
        )


def _request_kinds(requests) -> str:
    kinds = sorted({r.kind for r in requests})
    return "/".join("random set" if k == "random" else k for k in kinds)


def fill(request, params) -> Iterator[Path]:
    """Copy the first ``request.count`` image files of the source folder into ``request.out_dir``."""
    out = Path(request.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for src in list_images(source_folder(request, params))[: request.count]:
        dest = out / src.name
        shutil.copyfile(src, dest)
        yield dest
