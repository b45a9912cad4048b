"""The crawl stage CLI with the synthetic and local sources: outputs, resume, exclude lists,
cross-set leakage, clean user errors."""

from __future__ import annotations

import hashlib
from pathlib import Path

import json

import numpy as np
import pytest
import yaml
from PIL import Image

from collection import crawl as crawling
from pipeline import crawl


def earlier_folders(tmp_path):
    """The folders a concept crawl must not repeat, where these tests put them."""
    return ["--classes-dir", str(tmp_path / "raw"), "--random-dir", str(tmp_path / "random")]
from collection.manifest import MANIFEST
from common.params import load_params
from collection.sources import synthetic
from worlds.generate import generate
from tests.image_fixtures import encode, scene


def write_params(folder: Path, **crawl_overrides) -> Path:
    params = {
        "seed": 3,
        "classes": ["fire", "water", "grass"],
        "crawl": {
            "source": "synthetic",
            "images_per_class": 4,
            "images_per_concept": 3,
            "synthetic_size": 24,
            "concepts": ["red", "striped"],
            "num_random_sets": 2,
            **crawl_overrides,
        },
        "tcav": {"concepts": ["red"], "bottlenecks": ["pool1"], "num_random_exp": 2},
    }
    path = folder / "params.yaml"
    path.write_text(yaml.safe_dump(params), encoding="utf-8")
    return path


def files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def images(folder: Path) -> list[str]:
    """The image files of a crawled folder (it also holds its manifest.json)."""
    return sorted(p.name for p in folder.iterdir() if p.name != MANIFEST)


def manifest(folder: Path) -> dict:
    return json.loads((folder / MANIFEST).read_text())


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def error_lines(err: str) -> list[str]:
    assert "Traceback" not in err
    return [line for line in err.splitlines() if line.startswith("error:")]


def stored(path: Path, suffix: str | None = None) -> str:
    """The name a local image is kept under: its content hash, as a download's."""
    suffix = suffix or {".jpeg": ".jpg"}.get(path.suffix.lower(), path.suffix.lower())
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16] + suffix


def content_first(paths, count: int) -> list[Path]:
    """The first ``count`` of ``paths`` in content order (what the local source keeps)."""
    return sorted(paths, key=lambda p: hashlib.sha256(p.read_bytes()).hexdigest())[:count]


def distinct_image(seed: int, size: int = 16) -> Image.Image:
    """Blocky random colours: every seed gives an image unlike the others (also to phash)."""
    cells = np.random.default_rng(seed).integers(0, 256, (4, 4, 3), dtype=np.uint8)
    return Image.fromarray(cells).resize((size, size), Image.NEAREST)


def make_png(path: Path, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    distinct_image(seed).save(path)


@pytest.fixture
def local_dir(tmp_path: Path) -> Path:
    root = tmp_path / "local"
    for k, name in enumerate(("fire", "water", "grass", "red", "random500_0", "random500_1")):
        for i in range(3):
            make_png(root / name / f"img{i}.png", 10 * k + i)
    (root / "fire" / "notes.txt").write_text("not an image")
    (root / "fire" / ".hidden.png").write_bytes(b"")
    return root


def test_classes_fills_one_folder_per_class(tmp_path):
    params = write_params(tmp_path)
    out = tmp_path / "raw"
    assert crawl.main(["classes", "--params", str(params), "--out", str(out)]) == 0
    assert files(out) == ["fire", "grass", "water"]
    for name in ("fire", "water", "grass"):
        assert files(out / name) == ["0000.png", "0001.png", "0002.png", "0003.png", MANIFEST]
        with Image.open(out / name / "0000.png") as image:
            assert image.size == (24, 24) and image.mode == "RGB"


def test_classes_output_is_the_synthetic_generators(tmp_path):
    params = write_params(tmp_path)
    out = tmp_path / "raw"
    crawl.main(["classes", "--params", str(params), "--out", str(out)])
    expected = dict(generate("class", "water", 4, 24, 3))
    with Image.open(out / "water" / "0002.png") as image:
        assert image.tobytes() == expected["0002.png"].tobytes()


def test_rerun_gives_identical_files(tmp_path):
    params = write_params(tmp_path)
    for out in (tmp_path / "a", tmp_path / "b"):
        crawl.main(["concept", "red", "--params", str(params), "--out", str(out), *earlier_folders(tmp_path)])
    for name in files(tmp_path / "a"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_concept_fills_the_concept_folder(tmp_path):
    params = write_params(tmp_path)
    out = tmp_path / "concepts" / "red"
    assert crawl.main(["concept", "red", "--params", str(params), "--out", str(out), *earlier_folders(tmp_path)]) == 0
    assert images(out) == ["0000.png", "0001.png", "0002.png"]


def test_crawl_paths_are_given_not_assumed(tmp_path, monkeypatch, capsys):
    # dvc.yaml gives every path; a stage run by hand without them says which are missing
    write_params(tmp_path)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        crawl.main(["concept", "striped"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "--params" in err and "--out" in err and "--classes-dir" in err and "--random-dir" in err
    assert not (tmp_path / "concepts").exists()


def test_random_fills_the_random_sets(tmp_path):
    params = write_params(tmp_path, num_random_sets=3)
    out = tmp_path / "concepts" / "random"
    assert crawl.main(["random", "--params", str(params), "--out", str(out), "--classes-dir", str(tmp_path / "raw")]) == 0
    assert files(out) == ["random500_0", "random500_1", "random500_2"]
    for name in files(out):
        assert len(images(out / name)) == 3
    # Different sets hold different images.
    assert (out / "random500_0" / "0000.png").read_bytes() != (out / "random500_1" / "0000.png").read_bytes()


def test_logs_what_it_wrote_and_where(tmp_path, capsys):
    params = write_params(tmp_path)
    out = tmp_path / "raw"
    crawl.main(["classes", "--params", str(params), "--out", str(out)])
    err = capsys.readouterr().err
    assert "fire (synthetic, 4 image(s))" in err
    assert f"{out / 'fire'}: 4 image(s), 4 new this run" in err
    assert "4/4 [" in err  # a progress bar per folder
    table = err[err.index("crawl classes summary:"):].splitlines()
    assert table[1].split()[:3] == ["folder", "kept", "new"]
    assert [row.split()[:3] for row in table[2:5]] == [["fire", "4/4", "4"], ["water", "4/4", "4"], ["grass", "4/4", "4"]]


def test_concept_not_in_crawl_concepts_is_a_clean_error(tmp_path, capsys):
    params = write_params(tmp_path)
    assert crawl.main(["concept", "zigzag", "--params", str(params), "--out", str(tmp_path / "z"), *earlier_folders(tmp_path)]) == 2
    [line] = error_lines(capsys.readouterr().err)
    assert "'zigzag'" in line and "crawl.concepts" in line and "red, striped" in line
    assert not (tmp_path / "z").exists()


def test_synthetic_source_rejects_unknown_class_names(tmp_path, capsys):
    params = write_params(tmp_path)
    text = params.read_text().replace("- grass", "- electric")
    params.write_text(text)
    assert crawl.main(["classes", "--params", str(params), "--out", str(tmp_path / "raw")]) == 2
    [line] = error_lines(capsys.readouterr().err)
    assert "'electric'" in line and "fire, water, grass" in line
    assert not (tmp_path / "raw").exists()


def test_queries_default_to_the_name(tmp_path):
    params = load_params(write_params(tmp_path, queries={"fire": "charmander"}))
    requests = crawling.plan("classes", params, tmp_path / "raw")
    assert [(r.name, r.query, r.count, r.out_dir) for r in requests] == [
        ("fire", "charmander", 4, tmp_path / "raw" / "fire"),
        ("water", "water", 4, tmp_path / "raw" / "water"),
        ("grass", "grass", 4, tmp_path / "raw" / "grass"),
    ]


def test_local_source_copies_images_only_and_at_most_the_count(tmp_path, local_dir):
    params = write_params(tmp_path, source="local", local_dir=str(local_dir), images_per_class=2)
    out = tmp_path / "raw"
    assert crawl.main(["classes", "--params", str(params), "--out", str(out)]) == 0
    kept = content_first((local_dir / "fire").glob("img*.png"), 2)  # first two by content; no .txt, no hidden file
    assert images(out / "fire") == sorted(stored(p) for p in kept)
    assert all((out / "fire" / stored(p)).read_bytes() == p.read_bytes() for p in kept)


def test_local_source_copies_concepts_and_random_sets(tmp_path, local_dir):
    params = write_params(tmp_path, source="local", local_dir=str(local_dir))
    assert crawl.main(["concept", "red", "--params", str(params), "--out", str(tmp_path / "red"), *earlier_folders(tmp_path)]) == 0
    assert images(tmp_path / "red") == sorted(stored(local_dir / "red" / f"img{i}.png") for i in range(3))
    assert crawl.main(["random", "--params", str(params), "--out", str(tmp_path / "random"), "--classes-dir", str(tmp_path / "raw")]) == 0
    assert files(tmp_path / "random") == ["random500_0", "random500_1"]
    assert images(tmp_path / "random" / "random500_1") == sorted(stored(p) for p in (local_dir / "random500_1").iterdir())
    entry = manifest(tmp_path / "red")["images"][stored(local_dir / "red" / "img1.png")]
    assert entry["url"] == (local_dir / "red" / "img1.png").resolve().as_uri()
    assert entry["origin"]["source"] == "local" and entry["fetched"]


def test_local_source_missing_folder_names_it_and_keeps_previous_output(tmp_path, local_dir, capsys):
    params = write_params(tmp_path, source="local", local_dir=str(local_dir))
    text = params.read_text().replace("- grass", "- electric")
    params.write_text(text)
    out = tmp_path / "raw"
    (out / "fire").mkdir(parents=True)
    (out / "fire" / "previous.png").write_bytes(b"previous run")
    assert crawl.main(["classes", "--params", str(params), "--out", str(out)]) == 2
    [line] = error_lines(capsys.readouterr().err)
    assert str(local_dir / "electric") in line and "missing" in line
    assert "fire, grass, random500_0, random500_1, red, water" in line  # what local_dir does hold
    assert files(out) == ["fire"] and (out / "fire" / "previous.png").read_bytes() == b"previous run"
    assert files(tmp_path) == ["local", "params.yaml", "raw"]  # no temporary folder left behind


def test_local_source_folder_with_too_few_images_is_an_error(tmp_path, local_dir, capsys):
    for extra in ("img1.png", "img2.png"):
        (local_dir / "water" / extra).unlink()
    params = write_params(tmp_path, source="local", local_dir=str(local_dir))
    assert crawl.main(["classes", "--params", str(params), "--out", str(tmp_path / "raw")]) == 2
    [line] = error_lines(capsys.readouterr().err)
    assert str(local_dir / "water") in line and "1 image file" in line


def test_interrupted_run_keeps_complete_files_and_the_rerun_fetches_only_what_is_missing(tmp_path, monkeypatch):
    params = write_params(tmp_path)
    out = tmp_path / "raw"
    real_offer = crawling.Collector.offer

    def failing_offer(self, key, data, **kwargs):
        if self.name == "water" and self.kept == 2:
            raise KeyboardInterrupt  # Ctrl-C in the middle of a folder
        return real_offer(self, key, data, **kwargs)

    monkeypatch.setattr(crawling.Collector, "offer", failing_offer)
    assert crawl.main(["classes", "--params", str(params), "--out", str(out)]) == 130
    assert images(out / "fire") == ["0000.png", "0001.png", "0002.png", "0003.png"]
    assert images(out / "water") == ["0000.png", "0001.png"]
    assert sorted(manifest(out / "water")["images"]) == ["0000.png", "0001.png"]  # describes exactly what is there
    assert not [p for p in out.rglob(".*")]  # no temporary file left behind
    monkeypatch.undo()

    drawn = []
    real_draw = synthetic.draw
    monkeypatch.setattr(synthetic, "draw", lambda kind, name, index, *a: drawn.append((name, index)) or real_draw(kind, name, index, *a))
    [fire, water, grass] = crawling.run("classes", load_params(params), out)
    assert (fire.new, water.new, grass.new) == (0, 2, 4)
    assert drawn == [("water", 2), ("water", 3)] + [("grass", i) for i in range(4)]
    crawling.run("classes", load_params(params), tmp_path / "fresh")
    assert snapshot(out) == snapshot(tmp_path / "fresh")  # same as an uninterrupted run, manifests included


def test_rerun_with_nothing_missing_fetches_nothing(tmp_path, monkeypatch):
    params = load_params(write_params(tmp_path))
    out = tmp_path / "raw"
    crawling.run("classes", params, out)
    before = snapshot(out)
    monkeypatch.setattr(synthetic, "draw", lambda *a: pytest.fail("regenerated an image that was there"))
    reports = crawling.run("classes", params, out)
    assert [r.new for r in reports] == [0, 0, 0] and [r.kept for r in reports] == [4, 4, 4]
    assert snapshot(out) == before


def test_changed_params_replace_stale_images(tmp_path):
    out = tmp_path / "raw"
    crawling.run("classes", load_params(write_params(tmp_path)), out)
    params = load_params(write_params(tmp_path, synthetic_size=16, images_per_class=3))
    reports = crawling.run("classes", params, out)
    assert [r.new for r in reports] == [3, 3, 3]
    crawling.run("classes", params, tmp_path / "fresh")
    assert snapshot(out) == snapshot(tmp_path / "fresh")


def test_fewer_images_asked_for_keeps_the_first_ones(tmp_path):
    out = tmp_path / "raw"
    crawling.run("classes", load_params(write_params(tmp_path)), out)
    before = snapshot(out)
    reports = crawling.run("classes", load_params(write_params(tmp_path, images_per_class=2)), out)
    assert [r.new for r in reports] == [0, 0, 0]
    assert images(out / "fire") == ["0000.png", "0001.png"]
    assert (out / "fire" / "0001.png").read_bytes() == before["fire/0001.png"]


def test_exclude_list_removes_an_image_for_good_and_a_replacement_is_fetched(tmp_path):
    params = load_params(write_params(tmp_path, exclude_dir=str(tmp_path / "exclude")))
    out = tmp_path / "raw"
    crawling.run("classes", params, out)
    water_0002 = manifest(out / "water")["images"]["0002.png"]["sha256"]
    (tmp_path / "exclude").mkdir()
    (tmp_path / "exclude" / "fire.txt").write_text("# wrong subject\n0001.png\n")
    (tmp_path / "exclude" / "water.txt").write_text(f"{water_0002[:16]}  # by hash prefix\n")
    reports = crawling.run("classes", params, out)
    assert images(out / "fire") == ["0000.png", "0002.png", "0003.png", "0004.png"]
    assert images(out / "water") == ["0000.png", "0001.png", "0003.png", "0004.png"]
    assert [(r.excluded, r.new) for r in reports] == [(1, 1), (1, 1), (0, 0)]
    excluded = manifest(out / "fire")["excluded"]
    assert list(excluded) == ["0001.png"] and "exclude/fire.txt" in excluded["0001.png"]["reason"]
    again = crawling.run("classes", params, out)  # stays excluded on every rerun
    assert images(out / "fire") == ["0000.png", "0002.png", "0003.png", "0004.png"] and again[0].new == 0


def test_exclude_list_entry_that_is_a_path_is_a_clean_error(tmp_path, capsys):
    params = write_params(tmp_path, exclude_dir=str(tmp_path / "exclude"))
    (tmp_path / "exclude").mkdir()
    (tmp_path / "exclude" / "fire.txt").write_text("raw/fire/0001.png\n")
    assert crawl.main(["classes", "--params", str(params), "--out", str(tmp_path / "raw")]) == 2
    [line] = error_lines(capsys.readouterr().err)
    assert "fire.txt, line 1" in line and "file name only" in line


def test_files_the_crawl_did_not_make_are_removed_and_tmp_leftovers_cleaned(tmp_path):
    params = load_params(write_params(tmp_path))
    out = tmp_path / "raw"
    crawling.run("classes", params, out)
    make_png(out / "fire" / "stray.png", 1)
    (out / "fire" / ".0001.png.x1y2.tmp").write_bytes(b"half")
    crawling.run("classes", params, out)
    assert files(out / "fire") == ["0000.png", "0001.png", "0002.png", "0003.png", MANIFEST]


def test_concepts_and_random_sets_never_repeat_a_class_image(tmp_path, local_dir):
    # red/ holds a byte copy of a class image and a recompressed, resized copy of another.
    (local_dir / "red" / "copy.png").write_bytes((local_dir / "water" / "img1.png").read_bytes())
    scene(5).save(local_dir / "grass" / "img1.png")
    near = scene(5).resize((56, 56), Image.LANCZOS)  # grass/img1 smaller, as a JPEG
    (local_dir / "red" / "near.jpg").write_bytes(encode(near, "JPEG", quality=90))
    (local_dir / "random500_1" / "again.png").write_bytes((local_dir / "random500_0" / "img0.png").read_bytes())
    (local_dir / "random500_1" / "klass.png").write_bytes((local_dir / "fire" / "img2.png").read_bytes())
    params = load_params(write_params(tmp_path, source="local", local_dir=str(local_dir), images_per_concept=5))
    raw, random_dir = tmp_path / "raw", tmp_path / "random"
    crawling.run("classes", params, raw)
    [r0, r1] = crawling.run("random", params, random_dir, classes_dir=raw)
    r1_dir = local_dir / "random500_1"
    assert images(random_dir / "random500_1") == sorted(stored(r1_dir / f"img{i}.png") for i in range(3))
    assert r1.duplicates == {"exact": 2}
    dups = manifest(random_dir / "random500_1")["duplicates"]
    assert {d["file"]: d["of"] for d in dups.values()} == {
        stored(r1_dir / "again.png"): f"random500_0/{stored(local_dir / 'random500_0' / 'img0.png')}",
        stored(r1_dir / "klass.png"): f"fire/{stored(local_dir / 'fire' / 'img2.png')}"}
    [red] = crawling.run("concept", params, tmp_path / "red", "red", classes_dir=raw, random_dir=random_dir)
    assert images(tmp_path / "red") == sorted(stored(local_dir / "red" / f"img{i}.png") for i in range(3))
    found = {d["file"]: (d["of"], d["kind"]) for d in manifest(tmp_path / "red")["duplicates"].values()}
    assert found == {stored(local_dir / "red" / "copy.png"): (f"water/{stored(local_dir / 'water' / 'img1.png')}", "exact"),
                     stored(local_dir / "red" / "near.jpg"): (f"grass/{stored(local_dir / 'grass' / 'img1.png')}", "near")}


def test_local_random_pool_is_dealt_into_disjoint_sets_the_same_way_every_time(tmp_path):
    root = tmp_path / "local"
    for i in range(14):  # a pool with category subfolders, like Caltech-256
        make_png(root / "caltech" / f"{i % 3:03d}.cat" / f"{i:04d}.png", 100 + i)
    params = load_params(write_params(tmp_path, source="local", local_dir=str(root), queries={"random": "caltech"},
                                      images_per_concept=5))
    reports = crawling.run("random", params, tmp_path / "a", classes_dir=tmp_path / "raw")
    assert [r.kept for r in reports] == [5, 5]
    sets = [set(images(tmp_path / "a" / f"random500_{i}")) for i in range(2)]
    assert not sets[0] & sets[1]
    assert sets[0] | sets[1] <= {stored(p) for p in (root / "caltech").rglob("*.png")}
    crawling.run("random", params, tmp_path / "b", classes_dir=tmp_path / "raw")
    assert {k: v for k, v in snapshot(tmp_path / "a").items() if not k.endswith(MANIFEST)} == {
        k: v for k, v in snapshot(tmp_path / "b").items() if not k.endswith(MANIFEST)
    }


def test_local_images_are_normalised_and_renamed_to_their_stored_format(tmp_path):
    root = tmp_path / "local"
    for name in ("fire", "water", "grass"):
        make_png(root / name / "a.png", hash(name) % 1000)
        make_png(root / name / "b.png", hash(name) % 1000 + 1)
    rgba = distinct_image(7, 32).convert("RGBA")
    rgba.putalpha(0)
    rgba.crop((0, 0, 32, 20)).save(root / "fire" / "c.png")
    params = load_params(write_params(tmp_path, source="local", local_dir=str(root), images_per_class=3))
    crawling.run("classes", params, tmp_path / "raw")
    name = stored(root / "fire" / "c.png")
    entry = manifest(tmp_path / "raw" / "fire")["images"][name]
    assert entry["conversions"] == ["RGBA composited on a white background", "centre-cropped 32x20 -> 20x20"]
    with Image.open(tmp_path / "raw" / "fire" / name) as image:
        assert image.mode == "RGB" and image.size == (20, 20)
        assert image.getpixel((3, 3)) == (255, 255, 255)  # fully transparent -> the fixed background


def test_local_images_under_other_names_are_kept_identically(tmp_path, local_dir):
    """Which images are kept, under which names, depends on the pictures only: the same files
    renamed (and put in subfolders) give byte-identical class, concept and random folders."""
    renamed = tmp_path / "renamed"
    for path in sorted(local_dir.rglob("*.png")):
        if path.name.startswith("."):
            continue
        digest = hashlib.md5(path.name.encode()).hexdigest()[:6]  # another name order
        target = renamed / path.parent.name / f"sub{digest[0]}" / f"photo_{digest}_{path.stem}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
    outputs = []
    for root in (local_dir, renamed):
        out = tmp_path / f"from-{root.name}"
        out.mkdir()
        params = load_params(write_params(out, source="local", local_dir=str(root), images_per_class=2,
                                          images_per_concept=2))
        crawling.run("classes", params, out / "raw")
        crawling.run("random", params, out / "random", classes_dir=out / "raw")
        crawling.run("concept", params, out / "red", "red", classes_dir=out / "raw", random_dir=out / "random")
        outputs.append({k: v for k, v in snapshot(out).items() if not k.endswith((MANIFEST, "params.yaml"))})
    assert outputs[0] == outputs[1] and len(outputs[0]) == 3 * 2 + 2 * 2 + 2


def test_a_local_file_is_excluded_by_its_own_name_or_its_stored_name(tmp_path, local_dir):
    (tmp_path / "exclude").mkdir()
    (tmp_path / "exclude" / "fire.txt").write_text("img1.png  # the name it has in local_dir\n")
    (tmp_path / "exclude" / "water.txt").write_text(f"{stored(local_dir / 'water' / 'img2.png')}\n")
    params = load_params(write_params(tmp_path, source="local", local_dir=str(local_dir),
                                      exclude_dir=str(tmp_path / "exclude")))
    reports = crawling.run("classes", params, tmp_path / "raw")
    assert [r.excluded for r in reports] == [1, 1, 0]
    assert stored(local_dir / "fire" / "img1.png") not in images(tmp_path / "raw" / "fire")
    assert stored(local_dir / "water" / "img2.png") not in images(tmp_path / "raw" / "water")
    assert len(images(tmp_path / "raw" / "fire")) == len(images(tmp_path / "raw" / "water")) == 2


def test_missing_params_file_is_a_clean_error(tmp_path, capsys):
    assert crawl.main(["random", "--params", str(tmp_path / "nope.yaml"), "--out", str(tmp_path / "r"), "--classes-dir", str(tmp_path / "raw")]) == 2
    [line] = error_lines(capsys.readouterr().err)
    assert "nope.yaml" in line


def test_a_folder_of_someone_elses_images_is_refused_not_deleted(tmp_path, local_dir, capsys):
    params = write_params(tmp_path, source="local", local_dir=str(local_dir))
    mine = tmp_path / "red"
    make_png(mine / "my_own.png", 99)
    assert crawl.main(["concept", "red", "--params", str(params), "--out", str(mine), *earlier_folders(tmp_path)]) == 2
    [line] = error_lines(capsys.readouterr().err)
    assert str(mine) in line and "no manifest.json" in line and "will not delete them" in line
    assert files(mine) == ["my_own.png"]


def test_synthetic_output_without_a_manifest_is_regenerated(tmp_path):
    out = tmp_path / "raw"
    make_png(out / "fire" / "0000.png", 1)  # as an earlier version of the stage left it
    crawling.run("classes", load_params(write_params(tmp_path)), out)
    expected = dict(generate("class", "fire", 4, 24, 3))
    with Image.open(out / "fire" / "0000.png") as image:
        assert image.tobytes() == expected["0000.png"].tobytes()
