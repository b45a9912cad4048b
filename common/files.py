"""Atomic file and folder writes, and listing image folders (by name, or by content).

Every stage output goes through here: written under a temporary name beside its final
place, then renamed, so an interrupted or failed run never leaves a half-written output
and never removes the previous one before the new one is complete.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")


def atomic_write_bytes(path: str | os.PathLike, data: bytes, *, durable: bool = True) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename.

    ``durable=False`` skips the fsync: still never half-written if the process dies, but
    after a power cut the file may be empty. For files rewritten many times a second.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp creates 0600 files; outputs get the permissions of an ordinary file.
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def npz_bytes(arrays: dict) -> bytes:
    """``arrays`` as ``.npz`` bytes (loadable by ``numpy.load``), byte-identical for equal input.

    ``numpy.savez`` stamps each member with the current time; this writes the same format
    with a fixed timestamp so that a rerun gives the same file (and DVC the same hash).
    """
    import io
    import zipfile

    import numpy as np

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, array in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, np.asarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, member.getvalue())
    return buffer.getvalue()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | os.PathLike, text: str, *, durable: bool = True) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"), durable=durable)


def atomic_write_json(path: str | os.PathLike, obj) -> None:
    """Write ``obj`` as indented, key-sorted JSON (byte-stable across runs) atomically."""
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, allow_nan=False) + "\n")


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike) -> Iterator[Path]:
    """Yield an empty temporary folder that replaces ``path`` only if the block succeeds.

    On an exception the temporary folder is removed and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if path.exists() or path.is_symlink():
        old = path.with_name(f".{path.name}.old-{os.getpid()}")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(path, old)
    os.replace(tmp, path)
    # mkdtemp makes a 0700 folder; outputs should have ordinary permissions.
    os.chmod(path, 0o777 & ~_umask())
    if old is not None:
        if old.is_dir() and not old.is_symlink():
            shutil.rmtree(old, ignore_errors=True)
        else:
            old.unlink()


def list_images(folder: str | os.PathLike) -> list[Path]:
    """Files in ``folder`` with an image suffix, sorted by name (stages then read them in :func:`content_order`)."""
    folder = Path(folder)
    return sorted(
        p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
    )


def content_order(paths: list[Path]) -> list[Path]:
    """``paths`` sorted by the SHA-256 of their bytes (then by path, for identical files): the
    order in which every stage reads a folder's images, so that which images are read, and in
    what order, depends on the pictures, never on what their files are called."""
    return sorted(paths, key=lambda p: (hashlib.sha256(Path(p).read_bytes()).hexdigest(), Path(p).as_posix()))


def list_subfolders(folder: str | os.PathLike) -> list[str]:
    """Names of the visible subfolders of ``folder`` (empty if it does not exist), sorted."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
