"""images.preprocessing: decode, resize, deduplicate and split the class images (and its stage CLI)."""


from __future__ import annotations


import hashlib


import json


import logging


from pathlib import Path


import numpy as np


import pytest


import yaml


from PIL import Image


from images import preprocessing


from pipeline import preprocess


from common.params import load_params


CLASSES = ["fire", "water", "grass"]


def write_params(folder: Path, seed: int = 3, split=None, image_size: int = 8) -> Path:
    params = {
        "seed": seed,
        "classes": CLASSES,
        "preprocess": {"image_size": image_size, "split": split or {"train": 0.6, "val": 0.2, "test": 0.2}},
        "tcav": {"concepts": ["red"], "bottlenecks": ["pool1"], "num_random_exp": 2},
        "crawl": {"num_random_sets": 2},
    }
    path = folder / f"params_{seed}.yaml"
    path.write_text(yaml.safe_dump(params), encoding="utf-8")
    return path


@pytest.fixture
def raw(tmp_path: Path) -> Path:
    """20 small distinct images per class, as PNG and JPEG."""
    root = tmp_path / "raw"
    rng = np.random.default_rng(0)
    for name in CLASSES:
        (root / name).mkdir(parents=True)
        for i in range(20):
            pixels = rng.integers(0, 256, (12, 10, 3), dtype=np.uint8)
            suffix = "jpg" if i % 5 == 0 else "png"
            Image.fromarray(pixels).save(root / name / f"img{i:02d}.{suffix}")
    return root


def run_stage(tmp_path: Path, raw: Path, out_name: str = "processed", **params) -> tuple[int, Path]:
    out = tmp_path / out_name
    code = preprocess.main(["--params", str(write_params(tmp_path, **params)), "--raw", str(raw), "--out", str(out)])
    return code, out


def split_of(out: Path) -> dict[str, dict[str, list[str]]]:
    return {
        split: {name: sorted(p.name for p in (out / split / name).iterdir()) for name in CLASSES}
        for split in ("train", "val", "test")
    }


def test_split_counts_match_fractions_and_splits_are_disjoint(tmp_path, raw):
    code, out = run_stage(tmp_path, raw)
    assert code == 0
    split = split_of(out)
    for name in CLASSES:
        counts = [len(split[s][name]) for s in ("train", "val", "test")]
        assert counts == [12, 4, 4]
        together = split["train"][name] + split["val"][name] + split["test"][name]
        assert sorted(together) == [f"img{i:02d}.png" for i in range(20)]  # disjoint, complete, renamed .png
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["splits"] == split
    assert manifest["image_size"] == 8 and manifest["seed"] == 3 and manifest["skipped"] == []


def test_images_are_decoded_resized_rgb_png(tmp_path, raw):
    _, out = run_stage(tmp_path, raw)
    path = next((out / "train" / "fire").iterdir())
    with Image.open(path) as image:
        assert image.format == "PNG" and image.mode == "RGB" and image.size == (8, 8)
        source = raw / "fire" / path.name
        expected = Image.open(source).convert("RGB").resize((8, 8), Image.BILINEAR)
        assert image.tobytes() == expected.tobytes()


def test_same_seed_same_split_different_seed_different_split(tmp_path, raw):
    _, a = run_stage(tmp_path, raw, "a", seed=3)
    _, b = run_stage(tmp_path, raw, "b", seed=3)
    _, c = run_stage(tmp_path, raw, "c", seed=4)
    assert split_of(a) == split_of(b)
    assert (a / "manifest.json").read_bytes() == (b / "manifest.json").read_bytes()
    assert split_of(a) != split_of(c)
    assert all(len(split_of(c)["test"][name]) == 4 for name in CLASSES)


def test_split_is_stratified_and_depends_on_the_pictures_not_their_names():
    content = {f"{i:03d}.png": f"{(i * 7919) % 1000:064x}" for i in range(50)}
    fractions = {"train": 0.7, "val": 0.1, "test": 0.2}
    first = preprocessing.split_names(content, fractions, 1, "fire")
    assert [len(first[s]) for s in ("train", "val", "test")] == [35, 5, 10]
    assert first == preprocessing.split_names(dict(reversed(content.items())), fractions, 1, "water")  # listing, class
    assert first != preprocessing.split_names(content, fractions, 2, "fire")  # the seed
    # the same pictures under other file names: the same pictures in each split
    renamed = {f"x{name}": key for name, key in content.items()}
    again = preprocessing.split_names(renamed, fractions, 1, "fire")
    assert {s: [content[n] for n in first[s]] for s in first} == {s: [renamed[n] for n in again[s]] for s in again}
    # other pictures: another stream (not the same positions of the content order)
    other = {name: f"{int(key, 16) + 1:064x}" for name, key in content.items()}
    order = sorted(content, key=content.get)
    other_order = sorted(other, key=other.get)
    moved = preprocessing.split_names(other, fractions, 1, "fire")
    assert [order.index(n) for n in first["test"]] != [other_order.index(n) for n in moved["test"]]


def test_renamed_class_and_files_give_the_same_split_of_the_same_pictures(tmp_path, raw):
    _, out = run_stage(tmp_path, raw)
    # the same pictures, every class folder's files renamed and the classes' contents rotated
    # (fire's pictures now under "water", ...): each class's split follows its pictures
    moved = tmp_path / "moved"
    for source, target in zip(CLASSES, CLASSES[1:] + CLASSES[:1]):
        (moved / target).mkdir(parents=True)
        for path in (raw / source).iterdir():
            (moved / target / f"renamed_{path.stem[::-1]}{path.suffix}").write_bytes(path.read_bytes())
    _, out_moved = run_stage(tmp_path, moved, "processed_moved")

    def pictures(folder: Path) -> list[bytes]:
        return sorted(p.read_bytes() for p in folder.iterdir())

    for source, target in zip(CLASSES, CLASSES[1:] + CLASSES[:1]):
        for split in ("train", "val", "test"):
            assert pictures(out / split / source) == pictures(out_moved / split / target)


def test_text_file_named_jpg_is_skipped_with_a_warning(tmp_path, raw, caplog):
    (raw / "water" / "x.jpg").write_text("this is not an image")
    params = load_params(write_params(tmp_path))
    with caplog.at_level(logging.WARNING):
        manifest = preprocessing.run(params, raw, tmp_path / "processed")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and str(raw / "water" / "x.jpg") in warnings[0]
    assert manifest["skipped"][0]["file"] == "water/x.jpg"
    assert str(tmp_path) not in json.dumps(manifest)  # no machine-specific paths in the manifest
    every = [n for split in split_of(tmp_path / "processed").values() for n in split["water"]]
    assert len(every) == 20 and "x.png" not in every


def test_text_file_skipped_through_the_cli_too(tmp_path, raw, capsys):
    (raw / "fire" / "notes.txt").write_text("hello")
    code, out = run_stage(tmp_path, raw)
    assert code == 0
    assert "notes.txt" in capsys.readouterr().err
    assert json.loads((out / "manifest.json").read_text())["skipped"][0]["file"] == "fire/notes.txt"


def test_same_stem_files_do_not_overwrite_each_other(tmp_path, raw):
    Image.new("RGB", (5, 5), (1, 2, 3)).save(raw / "grass" / "img01.jpg")  # img01.png exists too
    code, out = run_stage(tmp_path, raw)
    assert code == 0
    every = [n for split in split_of(out).values() for n in split["grass"]]
    # img01.jpg comes first in name order and keeps the plain name; the manifest tells.
    assert len(every) == 21 and "img01.png" in every and "img01_png.png" in every
    renamed = json.loads((out / "manifest.json").read_text())["renamed"]
    assert renamed == {"grass": {"img01_png.png": "img01.png"}}


def test_missing_class_folder_is_exit_2_naming_it(tmp_path, raw, capsys):
    for path in (raw / "grass").iterdir():
        path.unlink()
    (raw / "grass").rmdir()
    code, out = run_stage(tmp_path, raw)
    assert code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    [line] = [line for line in err.splitlines() if line.startswith("error:")]
    assert str(raw / "grass") in line and "fire, water" in line
    assert not out.exists()


def test_too_few_usable_images_is_an_error_naming_the_folder(tmp_path, raw, capsys):
    for path in sorted((raw / "water").iterdir())[1:]:
        path.unlink()
    (raw / "water" / "broken.png").write_bytes(b"\x89PNG broken")
    code, _ = run_stage(tmp_path, raw)
    assert code == 2
    err = capsys.readouterr().err
    assert f"error: class folder {str(raw / 'water')!r} has 1 usable image(s)" in err


def test_a_split_left_empty_is_an_error_naming_class_and_counts(tmp_path, raw, capsys):
    for path in sorted((raw / "fire").iterdir())[2:]:
        path.unlink()
    code, _ = run_stage(tmp_path, raw)
    assert code == 2
    line = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")][0]
    assert "'fire'" in line and "train 0, val 1, test 1" in line


def test_val_fraction_zero_is_allowed(tmp_path, raw):
    code, out = run_stage(tmp_path, raw, split={"train": 0.75, "val": 0.0, "test": 0.25})
    assert code == 0
    split = split_of(out)
    assert [len(split[s]["fire"]) for s in ("train", "val", "test")] == [15, 0, 5]


def test_failed_run_keeps_previous_output(tmp_path, raw):
    code, out = run_stage(tmp_path, raw)
    before = (out / "manifest.json").read_bytes()
    (raw / "fire" / "img00.jpg").unlink()
    for path in (raw / "water").iterdir():
        path.unlink()
    assert run_stage(tmp_path, raw)[0] == 2
    assert (out / "manifest.json").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_duplicates_within_and_across_classes_are_dropped_before_the_split(tmp_path, raw):
    from tests.image_fixtures import encode, scene

    (raw / "water" / "copy_of_fire.png").write_bytes((raw / "fire" / "img03.png").read_bytes())
    scene(1, 64).save(raw / "grass" / "photo.png")
    (raw / "grass" / "photo_small.jpg").write_bytes(encode(scene(1, 64).resize((48, 48)), "JPEG", quality=85))
    (raw / "grass" / "manifest.json").write_text("{}")  # the crawl's provenance file is not an image
    code, out = run_stage(tmp_path, raw)
    assert code == 0
    manifest = json.loads((out / "manifest.json").read_text())
    # of a near-duplicate pair the file first in content order (SHA-256 of its bytes) is kept
    first, second = sorted(["photo.png", "photo_small.jpg"],
                           key=lambda name: hashlib.sha256((raw / "grass" / name).read_bytes()).hexdigest())
    assert [(d["file"], d["of"], d["kind"]) for d in manifest["duplicates"]] == [
        ("water/copy_of_fire.png", "fire/img03.png", "exact"),
        (f"grass/{second}", f"grass/{first}", "near"),
    ]
    assert manifest["skipped"] == []
    kept = [name for split in ("train", "val", "test") for name in manifest["splits"][split]["water"]]
    assert "copy_of_fire.png" not in kept and len(kept) == 20


def test_which_near_duplicate_is_kept_depends_on_the_pictures_not_their_names(tmp_path, raw):
    """Two near duplicates under swapped names: the same picture is kept (the one first in content
    order), so a renamed folder trains on the same pixels."""
    from tests.image_fixtures import encode, scene

    big, small = scene(1, 64), encode(scene(1, 64).resize((48, 48)), "JPEG", quality=85)
    kept = []
    for out_name, (name_big, name_small) in (("a", ("a.png", "b.png")), ("b", ("b.png", "a.png"))):
        folder = tmp_path / f"raw_{out_name}"
        for name in CLASSES:
            (folder / name).mkdir(parents=True)
            for path in (raw / name).iterdir():
                (folder / name / path.name).write_bytes(path.read_bytes())
        big.save(folder / "grass" / name_big, format="PNG")
        (folder / "grass" / name_small).write_bytes(small)  # JPEG bytes under a .png name: decoded by content
        code, out = run_stage(tmp_path, folder, f"processed_{out_name}")
        assert code == 0
        manifest = json.loads((out / "manifest.json").read_text())
        assert [d["kind"] for d in manifest["duplicates"]] == ["near"]
        dropped = manifest["duplicates"][0]["file"].split("/")[1]
        survivor = ({name_big, name_small} - {dropped}).pop()
        [split] = [s for s in ("train", "val", "test") if survivor in manifest["splits"][s]["grass"]]
        kept.append(np.asarray(Image.open(out / split / "grass" / survivor)))
    assert np.array_equal(kept[0], kept[1])
