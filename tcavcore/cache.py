"""A content-keyed cache of activations and CAVs, in ``.npz`` files (no pickle).

Every key is a SHA-256 of *what the entry was computed from*, never of names alone (tcav's
own CAV cache keys on concept names, so a retrained model or an edited image folder silently
reuses stale CAVs):

- activations: the model's files (:func:`model_fingerprint`), the exact model-input array of
  the image set (:func:`array_fingerprint`: every pixel, the image count and size), and the
  bottleneck;
- a CAV: the keys of the two activation entries it separates, its hyper-parameters, its seed
  and the scikit-learn version that fits it.

Change any of these and the key changes, so a stale entry is never read; it is simply left
behind (delete the folder to reclaim the space). An entry is one ``.npz`` written under a
temporary name and renamed, and holds its own key fields as JSON, checked on reading: an
unreadable or mismatching file is a miss, recomputed and overwritten.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import tempfile
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

#: Bump when what an entry holds, or how it is computed, changes: old entries then never match.
CACHE_FORMAT = 1


def array_fingerprint(array: np.ndarray) -> str:
    """SHA-256 of an array's dtype, shape and bytes: equal iff the arrays are identical."""
    array = np.ascontiguousarray(array)
    digest = hashlib.sha256(f"{array.dtype.str}|{array.shape}|".encode())
    digest.update(memoryview(array).cast("B"))
    return digest.hexdigest()


def model_fingerprint(model_dir: str | os.PathLike) -> str:
    """SHA-256 of every file in the model folder (names and bytes): a retrained model never matches."""
    model_dir = Path(model_dir)
    digest = hashlib.sha256()
    for path in sorted(p for p in model_dir.rglob("*") if p.is_file()):
        digest.update(f"{path.relative_to(model_dir).as_posix()}\0".encode())
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        digest.update(b"\0")
    return digest.hexdigest()


def entry_key(fields: dict) -> str:
    """The cache key of an entry described by ``fields`` (JSON-serialisable values)."""
    canonical = json.dumps({"format": CACHE_FORMAT, **fields}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def activations_fields(model: str, images: str, bottleneck: str) -> dict:
    """Key fields of an image set's activations: model fingerprint, image-set fingerprint, bottleneck."""
    return {"kind": "activations", "model": model, "images": images, "bottleneck": bottleneck}


def cav_fields(concept_acts_key: str, random_acts_key: str, hparams: dict, seed: int) -> dict:
    """Key fields of a CAV: what it separates (activation keys), hyper-parameters, seed, fitting library."""
    import sklearn

    return {"kind": "cav", "concept_acts": concept_acts_key, "random_acts": random_acts_key,
            "hparams": hparams, "seed": seed, "sklearn": sklearn.__version__}


class ContentCache:
    """Activations and CAVs under ``root``, one ``.npz`` per entry, addressed by :func:`entry_key`."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.hits = 0
        self.misses = 0

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.npz"

    def has(self, fields: dict) -> bool:
        """Whether an entry file exists for ``fields`` (not read, so not verified: see :meth:`load`)."""
        return self._path(entry_key(fields)).is_file()

    def load(self, fields: dict) -> dict[str, np.ndarray] | None:
        """The arrays stored for ``fields``, or ``None`` (a miss) if absent, unreadable or not theirs."""
        key = entry_key(fields)
        path = self._path(key)
        try:
            with np.load(path, allow_pickle=False) as data:
                stored = json.loads(str(data["__fields__"]))
                arrays = {name: data[name] for name in data.files if name != "__fields__"}
        except FileNotFoundError:
            self.misses += 1
            return None
        except Exception as error:  # a torn or foreign file is recomputed, never trusted
            log.warning("cache: ignoring unreadable entry %s (%s: %s)", path, type(error).__name__, error)
            self.misses += 1
            return None
        if stored != {"format": CACHE_FORMAT, **fields}:
            log.warning("cache: ignoring entry %s: it was stored for other inputs", path)
            self.misses += 1
            return None
        self.hits += 1
        return arrays

    def store(self, fields: dict, arrays: dict[str, np.ndarray]) -> None:
        """Store ``arrays`` for ``fields`` (atomically: a temporary file, then a rename)."""
        path = self._path(entry_key(fields))
        path.parent.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        meta = json.dumps({"format": CACHE_FORMAT, **fields}, sort_keys=True)
        np.savez(buffer, __fields__=np.array(meta), **arrays)
        # No fsync: a file torn by a crash fails to load or to match and is recomputed.
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(buffer.getbuffer())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
