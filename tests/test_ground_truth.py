"""The planted answer of the built-in dataset is found by the real pipeline's default run.

Classes are decided by body colour (fire=red, water=blue, grass=green); striped and dotted
appear equally in every class. At the last convolutional bottleneck each class's own
colour must be significant and high, the other classes' colours must not be, and the
textures must not be for any class.
"""

import csv
import json

import pytest
import yaml

pytestmark = pytest.mark.slow

OWN_COLOUR = {"fire": "red", "water": "blue", "grass": "green"}


@pytest.fixture(scope="module")
def scores(default_run):
    params = yaml.safe_load((default_run / "params.yaml").read_text())
    convs = [b for b in params["tcav"]["bottlenecks"] if b.startswith("conv")]
    last_conv = convs[-1]
    with open(default_run / "results" / "scores.csv", newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["bottleneck"] == last_conv]
    return {(r["target"], r["concept"]): r for r in rows}


def _significant_high(row):
    return row["significant"] == "True" and float(row["score_mean"]) >= 0.8


@pytest.mark.parametrize("target", sorted(OWN_COLOUR))
def test_own_colour_is_significant_and_high(scores, target):
    row = scores[target, OWN_COLOUR[target]]
    assert row["significant"] == "True", row
    assert float(row["score_mean"]) >= 0.8, row


@pytest.mark.parametrize("target", sorted(OWN_COLOUR))
def test_other_class_colours_are_not_significant_high(scores, target):
    for other, colour in OWN_COLOUR.items():
        if other == target:
            continue
        row = scores[target, colour]
        assert row["significant"] != "True" or float(row["score_mean"]) <= 0.2, row


@pytest.mark.parametrize("concept", ["striped", "dotted"])
def test_textures_are_not_significant_high_for_any_class(scores, concept):
    for target in OWN_COLOUR:
        assert not _significant_high(scores[target, concept]), scores[target, concept]


def test_model_learned_the_task(default_run):
    metrics = json.loads((default_run / "results" / "metrics.json").read_text())
    assert metrics["test"]["accuracy"] >= 0.9, metrics
