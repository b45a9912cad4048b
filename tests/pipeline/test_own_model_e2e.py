"""Bring your own model, end to end through `dvc repro` in one small temporary repo.

In order: the built-in CNN trained here, then the same CNN saved as .keras and fed back through
``model.source: keras`` (exactly the same runs and scores); a concept change never reconverts;
then a MobileNetV2 (weights=None, nested in a Sequential, softmax head) as .keras, a ResNet-style
functional model as .h5, as a SavedModel and as a frozen .pb from elsewhere, each converted,
scored and reported; replacing the model file reruns from the conversion on; a bottleneck the
model does not have fails with the list of layers.
"""

from __future__ import annotations

import csv
import json
import shutil

import pytest

from tests import own_models
from tests.pipeline_project import make_project, run, set_params

pytestmark = pytest.mark.slow

SIZE = 32
SMALL = {
    "crawl": {"images_per_class": 20, "images_per_concept": 10, "synthetic_size": 32, "concepts": ["red"],
              "num_random_sets": 2},
    "preprocess": {"image_size": SIZE},
    "train": {"conv_filters": [4, 8], "dense_units": 8, "epochs": 2, "background_images": 20},
    "tcav": {"concepts": ["red"], "bottlenecks": ["conv2"], "num_random_exp": 2, "max_examples": 8},
    "views": {"projection_images": 8},
}
STAGES = ["crawl", "crawl_concept@red", "crawl_random", "concept_digest", "preprocess", "train", "export", "tcav",
          "insertion", "truth", "views", "concept_maps", "report"]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """The user's models, trained a few steps on the built-in classes, in every format."""
    folder = tmp_path_factory.mktemp("user_models")
    x, y = own_models.synthetic_data(SIZE, per_class=12)
    resnet = own_models.train_briefly(own_models.resnet_style(SIZE), x, y, epochs=3)
    mobilenet = own_models.train_briefly(own_models.mobilenet_in_sequential(SIZE), x, y, scale=255.0, epochs=1)
    mobilenet.save(folder / "mobilenet.keras")
    resnet.save(folder / "resnet.h5")
    resnet.export(str(folder / "resnet_saved"), verbose=False)
    own_models.save_frozen_pb(resnet, folder / "resnet.pb", SIZE)
    # a second, differently trained copy: "the user replaced the model file"
    own_models.train_briefly(own_models.resnet_style(SIZE), x, y, epochs=1, seed=5).save(folder / "resnet_v2.h5")
    return folder


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    project = make_project(tmp_path_factory.mktemp("own") / "project", SMALL)
    run(["dvc", "repro"], project)
    return project


def ran(result) -> list[str]:
    text = result.stdout + result.stderr
    return [s for s in STAGES if f"Running stage '{s}'" in text]


def changed(project) -> list[str]:
    return sorted(json.loads(run(["dvc", "status", "--json"], project).stdout or "{}"))


def read(project, name: str) -> bytes:
    return (project / "results" / name).read_bytes()


def scores(project) -> list[dict]:
    with open(project / "results" / "scores.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def use_model(project, source: str, path: str, bottleneck: str, **model):
    set_params(project, {"model": {"source": source, "path": path, "input": {"value_range": [0.0, 1.0],
                                                                             "preprocessing": None}, **model},
                         "tcav": {"bottlenecks": [bottleneck]}})


def test_the_built_in_cnn_fed_back_as_keras_gives_exactly_the_train_scores(project):
    runs, table = read(project, "tcav/runs.csv"), read(project, "scores.csv")
    mine = project / "user_models"
    mine.mkdir()
    shutil.copy(project / "models" / "trained" / "model.keras", mine / "cnn.keras")
    use_model(project, "keras", "user_models/cnn.keras", "conv2")
    result = run(["dvc", "repro"], project)
    # no crawl, no preprocess
    assert ran(result) == ["train", "export", "tcav", "insertion", "truth", "views", "concept_maps", "report"]
    assert "not trained: model.source is 'keras'" in (project / "models" / "trained" / "NOT_TRAINED.txt").read_text()
    assert read(project, "tcav/runs.csv") == runs
    assert read(project, "scores.csv") == table
    manifest = json.loads((project / "models" / "frozen" / "manifest.json").read_text())
    assert manifest["source"]["kind"] == "keras" and manifest["source"]["ending"] == "logits"
    assert manifest["bottlenecks"][:3] == ["conv1", "pool1", "conv2"]
    charts = {p.name for p in (project / "results" / "plots").glob("*.png")}
    assert "confusion_matrix.png" in charts and "projection_conv2.png" in charts
    assert "training_curves.png" not in charts and not any(c.startswith("feature_maps_") for c in charts)
    # nothing was trained, so nothing recorded per epoch, and the views stage draws no projection during training
    import numpy as np

    with np.load(project / "results" / "epoch_activations.npz") as recording:
        assert len(recording["epochs"]) == 0 and "model.source is 'keras'" in str(recording["reason"])
    assert {"epoch_strip.png", "train_test.png"}.isdisjoint(charts)
    assert not (project / "results" / "views" / "epoch_projection.gif").exists()


def test_a_new_concept_never_reconverts(project):
    shutil.copytree(project / "concepts" / "red", project / "concepts" / "my_concept")
    set_params(project, {"tcav": {"concepts": ["red", "my_concept"]}})
    try:
        # the digest of the concepts changes first; tcav, insertion and views follow it
        assert changed(project) == ["concept_digest", "insertion", "report", "tcav", "truth", "views"]
    finally:
        set_params(project, {"tcav": {"concepts": ["red"]}})
        shutil.rmtree(project / "concepts" / "my_concept")
    assert changed(project) == []


def check_outside_run(project, result, kind: str, bottleneck: str):
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    assert "export" in ran(result) and "tcav" in ran(result)
    manifest = json.loads((project / "models" / "frozen" / "manifest.json").read_text())
    assert manifest["source"]["kind"] == kind and manifest["source"]["ending"] == "softmax"
    assert manifest["check"]["max_abs_diff"] < 1e-4 and manifest["check"]["compared"] == "probabilities"
    rows = scores(project)
    assert {(r["target"], r["concept"], r["bottleneck"]) for r in rows} == {
        (c, "red", bottleneck) for c in ("fire", "water", "grass")}
    assert (project / "results" / "report.html").stat().st_size > 10_000
    assert (project / "results" / "plots" / f"heatmap_{bottleneck}.png").is_file()


def test_mobilenet_v2_nested_in_a_sequential_as_keras(project, models):
    shutil.copy(models / "mobilenet.keras", project / "user_models" / "mobilenet.keras")
    use_model(project, "keras", "user_models/mobilenet.keras", "block_3_expand_relu",
              input={"value_range": [0.0, 255.0], "preprocessing": None})
    check_outside_run(project, run(["dvc", "repro"], project), "keras", "block_3_expand_relu")


def test_resnet_style_as_h5_and_replacing_the_file_reruns_from_conversion(project, models):
    shutil.copy(models / "resnet.h5", project / "user_models" / "resnet.h5")
    use_model(project, "keras", "user_models/resnet.h5", "concat")
    check_outside_run(project, run(["dvc", "repro"], project), "keras", "concat")
    shutil.copy(models / "resnet_v2.h5", project / "user_models" / "resnet.h5")
    # dvc status names the stage whose dependency changed; tcav, views and report follow when
    # the conversion writes a different graph (train, crawl and preprocess do not rerun).
    assert changed(project) == ["export"]


def layer_named(project, part: str) -> str:
    """The bottleneck name `python -m pipeline.layers` gives the op whose name holds ``part``."""
    listing = run(["python", "-m", "pipeline.layers"], project).stdout.splitlines()
    return next(line.split()[0] for line in listing[2:] if part in line.split()[0])


def test_resnet_style_as_savedmodel(project, models):
    shutil.copytree(models / "resnet_saved", project / "user_models" / "resnet_saved")
    use_model(project, "savedmodel", "user_models/resnet_saved", "conv2")
    bottleneck = layer_named(project, "concat")
    set_params(project, {"tcav": {"bottlenecks": [bottleneck]}})
    check_outside_run(project, run(["dvc", "repro"], project), "savedmodel", bottleneck)


def test_resnet_style_as_frozen_pb_with_no_training_split(project, models):
    shutil.copy(models / "resnet.pb", project / "user_models" / "resnet.pb")
    use_model(project, "frozen", "user_models/resnet.pb", "conv2")
    bottleneck = layer_named(project, "block2_conv")
    set_params(project, {"tcav": {"bottlenecks": [bottleneck]},
                         "preprocess": {"split": {"train": 0.0, "val": 0.0, "test": 1.0}}})
    result = run(["dvc", "repro"], project)
    check_outside_run(project, result, "frozen", bottleneck)
    assert "preprocess" in ran(result)
    assert json.loads((project / "models" / "frozen" / "manifest.json").read_text())["check"]["n_images"] == 60


def test_a_bottleneck_the_model_lacks_fails_with_the_list(project):
    before = read(project, "scores.csv")
    set_params(project, {"tcav": {"bottlenecks": ["no_such_layer"]}})
    result = run(["dvc", "repro", "tcav"], project, check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "Traceback" not in output
    assert "no_such_layer" in output and "available bottlenecks: " in output and "block2_conv" in output
    assert read(project, "scores.csv") == before
