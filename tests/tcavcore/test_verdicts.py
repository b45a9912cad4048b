"""tcavcore.verdicts: grouping runs, the per-group summary, and the decision (learnable, corrected, recognised)."""


from __future__ import annotations


import itertools


import math


import numpy as np


import pytest


from scipy import stats as scipy_stats


from scipy.stats import ttest_ind


from tcavcore.records import SCORE_KEYS, SUMMARY_KEYS


from tcavcore.significance import (cohens_d, mean_ci)


from tcavcore.verdicts import (LOWERS, NOT_LEARNABLE, NOT_RECOGNISED, NOT_SIGNIFICANT, RAISES, UNTESTABLE, Decision,
                               decide_significance, summarise_runs)


EXPECTED_KEYS = [
    "target", "concept", "bottleneck", "alpha", "verdict", "score_mean", "score_std", "score_ci_low", "score_ci_high",
    "random_mean", "random_std", "effect_size", "p_random", "p_random_adjusted", "p_half", "p_half_adjusted",
    "significant", "cav_learnable", "cav_accuracy", "cav_accuracy_std", "magnitude_mean", "n_random", "n_examples",
    "n_concept", "n_random_images", "small_sets", "class_independent", "insertion_effect", "insertion_ci_low", "insertion_ci_high", "insertion_p", "insertion_p_adjusted", "insertion_random_low", "insertion_random_high", "scene_effect", "scene_ci_low", "scene_ci_high", "scene_p", "scene_p_adjusted", "scene_random_low", "scene_random_high", "object_effect", "object_ci_low", "object_ci_high", "object_p", "object_p_adjusted", "object_random_low", "object_random_high", "confirmed", "confirmed_by", "size_certain",
]  # fmt: skip


UNCORRECTED = Decision(correction="none")


CONCEPT_SCORES = [0.81, 0.86, 0.92, 0.78, 0.88, 0.95]


RANDOM_SCORES = [0.42, 0.61, 0.35, 0.55, 0.49, 0.58, 0.31, 0.66, 0.47, 0.52, 0.40, 0.63]


def run(target, concept, random, bottleneck, alpha, score, *, kind=None, magnitude=0.5, accuracy=0.9, n=20,
        n_concept=40, n_random_images=40):
    kind = kind or ("random" if concept.startswith("random500_") else "concept")
    return {
        "target": target, "concept": concept, "random": random, "bottleneck": bottleneck, "alpha": alpha,
        "kind": kind, "score": score, "magnitude": magnitude, "cav_accuracy": accuracy, "n_examples": n,
        "n_concept": n_concept, "n_random_images": n_random_images,
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


def summary(p_random, accuracy=0.9, p_half=0.5, score=0.9):
    """A summary dict as summarise_group leaves it, for decide_significance."""
    row = {key: 0.5 for key in SCORE_KEYS}
    row.update(target="fire", score_mean=score, p_random=p_random, p_half=p_half, cav_accuracy=accuracy, verdict=UNTESTABLE)
    return row


def test_summary_row_for_one_group():
    rows = concept_runs("fire", "red", "conv3", 0.1, CONCEPT_SCORES, magnitude=0.7, n=25)
    rows[0]["cav_accuracy"] = 0.6
    rows[1]["magnitude"] = math.nan
    rows += null_runs("fire", "conv3", 0.1, RANDOM_SCORES)  # 12 ordered pairs
    (summary,) = summarise_runs(rows, UNCORRECTED)
    assert list(summary) == EXPECTED_KEYS == list(SUMMARY_KEYS)
    assert (summary["target"], summary["concept"], summary["bottleneck"], summary["alpha"]) == ("fire", "red", "conv3", 0.1)
    assert summary["score_mean"] == pytest.approx(np.mean(CONCEPT_SCORES))
    assert summary["score_std"] == pytest.approx(np.std(CONCEPT_SCORES, ddof=0))
    assert summary["random_mean"] == pytest.approx(np.mean(RANDOM_SCORES))
    assert summary["random_std"] == pytest.approx(np.std(RANDOM_SCORES, ddof=0))
    assert summary["p_random"] == pytest.approx(ttest_ind(RANDOM_SCORES, CONCEPT_SCORES, equal_var=False)[1], rel=1e-12)
    assert summary["p_half"] == pytest.approx(scipy_stats.ttest_1samp(CONCEPT_SCORES, 0.5).pvalue, rel=1e-12)
    assert summary["p_random_adjusted"] == summary["p_random"]  # a family of one
    assert (summary["score_ci_low"], summary["score_ci_high"]) == pytest.approx(mean_ci(CONCEPT_SCORES, 0.95))
    assert summary["effect_size"] == pytest.approx(cohens_d(CONCEPT_SCORES, RANDOM_SCORES))
    assert summary["significant"] is True and summary["verdict"] == RAISES
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
    by_concept = {s["concept"]: s for s in summarise_runs(rows)}
    assert by_concept["red"]["significant"] is True and by_concept["red"]["p_random_adjusted"] < 1e-4
    assert by_concept["striped"]["significant"] is False and by_concept["striped"]["p_random"] > 0.5
    assert by_concept["striped"]["verdict"] == NOT_SIGNIFICANT


def test_concept_below_random_is_significant_too():
    rows = concept_runs("fire", "blue", "conv3", 0.1, [0.05, 0.1, 0.12, 0.08])
    rows += null_runs("fire", "conv3", 0.1, RANDOM_SCORES)
    (summary,) = summarise_runs(rows)
    assert summary["significant"] is True  # two-sided
    assert summary["verdict"] == LOWERS


def test_nan_p_value_is_not_significant():
    rows = concept_runs("fire", "red", "conv3", 0.1, [0.5, 0.5, 0.5])
    rows += null_runs("fire", "conv3", 0.1, [0.5], n_sets=3)
    (summary,) = summarise_runs(rows)
    assert math.isnan(summary["p_random"]) and math.isnan(summary["p_random_adjusted"])
    assert summary["significant"] is False and summary["verdict"] == UNTESTABLE


def test_significance_is_strictly_below_the_level():
    summaries = [summary(p) for p in (0.05, 0.0499999, math.nan)]
    decide_significance(summaries, UNCORRECTED)
    assert [s["significant"] for s in summaries] == [False, True, False]
    with pytest.raises(ValueError, match="significance"):
        Decision(significance=1.5)


def test_significant_uses_the_adjusted_p_value():
    # Each alone would pass at 0.05; as a family of three, Holm keeps only the smallest.
    summaries = [summary(p) for p in (0.01, 0.03, 0.04)]
    decide_significance(summaries, Decision(correction="holm"))
    assert [s["p_random_adjusted"] for s in summaries] == pytest.approx([0.03, 0.06, 0.06])
    assert [s["p_random"] for s in summaries] == [0.01, 0.03, 0.04]  # raw kept
    assert [s["significant"] for s in summaries] == [True, False, False]
    decide_significance(summaries, Decision(correction="bh"))
    assert [s["significant"] for s in summaries] == [True, True, True]  # all adjusted to 0.04


def test_the_deciding_test_is_selectable_and_both_are_adjusted():
    summaries = [summary(0.001, p_half=0.2), summary(0.3, p_half=0.0001)]
    decide_significance(summaries, Decision(test="half"))
    assert [s["significant"] for s in summaries] == [False, True]
    assert summaries[0]["p_half_adjusted"] == pytest.approx(0.2)  # Holm: max(2 * 0.0001, 0.2)
    assert summaries[0]["p_random_adjusted"] == pytest.approx(0.002)
    with pytest.raises(ValueError, match="test"):
        Decision(test="welch")


def test_unlearnable_cavs_get_no_score_and_leave_the_family():
    summaries = [summary(0.02, accuracy=acc) for acc in (0.69, 0.7, 0.95)]
    decide_significance(summaries, Decision(min_cav_accuracy=0.7, correction="bonferroni"))
    assert [s["cav_learnable"] for s in summaries] == [False, True, True]
    assert [s["significant"] for s in summaries] == [False, True, True]  # family of 2: 0.04
    assert summaries[0]["verdict"] == NOT_LEARNABLE
    assert all(math.isnan(summaries[0][key]) for key in SCORE_KEYS)
    assert summaries[0]["cav_accuracy"] == 0.69  # still reported
    with pytest.raises(ValueError, match="min_cav_accuracy"):
        Decision(min_cav_accuracy=1.5)


def test_grouping_keeps_alphas_and_bottlenecks_apart():
    rows = []
    # Each (bottleneck, alpha) gets its own concept scores and its own null.
    layout = {("pool1", 0.1): (0.9, 0.50), ("pool1", 1.0): (0.7, 0.30), ("conv3", 0.1): (0.2, 0.60)}
    for (bottleneck, alpha), (concept_level, null_level) in layout.items():
        rows += concept_runs("fire", "red", bottleneck, alpha, [concept_level - 0.01, concept_level + 0.01, concept_level])
        rows += null_runs("fire", bottleneck, alpha, [null_level - 0.02, null_level + 0.02], n_sets=3)
    summaries = summarise_runs(rows, bottlenecks=["pool1", "conv3"])
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
        for s in summarise_runs(rows, targets=["fire", "water"], concepts=["a", "b"], bottlenecks=["pool1", "conv3"])
    ]
    expected = list(itertools.product(["fire", "water"], ["a", "b"], ["pool1", "conv3"], [0.1, 1.0]))
    assert keys == expected


def test_group_without_random_runs_is_an_error_naming_it():
    rows = concept_runs("fire", "red", "conv3", 0.1, CONCEPT_SCORES)
    rows += null_runs("fire", "conv3", 1.0, RANDOM_SCORES)  # other alpha
    rows += null_runs("water", "conv3", 0.1, RANDOM_SCORES)  # other class
    with pytest.raises(ValueError) as raised:
        summarise_runs(rows)
    message = str(raised.value)
    assert "'fire'" in message and "'conv3'" in message and "0.1" in message


def test_duplicate_run_and_unknown_kind_are_errors():
    rows = concept_runs("fire", "red", "conv3", 0.1, [0.8, 0.9]) + null_runs("fire", "conv3", 0.1, RANDOM_SCORES)
    with pytest.raises(ValueError, match="two runs"):
        summarise_runs(rows + [dict(rows[0])])
    with pytest.raises(ValueError, match="kind"):
        summarise_runs(rows + [run("fire", "red", "random500_9", "conv3", 0.1, 0.5, kind="other")])


def test_unrecognised_class_keeps_raw_numbers_but_is_withheld_from_the_family():
    rows = concept_runs("fire", "red", "conv3", 0.1, CONCEPT_SCORES)
    rows += concept_runs("water", "red", "conv3", 0.1, CONCEPT_SCORES)
    rows += null_runs("fire", "conv3", 0.1, RANDOM_SCORES) + null_runs("water", "conv3", 0.1, RANDOM_SCORES)
    fire, water = summarise_runs(rows, Decision(correction="bonferroni"), unrecognised=["water"])
    assert fire["significant"] and fire["p_random_adjusted"] == pytest.approx(fire["p_random"])  # family of one
    assert not water["significant"] and water["verdict"] == NOT_RECOGNISED
    assert water["p_random"] == fire["p_random"] and math.isnan(water["p_random_adjusted"])
    assert water["score_mean"] == fire["score_mean"]


def test_a_concept_significant_the_same_way_for_every_class_is_class_independent():
    from tcavcore.verdicts import mark_class_independent

    def row(target, concept, score, significant=True, bottleneck="pool1"):
        return {"target": target, "concept": concept, "bottleneck": bottleneck, "alpha": 0.1, "score_mean": score,
                "significant": significant}

    rows = [row("fire", "white", 0.9), row("water", "white", 0.8), row("grass", "white", 0.95),  # raises all
            row("fire", "red", 0.9), row("water", "red", 0.2), row("grass", "red", 0.1),  # class evidence
            row("fire", "black", 0.9), row("water", "black", 0.8), row("grass", "black", 0.7, significant=False),
            row("fire", "white", 0.1, bottleneck="conv3"), row("water", "white", 0.2, bottleneck="conv3"),
            row("grass", "white", 0.05, bottleneck="conv3")]  # lowers all
    marked = mark_class_independent(rows, ["fire", "water", "grass"])
    assert sorted(marked) == [("white", "conv3", 0.1), ("white", "pool1", 0.1)]
    assert {(r["concept"], r["bottleneck"]) for r in rows if r["class_independent"]} == {("white", "pool1"),
                                                                                          ("white", "conv3")}
