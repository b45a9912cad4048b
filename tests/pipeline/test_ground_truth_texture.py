"""The second built-in world's planted answer, checked on the real pipeline's run of its preset.

``presets/texture_world.yaml``: the body's texture decides the class (tiger = striped,
leopard = dotted, giraffe = checkered), body hues are random, and every other concept is a
distractor. Its training (batch normalisation, augmentation, a cosine schedule, 100 epochs)
is the preset's, the TCAV, insertion and scene settings the defaults. The checks are those of the
colour world (``test_ground_truth.py``), against the run's own ``truth.csv``: a confirmed
finding is never wrong, nor made where the scenes show no effect.
"""

import json

import pytest
import yaml

from tests.ground_truth import confirmed_against_truth, last_conv_bottleneck, measured_sign, read_all_scores, \
    read_scores, read_truth, size_certain_against_truth
from tests.pipeline_project import ROOT, make_project, run

pytestmark = pytest.mark.slow

OWN_TEXTURE = {"tiger": "striped", "leopard": "dotted", "giraffe": "checkered"}


@pytest.fixture(scope="module")
def texture_run(tmp_path_factory):
    """A copy of this project after `dvc repro` on presets/texture_world.yaml, as the README says to run it."""
    preset = yaml.safe_load((ROOT / "presets" / "texture_world.yaml").read_text())
    project = make_project(tmp_path_factory.mktemp("texture") / "project", preset)
    run(["dvc", "repro"], project)
    return project


@pytest.fixture(scope="module")
def truth(texture_run):
    return read_truth(texture_run)


@pytest.fixture(scope="module")
def all_rows(texture_run):
    return read_all_scores(texture_run)


def test_the_model_learned_the_texture_task(texture_run):
    metrics = json.loads((texture_run / "results" / "metrics.json").read_text())
    # well above chance (1/3); the preset's training is not equally good on every seed: test
    # accuracy 0.86, 0.96, 0.93, 0.61 on seeds 42, 7, 123, 1 (see the README's texture world)
    assert metrics["test"]["accuracy"] >= 0.8, metrics


def test_truth_covers_every_class_and_concept_and_the_planted_textures_matter(truth):
    assert len(truth) == 3 * 9
    for target, texture in OWN_TEXTURE.items():
        row = truth[target, texture]
        assert row["intervention"] == "body texture" and row["ci_low"] > 0.5, row
    for target in OWN_TEXTURE:
        for other in OWN_TEXTURE.values():
            if other != OWN_TEXTURE[target]:
                assert truth[target, other]["intervention"] == "distractor"


def test_every_confirmed_finding_has_the_direction_of_a_measured_effect(all_rows, truth):
    assert confirmed_against_truth(all_rows, truth) == []


def test_every_size_certain_finding_is_a_real_effect_its_way(all_rows, truth):
    assert all(r["confirmed"] == "True" for r in all_rows if r["size_certain"] == "True")
    assert size_certain_against_truth(all_rows, truth) == []


def test_the_planted_textures_raise_their_class_and_are_never_contradicted(texture_run, truth):
    """At the last conv layer each class's own texture is significant and raises it; the
    tests confirm at least one and contradict none (measured over ten draws of the earlier
    split's models: on seed 42 striped/tiger and dotted/leopard are confirmed in every draw; on
    seeds 1, 2 and 3 none is, the blob beside a creature adding too little to the texture its
    body carries; checkered/giraffe never is: the concept's checks are smaller than the giraffe's, and
    neither a window of them on a random image nor a blob of them beside a giraffe moves it
    more than random content does)."""
    scores = read_scores(texture_run, last_conv_bottleneck(texture_run))
    confirmed = 0
    for target, texture in OWN_TEXTURE.items():
        row = scores[target, texture]
        assert row["verdict"] in ("raises class (confirmed)", "raises class (not confirmed)"), row
        for test, floor in (("insertion", 0.0), ("scene", 0.5)):
            effect = float(row[f"{test}_effect"])
            assert not (float(row[f"{test}_p_adjusted"]) < 0.05 and effect < 0 and abs(effect) >= floor), row
        confirmed += row["verdict"] == "raises class (confirmed)"
    assert confirmed >= 1


def test_findings_without_a_measured_effect_are_not_confirmed(all_rows, truth):
    """Another class's texture pasted as a big patch makes an image look like that class, but
    as a distractor in the scenes it moves the class too little to measure: never confirmed."""
    for r in all_rows:
        if measured_sign(truth[r["target"], r["concept"]]) == 0:
            assert r["confirmed"] == "False", r
