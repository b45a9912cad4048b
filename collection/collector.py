"""Fill one image folder resumably, keeping provenance: the :class:`Collector`.

A source offers candidate images (bytes plus a key that identifies them across runs: a URL,
a file path, a synthetic image's index); the collector validates and normalises each one
(:mod:`validate`), refuses it if it is excluded (:mod:`exclude`) or duplicates an image already
kept in this folder or in an earlier one (:mod:`dedup`), and otherwise stores it and records
where it came from in the folder's ``manifest.json``.

Resumable: the manifest entry is written (atomically) before the image file is renamed into
place, so an interrupted run never leaves a file the manifest does not describe, and no file
is ever half-written. Opening a folder again keeps every image whose origin (source, query,
crop settings) is unchanged, so a rerun fetches only what is missing; keys already rejected,
found duplicate or excluded are not fetched again. Transient download failures are retried.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable


from collection.dedup import DuplicateIndex, ImageHashes, hash_image, sha256
from collection.exclude import ExcludeList
from collection.manifest import MANIFEST, empty_manifest, image_files, now, read_manifest
from collection.validate import Accepted, UnreadableImage, inspect_image, read_image
from common.errors import PipelineError
from common.files import atomic_write_bytes, atomic_write_json, atomic_write_text

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class Rules:
    """What is kept: crop mode, largest stored side, smallest short side, bomb limit."""

    crop: str = "center"
    max_side: int | None = 512
    min_size: int = 1
    max_pixels: int = 50_000_000
    near_duplicate_distance: int = 6

    def origin_part(self) -> dict:
        """The settings that change a stored file (a change makes kept files stale)."""
        return {"crop": self.crop, "max_side": self.max_side}

    def screening_part(self) -> dict:
        """The settings that decide rejections and duplicates (a change makes them worth retrying)."""
        return {"min_size": self.min_size, "max_pixels": self.max_pixels, "near_duplicate_distance": self.near_duplicate_distance}


@dataclass
class FolderReport:
    """What happened to one folder in this run, for the summary table."""

    name: str
    wanted: int
    kept: int = 0
    new: int = 0
    removed: int = 0
    rejected: Counter = field(default_factory=Counter)
    failed: int = 0
    duplicates: Counter = field(default_factory=Counter)
    excluded: int = 0


class Collector:
    """Keeps up to ``count`` images in ``folder``; see the module docstring.

    ``origin`` identifies where this folder's images come from now (source, query, source
    settings); kept images of another origin are stale and removed when the folder is opened.
    ``index`` holds the images of earlier folders (and receives this folder's); ``timestamps``
    False leaves the ``fetched`` times out (generated images, whose manifest must be the same
    on every run). A folder without a manifest that holds images was not made by the crawl
    (someone's own images): it is refused, unless ``regenerable`` (the source can remake its
    images at any time, e.g. synthetic output of an earlier version), when it is replaced.
    """

    def __init__(
        self,
        folder: Path,
        *,
        name: str,
        kind: str,
        count: int,
        origin: dict,
        rules: Rules,
        index: DuplicateIndex,
        exclude: ExcludeList | None = None,
        timestamps: bool = True,
        regenerable: bool = False,
        on_keep: Callable[[str], None] | None = None,
    ):
        self.folder = Path(folder)
        self.name = name
        self.kind = kind
        self.count = count
        self.origin = {**origin, **rules.origin_part()}
        self.rules = rules
        self.index = index
        self.exclude = exclude or ExcludeList()
        self.timestamps = timestamps
        self.regenerable = regenerable
        self.on_keep = on_keep
        self.report = FolderReport(name, count)
        self._excluded_index = DuplicateIndex(rules.near_duplicate_distance)

    # ------------------------------------------------------------------ state

    @property
    def kept(self) -> int:
        return len(self.manifest["images"])

    @property
    def needed(self) -> int:
        return max(0, self.count - self.kept)

    @property
    def done(self) -> bool:
        return self.kept >= self.count

    def seen(self, key: str) -> bool:
        """True if ``key`` was kept, rejected, found duplicate or excluded before: do not fetch it."""
        return key in self._seen

    def _when(self) -> str | None:
        return now() if self.timestamps else None

    def _label(self, file: str) -> str:
        return f"{self.name}/{file}"

    def _save(self, final: bool = False) -> None:
        """Write the manifest: indented and synced to disk when the run ends; while it runs
        (rewritten for every image) compact, because indenting makes ``json`` use its slow
        pure-Python encoder, and without an fsync each time."""
        if final:
            atomic_write_json(self.folder / MANIFEST, self.manifest)
        else:
            text = json.dumps(self.manifest, sort_keys=True, separators=(",", ":"), allow_nan=False)
            atomic_write_text(self.folder / MANIFEST, text, durable=False)

    def _checkpoint(self) -> None:
        """Save the manifest during a run, unless the source can regenerate its images: then
        files a killed run left unlisted are simply removed and made again (and saving the
        manifest for every generated image would be most of the crawl's time)."""
        if not self.regenerable:
            self._save()

    def _remove(self, file: str) -> None:
        (self.folder / file).unlink(missing_ok=True)
        self.index.remove(self._label(file))

    # ------------------------------------------------------------------ opening

    def open(self) -> "Collector":
        """Bring the folder up to date before anything is offered, and return the collector.

        Removes what a killed write left behind, images of another origin, images now excluded
        or duplicating an earlier folder, and images past ``count``; refuses a folder of
        images the crawl did not make (see the class docstring).
        """
        folder = self.folder
        folder.mkdir(parents=True, exist_ok=True)
        for leftover in folder.glob(".*.tmp"):  # a write killed before its rename
            leftover.unlink(missing_ok=True)
        manifest = read_manifest(folder)
        if manifest is None:
            found = image_files(folder)
            if found and not self.regenerable:
                raise PipelineError(
                    f"{folder} holds {len(found)} image(s) but no {MANIFEST}: the crawl did not make them and "
                    "will not delete them. Move them elsewhere (a folder of your own under concepts/, or "
                    "crawl.local_dir with crawl.source 'local') or delete them, then run again"
                )
            manifest = empty_manifest(self.name, self.kind)
        manifest["folder"], manifest["kind"] = self.name, self.kind
        if manifest.get("screening") != self.rules.screening_part():
            manifest["rejected"], manifest["duplicates"] = {}, {}
        manifest["screening"] = self.rules.screening_part()
        manifest["failed"] = {}
        self.manifest = manifest

        # Exclusions the user has since taken off the list may be fetched again.
        for key, record in list(manifest["excluded"].items()):
            digests = (record.get("sha256", ""), record.get("source_sha256", ""))
            if not self.exclude.match(record.get("file"), digests):
                del manifest["excluded"][key]
            elif "phash" in record:
                self._excluded_index.add(record.get("file") or key, ImageHashes.from_json(record))

        listed = manifest["images"]
        for path in image_files(folder):
            if path.name not in listed:
                if self.regenerable:  # written after the manifest was last saved: made again
                    log.info("%s: %s is not in the manifest; it will be made again", folder, path.name)
                else:
                    log.warning(
                        "%s: removing %s, which this crawl did not make (put your own images in a folder of "
                        "your own under concepts/, or use crawl.source 'local')",
                        folder,
                        path.name,
                    )
                path.unlink()
                self.report.removed += 1
        for file in sorted(listed):
            entry = listed[file]
            path = folder / file
            if not path.is_file():
                log.info("%s: %s is missing; it will be fetched again", folder, file)
                del listed[file]
            elif entry.get("origin") != self.origin:
                del listed[file]
                path.unlink()
                self.report.removed += 1
            else:
                self._recheck(file, entry, path)
        if self.report.removed:
            log.info("%s: removed %d image(s) from another source, query or crop setting", folder, self.report.removed)
        for file in sorted(listed)[self.count :]:  # fewer images asked for than kept
            del listed[file]
            self._remove(file)
            self.report.removed += 1
        self._seen = (
            {entry["key"] for entry in listed.values()}
            | set(manifest["rejected"])
            | set(manifest["duplicates"])
            | set(manifest["excluded"])
        )
        self._save()
        return self

    def _recheck(self, file: str, entry: dict, path: Path) -> None:
        """Keep a previously kept image unless it is now excluded or duplicates an earlier one."""
        listed = self.manifest["images"]
        data = path.read_bytes()
        if sha256(data) != entry["sha256"]:  # edited by hand since it was stored
            try:
                hashes = hash_image(read_image(path, max_pixels=self.rules.max_pixels), data, data)
            except UnreadableImage as error:
                log.warning("%s: %s no longer decodes (%s); it will be replaced", self.folder, file, error)
                del listed[file]
                path.unlink()
                self.report.removed += 1
                return
            entry.update(hashes.to_json(), edited=True, bytes=len(data))
        hashes = ImageHashes.from_json(entry)
        reason = self._exclusion(file, hashes)
        if reason:
            self._record_excluded(entry["key"], entry.get("url"), file, hashes, reason)
            del listed[file]
            path.unlink()
            return
        match = self.index.find(hashes)
        if match is not None:
            self._record_duplicate(entry["key"], entry.get("url"), file, match)
            del listed[file]
            path.unlink()
            return
        self.index.add(self._label(file), hashes)

    # ------------------------------------------------------------------ screening

    def _exclusion(self, file: str | None, hashes: ImageHashes, also_named: tuple[str, ...] = ()) -> str | None:
        entry = next((hit for n in (file, *also_named) if (hit := self.exclude.match(n)) is not None), None)
        entry = entry or self.exclude.match(None, (hashes.sha256, hashes.source_sha256))
        if entry is not None:
            return f"listed in {self.exclude.path} as {entry!r}"
        near = self._excluded_index.find(hashes)
        if near is not None:
            return f"{near.kind} duplicate of excluded {near.label}"
        return None

    def _record_excluded(self, key: str, url: str | None, file: str | None, hashes: ImageHashes, reason: str) -> None:
        self.manifest["excluded"][key] = {"url": url, "file": file, "reason": reason, "when": self._when(), **hashes.to_json()}
        self._excluded_index.add(file or key, hashes)
        self.report.excluded += 1
        log.info("%s: excluded %s (%s)", self.name, file or url or key, reason)

    def _record_duplicate(self, key: str, url: str | None, file: str | None, match) -> None:
        self.manifest["duplicates"][key] = {
            "url": url,
            "file": file,
            "of": match.label,
            "kind": match.kind,
            "distance": match.distance,
            "when": self._when(),
        }
        self.report.duplicates[match.kind] += 1
        log.info("%s: %s is a%s duplicate of %s", self.name, file or url or key, "n exact" if match.kind == "exact" else " near", match.label)

    # ------------------------------------------------------------------ offering

    def offer(self, key: str, data: bytes, *, name: str | None = None, url: str | None = None,
              also_named: tuple[str, ...] = ()) -> bool:
        """Screen one candidate; store it and return True if it is kept.

        ``key`` identifies the candidate across runs; ``name`` is the file name to use (None:
        the first 16 hex digits of the download's SHA-256 and the suffix of its format);
        ``url`` is recorded as where it came from; ``also_named``: other names the exclude
        list may know the file by (a local file's own name).
        """
        if self.done or key in self._seen:
            return False
        result = inspect_image(
            data,
            min_size=self.rules.min_size,
            max_pixels=self.rules.max_pixels,
            crop=self.rules.crop,
            max_side=self.rules.max_side,
        )
        self._seen.add(key)
        if not isinstance(result, Accepted):
            self.manifest["rejected"][key] = {"url": url, "code": result.code, "reason": result.reason, "when": self._when()}
            self.report.rejected[result.code] += 1
            log.warning("%s: rejected %s: %s", self.name, url or name or key, result.reason)
            self._checkpoint()
            return False
        hashes = hash_image(result.image, result.data, data)
        file = _file_name(name, result.suffix, hashes)
        reason = self._exclusion(file, hashes, also_named)
        if reason:
            self._record_excluded(key, url, file, hashes, reason)
            self._checkpoint()
            return False
        match = self.index.find(hashes)
        if match is not None:
            self._record_duplicate(key, url, file, match)
            self._checkpoint()
            return False
        if file in self.manifest["images"]:  # two downloads whose hashes share 16 digits
            file = f"{hashes.source_sha256[:32]}{result.suffix}"
        self.manifest["images"][file] = {
            "key": key,
            "url": url,
            "origin": self.origin,
            "fetched": self._when(),
            "bytes": len(result.data),
            "size": list(result.image.size),
            "original_size": list(result.original_size),
            "format": result.format,
            "conversions": result.conversions,
            **hashes.to_json(),
        }
        # Manifest first: a run killed between the two leaves a listed file missing (fetched
        # again next time), never an image nobody knows the origin of.
        self._checkpoint()
        atomic_write_bytes(self.folder / file, result.data)
        self.index.add(self._label(file), hashes)
        self.report.new += 1
        if self.on_keep is not None:
            self.on_keep(file)
        return True

    def fail(self, key: str, reason: str, *, url: str | None = None) -> None:
        """Record a download that failed (network, HTTP status); it is tried again next run."""
        self.manifest["failed"][key] = {"url": url, "reason": reason, "when": self._when()}
        self.report.failed += 1
        log.warning("%s: could not download %s: %s", self.name, url or key, reason)

    def close(self) -> FolderReport:
        """Save the manifest and return this run's report."""
        self._save(final=True)
        self.report.kept = self.kept
        return self.report


_SAME_SUFFIX = {".jpeg": ".jpg", ".tiff": ".tif"}


def _file_name(name: str | None, suffix: str, hashes: ImageHashes) -> str:
    """``name`` (its suffix corrected if the stored format differs), else a content-hash name."""
    if name is None:
        return f"{hashes.source_sha256[:16]}{suffix}"
    path = Path(name)
    if _SAME_SUFFIX.get(path.suffix.lower(), path.suffix.lower()) != suffix:
        return f"{path.stem}{suffix}"
    return name


class Dealer:
    """Offers candidates from one pool to several collectors in turn (random sets).

    Each candidate goes to the first collector that still needs images, so the sets are
    disjoint and filled in order; ``seen`` asks all of them.
    """

    def __init__(self, collectors: list[Collector]):
        self.collectors = collectors

    def _current(self) -> Collector | None:
        return next((c for c in self.collectors if not c.done), None)

    @property
    def needed(self) -> int:
        return sum(c.needed for c in self.collectors)

    @property
    def kept(self) -> int:
        return sum(c.kept for c in self.collectors)

    @property
    def folder(self) -> Path:
        """The folder holding the sets."""
        return self.collectors[0].folder.parent

    @property
    def done(self) -> bool:
        return self._current() is None

    def seen(self, key: str) -> bool:
        return any(c.seen(key) for c in self.collectors)

    def offer(self, key: str, data: bytes, *, name: str | None = None, url: str | None = None,
              also_named: tuple[str, ...] = ()) -> bool:
        target = self._current()
        return target is not None and not self.seen(key) and target.offer(key, data, name=name, url=url,
                                                                          also_named=also_named)

    def fail(self, key: str, reason: str, *, url: str | None = None) -> None:
        target = self._current() or self.collectors[-1]
        target.fail(key, reason, url=url)
