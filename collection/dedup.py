"""Exact and near-duplicate images: content hashes, perceptual hashes, and an index to look them up.

Exact duplicates share the SHA-256 of the downloaded bytes or of the stored file. Near
duplicates (the same picture resized, recompressed, slightly cropped or watermarked) share a
perceptual hash: ``imagehash.phash`` (DCT of the 32x32 grey image, 64 bits) within
``max_distance`` differing bits. Because phash sees grey levels only, a near duplicate must
also have nearly the same colours (a 4x4 RGB thumbnail within :data:`COLOUR_TOLERANCE`): for
colour concepts, a red and a blue version of the same drawing are different images.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import imagehash
import numpy as np
from PIL import Image

#: Mean absolute difference (0-255) of the 4x4 RGB thumbnails above which two images with the
#: same perceptual hash are still different images.
COLOUR_TOLERANCE = 16.0
THUMBNAIL = 4


@dataclass(frozen=True)
class ImageHashes:
    """What identifies an image: content hashes, perceptual hash, colour thumbnail."""

    sha256: str
    source_sha256: str
    phash: int
    colour: bytes

    def to_json(self) -> dict:
        return {
            "sha256": self.sha256,
            "source_sha256": self.source_sha256,
            "phash": f"{self.phash:016x}",
            "colour": self.colour.hex(),
        }

    @classmethod
    def from_json(cls, entry: dict) -> "ImageHashes":
        return cls(entry["sha256"], entry["source_sha256"], int(entry["phash"], 16), bytes.fromhex(entry["colour"]))


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def hash_image(image: Image.Image, stored: bytes, source: bytes | None = None) -> ImageHashes:
    """Hashes of an RGB ``image`` whose stored file is ``stored`` (downloaded as ``source``)."""
    rgb = image.convert("RGB")
    phash = int(str(imagehash.phash(rgb)), 16)
    colour = np.asarray(rgb.resize((THUMBNAIL, THUMBNAIL), Image.BILINEAR), dtype=np.uint8).tobytes()
    stored_hash = sha256(stored)
    return ImageHashes(stored_hash, sha256(source) if source is not None else stored_hash, phash, colour)


@dataclass(frozen=True)
class Match:
    """An earlier image ``label`` (``<folder>/<file>``) that a new one duplicates."""

    label: str
    kind: str  # "exact" or "near"
    distance: int  # differing phash bits (0 for exact)


class DuplicateIndex:
    """Images seen so far, looked up by content hash and by perceptual hash.

    ``max_distance``: the largest phash Hamming distance still called a near duplicate.
    """

    def __init__(self, max_distance: int, colour_tolerance: float = COLOUR_TOLERANCE):
        self.max_distance = max_distance
        self.colour_tolerance = colour_tolerance
        self._exact: dict[str, str] = {}
        self._labels: list[str] = []
        self._phashes: list[int] = []
        self._colours: list[np.ndarray] = []
        self._phash_array = np.zeros(0, dtype=np.uint64)
        self._colour_array = np.zeros((0, THUMBNAIL * THUMBNAIL * 3))
        self._stale = False

    def __len__(self) -> int:
        return len(self._labels)

    def add(self, label: str, hashes: ImageHashes) -> None:
        self._exact.setdefault(hashes.sha256, label)
        self._exact.setdefault(hashes.source_sha256, label)
        self._labels.append(label)
        self._phashes.append(hashes.phash)
        self._colours.append(np.frombuffer(hashes.colour, dtype=np.uint8).astype(np.float64))
        self._stale = True

    def remove(self, label: str) -> None:
        """Forget ``label`` (an image removed from its folder)."""
        keep = [i for i, name in enumerate(self._labels) if name != label]
        self._labels = [self._labels[i] for i in keep]
        self._phashes = [self._phashes[i] for i in keep]
        self._colours = [self._colours[i] for i in keep]
        self._exact = {digest: name for digest, name in self._exact.items() if name != label}
        self._stale = True

    def find(self, hashes: ImageHashes) -> Match | None:
        """The first indexed image ``hashes`` duplicates (exactly, else nearly), or None."""
        for digest in (hashes.sha256, hashes.source_sha256):
            if digest in self._exact:
                return Match(self._exact[digest], "exact", 0)
        if not self._labels:
            return None
        if self._stale:  # rebuilt lazily: adding one image stays O(1)
            self._phash_array = np.array(self._phashes, dtype=np.uint64)
            self._colour_array = np.stack(self._colours)
            self._stale = False
        distances = np.bitwise_count(self._phash_array ^ np.uint64(hashes.phash))
        close = np.flatnonzero(distances <= self.max_distance)
        if close.size == 0:
            return None
        colour = np.frombuffer(hashes.colour, dtype=np.uint8).astype(np.float64)
        colour_gap = np.abs(self._colour_array[close] - colour).mean(axis=1)
        same = close[colour_gap <= self.colour_tolerance]
        if same.size == 0:
            return None
        best = same[np.argmin(distances[same])]
        return Match(self._labels[best], "near", int(distances[best]))
