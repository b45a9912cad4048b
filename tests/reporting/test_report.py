"""Tests for the report stage (pipeline.report) and its charts (reporting.charts.base)."""

from __future__ import annotations

import csv
import itertools
import json
import math
import struct
from pathlib import Path

import numpy as np
import pytest
import yaml
from matplotlib.image import imread

from common.files import npz_bytes
from reporting.charts.scores import render_class_scores
from tcavcore.verdicts import NOT_RECOGNISED
from pipeline.report import main

CLASSES = ["fire", "water", "grass"]
CONCEPTS = ["red", "blue", "striped"]
BOTTLENECKS = ["pool1", "conv3"]
N_RANDOM = 4
RUN_HEADER = ("target,concept,random,bottleneck,alpha,kind,score,magnitude,cav_accuracy,n_examples,n_concept,"
              "n_random_images").split(",")
SCORE_COLUMNS = [
    "target", "concept", "bottleneck", "alpha", "verdict", "score_mean", "score_std", "score_ci_low", "score_ci_high",
    "random_mean", "random_std", "effect_size", "p_random", "p_random_adjusted", "p_half", "p_half_adjusted",
    "significant", "cav_learnable", "cav_accuracy", "cav_accuracy_std", "magnitude_mean", "n_random", "n_examples",
    "n_concept", "n_random_images", "small_sets", "class_independent", "insertion_effect", "insertion_ci_low", "insertion_ci_high", "insertion_p", "insertion_p_adjusted", "insertion_random_low", "insertion_random_high",
    "scene_effect", "scene_ci_low", "scene_ci_high", "scene_p", "scene_p_adjusted", "scene_random_low", "scene_random_high",
    "object_effect", "object_ci_low", "object_ci_high", "object_p", "object_p_adjusted", "object_random_low",
    "object_random_high", "confirmed", "confirmed_by", "size_certain",
]  # fmt: skip
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
EXPECTED_CHARTS = [
    *(f"tcav_{c}.png" for c in CLASSES), *(f"heatmap_{b}.png" for b in BOTTLENECKS),
    *(f"distributions_{c}.png" for c in CLASSES), "cav_accuracy.png", "training_curves.png", "confusion_matrix.png",
    "feature_maps_conv1.png", *(f"projection_{b}.png" for b in BOTTLENECKS),
]  # fmt: skip


def write_params(folder: Path, alphas=(0.1,)) -> Path:
    path = folder / "params.yaml"
    path.write_text(
        "seed: 1\n"
        f"classes: [{', '.join(CLASSES)}]\n"
        "crawl: {num_random_sets: 4}\n"
        "tcav:\n"
        f"  concepts: [{', '.join(CONCEPTS)}]\n"
        f"  bottlenecks: [{', '.join(BOTTLENECKS)}]\n"
        f"  num_random_exp: {N_RANDOM}\n"
        f"  alphas: [{', '.join(map(repr, alphas))}]\n"
        "  significance: 0.05\n",
        encoding="utf-8",
    )
    return path


def planted_level(target: str, concept: str) -> float:
    """fire is red, water is blue; everything else looks like random."""
    return {("fire", "red"): 0.92, ("water", "blue"): 0.88}.get((target, concept), 0.5)


def concept_size(concept: str) -> int:
    """Images in a concept folder: blue has only 7 (under tcav.min_concept_images, 30)."""
    return 7 if concept == "blue" else 50


def write_runs(path: Path, alphas=(0.1,), seed=0) -> Path:
    rng = np.random.default_rng(seed)
    randoms = [f"random500_{i}" for i in range(N_RANDOM)]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(RUN_HEADER)
        for target, bottleneck, alpha in itertools.product(CLASSES, BOTTLENECKS, alphas):
            for concept, random in itertools.product(CONCEPTS, randoms):
                score = float(np.clip(planted_level(target, concept) + rng.normal(0, 0.03), 0, 1))
                # grass/striped has all-zero derivatives: magnitude is NaN.
                magnitude = math.nan if (target, concept) == ("grass", "striped") else float(rng.uniform())
                accuracy = float(rng.uniform(0.7, 1.0))
                writer.writerow([target, concept, random, bottleneck, repr(alpha), "concept", repr(score),
                                 repr(magnitude), repr(accuracy), 20, concept_size(concept), 50])  # fmt: skip
            for first, second in itertools.permutations(randoms, 2):
                score = float(np.clip(0.5 + rng.normal(0, 0.12), 0, 1))
                writer.writerow([target, first, second, bottleneck, repr(alpha), "random", repr(score),
                                 repr(float(rng.uniform())), repr(float(rng.uniform(0.4, 0.6))), 20, 50, 50])  # fmt: skip
    return path


GOOD_CONFUSION = [[20, 0, 0], [1, 19, 0], [0, 2, 18]]


def write_model_views(folder: Path, matrix=GOOD_CONFUSION, seed=0) -> None:
    """What the train and views stages write, small and made up."""
    rng = np.random.default_rng(seed)
    results = folder / "results"
    results.mkdir(parents=True, exist_ok=True)
    n_test = int(np.sum(matrix))
    (results / "metrics.json").write_text(json.dumps({"test": {"accuracy": 0.9, "loss": 0.3, "n_images": n_test}}))
    (results / "train_history.csv").write_text(
        "epoch,accuracy,loss,val_accuracy,val_loss\n1,0.500000,1.000000,0.600000,0.900000\n2,0.800000,0.500000,0.850000,0.400000\n"
    )
    views = results / "views"
    views.mkdir(exist_ok=True)
    accuracy = float(np.trace(matrix) / n_test)
    (views / "confusion.json").write_text(json.dumps({"classes": CLASSES, "matrix": matrix, "n_images": n_test,
                                                      "accuracy": accuracy}))
    maps = {"images": rng.integers(0, 255, (3, 8, 8, 3), dtype=np.uint8), "labels": np.arange(3)}
    for when in ("before", "after"):
        maps[f"{when}/conv1"] = rng.random((3, 8, 8, 4), dtype=np.float32)
    (views / "feature_maps.npz").write_bytes(npz_bytes(maps))
    groups = np.array([name for name in [*CLASSES, *CONCEPTS, "random"] for _ in range(5)])
    kinds = np.array([k for k in ["class"] * 3 + ["concept"] * 3 + ["random"] for _ in range(5)])
    projections = {"groups": groups, "kinds": kinds}
    for bottleneck in BOTTLENECKS:
        projections[f"{bottleneck}/xy"] = rng.normal(size=(len(groups), 2)).astype(np.float32)
        projections[f"{bottleneck}/explained"] = np.array([0.4, 0.2], dtype=np.float32)
    (views / "projections.npz").write_bytes(npz_bytes(projections))
    write_checks(folder)  # the insertion and truth stages' tables, which the report reads too


@pytest.fixture
def project(tmp_path: Path) -> Path:
    write_params(tmp_path)
    write_runs(tmp_path / "results" / "tcav" / "runs.csv")
    write_model_views(tmp_path)
    return tmp_path


def table_rows(effects: dict, default: float = 0.01, p: float = 1e-4) -> list[dict]:
    """Rows of an insertion-stage table: ``effects[(class, concept)]`` with p ``p``, the rest ``default`` with p 0.8."""
    return [{"target": t, "concept": c, "control": "random", "carrier": "class", "effect": effects.get((t, c), default),
             "ci_low": effects.get((t, c), default) - 0.2, "ci_high": effects.get((t, c), default) + 0.2,
             "p": p if (t, c) in effects else 0.8, "n_images": 20, "draws": 4}
            for t in CLASSES for c in CONCEPTS]


def random_rows(effects, first: int = 5) -> list[dict]:
    """Rows of a random-set table: every class moved by each of ``effects``."""
    return [{"target": t, "concept": f"random500_{k + first}", "control": "random", "carrier": "class",
             "effect": effect, "ci_low": effect - 0.1, "ci_high": effect + 0.1, "p": 0.5, "n_images": 20, "draws": 4}
            for t in CLASSES for k, effect in enumerate(effects)]


def write_checks(folder: Path, random_effects=(-0.05, 0.0, 0.05), scene: dict | None = None,
                 insertion: dict | None = None, scene_random_effects=(-0.05, 0.0, 0.05),
                 on_object: dict | None = None) -> None:
    """The insertion stage's tables and no truth. The tests: ``insertion`` and ``scene`` (default: the
    own colours raise their class, by 0.4 and 0.8 logit) and ``on_object`` (default: nothing),
    everything else nothing; random sets move every class by ``random_effects`` and
    ``scene_random_effects`` (the object test's too)."""
    from pipeline.insertion import insertion_csv
    from pipeline.truth import truth_csv

    own = (("fire", "red"), ("water", "blue"), ("grass", "green"))
    tcav = folder / "results" / "tcav"
    tcav.mkdir(parents=True, exist_ok=True)
    insertion = dict.fromkeys(own, 0.4) if insertion is None else insertion
    scene = dict.fromkeys(own, 0.8) if scene is None else scene
    (tcav / "insertion.csv").write_text(insertion_csv(table_rows(insertion)))
    (tcav / "insertion_random.csv").write_text(insertion_csv(random_rows(random_effects)))
    (tcav / "scene.csv").write_text(insertion_csv(table_rows(scene)))
    (tcav / "scene_random.csv").write_text(insertion_csv(random_rows(scene_random_effects, first=0)))
    (tcav / "object.csv").write_text(insertion_csv(table_rows(on_object or {})))
    (tcav / "object_random.csv").write_text(insertion_csv(random_rows(scene_random_effects, first=0)))
    (folder / "results" / "truth.csv").write_text(truth_csv([]))


def run_report(folder: Path) -> int:
    results = folder / "results"
    return main(
        [
            "--params", str(folder / "params.yaml"),
            "--runs", str(results / "tcav" / "runs.csv"),
            "--metrics", str(results / "metrics.json"),
            "--history", str(results / "train_history.csv"),
            "--views", str(results / "views"),
            "--insertion", str(results / "tcav" / "insertion.csv"),
            "--insertion-random", str(results / "tcav" / "insertion_random.csv"),
            "--scene", str(results / "tcav" / "scene.csv"),
            "--scene-random", str(results / "tcav" / "scene_random.csv"),
            "--object", str(results / "tcav" / "object.csv"),
            "--object-random", str(results / "tcav" / "object_random.csv"),
            "--truth", str(results / "truth.csv"),
            "--out", str(results),
        ]
    )  # fmt: skip


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_report_writes_scores_metrics_and_charts(project: Path, capsys):
    assert run_report(project) == 0
    results = project / "results"

    with (results / "scores.csv").open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == SCORE_COLUMNS
        rows = list(reader)
    assert [(r["target"], r["concept"], r["bottleneck"], r["alpha"]) for r in rows] == [
        (t, c, b, "0.1") for t, c, b in itertools.product(CLASSES, CONCEPTS, BOTTLENECKS)
    ]
    significant = {(r["target"], r["concept"]) for r in rows if r["significant"] == "True"}
    assert {("fire", "red"), ("water", "blue")} <= significant
    confirmed = {(r["target"], r["concept"]) for r in rows if r["confirmed"] == "True"}
    assert confirmed and confirmed <= {("fire", "red"), ("water", "blue"), ("grass", "green")} & significant
    assert all(r["verdict"].endswith("(not confirmed)") for r in rows
               if r["significant"] == "True" and (r["target"], r["concept"]) not in confirmed)
    assert all(r["n_random"] == str(N_RANDOM) and r["n_examples"] == "20" for r in rows)
    nan_rows = [r for r in rows if (r["target"], r["concept"]) == ("grass", "striped")]
    assert nan_rows and all(r["magnitude_mean"] == "" for r in nan_rows)

    def no_constants(name):
        raise AssertionError(f"JSON holds {name}")

    data = json.loads((results / "scores.json").read_text(encoding="utf-8"), parse_constant=no_constants)
    assert len(data) == len(rows) == len(CLASSES) * len(CONCEPTS) * len(BOTTLENECKS)
    assert all(list(item) == SCORE_COLUMNS for item in data)
    assert [item["p_random_adjusted"] for item in data] == [float(r["p_random_adjusted"]) for r in rows]
    assert all(item["p_random_adjusted"] >= item["p_random"] for item in data)
    assert all(item["magnitude_mean"] is None for item in data if (item["target"], item["concept"]) == ("grass", "striped"))
    assert all(isinstance(item["significant"], bool) for item in data)

    metrics = json.loads((results / "tcav_metrics.json").read_text(encoding="utf-8"))
    assert metrics["tests"] == len(rows)
    assert metrics["significant"] == sum(item["significant"] for item in data)
    for bottleneck in BOTTLENECKS:
        assert metrics["bottlenecks"][bottleneck]["significant"] == sum(
            item["significant"] for item in data if item["bottleneck"] == bottleneck
        )
        assert metrics["bottlenecks"][bottleneck]["tests"] == len(CLASSES) * len(CONCEPTS)

    plots = sorted(p.name for p in (results / "plots").iterdir())
    assert plots == sorted(EXPECTED_CHARTS)
    for name in plots:
        assert imread(results / "plots" / name).ndim == 3  # decodes as an image

    log = capsys.readouterr().err
    assert "class fire" in log and "red" in log  # the per-class table
    assert str(results / "scores.csv") in log and str(results / "plots") in log and "tcav_metrics.json" in log


def scores_rows(project: Path) -> list[dict]:
    """``scores.csv``'s rows, as strings."""
    with (project / "results" / "scores.csv").open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def set_insertion_params(project: Path, **values) -> None:
    """Set keys of the ``insertion`` section of the project's params.yaml."""
    params = yaml.safe_load((project / "params.yaml").read_text())
    params.setdefault("insertion", {}).update(values)
    (project / "params.yaml").write_text(yaml.safe_dump(params))


def test_an_effect_within_what_random_sets_do_confirms_nothing(project: Path, capsys):
    # random sets move every class by 0.6 to 1.0 in the scene test: the own colours' 0.8 is no evidence
    write_checks(project, scene_random_effects=(0.6, 0.8, 1.0))
    assert run_report(project) == 0
    rows = scores_rows(project)
    significant = [r for r in rows if r["significant"] == "True"]
    assert significant and not any(r["confirmed"] == "True" for r in rows)
    own = [r for r in significant if (r["target"], r["concept"]) == ("fire", "red")]
    assert own and all(r["verdict"] == "raises class (not confirmed)" for r in own)
    assert all(float(r["scene_random_low"]) < 0.8 < float(r["scene_random_high"]) for r in rows)
    # the check off: the same tables confirm the own colours again
    set_insertion_params(project, random_check=False)
    assert run_report(project) == 0
    rows = scores_rows(project)
    assert any(r["confirmed"] == "True" for r in rows)
    assert all(r["scene_random_low"] == "" and r["insertion_random_low"] == "" for r in rows)


def test_with_the_scene_test_off_an_insertion_effect_within_random_sets_confirms_nothing(project: Path, capsys):
    # the insertion test decides; random sets move every class by 0.2 to 0.6: the own colours' 0.4 is no evidence
    write_checks(project, random_effects=(0.2, 0.4, 0.6))
    set_insertion_params(project, scene=False)
    assert run_report(project) == 0
    rows = scores_rows(project)
    assert any(r["significant"] == "True" for r in rows) and not any(r["confirmed"] == "True" for r in rows)
    assert all(float(r["insertion_random_low"]) < 0.4 < float(r["insertion_random_high"]) for r in rows)
    assert "within what a random set does" in capsys.readouterr().err
    write_checks(project)  # random sets within ±0.05: the insertion test confirms the own colours
    assert run_report(project) == 0
    rows = scores_rows(project)
    confirmed = [r for r in rows if r["confirmed"] == "True"]
    assert confirmed and all(r["confirmed_by"] == "insertion" for r in confirmed)


def read_rows(project: Path) -> dict[tuple[str, str], list[dict]]:
    """``scores.csv``'s rows grouped by (target, concept)."""
    by_pair: dict[tuple[str, str], list[dict]] = {}
    for r in scores_rows(project):
        by_pair.setdefault((r["target"], r["concept"]), []).append(r)
    return by_pair


def test_the_scene_test_confirms_and_contradicts_from_min_effect_on(project: Path, capsys):
    # the insertion test sees nothing; the scene test: blue raises water by 0.9, red lowers fire by 0.8
    write_checks(project, insertion={}, scene={("water", "blue"): 0.9, ("fire", "red"): -0.8})
    assert run_report(project) == 0
    rows = read_rows(project)
    water = [r for r in rows["water", "blue"] if r["significant"] == "True"]
    assert water and all(r["verdict"] == "raises class (confirmed)" and r["confirmed_by"] == "scene" for r in water)
    assert all(float(r["scene_effect"]) == 0.9 and float(r["scene_p_adjusted"]) < 0.05 for r in water)
    assert all(float(r["scene_random_low"]) < 0 < float(r["scene_random_high"]) for r in water)
    fire = [r for r in rows["fire", "red"] if r["significant"] == "True"]
    assert fire and all(r["verdict"] == "contradicted" and r["confirmed"] == "False" for r in fire)
    assert "by the scene test" in capsys.readouterr().err
    # under insertion.min_effect the scene test says nothing either way
    set_insertion_params(project, min_effect=1.0)
    assert run_report(project) == 0
    rows = read_rows(project)
    assert all(r["verdict"] == "raises class (not confirmed)" for r in rows["water", "blue"] if r["significant"] == "True")
    assert all(r["verdict"] == "raises class (not confirmed)" for r in rows["fire", "red"] if r["significant"] == "True")
    # the scene test off: its tables are not read, the insertion test alone decides
    set_insertion_params(project, scene=False, min_effect=0.5)
    (project / "results" / "tcav" / "scene.csv").unlink()
    assert run_report(project) == 0
    rows = read_rows(project)
    assert all(r["scene_effect"] == "" for pair in rows.values() for r in pair)
    assert "insertion.scene is off" in capsys.readouterr().err


def test_the_object_test_confirms_a_raise_the_scene_test_does_not_when_its_interval_clears_the_floor(
        project: Path, capsys):
    # the scene test sees nothing; on the object, blue raises water by 1.5 [1.3, 1.7] and red lowers fire
    # by 1.5 (against the finding that red raises fire)
    write_checks(project, insertion={}, scene={}, on_object={("water", "blue"): 1.5, ("fire", "red"): -1.5})
    assert run_report(project) == 0
    rows = read_rows(project)
    water = [r for r in rows["water", "blue"] if r["significant"] == "True"]
    assert water and all(r["verdict"] == "raises class (confirmed)" and r["confirmed_by"] == "object"
                         and r["size_certain"] == "False" for r in water)
    assert all(float(r["object_effect"]) == 1.5 and float(r["object_ci_low"]) == 1.3 for r in water)
    # the object test never contradicts: any blob on the object takes the object away
    fire = [r for r in rows["fire", "red"] if r["significant"] == "True"]
    assert fire and all(r["verdict"] == "raises class (not confirmed)" for r in fire)
    assert "raises by the object test" in capsys.readouterr().err
    page = (project / "results" / "report.html").read_text(encoding="utf-8")
    assert "confirmed by the object test" in page
    # red raises fire on the object by 0.6 [0.4, 0.8]: its estimate clears the floor, its interval does not
    write_checks(project, insertion={}, scene={}, on_object={("fire", "red"): 0.6})
    assert run_report(project) == 0
    fire = [r for r in read_rows(project)["fire", "red"] if r["significant"] == "True"]
    assert fire and all(r["verdict"] == "raises class (not confirmed)" for r in fire)
    write_checks(project, insertion={}, scene={}, on_object={("water", "blue"): 1.5})
    # insertion.object off: its tables are not read, nothing is confirmed
    set_insertion_params(project, object=False)
    assert run_report(project) == 0
    rows = read_rows(project)
    assert not any(r["confirmed"] == "True" for pair in rows.values() for r in pair)
    assert all(r["object_effect"] == "" for pair in rows.values() for r in pair)


def test_with_one_random_set_held_out_the_report_says_there_is_no_comparison(project: Path, capsys):
    write_checks(project, random_effects=(0.6,))  # one set: no interval for the insertion test
    assert run_report(project) == 0
    log = capsys.readouterr().err
    assert "fire has fewer than two random-set insertion tests" in log and "insertion_random.csv" in log
    with (project / "results" / "scores.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert any(r["confirmed"] == "True" for r in rows) and all(r["insertion_random_low"] == "" for r in rows)


def test_rerun_is_byte_identical_and_drops_stale_charts(project: Path):
    stale = project / "results" / "plots" / "tcav_removed_class.png"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"old")
    assert run_report(project) == 0
    files = ["scores.csv", "scores.json", "tcav_metrics.json", "report.html", *(f"plots/{name}" for name in EXPECTED_CHARTS)]
    first = {name: (project / "results" / name).read_bytes() for name in files}
    assert not stale.exists()
    assert run_report(project) == 0
    assert {name: (project / "results" / name).read_bytes() for name in files} == first


def test_missing_runs_file_is_one_error_line_and_keeps_old_outputs(tmp_path: Path, capsys):
    write_params(tmp_path)
    old = tmp_path / "results" / "scores.csv"
    old.parent.mkdir(parents=True)
    old.write_text("previous scores\n", encoding="utf-8")
    assert run_report(tmp_path) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert str(tmp_path / "results" / "tcav" / "runs.csv") in errors[0]
    assert old.read_text(encoding="utf-8") == "previous scores\n"
    assert not (tmp_path / "results" / "plots").exists()


def test_missing_columns_are_named(project: Path, capsys):
    runs = project / "results" / "tcav" / "runs.csv"
    lines = runs.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    drop = [header.index("cav_accuracy"), header.index("kind")]
    runs.write_text(
        "\n".join(",".join(c for i, c in enumerate(line.split(",")) if i not in drop) for line in lines) + "\n",
        encoding="utf-8",
    )
    assert run_report(project) == 2
    (error,) = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert str(runs) in error and "kind, cav_accuracy" in error and "n_examples" in error  # missing + expected
    assert not (project / "results" / "scores.csv").exists()


def test_bad_value_names_line_and_column(project: Path, capsys):
    runs = project / "results" / "tcav" / "runs.csv"
    lines = runs.read_text(encoding="utf-8").splitlines()
    cells = lines[3].split(",")
    cells[RUN_HEADER.index("score")] = "1.7"
    lines[3] = ",".join(cells)
    runs.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert run_report(project) == 2
    err = capsys.readouterr().err
    assert f"{runs}, line 4: column 'score'" in err


def test_runs_not_matching_params_is_an_error(project: Path, capsys):
    write_params(project, alphas=(0.1, 1.0))  # runs.csv has no alpha 1.0
    assert run_report(project) == 2
    (error,) = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert "tcav.alphas" in error and "1.0" in error and "dvc repro" in error


def test_several_alphas_give_one_row_each_and_stacked_panels(tmp_path: Path):
    write_params(tmp_path, alphas=(1.0, 0.1))
    write_runs(tmp_path / "results" / "tcav" / "runs.csv", alphas=(1.0, 0.1))
    write_model_views(tmp_path)
    assert run_report(tmp_path) == 0
    data = json.loads((tmp_path / "results" / "scores.json").read_text(encoding="utf-8"))
    assert len(data) == len(CLASSES) * len(CONCEPTS) * len(BOTTLENECKS) * 2
    assert [item["alpha"] for item in data[:4]] == [0.1, 1.0, 0.1, 1.0]  # ascending within a group

    one = [item for item in data if item["target"] == "fire" and item["alpha"] == 0.1]
    two = [item for item in data if item["target"] == "fire"]
    single, stacked = tmp_path / "one.png", tmp_path / "two.png"
    single.write_bytes(render_class_scores(one, "fire", 0.05))
    stacked.write_bytes(render_class_scores(two, "fire", 0.05))
    (w1, h1), (w2, h2) = png_size(single), png_size(stacked)
    assert w1 == w2 and h2 > 1.6 * h1


def test_chart_is_deterministic_and_marks_non_significant(project: Path):
    assert run_report(project) == 0
    data = json.loads((project / "results" / "scores.json").read_text(encoding="utf-8"))
    rows = [item for item in data if item["target"] == "fire"]
    png = render_class_scores(rows, "fire", 0.05)
    assert png == render_class_scores(rows, "fire", 0.05)
    assert b"Software" not in png and b"matplotlib" not in png.lower()
    all_significant = [dict(item, significant=True) for item in rows]
    assert render_class_scores(all_significant, "fire", 0.05) != png


def test_a_class_the_model_does_not_recognise_is_never_significant(tmp_path: Path, capsys):
    write_params(tmp_path)
    write_runs(tmp_path / "results" / "tcav" / "runs.csv")
    # grass: true grass images are predicted grass no more often than other images are.
    write_model_views(tmp_path, matrix=[[14, 0, 6], [0, 14, 6], [7, 7, 6]])
    assert run_report(tmp_path) == 0
    with (tmp_path / "results" / "scores.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    grass = [r for r in rows if r["target"] == "grass"]
    assert grass and all(r["verdict"] == NOT_RECOGNISED and r["significant"] == "False" for r in grass)
    assert all(r["p_random"] != "" and r["p_random_adjusted"] == "" for r in grass)  # raw kept, withheld
    assert {(r["target"], r["concept"]) for r in rows if r["significant"] == "True"} >= {("fire", "red"), ("water", "blue")}
    metrics = json.loads((tmp_path / "results" / "tcav_metrics.json").read_text(encoding="utf-8"))
    assert metrics["not_recognised"] == len(grass)
    assert "does not recognise class 'grass'" in capsys.readouterr().err
    assert "does not recognise class grass" in (tmp_path / "results" / "report.html").read_text(encoding="utf-8")


def test_report_html_is_self_contained_and_escapes_params(project: Path):
    params = project / "params.yaml"
    values = yaml.safe_load(params.read_text(encoding="utf-8"))  # the page shows values, not comments
    values["crawl"]["queries"] = {values["classes"][0]: "<script>alert('x')</script> & more"}
    params.write_text(yaml.safe_dump(values, sort_keys=False), encoding="utf-8")
    assert run_report(project) == 0
    page = (project / "results" / "report.html").read_text(encoding="utf-8")
    assert "<script>alert" not in page and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; more" in page
    assert page.count("<script>") == 1  # the page's own sorting script, inline
    assert "http://" not in page and "https://" not in page  # nothing to fetch
    assert page.count('src="data:image/png;base64,') == len(EXPECTED_CHARTS)


@pytest.mark.parametrize("missing", ["views/confusion.json", "views/projections.npz", "train_history.csv", "metrics.json",
                                     "tcav/insertion_random.csv"])
def test_missing_model_side_input_is_named_and_old_outputs_stay(project: Path, capsys, missing):
    old = project / "results" / "report.html"
    old.write_text("previous report", encoding="utf-8")
    (project / "results" / missing).unlink()
    assert run_report(project) == 2
    (error,) = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert str(project / "results" / missing) in error and "dvc repro" in error
    assert old.read_text(encoding="utf-8") == "previous report"


def test_confusion_matrix_of_other_classes_is_out_of_date(project: Path, capsys):
    write_model_views(project, matrix=[[10, 0], [0, 10]])
    data = json.loads((project / "results" / "views" / "confusion.json").read_text())
    data["classes"] = ["fire", "water"]
    (project / "results" / "views" / "confusion.json").write_text(json.dumps(data))
    assert run_report(project) == 2
    (error,) = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert "confusion.json" in error and "out of date" in error


def test_sizes_per_row_and_findings_on_small_sets_are_named(project: Path, capsys):
    assert run_report(project) == 0
    results = project / "results"
    with (results / "scores.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert all(r["n_concept"] == str(concept_size(r["concept"])) and r["n_random_images"] == "50" for r in rows)
    assert {r["concept"] for r in rows if r["small_sets"] == "True"} == {"blue"}
    small_significant = [r for r in rows if r["small_sets"] == "True" and r["significant"] == "True"]
    assert small_significant  # water/blue (planted) rests on 7 images
    page = (results / "report.html").read_text(encoding="utf-8")
    assert "Resting on small sets" in page and "fewer than 30 images" in page
    assert "blue / water at" in page and "(7 concept, 50 random images)" in page
    assert "red / fire" not in page.split("Resting on small sets")[1].split("</p>")[0]
    warned = capsys.readouterr().err
    assert "water / blue" in warned and "tcav.min_concept_images is 30" in warned


def test_class_independent_concepts_are_said_apart_not_listed_as_class_evidence():
    from reporting.html import findings

    def row(target, concept, score, independent):
        return {"target": target, "concept": concept, "bottleneck": "pool1", "alpha": 0.1, "score_mean": score,
                "significant": True, "verdict": "raises class", "confirmed": False, "insertion_effect": math.nan,
                "class_independent": independent}

    rows = [row(c, "white", 0.9, True) for c in CLASSES] + [row("fire", "red", 0.92, False)]
    text = findings(rows, CLASSES, ["pool1"])
    evidence, independent = text.split("Class-independent")
    assert "red (0.92" in evidence and "white" not in evidence
    assert "<b>white</b> raises every class" in independent


def test_p_values_that_underflow_print_as_below_1e_16_never_0():
    from reporting.html import COLUMNS, scores_table
    from reporting.tables import format_p

    assert format_p(0.0, 0.05) == "< 1e-16" and format_p(3e-17, 0.05) == "< 1e-16"
    assert format_p(0.0042, 0.05) == "0.0042"
    row = {key: 0.5 for key, _, _ in COLUMNS}
    row.update(target="fire", concept="red", bottleneck="pool1", verdict="raises class", significant=True,
               confirmed=False, class_independent=False, p_random=0.0, p_random_adjusted=0.0, p_half=2e-30,
               p_half_adjusted=1e-3, insertion_p_adjusted=math.nan, effect_size=0.0)
    cells = scores_table([row], ["fire"]).split("<tbody>")[1]
    shown = [cell.split(">", 1)[1].split("</td>")[0] for cell in cells.split("<td")[1:]]
    by_column = dict(zip([key for key, _, _ in COLUMNS], shown))
    assert by_column["p_random"] == by_column["p_random_adjusted"] == by_column["p_half"] == "&lt; 1e-16"
    assert by_column["p_half_adjusted"] == "0.001" and by_column["effect_size"] == "0"


def _pixels_near(png: bytes, rgb, tolerance=0.04) -> int:
    import io

    image = imread(io.BytesIO(png))[..., :3]
    return int((np.abs(image - np.asarray(rgb)[None, None, :3]).max(axis=-1) < tolerance).sum())


def test_a_significant_score_of_zero_is_drawn_as_a_point_over_the_random_band(project: Path):
    from matplotlib.colors import to_rgb

    from reporting.charts.base import BOTTLENECK_COLORS

    assert run_report(project) == 0
    rows = [item for item in json.loads((project / "results" / "scores.json").read_text()) if item["target"] == "fire"]
    pool1 = to_rgb(BOTTLENECK_COLORS[0])
    index = next(i for i, r in enumerate(rows) if r["concept"] == "blue" and r["bottleneck"] == "pool1")
    zero = dict(rows[index], score_mean=0.0, score_ci_low=0.0, score_ci_high=0.02, significant=True,
                verdict="lowers class")
    absent = dict(rows[index], score_mean=float("nan"), significant=False)  # drawn as n/l: no point
    with_zero = render_class_scores([*rows[:index], zero, *rows[index + 1:]], "fire", 0.05)
    without = render_class_scores([*rows[:index], absent, *rows[index + 1:]], "fire", 0.05)
    # a filled marker of about 10 px across (plus its interval) in the layer's colour
    assert _pixels_near(with_zero, pool1) - _pixels_near(without, pool1) > 40


def test_the_heatmap_colours_are_purple_and_orange_not_red_and_blue(project: Path):
    import matplotlib

    from reporting.charts.overview import HEATMAP_COLORMAP, render_heatmap

    assert run_report(project) == 0
    rows = json.loads((project / "results" / "scores.json").read_text())
    chosen = [r for r in rows if r["bottleneck"] == "pool1"]
    fire_red = next(r for r in chosen if (r["target"], r["concept"]) == ("fire", "red"))
    assert fire_red["significant"] and fire_red["score_mean"] > 0.8
    lowered = next(r for r in chosen if (r["target"], r["concept"]) == ("grass", "red"))
    lowered.update(score_mean=0.08, significant=True, verdict="lowers class")
    png = render_heatmap(chosen, "pool1", 0.05)
    ours, old = matplotlib.colormaps[HEATMAP_COLORMAP], matplotlib.colormaps["RdBu_r"]
    for score in (fire_red["score_mean"], 0.08):
        assert _pixels_near(png, ours(score)) > 500  # the cell is filled with the scheme's colour
        assert _pixels_near(png, old(score)) == 0  # and nothing is red or blue
    purple, orange = ours(fire_red["score_mean"]), ours(0.08)
    assert purple[2] > purple[0] > purple[1]  # raises: purple
    assert orange[0] > orange[1] > orange[2]  # lowers: orange


def write_epoch_pictures(folder: Path) -> dict[str, bytes]:
    """The views stage's pictures of the projection during training, drawn from a made-up recording."""
    from model.epoch_projection import epoch_map, train_test_map
    from reporting.charts.epochs import render_epoch_animation, render_epoch_strip, render_train_test
    from tests.model.test_epoch_projection import recording

    frames = epoch_map(recording(epochs=3), "pca", seed=0)
    train = frames.labels
    placed = train_test_map(recording(epochs=3)["activations"][-1], train, recording(epochs=3)["activations"][-1][:6],
                            train[:6], train[:6], "pca", 0, "gap", CLASSES)
    pictures = {"epoch_projection.gif": render_epoch_animation(frames), "epoch_strip.png": render_epoch_strip(frames),
                "train_test.png": render_train_test(placed)}
    for name, data in pictures.items():
        (folder / "results" / "views" / name).write_bytes(data)
    return pictures


def test_the_network_section_shows_the_projection_during_training_with_how_to_read_it(project: Path):
    pictures = write_epoch_pictures(project)
    assert run_report(project) == 0
    plots = project / "results" / "plots"
    assert {name: (plots / name).read_bytes() for name in pictures} == pictures  # copied as the views stage drew them
    page = (project / "results" / "report.html").read_text(encoding="utf-8")
    network = page[page.index('id="network"'):]
    network = network[:network.index("</details>")]  # the section is folded
    assert network.count("data:image/gif;base64,") == 1
    order = [network.index(f"plots/{name}") for name in ("training_curves.png", *pictures, "confusion_matrix.png")]
    assert order == sorted(order)  # right after the training curves
    assert network.count("How to read this.") == 2  # the animation and the train + test chart
    assert "fitted once, on every epoch" in network and "misclassifies" in network
    assert page.count("data:image/png;base64,") == len(list(plots.glob("*.png")))


def test_without_a_recording_the_network_section_has_no_projection_during_training(project: Path):
    assert run_report(project) == 0  # an outside model: the views stage wrote none of the pictures
    page = (project / "results" / "report.html").read_text(encoding="utf-8")
    assert "epoch_projection.gif" not in page and "data:image/gif" not in page


def test_start_here_names_the_layer_with_most_confirmed_findings_and_the_deepest_on_a_tie():
    from reporting.html import start_here
    from tcavcore.confirmation import RAISES_CONFIRMED, RAISES_UNCONFIRMED

    def rows(*layers_and_verdicts):
        return [{"bottleneck": layer, "verdict": verdict} for layer, verdict in layers_and_verdicts]

    most = rows(("pool1", RAISES_CONFIRMED), ("pool1", RAISES_CONFIRMED), ("conv3", RAISES_CONFIRMED),
                ("conv3", RAISES_UNCONFIRMED), ("conv3", RAISES_UNCONFIRMED))
    assert "layer <b>pool1</b>, with 2 of the run's 3 confirmed finding(s) (2 layer(s))" \
        in start_here(most, ["pool1", "conv3"])
    tie = rows(("pool1", RAISES_CONFIRMED), ("conv3", RAISES_CONFIRMED))
    assert "layer <b>conv3</b>" in start_here(tie, ["pool1", "conv3"])
    assert "layer <b>conv3</b>, the deepest: no confirmed finding at any of the 2 layer(s)" \
        in start_here(rows(("pool1", RAISES_UNCONFIRMED)), ["pool1", "conv3"])
