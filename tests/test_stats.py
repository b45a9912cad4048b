"""Tests for method.stats: the t-test against random CAVs and the per-group summary."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats as scipy_stats
from scipy.stats import ttest_ind

from method.stats import SUMMARY_KEYS, decide_significance, mean_std, summarise_runs, ttest_vs_random

EXPECTED_KEYS = [
    "target", "concept", "bottleneck", "alpha", "score_mean", "score_std", "random_mean", "random_std",
    "p_value", "significant", "cav_learnable", "cav_accuracy", "cav_accuracy_std", "magnitude_mean", "n_random", "n_examples",
]  # fmt: skip

CONCEPT_SCORES = [0.81, 0.86, 0.92, 0.78, 0.88, 0.95]
RANDOM_SCORES = [0.42, 0.61, 0.35, 0.55, 0.49, 0.58, 0.31, 0.66, 0.47, 0.52, 0.40, 0.63]


def run(target, concept, random, bottleneck, alpha, score, *, kind=None, magnitude=0.5, accuracy=0.9, n=20):
    kind = kind or ("random" if concept.startswith("random500_") else "concept")
    return {
        "target": target, "concept": concept, "random": random, "bottleneck": bottleneck, "alpha": alpha,
        "kind": kind, "score": score, "magnitude": magnitude, "cav_accuracy": accuracy, "n_examples": n,
    }  # fmt: skip


def null_runs(target, bottleneck, alpha, scores, n_sets=4):
    """Random-vs-random runs for all ordered pairs of ``n_sets`` random sets, scores cycled."""
    pairs = list(itertools.permutations(range(n_sets), 2))
    return [
        run(target, f"random500_{i}", f"random500_{j}", bottleneck, alpha, scores[k % len(scores)])
        for k, (i, j) in enumerate(pairs)
    ]


def concept_runs(target, concept, bottleneck, alpha, scores, **kwargs):
    return [run(target, concept, f"random500_{j}", bottleneck, alpha, s, **kwargs) for j, s in enumerate(scores)]


# --------------------------------------------------------------------------- ttest_vs_random


def test_p_value_is_tcavs_student_ttest():
    # tcav.utils.print_results: `_, p_val = ttest_ind(random_i_ups[bottleneck], i_ups)`
    expected = ttest_ind(RANDOM_SCORES, CONCEPT_SCORES)[1]
    assert ttest_vs_random(CONCEPT_SCORES, RANDOM_SCORES) == pytest.approx(expected, rel=1e-12)
    # ... which is Student's pooled-variance test, not Welch's (they differ on these samples).
    a, b = np.array(RANDOM_SCORES), np.array(CONCEPT_SCORES)
    df = a.size + b.size - 2
    pooled = ((a.size - 1) * a.var(ddof=1) + (b.size - 1) * b.var(ddof=1)) / df
    t = (a.mean() - b.mean()) / math.sqrt(pooled * (1 / a.size + 1 / b.size))
    by_hand = 2 * scipy_stats.t.sf(abs(t), df)
    assert ttest_vs_random(CONCEPT_SCORES, RANDOM_SCORES) == pytest.approx(by_hand, rel=1e-9)
    welch = ttest_ind(RANDOM_SCORES, CONCEPT_SCORES, equal_var=False)[1]
    assert not math.isclose(by_hand, welch, rel_tol=1e-3)


def test_p_value_is_nan_when_undefined():
    assert math.isnan(ttest_vs_random([0.5, 0.5, 0.5], [0.5, 0.5, 0.5, 0.5]))  # 0 / 0
    assert math.isnan(ttest_vs_random([0.7], [0.5]))  # no degrees of freedom
    assert math.isnan(ttest_vs_random([], [0.5, 0.6, 0.4]))
    # Constant but different samples are as significant as it gets (t is infinite).
    assert ttest_vs_random([1.0, 1.0, 1.0], [0.5, 0.5, 0.5]) == 0.0


def test_mean_std_is_population_std():
    mean, std = mean_std([0.2, 0.4, 0.6, 0.8])
    assert mean == pytest.approx(0.5)
    assert std == pytest.approx(math.sqrt(0.05))  # ddof=1 would give 0.258...
    assert all(math.isnan(v) for v in mean_std([]))


# --------------------------------------------------------------------------- summarise_runs


def test_summary_row_for_one_group():
    rows = concept_runs("fire", "red", "conv3", 0.1, CONCEPT_SCORES, magnitude=0.7, n=25)
    rows[0]["cav_accuracy"] = 0.6
    rows[1]["magnitude"] = math.nan
    rows += null_runs("fire", "conv3", 0.1, RANDOM_SCORES)  # 12 ordered pairs
    (summary,) = summarise_runs(rows, 0.05)
    assert list(summary) == EXPECTED_KEYS == list(SUMMARY_KEYS)
    assert (summary["target"], summary["concept"], summary["bottleneck"], summary["alpha"]) == ("fire", "red", "conv3", 0.1)
    assert summary["score_mean"] == pytest.approx(np.mean(CONCEPT_SCORES))
    assert summary["score_std"] == pytest.approx(np.std(CONCEPT_SCORES, ddof=0))
    assert summary["random_mean"] == pytest.approx(np.mean(RANDOM_SCORES))
    assert summary["random_std"] == pytest.approx(np.std(RANDOM_SCORES, ddof=0))
    assert summary["p_value"] == pytest.approx(ttest_ind(RANDOM_SCORES, CONCEPT_SCORES)[1], rel=1e-12)
    assert summary["significant"] is True
    accuracies = [0.6] + [0.9] * 5
    assert summary["cav_accuracy"] == pytest.approx(np.mean(accuracies))
    assert summary["cav_accuracy_std"] == pytest.approx(np.std(accuracies))
    assert summary["magnitude_mean"] == pytest.approx(0.7)  # the NaN one is left out
    assert summary["n_random"] == len(CONCEPT_SCORES)
    assert summary["n_examples"] == 25


def test_clear_concept_is_significant_and_null_like_is_not():
    null_like = [0.45, 0.58, 0.50, 0.41, 0.62, 0.53]
    rows = concept_runs("fire", "red", "conv3", 0.1, CONCEPT_SCORES)
    rows += concept_runs("fire", "striped", "conv3", 0.1, null_like)
    rows += null_runs("fire", "conv3", 0.1, RANDOM_SCORES)
    by_concept = {s["concept"]: s for s in summarise_runs(rows, 0.05)}
    assert by_concept["red"]["significant"] is True and by_concept["red"]["p_value"] < 1e-4
    assert by_concept["striped"]["significant"] is False and by_concept["striped"]["p_value"] > 0.5


def test_concept_below_random_is_significant_too():
    rows = concept_runs("fire", "blue", "conv3", 0.1, [0.05, 0.1, 0.12, 0.08])
    rows += null_runs("fire", "conv3", 0.1, RANDOM_SCORES)
    (summary,) = summarise_runs(rows, 0.05)
    assert summary["significant"] is True  # two-sided


def test_nan_p_value_is_not_significant():
    rows = concept_runs("fire", "red", "conv3", 0.1, [0.5, 0.5, 0.5])
    rows += null_runs("fire", "conv3", 0.1, [0.5], n_sets=3)
    (summary,) = summarise_runs(rows, 0.05)
    assert math.isnan(summary["p_value"])
    assert summary["significant"] is False


def test_significance_is_strictly_below_the_level():
    summaries = [{"p_value": p, "cav_accuracy": 0.9} for p in (0.05, 0.0499999, math.nan)]
    decide_significance(summaries, 0.05)
    assert [s["significant"] for s in summaries] == [False, True, False]
    with pytest.raises(ValueError, match="significance"):
        decide_significance(summaries, 1.5)


def test_unlearnable_cavs_are_never_significant():
    summaries = [{"p_value": 1e-6, "cav_accuracy": acc} for acc in (0.69, 0.7, 0.95)]
    decide_significance(summaries, 0.05, min_cav_accuracy=0.7)
    assert [s["cav_learnable"] for s in summaries] == [False, True, True]
    assert [s["significant"] for s in summaries] == [False, True, True]
    with pytest.raises(ValueError, match="min_cav_accuracy"):
        decide_significance(summaries, 0.05, min_cav_accuracy=1.5)


def test_grouping_keeps_alphas_and_bottlenecks_apart():
    rows = []
    # Each (bottleneck, alpha) gets its own concept scores and its own null.
    layout = {("pool1", 0.1): (0.9, 0.50), ("pool1", 1.0): (0.7, 0.30), ("conv3", 0.1): (0.2, 0.60)}
    for (bottleneck, alpha), (concept_level, null_level) in layout.items():
        rows += concept_runs("fire", "red", bottleneck, alpha, [concept_level - 0.01, concept_level + 0.01, concept_level])
        rows += null_runs("fire", bottleneck, alpha, [null_level - 0.02, null_level + 0.02], n_sets=3)
    summaries = summarise_runs(rows, 0.05, bottlenecks=["pool1", "conv3"])
    assert [(s["bottleneck"], s["alpha"]) for s in summaries] == [("pool1", 0.1), ("pool1", 1.0), ("conv3", 0.1)]
    for s in summaries:
        concept_level, null_level = layout[(s["bottleneck"], s["alpha"])]
        assert s["score_mean"] == pytest.approx(concept_level)
        assert s["random_mean"] == pytest.approx(null_level)
        assert s["n_random"] == 3


def test_order_follows_the_given_lists_and_alphas_ascend():
    rows = []
    for target, concept, bottleneck, alpha in itertools.product(["water", "fire"], ["b", "a"], ["conv3", "pool1"], [1.0, 0.1]):
        rows += concept_runs(target, concept, bottleneck, alpha, [0.6, 0.7])
    for target, bottleneck, alpha in itertools.product(["water", "fire"], ["conv3", "pool1"], [1.0, 0.1]):
        rows += null_runs(target, bottleneck, alpha, [0.4, 0.6], n_sets=2)
    keys = [
        (s["target"], s["concept"], s["bottleneck"], s["alpha"])
        for s in summarise_runs(rows, 0.05, targets=["fire", "water"], concepts=["a", "b"], bottlenecks=["pool1", "conv3"])
    ]
    expected = list(itertools.product(["fire", "water"], ["a", "b"], ["pool1", "conv3"], [0.1, 1.0]))
    assert keys == expected


def test_group_without_random_runs_is_an_error_naming_it():
    rows = concept_runs("fire", "red", "conv3", 0.1, CONCEPT_SCORES)
    rows += null_runs("fire", "conv3", 1.0, RANDOM_SCORES)  # other alpha
    rows += null_runs("water", "conv3", 0.1, RANDOM_SCORES)  # other class
    with pytest.raises(ValueError) as raised:
        summarise_runs(rows, 0.05)
    message = str(raised.value)
    assert "'fire'" in message and "'conv3'" in message and "0.1" in message


def test_duplicate_run_and_unknown_kind_are_errors():
    rows = concept_runs("fire", "red", "conv3", 0.1, [0.8, 0.9]) + null_runs("fire", "conv3", 0.1, RANDOM_SCORES)
    with pytest.raises(ValueError, match="two runs"):
        summarise_runs(rows + [dict(rows[0])], 0.05)
    with pytest.raises(ValueError, match="kind"):
        summarise_runs(rows + [run("fire", "red", "random500_9", "conv3", 0.1, 0.5, kind="other")], 0.05)
