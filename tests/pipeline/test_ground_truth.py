"""The planted answer of the built-in dataset is found by the real pipeline's default run.

Classes are decided by body colour (fire=red, water=blue, grass=green); striped and dotted
appear equally in every class. At the last convolutional bottleneck each class's own
colour must be significant with a score >= 0.8, the other classes' colours must not be
significant unless their score is <= 0.2, and no texture may be significant with a score
>= 0.8 for any class. All of it after the Holm correction over the whole run.

The other known answer: a model trained on random labels has learned next to nothing about
the classes (its measured effects are under 0.2 logit), so no finding may be confirmed for
it, and a class it predicts no more often for its own images than for others gets no
significant finding at all.
"""

import csv
import json

import pytest

from tcavcore.accuracy import REAL_EFFECT
from tests.pipeline_project import make_project, run
from tests.ground_truth import OWN_COLOUR, TEXTURES, confirmed_against_truth, last_conv_bottleneck, \
    measured_sign, other_colour_ok, own_colour_found, read_all_scores, read_scores, read_truth, \
    size_certain_against_truth, texture_ok

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


def test_nothing_is_confirmed_for_a_random_labels_model(random_labels_run):
    """TCAV alone may call such a model's directions significant (where the model check lets a
    class through by chance); the tests on images confirm none of them."""
    from tcavcore.significance import adjust_p_values, recognition_p_values
    from tcavcore.verdicts import NOT_LEARNABLE, NOT_RECOGNISED

    with open(random_labels_run / "results" / "scores.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 3 * 8 * 3
    assert [(r["target"], r["concept"], r["bottleneck"]) for r in rows if r["confirmed"] == "True"] == []
    metrics = json.loads((random_labels_run / "results" / "tcav_metrics.json").read_text())
    assert metrics["confirmed"] == 0
    truth = read_truth(random_labels_run)
    assert max(abs(row["effect"]) for row in truth.values()) < REAL_EFFECT  # nothing to confirm: no real effect
    # the model check: each class the test split shows at chance has no significant finding
    confusion = json.loads((random_labels_run / "results" / "views" / "confusion.json").read_text())
    holm = adjust_p_values(recognition_p_values(confusion["matrix"]), "holm")  # the classes are one family
    at_chance = [c for c, p in zip(confusion["classes"], holm) if not p < 0.05]
    assert at_chance  # a random-labels model is at chance for some class
    withheld = [row for row in rows if row["target"] in at_chance]
    assert all(row["verdict"] in (NOT_RECOGNISED, NOT_LEARNABLE) and row["significant"] == "False" for row in withheld)
    assert any(row["verdict"] == NOT_RECOGNISED for row in withheld)


# --------------------------------------------------------------------------- checked against the measured truth


@pytest.fixture(scope="module")
def all_rows(default_run):
    return read_all_scores(default_run)


@pytest.fixture(scope="module")
def truth(default_run):
    return read_truth(default_run)


def test_truth_covers_every_class_and_concept_and_the_planted_colours_matter(truth):
    assert len(truth) == 3 * 8
    for target, colour in OWN_COLOUR.items():
        row = truth[target, colour]
        assert row["intervention"] == "body colour" and row["ci_low"] > 0.5, row  # the class's own colour
    for target in OWN_COLOUR:
        assert measured_sign(truth[target, "white"]) == 0 or abs(truth[target, "white"]["effect"]) < 0.1


def test_every_confirmed_finding_has_the_direction_of_a_measured_effect(all_rows, truth):
    assert confirmed_against_truth(all_rows, truth) == []


def test_every_size_certain_finding_is_a_real_effect_its_way(all_rows, truth):
    """Size certain: the scene test's whole interval beyond insertion.min_effect; the truth must then be at
    least 0.5 logit the finding's way (the accuracy tables' real effect), not merely its direction."""
    certain = [r for r in all_rows if r["size_certain"] == "True"]
    assert certain and all(r["confirmed"] == "True" for r in certain)
    assert size_certain_against_truth(all_rows, truth) == []


def against(row: dict, sign: int, test: str, min_effect: float = 0.0) -> bool:
    """Does ``test`` (insertion or scene) find a significant effect of at least ``min_effect`` against ``sign``?"""
    effect = float(row[f"{test}_effect"])
    return float(row[f"{test}_p_adjusted"]) < 0.05 and effect * sign < 0 and abs(effect) >= min_effect


def test_the_planted_own_colours_are_confirmed_and_never_contradicted(scores):
    """Each class's own colour raises it at the last conv layer; the scene test confirms one at least and
    neither test contradicts any.

    Measured over ten draws of the tests (README "Measured accuracy"): the scene test puts a
    blob of the colour beside a creature whose body already has it, which adds little (0.14 x
    the truth's effect of the body's colour), so it confirms one of the three own colours on
    seed 42 (water/blue, in every draw), two on seeds 7 and 2, none on seeds 123, 1 and 3. A
    confirmation can be missed; it cannot be wrong.
    """
    confirmed = 0
    for target, colour in OWN_COLOUR.items():
        row = scores[target, colour]
        assert row["verdict"] in ("raises class (confirmed)", "raises class (not confirmed)"), row
        assert not against(row, 1, "insertion") and not against(row, 1, "scene", 0.5), row
        confirmed += row["verdict"] == "raises class (confirmed)"
    assert confirmed >= 1


def test_other_class_colours_lower_the_class_and_nothing_says_otherwise(all_rows, truth):
    """A distractor of another class's colour lowers the class (measured); no check says it raises it,
    and the scene test, which puts the colour beside the creature as the truth does, finds most of them."""
    lowered = 0
    for target, own in OWN_COLOUR.items():
        for colour in OWN_COLOUR.values():
            if colour == own:
                continue
            assert truth[target, colour]["ci_high"] < 0, truth[target, colour]
            rows = [r for r in all_rows if (r["target"], r["concept"]) == (target, colour)]
            for r in rows:
                assert r["verdict"] != "raises class (confirmed)", r
                assert not against(r, -1, "insertion") and not against(r, -1, "scene"), r
            lowered += float(rows[0]["scene_p_adjusted"]) < 0.05 and float(rows[0]["scene_effect"]) <= -0.5
    assert lowered >= 4  # of 6


def test_findings_without_a_measured_effect_are_not_confirmed(all_rows, truth):
    """white and the like: no measurable change of the class logit in the scenes, so never confirmed."""
    for r in all_rows:
        if measured_sign(truth[r["target"], r["concept"]]) == 0:
            assert r["confirmed"] == "False", r


def test_scores_carry_the_insertion_scene_and_object_columns(all_rows):
    for r in all_rows:
        assert r["insertion_p_adjusted"] != "" and r["insertion_effect"] != ""
        assert r["scene_p_adjusted"] != "" and r["scene_effect"] != "" and r["scene_random_low"] != ""
        assert r["object_p_adjusted"] != "" and r["object_ci_low"] != "" and r["object_random_high"] != ""
        assert r["confirmed"] in ("True", "False")
        # the scene test confirms, or the object test a raise
        assert (r["confirmed_by"] in ("scene", "object")) == (r["confirmed"] == "True"), r
        if r["confirmed_by"] == "object":
            assert r["verdict"] == "raises class (confirmed)" and float(r["object_ci_low"]) >= 0.5, r


def test_the_report_scores_the_run_against_its_truth(default_run, all_rows, truth):
    """tcav_metrics.json and the page carry this run's precision and recall, recomputed here from scores.csv."""
    from tcavcore.accuracy import REAL_EFFECT

    metrics = json.loads((default_run / "results" / "tcav_metrics.json").read_text())["against_truth"]
    real = {k for k, t in truth.items() if abs(t["effect"]) >= REAL_EFFECT}
    significant = [r for r in all_rows if r["significant"] == "True"]
    right = [r for r in significant
             if (r["target"], r["concept"]) in real
             and (float(r["score_mean"]) > 0.5) == (truth[r["target"], r["concept"]]["effect"] > 0)]
    assert metrics["tcav"]["findings"] == len(significant) and metrics["tcav"]["right"] == len(right)
    assert metrics["tcav"]["real_effects"] == len(real)
    confirmed = [r for r in all_rows if r["confirmed"] == "True"]
    assert metrics["confirmed"]["findings"] == len(confirmed)
    # and against the weaker truth: the direction of a measurable effect, whatever its size
    measurable = [r for r in significant
                  if measured_sign(truth[r["target"], r["concept"]]) == (1 if float(r["score_mean"]) > 0.5 else -1)]
    assert metrics["tcav"]["measurable_sign"] == len(measurable) >= metrics["tcav"]["right"]
    assert "How often this run's findings are right" in (default_run / "results" / "report.html").read_text()
