"""`dvc repro` end to end on a tiny config in a temporary git repo.

Covers: the stages and their outputs, a second repro doing nothing, byte-identical results
(scores, charts, report) after deleting results/, swapping in a user's concept without
retraining, clear errors (with nothing deleted) for a missing concept folder and an unknown
bottleneck, and comparing two experiments with `dvc exp`.
"""

import csv
import json
import shutil

import numpy as np
import pytest

from tests.pipeline_project import make_project, run, set_params

pytestmark = pytest.mark.slow

TINY = {
    "crawl": {"images_per_class": 30, "images_per_concept": 12, "synthetic_size": 32,
              "concepts": ["red", "striped"], "num_random_sets": 3},
    "preprocess": {"image_size": 16},
    "train": {"conv_filters": [4, 8], "dense_units": 8, "epochs": 2},
    # CAVs on flattened activations: averaged over space, a 2-epoch model's 4 and 8 channels
    # separate nothing (every CAV "not learnable", leaving the statistics below nothing to test)
    "tcav": {"concepts": ["red", "striped"], "bottlenecks": ["pool1", "conv2"], "num_random_exp": 3,
             "max_examples": 10, "pooling": "none"},
}
STAGES = ["crawl", "crawl_concept@red", "crawl_concept@striped", "crawl_random", "concept_digest", "preprocess",
          "train", "export", "tcav", "insertion", "truth", "views", "concept_maps", "report"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    project = make_project(tmp_path_factory.mktemp("tiny") / "project", TINY)
    result = run(["dvc", "repro"], project)
    return project, result


def read_scores(project):
    with open(project / "results" / "scores.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def metrics_test_images(project):
    return json.loads((project / "results" / "metrics.json").read_text())["test"]["n_images"]


def stage_names_in_status(project):
    out = run(["dvc", "status", "--json"], project).stdout
    return sorted(json.loads(out or "{}"))


def test_dag_has_every_stage(tiny):
    project, _ = tiny
    dag = run(["dvc", "dag", "--md"], project).stdout
    for stage in STAGES:
        assert stage in dag


def test_outputs_exist_and_have_one_row_per_target_concept_bottleneck(tiny):
    project, result = tiny
    rows = read_scores(project)
    assert len(rows) == 3 * 2 * 2
    assert {"target", "concept", "bottleneck", "verdict", "score_mean", "score_ci_low", "score_ci_high", "random_mean",
            "effect_size", "p_random", "p_random_adjusted", "p_half", "p_half_adjusted", "significant", "cav_accuracy",
            "n_random"} <= set(rows[0])
    assert all(r["n_random"] == "3" for r in rows)
    assert json.loads((project / "results" / "scores.json").read_text())
    for name in ("fire", "water", "grass"):
        assert (project / "results" / "plots" / f"tcav_{name}.png").stat().st_size > 1000
    charts = {p.name for p in (project / "results" / "plots").glob("*.png")}
    assert {"confusion_matrix.png", "training_curves.png", "feature_maps_conv1.png", "feature_maps_pool1.png",
            "feature_maps_conv2.png", "projection_pool1.png", "projection_conv2.png", "heatmap_conv2.png",
            "cav_accuracy.png", "distributions_fire.png", "epoch_strip.png", "train_test.png"} <= charts
    # the projection during training: a frame per epoch (0 = before training) of the 2-epoch model
    from PIL import Image

    with Image.open(project / "results" / "plots" / "epoch_projection.gif") as animation:
        assert animation.n_frames == 3
    epochs = (project / "results" / "views" / "epoch_separation.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in epochs] == ["epoch", "0", "1", "2"]
    confusion = json.loads((project / "results" / "views" / "confusion.json").read_text())
    assert sum(map(sum, confusion["matrix"])) == metrics_test_images(project)
    page = (project / "results" / "report.html").read_text()
    assert page.count("data:image/png;base64,") == len(charts)
    metrics = json.loads((project / "results" / "metrics.json").read_text())
    assert set(metrics) == {"train", "val", "test"}
    manifest = json.loads((project / "models" / "frozen" / "manifest.json").read_text())
    assert manifest["check"]["max_abs_logit_diff"] < 1e-4
    # the user is told where to look
    assert "results/scores.csv" in result.stderr + result.stdout


def test_metrics_and_plots_are_declared_to_dvc(tiny):
    project, _ = tiny
    shown = run(["dvc", "metrics", "show"], project).stdout
    assert "results/metrics.json" in shown and "test.accuracy" in shown
    run(["dvc", "plots", "show", "-o", "plots_html"], project)
    page = (project / "plots_html" / "index.html").read_text()
    assert "results_views_epoch_separation_csv" in page and "results_views_train_test_projection_csv" in page


def test_second_repro_does_nothing_and_rerun_from_scratch_is_byte_identical(tiny):
    project, _ = tiny
    assert stage_names_in_status(project) == []
    again = run(["dvc", "repro"], project)
    assert "Running stage" not in again.stdout + again.stderr
    results = project / "results"

    def outputs():  # the .gitignore files are git's (a fresh clone has them), not the run's
        return {p.relative_to(results): p.read_bytes() for p in sorted(results.rglob("*"))
                if p.is_file() and p.name != ".gitignore"}

    before = outputs()
    assert {"scores.csv", "tcav/runs.csv", "report.html", "views/projections.npz", "epoch_activations.npz",
            "views/epoch_projection.gif", "views/epoch_projection.csv"} <= {str(p) for p in before}
    shutil.rmtree(results)
    run(["dvc", "repro"], project)
    after = outputs()
    assert after.keys() == before.keys()
    assert [str(name) for name in before if after[name] != before[name]] == []


def test_the_concept_cavs_and_their_maps_are_kept(tiny):
    from tcavcore.cav_store import read_cav_store

    project, _ = tiny
    store = read_cav_store(project / "results" / "cavs.npz")
    assert store.pooling == "none" and store.concepts == ["red", "striped"] and store.bottlenecks == ["pool1", "conv2"]
    assert len(store.cavs) == 2 * 3 * 2  # concepts x random sets x bottlenecks
    assert store.shapes == {"pool1": (8, 8, 4), "conv2": (8, 8, 8)}
    assert {c.vector.size for c in store.select("red", "conv2")} == {8 * 8 * 8}  # flattened: one weight per position
    runs = {(r["concept"], r["random"], r["bottleneck"]): float(r["cav_accuracy"])
            for r in csv.DictReader((project / "results" / "tcav" / "runs.csv").open()) if r["kind"] == "concept"}
    assert all(runs[c.concept, c.random, c.bottleneck] == c.accuracy for c in store.cavs)
    with np.load(project / "results" / "concept_maps.npz") as maps:
        assert maps["images"].shape == (6, 16, 16, 3) and maps["maps/conv2/red"].shape == (6, 8, 8)
        assert maps["presence/pool1/striped"].shape == (6,) and list(maps["predicted"])


def test_bad_bottleneck_fails_clearly_and_deletes_nothing(tiny):
    project, _ = tiny
    before = (project / "results" / "scores.csv").read_bytes()
    set_params(project, {"tcav": {"bottlenecks": ["pool1", "conv9"]}})
    try:
        result = run(["dvc", "repro"], project, check=False)
        assert result.returncode != 0
        output = result.stdout + result.stderr
        assert "conv9" in output and "available bottlenecks: conv1, pool1, conv2, gap, dense" in output
        assert "Traceback" not in output
        assert (project / "results" / "scores.csv").read_bytes() == before
    finally:
        set_params(project, {"tcav": {"bottlenecks": TINY["tcav"]["bottlenecks"]}})
    run(["dvc", "repro"], project)


def test_missing_concept_folder_names_it_and_lists_what_exists(tiny):
    project, _ = tiny
    set_params(project, {"tcav": {"concepts": ["red", "no_such_concept"]}})
    try:
        result = run(["dvc", "repro", "tcav"], project, check=False)
        output = result.stdout + result.stderr
        assert result.returncode != 0
        assert "concepts/no_such_concept" in output and "red" in output and "striped" in output
        assert "Traceback" not in output
    finally:
        set_params(project, {"tcav": {"concepts": TINY["tcav"]["concepts"]}})
    run(["dvc", "repro"], project)


def test_swapping_in_a_user_concept_reruns_only_what_scores_concepts(tiny):
    project, _ = tiny
    mine = project / "concepts" / "my_concept"
    shutil.copytree(project / "concepts" / "red", mine)
    set_params(project, {"tcav": {"concepts": ["red", "striped", "my_concept"]}})
    try:
        # the concept's TCAV scores, its insertion test, its (absent) known truth, its projection
        assert stage_names_in_status(project) == ["concept_digest", "insertion", "report", "tcav", "truth", "views"]
        result = run(["dvc", "repro"], project)
        ran = [s for s in STAGES if f"Running stage '{s}'" in result.stdout + result.stderr]
        assert ran == ["concept_digest", "tcav", "insertion", "truth", "views", "concept_maps", "report"]  # no retraining
        rows = read_scores(project)
        assert {r["concept"] for r in rows} == {"red", "striped", "my_concept"}
    finally:
        shutil.rmtree(mine)
        set_params(project, {"tcav": {"concepts": TINY["tcav"]["concepts"]}})


def test_an_unlisted_concept_folder_reruns_nothing_that_scores(tiny):
    project, _ = tiny
    run(["dvc", "repro"], project)  # up to date whatever the tests before changed
    before = {name: (project / "results" / name).read_bytes() for name in ("scores.csv", "concept_digest.json")}
    unlisted = project / "concepts" / "not_in_params"
    shutil.copytree(project / "concepts" / "red", unlisted)
    try:
        result = run(["dvc", "repro"], project)
        ran = [s for s in STAGES if f"Running stage '{s}'" in result.stdout + result.stderr]
        assert ran == ["concept_digest"]  # its digest of the listed folders is unchanged: nothing downstream
        assert {name: (project / "results" / name).read_bytes() for name in before} == before
        # listed, the same folder is read: the digest changes and everything that scores concepts reruns
        set_params(project, {"tcav": {"concepts": ["red", "striped", "not_in_params"]}})
        result = run(["dvc", "repro"], project)
        ran = [s for s in STAGES if f"Running stage '{s}'" in result.stdout + result.stderr]
        assert ran == ["concept_digest", "tcav", "insertion", "truth", "views", "concept_maps", "report"]
    finally:
        shutil.rmtree(unlisted)
        set_params(project, {"tcav": {"concepts": TINY["tcav"]["concepts"]}})
    run(["dvc", "repro"], project)


def test_two_experiments_compare_with_dvc_exp_and_metrics_diff(tiny):
    project, _ = tiny
    run(["dvc", "repro"], project)  # up to date whatever the tests before changed
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-qm", "baseline results"], project)
    try:
        result = run(["dvc", "exp", "run", "-n", "uncorrected", "-S", "tcav.correction=none",
                      "-S", "tcav.significance=0.2"], project)
        ran = [s for s in STAGES if f"Running stage '{s}'" in result.stdout + result.stderr]
        assert ran == ["report"]  # a statistics change recomputes nothing upstream
        shown = json.loads(run(["dvc", "exp", "show", "--json"], project).stdout)
        text = json.dumps(shown)
        assert "uncorrected" in text and '"correction": "none"' in text and '"correction": "holm"' in text
        metrics = json.loads((project / "results" / "tcav_metrics.json").read_text())
        assert f'"significant": {metrics["significant"]}' in text
        diff = run(["dvc", "metrics", "diff", "--all"], project).stdout
        assert "results/tcav_metrics.json" in diff and "significant" in diff
        tested = [r for r in read_scores(project) if r["p_random_adjusted"]]  # learnable, class recognised
        assert tested and all(r["p_random_adjusted"] == r["p_random"] for r in tested)
    finally:
        run(["git", "checkout", "--", "."], project)
        run(["dvc", "checkout", "--force"], project)
    assert stage_names_in_status(project) == []
