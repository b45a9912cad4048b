"""tcavcore.significance: Welch and one-sample t-tests, intervals, effect size, corrections, recognition."""


from __future__ import annotations


import math


import numpy as np


import pytest


from scipy import stats as scipy_stats


from scipy.stats import ttest_ind


from tcavcore.records import SCORE_KEYS


from tcavcore.significance import (adjust_p_values, cohens_d, mean_ci, mean_std, recognition_p_values, ttest_vs_half,
                                   ttest_vs_random)


from tcavcore.verdicts import UNTESTABLE


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


def summary(p_random, accuracy=0.9, p_half=0.5, score=0.9):
    """A summary dict as summarise_group leaves it, for decide_significance."""
    row = {key: 0.5 for key in SCORE_KEYS}
    row.update(target="fire", score_mean=score, p_random=p_random, p_half=p_half, cav_accuracy=accuracy, verdict=UNTESTABLE)
    return row


def test_p_random_is_welchs_ttest():
    expected = ttest_ind(RANDOM_SCORES, CONCEPT_SCORES, equal_var=False)[1]
    assert ttest_vs_random(CONCEPT_SCORES, RANDOM_SCORES) == pytest.approx(expected, rel=1e-12)
    # By hand: Welch-Satterthwaite degrees of freedom; differs from Student's pooled test here.
    a, b = np.array(RANDOM_SCORES), np.array(CONCEPT_SCORES)
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    t = (a.mean() - b.mean()) / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1))
    by_hand = 2 * scipy_stats.t.sf(abs(t), df)
    assert ttest_vs_random(CONCEPT_SCORES, RANDOM_SCORES) == pytest.approx(by_hand, rel=1e-9)
    student = ttest_ind(RANDOM_SCORES, CONCEPT_SCORES)[1]
    assert not math.isclose(by_hand, student, rel_tol=1e-3)


def test_welch_is_not_fooled_by_a_wide_large_null():
    # A tight concept against a wide null of many more runs (the shape of a real run): Student's
    # pooled variance is dominated by the null's spread; Welch's test uses each sample's own.
    rng = np.random.default_rng(0)
    concept = list(0.8 + rng.normal(0, 0.02, 10))
    null = list(np.clip(rng.normal(0.5, 0.4, 90), 0, 1))
    assert ttest_vs_random(concept, null) < ttest_ind(null, concept)[1] / 10


def test_p_value_is_nan_when_undefined():
    assert math.isnan(ttest_vs_random([0.5, 0.5, 0.5], [0.5, 0.5, 0.5, 0.5]))  # 0 / 0
    assert math.isnan(ttest_vs_random([0.7], [0.5, 0.6]))  # one concept score: no variance
    assert math.isnan(ttest_vs_random([], [0.5, 0.6, 0.4]))
    # Constant but different samples are as significant as it gets (t is infinite).
    assert ttest_vs_random([1.0, 1.0, 1.0], [0.5, 0.5, 0.5]) == 0.0


def test_p_half_is_the_papers_one_sample_test_against_one_half():
    expected = scipy_stats.ttest_1samp(CONCEPT_SCORES, 0.5).pvalue
    assert ttest_vs_half(CONCEPT_SCORES) == pytest.approx(expected, rel=1e-12)
    assert ttest_vs_half([0.45, 0.55, 0.5, 0.52, 0.48]) > 0.5
    assert ttest_vs_half([1.0, 1.0, 1.0]) == 0.0
    assert math.isnan(ttest_vs_half([0.5, 0.5]))
    assert math.isnan(ttest_vs_half([0.9]))


def test_confidence_interval_is_the_t_interval_clipped_to_the_unit_range():
    low, high = mean_ci(CONCEPT_SCORES, 0.95)
    expected = scipy_stats.t.interval(0.95, len(CONCEPT_SCORES) - 1, loc=np.mean(CONCEPT_SCORES),
                                      scale=scipy_stats.sem(CONCEPT_SCORES))
    assert (low, high) == pytest.approx(expected, rel=1e-12)
    assert mean_ci(CONCEPT_SCORES, 0.99)[0] < low  # wider at a higher level
    assert mean_ci([0.9, 1.0, 1.0, 0.95], 0.95)[1] == 1.0  # clipped
    assert all(math.isnan(v) for v in mean_ci([0.4], 0.95))


def test_cohens_d_uses_the_average_of_the_two_variances():
    d = cohens_d(CONCEPT_SCORES, RANDOM_SCORES)
    spread = math.sqrt((np.var(CONCEPT_SCORES, ddof=1) + np.var(RANDOM_SCORES, ddof=1)) / 2)
    assert d == pytest.approx((np.mean(CONCEPT_SCORES) - np.mean(RANDOM_SCORES)) / spread)
    assert d > 0 and cohens_d(RANDOM_SCORES, CONCEPT_SCORES) == pytest.approx(-d)
    assert math.isnan(cohens_d([1.0, 1.0], [0.5, 0.5]))


@pytest.mark.parametrize("correction, expected", [
    ("holm", [0.04, 0.06, 0.06, 0.5]),  # step-down: 4p, 3p, max(2p, previous), p
    ("bonferroni", [0.04, 0.08, 0.12, 1.0]),
    ("bh", [0.04, 0.04, 0.04, 0.5]),
    ("none", [0.01, 0.02, 0.03, 0.5]),
])  # fmt: skip
def test_corrections_by_hand(correction, expected):
    assert adjust_p_values([0.01, 0.02, 0.03, 0.5], correction) == pytest.approx(expected)


def test_nan_p_values_stay_nan_and_leave_the_family():
    adjusted = adjust_p_values([0.01, math.nan, 0.02], "bonferroni")
    assert adjusted[0] == pytest.approx(0.02) and adjusted[2] == pytest.approx(0.04)  # family of 2, not 3
    assert math.isnan(adjusted[1])
    with pytest.raises(ValueError, match="correction"):
        adjust_p_values([0.1], "sidak")


def test_mean_std_is_population_std():
    mean, std = mean_std([0.2, 0.4, 0.6, 0.8])
    assert mean == pytest.approx(0.5)
    assert std == pytest.approx(math.sqrt(0.05))  # ddof=1 would give 0.258...
    assert all(math.isnan(v) for v in mean_std([]))


def test_recognition_is_fishers_exact_test_per_class():
    matrix = [[18, 1, 1], [2, 17, 1], [6, 7, 7]]
    p_values = recognition_p_values(matrix)
    # class 0 by hand: (predicted 0, not) x (true 0, not)
    expected = scipy_stats.fisher_exact([[18, 2], [8, 32]], alternative="greater").pvalue
    assert p_values[0] == pytest.approx(expected)
    assert p_values[0] < 1e-5 and p_values[1] < 1e-5
    assert p_values[2] < 0.05  # 7 of 20 right, but hardly ever predicted for the others


def test_chance_and_constant_predictions_are_not_recognised():
    assert all(p > 0.3 for p in recognition_p_values([[7, 7, 6], [7, 6, 7], [6, 7, 7]]))
    always_first = recognition_p_values([[20, 0, 0], [20, 0, 0], [20, 0, 0]])
    assert always_first[0] == 1.0 and all(p == 1.0 or math.isnan(p) for p in always_first[1:])
    assert math.isnan(recognition_p_values([[5, 0], [0, 0]])[1])  # no images of class 1
    with pytest.raises(ValueError, match="square"):
        recognition_p_values([[1, 2, 3]])
