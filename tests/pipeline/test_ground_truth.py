"""The planted answer of the built-in dataset is found by the real pipeline's default run.

Classes are decided by body colour (fire=red, water=blue, grass=green); striped and dotted
appear equally in every class. At the last convolutional bottleneck each class's own
colour must be significant with a score >= 0.8, the other classes' colours must not be
significant unless their score is <= 0.2, and no texture may be significant with a score
>= 0.8 for any class. All of it after the Holm correction over the whole run.

The other known answer: a model trained on random labels has learned nothing about the
classes, so nothing may be significant for it.
"""

import csv
import json

import pytest

from tests.pipeline_project import make_project, run
from tests.ground_truth import OWN_COLOUR, TEXTURES, last_conv_bottleneck, other_colour_ok, own_colour_found, \
    read_scores, texture_ok

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def scores(default_run):
    return read_scores(default_run, last_conv_bottleneck(default_run))


@pytest.mark.parametrize("target", sorted(OWN_COLOUR))
def test_own_colour_is_significant_and_high(scores, target):
    row = scores[target, OWN_COLOUR[target]]
    assert own_colour_found(row), row


@pytest.mark.parametrize("target", sorted(OWN_COLOUR))
def test_other_class_colours_are_not_significant_high(scores, target):
    for other, colour in OWN_COLOUR.items():
        if other != target:
            assert other_colour_ok(scores[target, colour]), scores[target, colour]


@pytest.mark.parametrize("concept", TEXTURES)
def test_textures_are_not_significant_high_for_any_class(scores, concept):
    for target in OWN_COLOUR:
        assert texture_ok(scores[target, concept]), scores[target, concept]


def test_model_learned_the_task(default_run):
    metrics = json.loads((default_run / "results" / "metrics.json").read_text())
    assert metrics["test"]["accuracy"] >= 0.9, metrics


# --------------------------------------------------------------------------- random labels


@pytest.fixture(scope="module")
def random_labels_run(tmp_path_factory):
    """The default pipeline with the model trained on random labels (train.random_labels)."""
    project = make_project(tmp_path_factory.mktemp("random_labels") / "project", {"train": {"random_labels": True}})
    run(["dvc", "repro"], project)
    return project


def test_random_labels_model_is_at_chance(random_labels_run):
    metrics = json.loads((random_labels_run / "results" / "metrics.json").read_text())
    assert metrics["test"]["accuracy"] < 0.45  # three classes: chance is 1/3


def test_nothing_is_significant_for_a_random_labels_model(random_labels_run):
    with open(random_labels_run / "results" / "scores.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 3 * 8 * 3
    assert [(r["target"], r["concept"], r["bottleneck"]) for r in rows if r["significant"] == "True"] == []
    metrics = json.loads((random_labels_run / "results" / "tcav_metrics.json").read_text())
    assert metrics["significant"] == 0
