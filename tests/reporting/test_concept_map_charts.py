"""The report's concept maps (reporting.charts.concept_maps) and the report stage with --concept-maps."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from common.files import npz_bytes
from pipeline.report import main
from reporting.charts.concept_maps import OVERLAY_RGB, overlay, render_concept_maps, significant_concepts
from tests.reporting.test_report import BOTTLENECKS, CLASSES, CONCEPTS, project, run_report  # noqa: F401 (fixture)


def test_overlay_leaves_random_level_faded_and_paints_concept_level_purple():
    image = np.zeros((8, 8, 3), np.uint8)
    calibrated = np.zeros((2, 2))
    calibrated[0, 0] = 5.0  # far above the concept's images: full strength, no more
    out = overlay(image, calibrated)
    assert out.shape == (8, 8, 3) and out.dtype == np.uint8
    assert tuple(out[7, 7]) == (140, 140, 140)  # 0: the faded image only
    assert np.abs(out[0, 0].astype(int) - (0.15 * 140 + 0.85 * np.array(OVERLAY_RGB))).max() <= 1
    nan = overlay(image, np.full((2, 2), np.nan))
    assert (nan == 140).all()


def test_significant_concepts_are_listed_once_with_what_they_do():
    rows = [{"bottleneck": "conv3", "significant": True, "concept": "red", "target": "fire", "score_mean": 0.95},
            {"bottleneck": "conv3", "significant": True, "concept": "red", "target": "water", "score_mean": 0.1},
            {"bottleneck": "conv3", "significant": False, "concept": "blue", "target": "water", "score_mean": 0.9},
            {"bottleneck": "pool1", "significant": True, "concept": "blue", "target": "water", "score_mean": 0.9}]
    assert significant_concepts(rows, "conv3") == [("red", "+fire \u2212water")]


def fake_maps(n=3, size=8, layer=4):
    rng = np.random.default_rng(0)
    maps = {"images": rng.integers(0, 255, (n, size, size, 3), dtype=np.uint8), "labels": np.arange(n) % 3,
            "predicted": np.array(["fire", "water", "fire"][:n])}
    for b in BOTTLENECKS:
        for c in CONCEPTS:
            maps[f"maps/{b}/{c}"] = rng.normal(0.5, 0.5, (n, layer, layer))
            maps[f"presence/{b}/{c}"] = maps[f"maps/{b}/{c}"].mean(axis=(1, 2))
            maps[f"cav_accuracy/{b}/{c}"] = np.array(0.9)
    return maps


def test_chart_is_a_png_and_deterministic():
    first = render_concept_maps(fake_maps(), CLASSES, "conv3", [("red", "+fire"), ("blue", "+water")])
    assert first == render_concept_maps(fake_maps(), CLASSES, "conv3", [("red", "+fire"), ("blue", "+water")])
    image = Image.open(io.BytesIO(first))
    assert image.size[0] > 200 and image.size[1] > 300


def test_the_report_shows_concept_maps_of_the_significant_concepts(project: Path):  # noqa: F811
    results = project / "results"
    (results / "concept_maps.npz").write_bytes(npz_bytes(fake_maps()))
    argv = ["--params", str(project / "params.yaml"), "--runs", str(results / "tcav" / "runs.csv"),
            "--metrics", str(results / "metrics.json"), "--history", str(results / "train_history.csv"),
            "--views", str(results / "views"), "--insertion", str(results / "tcav" / "insertion.csv"),
            "--insertion-random", str(results / "tcav" / "insertion_random.csv"),
            "--scene", str(results / "tcav" / "scene.csv"), "--scene-random", str(results / "tcav" / "scene_random.csv"),
            "--truth", str(results / "truth.csv"), "--concept-maps", str(results / "concept_maps.npz"),
            "--out", str(results)]
    assert main(argv) == 0
    charts = sorted(p.name for p in (results / "plots").glob("concept_maps_*.png"))
    assert charts and set(charts) <= {f"concept_maps_{b}.png" for b in BOTTLENECKS}
    page = (results / "report.html").read_text(encoding="utf-8")
    assert 'id="concept-maps"' in page and all(name in page for name in charts)


def test_without_concept_maps_the_report_has_no_such_section(project: Path):  # noqa: F811
    assert run_report(project) == 0
    assert not list((project / "results" / "plots").glob("concept_maps_*.png"))
    assert 'id="concept-maps"' not in (project / "results" / "report.html").read_text(encoding="utf-8")


def test_a_missing_concept_maps_file_is_named(project: Path, capsys):  # noqa: F811
    results = project / "results"
    argv = ["--params", str(project / "params.yaml"), "--runs", str(results / "tcav" / "runs.csv"),
            "--metrics", str(results / "metrics.json"), "--history", str(results / "train_history.csv"),
            "--views", str(results / "views"), "--insertion", str(results / "tcav" / "insertion.csv"),
            "--insertion-random", str(results / "tcav" / "insertion_random.csv"),
            "--scene", str(results / "tcav" / "scene.csv"), "--scene-random", str(results / "tcav" / "scene_random.csv"),
            "--truth", str(results / "truth.csv"), "--concept-maps", str(results / "nope.npz"), "--out", str(results)]
    assert main(argv) == 2
    assert "nope.npz: not found (the concept_maps stage writes it" in capsys.readouterr().err


def test_no_significant_concept_no_section(project: Path):  # noqa: F811
    from common.params import load_params
    from reporting.sections import concept_map_section

    params = load_params(project / "params.yaml")
    rows = [{"bottleneck": b, "significant": False, "concept": c, "target": "fire", "score_mean": 0.5}
            for b in BOTTLENECKS for c in CONCEPTS]
    assert concept_map_section(rows, fake_maps(), params) == []
    assert concept_map_section(rows, None, params) == []
    rows[0]["significant"] = True
    [(section_id, _, charts)] = concept_map_section(rows, fake_maps(), params)
    assert section_id == "concept-maps" and [c.name for c in charts] == [f"concept_maps_{BOTTLENECKS[0]}.png"]
