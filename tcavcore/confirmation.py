"""A TCAV finding checked by the insertion test: confirmed, not confirmed or contradicted.

TCAV says that a concept's direction scores differently from random directions; the insertion
test (:mod:`tcavcore.insertion`) says whether putting the concept's content into the class's
images moves the class logit. A finding is **confirmed** when TCAV is significant, the
insertion effect is significant (after its own correction over the run) in the same
direction, and it lies beyond what random content does: outside, on the finding's side, the
prediction interval of the same test run with each held-out random set as the "concept"
(:func:`random_interval`; the insertion stage's ``insertion_random.csv``). It is the
insertion analogue of TCAV's own comparison with random directions: any window of content
moves a class a little, and a concept is only evidence when it moves it more than a new
random set would. **Contradicted** when the insertion effect is significant the other way;
**not confirmed** otherwise (no measurable insertion effect, or none beyond random content).
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np

from tcavcore.verdicts import LOWERS, RAISES

RAISES_CONFIRMED = f"{RAISES} (confirmed)"
RAISES_UNCONFIRMED = f"{RAISES} (not confirmed)"
LOWERS_CONFIRMED = f"{LOWERS} (confirmed)"
LOWERS_UNCONFIRMED = f"{LOWERS} (not confirmed)"
CONTRADICTED = "contradicted"
CHECKED_VERDICTS = (RAISES_CONFIRMED, RAISES_UNCONFIRMED, LOWERS_CONFIRMED, LOWERS_UNCONFIRMED, CONTRADICTED)

#: Columns the check adds to every summary row.
INSERTION_KEYS = ("insertion_effect", "insertion_ci_low", "insertion_ci_high", "insertion_p",
                  "insertion_p_adjusted", "insertion_random_low", "insertion_random_high", "confirmed")

#: Status of a finding, for charts: confirmed, unconfirmed, contradicted, or none (not significant).
STATUS_CONFIRMED, STATUS_UNCONFIRMED, STATUS_CONTRADICTED = "confirmed", "unconfirmed", "contradicted"


def empty_columns() -> dict[str, Any]:
    """The insertion columns of a row that has no insertion test."""
    return {"insertion_effect": math.nan, "insertion_ci_low": math.nan, "insertion_ci_high": math.nan,
            "insertion_p": math.nan, "insertion_p_adjusted": math.nan, "insertion_random_low": math.nan,
            "insertion_random_high": math.nan, "confirmed": False}


def random_interval(effects: Sequence[float], confidence: float) -> tuple[float, float]:
    """Where the insertion effect of a new random set is expected to fall, at ``confidence``.

    ``effects``: the insertion effects, on one class, of the random sets tested as concepts
    (held out from the carriers). The prediction interval of one more draw from their
    distribution, assumed normal: mean ± t(n - 1) x sd x sqrt(1 + 1/n) (wider than the
    range of a few sets, as it must be to hold a new one ``confidence`` of the time). NaN
    bounds when fewer than two effects are finite: then no comparison with random content
    is possible.
    """
    from scipy import stats

    values = np.asarray([e for e in effects if math.isfinite(e)], dtype=np.float64)
    n = len(values)
    if n < 2:
        return math.nan, math.nan
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1) * values.std(ddof=1) * math.sqrt(1 + 1 / n))
    return float(values.mean() - half), float(values.mean() + half)


def random_intervals(random_tests: Mapping[tuple[str, str], Mapping[str, float]],
                     confidence: float) -> dict[str, tuple[float, float]]:
    """:func:`random_interval` per class, from the random sets' tests keyed by (class, random set)."""
    by_class: dict[str, list[float]] = {}
    for (target, _), test in sorted(random_tests.items()):
        by_class.setdefault(target, []).append(float(test["effect"]))
    return {target: random_interval(effects, confidence) for target, effects in by_class.items()}


def beyond_random(effect: float, sign: int, interval: tuple[float, float] | None) -> bool:
    """Is ``effect`` outside ``interval`` on the side of ``sign``? True when there is no interval."""
    if interval is None or not all(math.isfinite(bound) for bound in interval):
        return True
    return effect > interval[1] if sign > 0 else effect < interval[0]


def checked_verdict(verdict: str, insertion_effect: float, insertion_p_adjusted: float, significance: float,
                    random_bounds: tuple[float, float] | None = None) -> str:
    """The verdict of a TCAV finding once the insertion test is known (other verdicts unchanged).

    ``random_bounds``: the class's :func:`random_interval`; a confirmation needs the effect
    beyond it (None, or NaN bounds: no such comparison).
    """
    if verdict not in (RAISES, LOWERS):
        return verdict
    tcav_sign = 1 if verdict == RAISES else -1
    if not (insertion_p_adjusted < significance) or insertion_effect == 0 or math.isnan(insertion_effect):
        return RAISES_UNCONFIRMED if verdict == RAISES else LOWERS_UNCONFIRMED
    if (insertion_effect > 0) != (tcav_sign > 0):
        return CONTRADICTED
    if not beyond_random(insertion_effect, tcav_sign, random_bounds):
        return RAISES_UNCONFIRMED if verdict == RAISES else LOWERS_UNCONFIRMED
    return RAISES_CONFIRMED if verdict == RAISES else LOWERS_CONFIRMED


def adjusted_insertion(insertion: Mapping[tuple[str, str], Mapping[str, float]],
                       correction: str) -> dict[tuple[str, str], dict[str, float]]:
    """The tests with ``p_adjusted``: their p-values corrected over all of them (the run's family)."""
    from tcavcore.significance import adjust_p_values

    keys = sorted(insertion)
    adjusted = adjust_p_values([float(insertion[key]["p"]) for key in keys], correction)
    return {key: {**insertion[key], "p_adjusted": float(p)} for key, p in zip(keys, adjusted)}


def apply_insertion(rows: Sequence[dict[str, Any]], insertion: Mapping[tuple[str, str], Mapping[str, float]],
                    significance: float, correction: str,
                    random_bounds: Mapping[str, tuple[float, float]] | None = None) -> None:
    """Add :data:`INSERTION_KEYS` to every summary row in place and refine its verdict.

    ``insertion[(target, concept)]`` holds ``effect, ci_low, ci_high, p`` of the test (the
    insertion stage's table); the p-values are adjusted over the whole table with
    ``correction`` (as the TCAV tests are over theirs). A row whose (target, concept) has no
    test keeps its verdict and gets empty columns. ``random_bounds``: per class, the random
    sets' :func:`random_interval` a confirmation must clear (a class without one: none).
    """
    insertion = adjusted_insertion(insertion, correction)
    random_bounds = random_bounds or {}
    for row in rows:
        test = insertion.get((row["target"], row["concept"]))
        if test is None:
            row.update(empty_columns())
            continue
        row.update({"insertion_effect": float(test["effect"]), "insertion_ci_low": float(test["ci_low"]),
                    "insertion_ci_high": float(test["ci_high"]), "insertion_p": float(test["p"]),
                    "insertion_p_adjusted": float(test["p_adjusted"])})
        bounds = random_bounds.get(row["target"], (math.nan, math.nan))
        row["insertion_random_low"], row["insertion_random_high"] = bounds
        row["verdict"] = checked_verdict(row["verdict"], row["insertion_effect"], row["insertion_p_adjusted"],
                                         significance, bounds)
        row["confirmed"] = row["verdict"] in (RAISES_CONFIRMED, LOWERS_CONFIRMED)


def status(row: Mapping[str, Any]) -> str | None:
    """``confirmed``, ``unconfirmed``, ``contradicted`` for a significant finding; None otherwise."""
    verdict = row["verdict"]
    if verdict in (RAISES_CONFIRMED, LOWERS_CONFIRMED):
        return STATUS_CONFIRMED
    if verdict == CONTRADICTED:
        return STATUS_CONTRADICTED
    if verdict in (RAISES_UNCONFIRMED, LOWERS_UNCONFIRMED, RAISES, LOWERS):
        return STATUS_UNCONFIRMED
    return None
