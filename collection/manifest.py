"""A crawled folder's ``manifest.json``: its provenance record, and reading folders through it.

Every folder the crawl fills has one: for each kept image its source, query, URL, hashes,
size and conversions; every candidate rejected, found duplicate, excluded or failed.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path


from collection.dedup import DuplicateIndex, ImageHashes, hash_image
from collection.validate import UnreadableImage, read_image
from common.errors import PipelineError
from common.files import IMAGE_SUFFIXES

MANIFEST = "manifest.json"
MANIFEST_VERSION = 1


def now() -> str:
    """The current UTC time, to the second, as recorded in manifests."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def empty_manifest(name: str, kind: str) -> dict:
    """A manifest for a new folder ``name`` of ``kind`` (class, concept, random)."""
    return {
        "version": MANIFEST_VERSION,
        "folder": name,
        "kind": kind,
        "screening": {},
        "images": {},
        "rejected": {},
        "duplicates": {},
        "excluded": {},
        "failed": {},
    }


def read_manifest(folder: Path) -> dict | None:
    """The folder's manifest, None if it has none; :class:`PipelineError` if it is not valid JSON."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise PipelineError(
            f"{path}: not a readable manifest ({error}); delete it to let the crawl rebuild the folder"
        ) from None
    if not isinstance(manifest, dict) or manifest.get("version") != MANIFEST_VERSION:
        raise PipelineError(f"{path}: not a manifest of this version; delete it to let the crawl rebuild the folder")
    return manifest


def image_files(folder: Path) -> list[Path]:
    """The image files of ``folder`` in name order (hidden and temporary files left out)."""
    return sorted(
        p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_SUFFIXES
    )


def index_folder(index: DuplicateIndex, folder: Path, label: str) -> int:
    """Add the images of an earlier folder to ``index`` (from its manifest, else by decoding them).

    Returns how many were added. Files that do not decode are left out.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return 0
    manifest = read_manifest(folder) or {"images": {}}
    added = 0
    for path in image_files(folder):
        entry = manifest["images"].get(path.name)
        if entry is not None:
            hashes = ImageHashes.from_json(entry)
        else:
            data = path.read_bytes()
            try:
                hashes = hash_image(read_image(path), data, data)
            except UnreadableImage:
                continue
        index.add(f"{label}/{path.name}", hashes)
        added += 1
    return added
