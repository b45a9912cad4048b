"""Exclude lists: images a user looked at and removed for good (wrong subject, watermark, ...).

One text file per image folder, ``<exclude_dir>/<folder name>.txt``, one entry per line:
a file name as it appears in the folder (``3f2a9c0d1e4b5a67.jpg``), or a SHA-256 hex digest
(of the stored file or of the download, both in the folder's ``manifest.json``; a prefix of
at least 12 hex digits is enough). ``#`` starts a comment. An excluded image is removed from
the folder, remembered in its manifest, and never downloaded or kept again; near duplicates
of it are refused too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from common.errors import PipelineError

MIN_HASH_PREFIX = 12
_HEX = re.compile(r"^[0-9a-f]+$")


@dataclass
class ExcludeList:
    """Entries of one exclude list: file names and hash prefixes."""

    path: Path | None = None
    names: set[str] = field(default_factory=set)
    hashes: set[str] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.names or self.hashes)

    def match(self, name: str | None, digests: tuple[str, ...] = ()) -> str | None:
        """The entry that excludes a file called ``name`` with these SHA-256 ``digests``, or None."""
        if name is not None and name in self.names:
            return name
        for digest in digests:
            for prefix in self.hashes:
                if digest.startswith(prefix):
                    return prefix
        return None


def parse_exclude_list(text: str, path: Path | None = None) -> ExcludeList:
    """Parse the text of an exclude list (see the module docstring)."""
    result = ExcludeList(path)
    for number, raw in enumerate(text.splitlines(), start=1):
        entry = raw.split("#", 1)[0].strip()
        if not entry:
            continue
        if "/" in entry or "\\" in entry:
            raise PipelineError(
                f"{path or 'exclude list'}, line {number}: {entry!r} is a path; give the file name only "
                "(as it appears in the folder) or its SHA-256"
            )
        if _HEX.match(entry.lower()) and len(entry) >= MIN_HASH_PREFIX and "." not in entry:
            result.hashes.add(entry.lower())
        else:
            result.names.add(entry)
    return result


def read_exclude_list(folder: str | Path, name: str) -> ExcludeList:
    """The exclude list of image folder ``name`` under ``folder`` (empty if there is none)."""
    path = Path(folder) / f"{name}.txt"
    if not path.is_file():
        return ExcludeList(path)
    return parse_exclude_list(path.read_text(encoding="utf-8"), path)
