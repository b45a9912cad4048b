"""The crawl stage CLI: synthetic and local sources, atomic outputs, clean user errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from PIL import Image

from pipeline import crawl
from pipeline.params import load_params
from pipeline.sources import synthetic


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


def error_lines(err: str) -> list[str]:
    assert "Traceback" not in err
    return [line for line in err.splitlines() if line.startswith("error:")]


def make_png(path: Path, colour=(200, 30, 30)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), colour).save(path)


@pytest.fixture
def local_dir(tmp_path: Path) -> Path:
    root = tmp_path / "local"
    for name in ("fire", "water", "grass", "red", "random500_0", "random500_1"):
        for i in range(3):
            make_png(root / name / f"img{i}.png", (40 * i, 50, 60))
    (root / "fire" / "notes.txt").write_text("not an image")
    (root / "fire" / ".hidden.png").write_bytes(b"")
    return root


def test_classes_fills_one_folder_per_class(tmp_path):
    params = write_params(tmp_path)
    out = tmp_path / "raw"
    assert crawl.main(["classes", "--params", str(params), "--out", str(out)]) == 0
    assert files(out) == ["fire", "grass", "water"]
    for name in ("fire", "water", "grass"):
        assert files(out / name) == ["0000.png", "0001.png", "0002.png", "0003.png"]
        with Image.open(out / name / "0000.png") as image:
            assert image.size == (24, 24) and image.mode == "RGB"


def test_classes_output_is_the_synthetic_generators(tmp_path):
    params = write_params(tmp_path)
    out = tmp_path / "raw"
    crawl.main(["classes", "--params", str(params), "--out", str(out)])
    expected = dict(synthetic.generate("class", "water", 4, 24, 3))
    with Image.open(out / "water" / "0002.png") as image:
        assert image.tobytes() == expected["0002.png"].tobytes()


def test_rerun_gives_identical_files(tmp_path):
    params = write_params(tmp_path)
    for out in (tmp_path / "a", tmp_path / "b"):
        crawl.main(["concept", "red", "--params", str(params), "--out", str(out)])
    for name in files(tmp_path / "a"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_concept_fills_the_concept_folder(tmp_path):
    params = write_params(tmp_path)
    out = tmp_path / "concepts" / "red"
    assert crawl.main(["concept", "red", "--params", str(params), "--out", str(out)]) == 0
    assert files(out) == ["0000.png", "0001.png", "0002.png"]


def test_concept_default_output_is_concepts_name(tmp_path, monkeypatch):
    write_params(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert crawl.main(["concept", "striped"]) == 0
    assert len(files(tmp_path / "concepts" / "striped")) == 3


def test_random_fills_the_random_sets(tmp_path):
    params = write_params(tmp_path, num_random_sets=3)
    out = tmp_path / "concepts" / "random"
    assert crawl.main(["random", "--params", str(params), "--out", str(out)]) == 0
    assert files(out) == ["random500_0", "random500_1", "random500_2"]
    for name in files(out):
        assert len(files(out / name)) == 3
    # Different sets hold different images.
    assert (out / "random500_0" / "0000.png").read_bytes() != (out / "random500_1" / "0000.png").read_bytes()


def test_logs_what_it_wrote_and_where(tmp_path, capsys):
    params = write_params(tmp_path)
    out = tmp_path / "raw"
    crawl.main(["classes", "--params", str(params), "--out", str(out)])
    err = capsys.readouterr().err
    assert "source synthetic" in err
    assert f"wrote 4 image(s) to {out / 'fire'}" in err
    assert "crawl classes" in err and "12/12" in err  # the progress bar


def test_concept_not_in_crawl_concepts_is_a_clean_error(tmp_path, capsys):
    params = write_params(tmp_path)
    assert crawl.main(["concept", "zigzag", "--params", str(params), "--out", str(tmp_path / "z")]) == 2
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
    requests = crawl.plan("classes", params, tmp_path / "raw")
    assert [(r.name, r.query, r.count, r.out_dir) for r in requests] == [
        ("fire", "charmander", 4, tmp_path / "raw" / "fire"),
        ("water", "water", 4, tmp_path / "raw" / "water"),
        ("grass", "grass", 4, tmp_path / "raw" / "grass"),
    ]


def test_local_source_copies_images_only_and_at_most_the_count(tmp_path, local_dir):
    params = write_params(tmp_path, source="local", local_dir=str(local_dir), images_per_class=2)
    out = tmp_path / "raw"
    assert crawl.main(["classes", "--params", str(params), "--out", str(out)]) == 0
    assert files(out / "fire") == ["img0.png", "img1.png"]  # first two by name; no .txt, no hidden file
    assert (out / "fire" / "img1.png").read_bytes() == (local_dir / "fire" / "img1.png").read_bytes()


def test_local_source_copies_concepts_and_random_sets(tmp_path, local_dir):
    params = write_params(tmp_path, source="local", local_dir=str(local_dir))
    assert crawl.main(["concept", "red", "--params", str(params), "--out", str(tmp_path / "red")]) == 0
    assert files(tmp_path / "red") == ["img0.png", "img1.png", "img2.png"]
    assert crawl.main(["random", "--params", str(params), "--out", str(tmp_path / "random")]) == 0
    assert files(tmp_path / "random") == ["random500_0", "random500_1"]
    assert files(tmp_path / "random" / "random500_1") == ["img0.png", "img1.png", "img2.png"]


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


def test_failure_in_the_middle_leaves_previous_output_untouched(tmp_path, monkeypatch, capsys):
    params = write_params(tmp_path)
    out = tmp_path / "raw"
    assert crawl.main(["classes", "--params", str(params), "--out", str(out)]) == 0
    before = {p: p.read_bytes() for p in out.rglob("*.png")}
    real_fill = synthetic.fill

    def failing_fill(request, params):
        for i, path in enumerate(real_fill(request, params)):
            if request.name == "water" and i == 2:
                raise OSError("disk full")
            yield path

    monkeypatch.setattr(synthetic, "fill", failing_fill)
    write_params(tmp_path, synthetic_size=16)
    with pytest.raises(OSError):
        crawl.main(["classes", "--params", str(params), "--out", str(out)])
    assert {p: p.read_bytes() for p in out.rglob("*.png")} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["params.yaml", "raw"]


def test_missing_params_file_is_a_clean_error(tmp_path, capsys):
    assert crawl.main(["random", "--params", str(tmp_path / "nope.yaml"), "--out", str(tmp_path / "r")]) == 2
    [line] = error_lines(capsys.readouterr().err)
    assert "nope.yaml" in line
