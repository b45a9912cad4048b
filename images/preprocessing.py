"""Preprocessing the class images (the ``preprocess`` stage): decode, resize, deduplicate, split.

For each class in ``classes``: every file of ``raw/<class>/`` is decoded and converted to RGB
(files that do not decode are skipped with a warning naming them; the crawl's
``manifest.json`` is not an image), resized to
``preprocess.image_size`` square with bilinear resampling (as tcav's ImageActivationGenerator
does), and saved as ``<stem>.png``. Each class is split on its own (stratified) into
train/val/test with the fractions ``preprocess.split``, by a permutation of the images in content
order seeded from ``seed`` and the class's content (never its name or its files' names).
Before splitting, exact and near duplicates (same hashes as the crawl uses,
``crawl.curation.near_duplicate_distance``) are removed within and across classes, so train,
val and test never share an image. Which one of a pair is kept depends on content, never on
names: the first in class order, then in content order (the SHA-256 of the file), so renaming
files never swaps a near duplicate's pixels for its twin's.
``manifest.json`` records the split, the skipped files, the duplicates and the settings.
The whole output folder is replaced atomically.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import math
import sys
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from collection.manifest import MANIFEST as CRAWL_MANIFEST
from collection.dedup import DuplicateIndex, hash_image
from collection.validate import MAX_PIXELS, Rejected, UnreadableImage
from collection.validate import decode as decode_bytes
from common.errors import PipelineError
from common.files import atomic_directory, atomic_write_json, content_order, list_subfolders
from common.params import Params

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
MIN_IMAGES = 2


def list_files(folder: Path) -> list[Path]:
    """Visible regular files of ``folder``, sorted by name (whatever their suffix), but not
    the crawl's provenance manifest."""
    return sorted(
        p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".") and p.name != CRAWL_MANIFEST
    )


def decode(path: Path, size: int) -> Image.Image:
    """Fully decode ``path``, convert to RGB and resize to ``size`` square (bilinear)."""
    return decode_and_hash(path, size)[0]


def decode_and_hash(path: Path, size: int, max_pixels: int = MAX_PIXELS):
    """``path`` decoded (the crawl's decoder), as RGB resized to ``size`` square, and its
    duplicate-finding hashes. Raises :class:`UnreadableImage` naming the file if it does not
    decode or has more than ``max_pixels`` pixels."""
    data = path.read_bytes()
    decoded = decode_bytes(data, max_pixels=max_pixels)
    if isinstance(decoded, Rejected):
        raise UnreadableImage(path, decoded)
    rgb = decoded.image
    return rgb.resize((size, size), Image.BILINEAR), hash_image(rgb, data, data)


def split_counts(n: int, fractions: dict[str, float]) -> dict[str, int]:
    """How many of ``n`` images go to each split: val and test rounded (>= 1 if their fraction
    is > 0), train gets the rest."""

    def part(fraction: float) -> int:
        return max(1, math.floor(n * fraction + 0.5)) if fraction > 0 else 0

    val = part(fractions["val"])
    if fractions["train"] == 0:  # an outside model: no training images; test takes the rest
        return {"train": 0, "val": val, "test": n - val}
    test = part(fractions["test"])
    return {"train": n - val - test, "val": val, "test": test}


def content_key(image: Image.Image) -> str:
    """The SHA-256 of an image's mode, size and pixels: what the split orders and seeds by."""
    digest = hashlib.sha256(f"{image.mode}|{image.size}|".encode())
    digest.update(image.tobytes())
    return digest.hexdigest()


def split_names(content: dict[str, str], fractions: dict[str, float], seed: int, class_name: str) -> dict[str, list[str]]:
    """Split one class's images into train/val/test by a permutation seeded by ``seed`` and their content.

    ``content`` maps each image's name to its :func:`content_key`. The permutation runs over the
    images in content order and its stream is seeded by the class's content, so the split depends
    on the pictures alone: the same pictures give the same split whatever the class and its files
    are called (``class_name`` only names the class in errors).

    Raises :class:`PipelineError` if a split would get no image (val may be empty if its
    fraction is 0). Each returned list is sorted by name.
    """
    names = sorted(content, key=lambda name: (content[name], name))  # identical pictures: any order is the same
    counts = split_counts(len(names), fractions)
    # val may be empty (fraction 0), and train with an outside model (nothing is trained)
    needed = [s for s in SPLITS if counts[s] < 1 and (s == "test" or fractions[s] > 0)]
    if needed:
        shown = ", ".join(f"{s} {max(counts[s], 0)}" for s in SPLITS)
        raise PipelineError(
            f"class {class_name!r}: {len(names)} usable image(s) split with preprocess.split "
            f"{fractions['train']:g}/{fractions['val']:g}/{fractions['test']:g} gives {shown}; every split needs "
            "at least 1 image: add images (crawl.images_per_class) or change preprocess.split"
        )
    class_digest = hashlib.sha256("\n".join(content[name] for name in names).encode()).digest()
    rng = np.random.default_rng([seed, int.from_bytes(class_digest[:8], "big")])
    order = [names[i] for i in rng.permutation(len(names))]
    test = order[: counts["test"]]
    val = order[counts["test"] : counts["test"] + counts["val"]]
    train = order[counts["test"] + counts["val"] :]
    return {"train": sorted(train), "val": sorted(val), "test": sorted(test)}


def _output_name(path: Path, taken: set[str]) -> str:
    """``<stem>.png``; if another file of the class already took it, ``<stem>_<suffix>.png`` (then numbered)."""
    stem = path.stem
    candidates = itertools.chain(
        [f"{stem}.png", f"{stem}_{path.suffix.lstrip('.').lower() or 'noext'}.png"],
        (f"{stem}_{i}.png" for i in itertools.count(2)),
    )
    for name in candidates:
        if name.lower() not in taken:
            taken.add(name.lower())
            return name
    raise AssertionError("unreachable")


def run(params: Params, raw: Path, out: Path) -> dict:
    """Decode, resize and split every class of ``params.classes`` from ``raw`` into ``out``."""
    raw, out = Path(raw), Path(out)
    size = params.preprocess.image_size
    fractions = params.preprocess.split.model_dump()
    if not raw.is_dir():
        raise PipelineError(f"raw image folder {str(raw)!r} does not exist; run the crawl stage first")
    existing = list_subfolders(raw)
    missing = [c for c in params.classes if not (raw / c).is_dir()]
    if missing:
        raise PipelineError(
            f"class folder(s) {', '.join(repr(str(raw / c)) for c in missing)} missing; "
            f"{str(raw)!r} holds: {', '.join(existing) if existing else '(nothing)'}"
        )
    files = {c: content_order(list_files(raw / c)) for c in params.classes}
    log.info(
        "preprocess: %d file(s) of %d class(es) from %s, %dx%d px, split %s, seed %d",
        sum(len(f) for f in files.values()),
        len(files),
        raw,
        size,
        size,
        "/".join(f"{fractions[s]:g}" for s in SPLITS),
        params.seed,
    )

    manifest: dict = {
        "classes": list(params.classes),
        "image_size": size,
        "seed": params.seed,
        "split_fractions": fractions,
        "splits": {s: {} for s in SPLITS},
        "counts": {s: {} for s in SPLITS},
        "renamed": {},
        "skipped": [],
        "duplicates": [],
    }
    seen = DuplicateIndex(params.crawl.curation.near_duplicate_distance)
    with atomic_directory(out) as tmp:
        with tqdm(total=sum(len(f) for f in files.values()), desc="preprocess", unit="img", file=sys.stderr) as bar:
            for class_name, paths in files.items():
                kept: dict[Path, Image.Image] = {}
                for path in paths:
                    try:
                        image, hashes = decode_and_hash(path, size, params.crawl.curation.max_pixels)
                    except UnreadableImage as error:  # skip the file, not the run
                        reason = str(error).replace(f"{path}: ", "", 1)
                        log.warning("skipping %s: %s", path, reason)
                        manifest["skipped"].append({"file": f"{class_name}/{path.name}", "reason": reason})
                        bar.update(1)
                        continue
                    label = f"{class_name}/{path.name}"
                    match = seen.find(hashes)
                    if match is not None:
                        log.warning("skipping %s: %s duplicate of %s", path, match.kind, match.label)
                        manifest["duplicates"].append(
                            {"file": label, "of": match.label, "kind": match.kind, "distance": match.distance}
                        )
                    else:
                        seen.add(label, hashes)
                        kept[path] = image
                    bar.update(1)
                # output names in name order, as the files are listed (which are kept is decided above)
                images: dict[str, Image.Image] = {}
                sources: dict[str, str] = {}
                taken: set[str] = set()
                for path in sorted(kept):
                    name = _output_name(path, taken)
                    images[name] = kept[path]
                    sources[name] = path.name
                if len(images) < MIN_IMAGES:
                    raise PipelineError(
                        f"class folder {str(raw / class_name)!r} has {len(images)} usable image(s) "
                        f"(of {len(paths)} file(s)); at least {MIN_IMAGES} are needed; "
                        f"{str(raw)!r} holds: {', '.join(existing)}"
                    )
                split = split_names({name: content_key(image) for name, image in images.items()}, fractions,
                                    params.seed, class_name)
                for split_name, names in split.items():
                    folder = tmp / split_name / class_name
                    folder.mkdir(parents=True, exist_ok=True)
                    for name in names:
                        images[name].save(folder / name, format="PNG")
                    manifest["splits"][split_name][class_name] = names
                    manifest["counts"][split_name][class_name] = len(names)
                renamed = {k: v for k, v in sorted(sources.items()) if k != f"{Path(v).stem}.png"}
                if renamed:  # files whose stem another file of the class already used
                    manifest["renamed"][class_name] = renamed
                log.info(
                    "%s: %d image(s) -> %s",
                    class_name,
                    len(images),
                    ", ".join(f"{s} {len(split[s])}" for s in SPLITS),
                )
        atomic_write_json(tmp / "manifest.json", manifest)
    log.info("wrote %s (manifest: %s)", out, out / "manifest.json")
    return manifest
