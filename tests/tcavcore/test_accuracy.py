"""Findings scored against a known truth: what counts as right, found and real."""

import math

from tcavcore.accuracy import Counts, score_findings
from tcavcore.confirmation import Checks

EFFECTS = {("fire", "red"): 1.2, ("fire", "blue"): -0.9, ("fire", "white"): 0.05, ("water", "blue"): 0.8}


def row(target, concept, bottleneck, score, significant=True):
    return {"target": target, "concept": concept, "bottleneck": bottleneck, "score_mean": score,
            "significant": significant}


def test_right_wrong_found_and_confirmed_are_counted_per_kind():
    rows = [
        row("fire", "red", "pool1", 0.95),          # right, and confirmed below
        row("fire", "red", "conv3", 0.9),           # right again at another layer: found once
        row("fire", "blue", "conv3", 0.8),          # wrong way round (blue lowers fire)
        row("fire", "white", "conv3", 0.9),         # no real effect: wrong
        row("water", "blue", "conv3", 0.9, False),  # not significant: no finding, not found
        row("grass", "red", "conv3", 0.9),          # no measured effect: not scored
    ]
    insertion = {("fire", "red"): {"effect": 0.4, "p_adjusted": 0.001},
                 ("fire", "blue"): {"effect": -0.5, "p_adjusted": 0.001},   # contradicts TCAV's "raises"
                 ("fire", "white"): {"effect": 0.01, "p_adjusted": 0.6},    # nothing: not confirmed
                 ("water", "blue"): {"effect": 0.3, "p_adjusted": 0.01}}
    counts = score_findings(rows, EFFECTS, Checks(insertion), 0.05)
    assert (counts["tcav"].findings, counts["tcav"].right, counts["tcav"].found, counts["tcav"].real) == (4, 2, 1, 3)
    assert (counts["confirmed"].findings, counts["confirmed"].right, counts["confirmed"].found) == (2, 2, 1)
    assert (counts["insertion"].findings, counts["insertion"].right, counts["insertion"].found) == (3, 3, 3)
    assert counts["confirmed"].precision == 1.0 and math.isclose(counts["tcav"].recall, 1 / 3)


def test_with_the_intervals_findings_in_the_direction_of_a_measurable_effect_are_counted_too():
    """A weaker truth: the direction of any effect whose interval excludes 0, whatever its size."""
    from tcavcore.accuracy import measured_sign

    assert (measured_sign(0.02, 0.2), measured_sign(-0.3, -0.01), measured_sign(-0.1, 0.1)) == (1, -1, 0)
    rows = [row("fire", "red", "pool1", 0.95),    # a real effect its way: both kinds of right
            row("fire", "white", "conv3", 0.9),   # +0.05, measurable: right only in the weaker sense
            row("fire", "blue", "conv3", 0.8)]    # the wrong way: right in neither
    signs = {("fire", "red"): 1, ("fire", "white"): 1, ("fire", "blue"): -1}
    tcav = score_findings(rows, EFFECTS, Checks({}), 0.05, signs=signs)["tcav"]
    assert (tcav.findings, tcav.right, tcav.measurable) == (3, 1, 2)
    assert math.isclose(tcav.measurable_precision, 2 / 3)
    # the same effect with an interval reaching over 0 is not measurable
    unmeasured = score_findings(rows, EFFECTS, Checks({}), 0.05, signs={**signs, ("fire", "white"): 0})["tcav"]
    assert unmeasured.measurable == 1
    assert score_findings(rows, EFFECTS, Checks({}), 0.05)["tcav"].measurable == 0  # without intervals: not counted


def test_the_threshold_decides_what_is_real_and_csv_strings_are_read():
    rows = [{"target": "fire", "concept": "white", "score_mean": "0.9", "significant": "True"}]
    assert score_findings(rows, EFFECTS, Checks({}), 0.05, threshold=0.01)["tcav"].right == 1
    assert score_findings(rows, EFFECTS, Checks({}), 0.05)["tcav"].right == 0


def test_counts_add_and_say_undefined_when_empty():
    total = Counts()
    total.add(Counts(findings=2, right=1, real=4, found=1))
    total.add(Counts(findings=2, right=2, real=0, found=0))
    assert (total.findings, total.right, total.real, total.found) == (4, 3, 4, 1)
    assert math.isnan(Counts().precision) and "-" in Counts().text()


def test_random_bounds_hold_back_confirmations_within_what_random_sets_do():
    rows = [row("fire", "red", "conv3", 0.95), row("water", "blue", "conv3", 0.9)]
    insertion = {("fire", "red"): {"effect": 0.4, "p_adjusted": 0.001},
                 ("water", "blue"): {"effect": 0.3, "p_adjusted": 0.001}}
    assert score_findings(rows, EFFECTS, Checks(insertion), 0.05)["confirmed"].right == 2
    # a random set moves fire by up to 0.5: red's 0.4 is no evidence; water has no bounds
    held = score_findings(rows, EFFECTS, Checks(insertion, {"fire": (-0.5, 0.5)}), 0.05)["confirmed"]
    assert (held.findings, held.right, held.found) == (1, 1, 1)


def test_the_scene_test_confirms_from_min_effect_on_and_is_scored_alone():
    rows = [row("fire", "blue", "conv3", 0.1), row("fire", "white", "conv3", 0.9), row("fire", "red", "conv3", 0.9)]
    scene = {("fire", "blue"): {"effect": -0.8, "p_adjusted": 0.001},   # a real lowering, large enough
             ("fire", "white"): {"effect": 0.3, "p_adjusted": 0.001},   # significant but under min_effect
             ("fire", "red"): {"effect": -0.6, "p_adjusted": 0.001}}    # contradicts TCAV's "raises"
    insertion = {("fire", "red"): {"effect": 0.4, "p_adjusted": 0.001}}  # agrees, but the scene test contradicts
    counts = score_findings(rows, EFFECTS, Checks(insertion, scene=scene, min_effect=0.5), 0.05)
    assert (counts["confirmed"].findings, counts["confirmed"].right, counts["confirmed"].found) == (1, 1, 1)
    # without the scene test the insertion test decides: red is confirmed, the wrong way round for nothing
    alone = score_findings(rows, EFFECTS, Checks(insertion), 0.05)["confirmed"]
    assert (alone.findings, alone.right) == (1, 1)
    # the scene test alone: blue (right) and red (wrong way: red raises fire); white is under min_effect
    assert (counts["scene"].findings, counts["scene"].right) == (2, 1)
    without_floor = score_findings(rows, EFFECTS, Checks(insertion, scene=scene, min_effect=0.0), 0.05)
    assert without_floor["scene"].findings == 3 and without_floor["confirmed"].findings == 2  # white confirmed


def test_size_certain_findings_are_the_confirmed_ones_whose_scene_interval_clears_the_floor():
    rows = [row("fire", "blue", "conv3", 0.1), row("fire", "blue", "pool1", 0.2), row("water", "blue", "conv3", 0.9)]
    scene = {("fire", "blue"): {"effect": -0.8, "ci_low": -1.0, "ci_high": -0.6, "p_adjusted": 0.001},
             ("water", "blue"): {"effect": 0.55, "ci_low": 0.3, "ci_high": 0.8, "p_adjusted": 0.001}}  # reaches under 0.5
    counts = score_findings(rows, EFFECTS, Checks({}, scene=scene, min_effect=0.5), 0.05)
    assert (counts["confirmed"].findings, counts["confirmed"].found) == (3, 2)
    certain = counts["size_certain"]
    assert (certain.findings, certain.right, certain.found, certain.real) == (2, 2, 1, 3)
