"""The numeric tests behind a TCAV verdict: t-tests, intervals, effect sizes, corrections.

Plain functions over score samples, each checked against scipy, statsmodels or a hand
calculation in the tests. Why Welch and not Student, and how they are combined into a
decision, is in :mod:`tcavcore.verdicts`.
"""

from __future__ import annotations

import math
import warnings
from typing import Sequence

import numpy as np
from scipy import stats as _scipy_stats
from statsmodels.stats.multitest import multipletests

#: Multiple-comparison corrections, by params name -> statsmodels ``multipletests`` method.
CORRECTIONS: dict[str, str | None] = {"holm": "holm", "bonferroni": "bonferroni", "bh": "fdr_bh", "none": None}


def _t_test(fn, *samples) -> float:
    """Run a scipy t-test, returning its p-value with warnings about constant samples muted.

    Constant samples make scipy warn about precision loss or division by zero; the NaN (0/0)
    or 0 (infinite t) it returns is the documented answer, so the warnings are noise.
    """
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return float(fn(*samples).pvalue)


def ttest_vs_random(concept_scores: Sequence[float], random_scores: Sequence[float]) -> float:
    """Two-sided p-value that the concept's TCAV scores differ from the random-vs-random ones.

    Welch's t-test (unequal variances): ``scipy.stats.ttest_ind(random, concept,
    equal_var=False)``. tcav itself uses Student's test; see the module docstring for why
    Welch. Returns NaN when the test is undefined: a sample of fewer than two values, a NaN
    score, or both samples constant and equal (0/0). Callers treat NaN as untestable, never
    significant. Two constant but different samples give p = 0 (t is infinite).
    """
    concept = np.asarray(concept_scores, dtype=float)
    random = np.asarray(random_scores, dtype=float)
    if concept.size < 2 or random.size < 2:
        return math.nan
    return _t_test(lambda r, c: _scipy_stats.ttest_ind(r, c, equal_var=False), random, concept)


def ttest_vs_half(concept_scores: Sequence[float]) -> float:
    """Two-sided p-value that the mean of the concept's TCAV scores differs from 0.5.

    The paper's test (Kim et al. 2018): a one-sample t-test against the score of a direction
    unrelated to the class. NaN with fewer than two scores or when every score is exactly
    0.5; a constant sample other than 0.5 gives p = 0.
    """
    concept = np.asarray(concept_scores, dtype=float)
    if concept.size < 2:
        return math.nan
    return _t_test(lambda c: _scipy_stats.ttest_1samp(c, 0.5), concept)


def mean_ci(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float]:
    """Student-t confidence interval for the mean of ``values``, clipped to [0, 1].

    TCAV scores are fractions, so the true mean lies in [0, 1]; the clip only trims the part of
    a t interval that is impossible. ``(nan, nan)`` with fewer than two values.
    """
    array = np.asarray(values, dtype=float)
    if array.size < 2:
        return math.nan, math.nan
    mean = float(np.mean(array))
    half_width = float(_scipy_stats.t.ppf(0.5 + confidence / 2, array.size - 1) * np.std(array, ddof=1) / math.sqrt(array.size))
    return max(0.0, mean - half_width), min(1.0, mean + half_width)


def cohens_d(concept_scores: Sequence[float], random_scores: Sequence[float]) -> float:
    """Effect size of concept vs random scores: (mean_c - mean_r) / sqrt((s_c^2 + s_r^2) / 2).

    Sample standard deviations (``ddof=1``); the unweighted average of the two variances, as
    suits Welch's test, where the groups' spreads are not assumed equal. |d| of 0.2, 0.5 and
    0.8 are Cohen's small, medium and large. NaN with fewer than two values in a sample or
    when both samples are constant (no spread to measure the difference in).
    """
    concept = np.asarray(concept_scores, dtype=float)
    random = np.asarray(random_scores, dtype=float)
    if concept.size < 2 or random.size < 2:
        return math.nan
    spread = math.sqrt((np.var(concept, ddof=1) + np.var(random, ddof=1)) / 2)
    if not spread > 0:
        return math.nan
    return float((np.mean(concept) - np.mean(random)) / spread)


def recognition_p_values(matrix: Sequence[Sequence[int]]) -> list[float]:
    """Per class, a one-sided p-value that the model recognises it better than chance.

    ``matrix`` is a confusion matrix (rows: true class, columns: predicted class). For class
    ``c`` the 2x2 table is (true c, not c) x (predicted c, not c); Fisher's exact test asks
    whether predicting ``c`` is more frequent among true-``c`` images than among the others.
    A model that predicts ``c`` for everything, or at random, gets a large p. NaN when the
    class has no images or every image is of that class.
    """
    counts = np.asarray(matrix, dtype=np.int64)
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1]:
        raise ValueError(f"a confusion matrix must be square, got shape {counts.shape}")
    p_values = []
    for c in range(len(counts)):
        hit = counts[c, c]
        miss = counts[c].sum() - hit
        false_alarm = counts[:, c].sum() - hit
        rest = counts.sum() - hit - miss - false_alarm
        if hit + miss == 0 or false_alarm + rest == 0:
            p_values.append(math.nan)
            continue
        table = [[hit, miss], [false_alarm, rest]]
        p_values.append(float(_scipy_stats.fisher_exact(table, alternative="greater").pvalue))
    return p_values


def adjust_p_values(p_values: Sequence[float], correction: str) -> list[float]:
    """Adjusted p-values of one family of tests (``correction`` a key of :data:`CORRECTIONS`).

    NaN entries (tests that could not be run) stay NaN and do not count in the family size.
    ``none`` returns the p-values unchanged.
    """
    if correction not in CORRECTIONS:
        raise ValueError(f"correction must be one of {', '.join(CORRECTIONS)}, got {correction!r}")
    values = np.asarray(p_values, dtype=float)
    adjusted = values.copy()
    tested = ~np.isnan(values)
    method = CORRECTIONS[correction]
    if method is not None and tested.any():
        adjusted[tested] = multipletests(values[tested], method=method)[1]
    return [float(value) for value in adjusted]


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and population standard deviation (``ddof=0``, as tcav); ``(nan, nan)`` if empty."""
    array = np.asarray(values, dtype=float)
    if array.size == 0:
        return math.nan, math.nan
    return float(np.mean(array)), float(np.std(array, ddof=0))


def nan_mean(values: Sequence[float]) -> float:
    """Mean over the non-NaN values; NaN (without a warning) when there are none."""
    array = np.asarray(values, dtype=float)
    array = array[~np.isnan(array)]
    return float(np.mean(array)) if array.size else math.nan
