"""Statistics over TCAV runs: summarise many CAVs per (class, concept, layer, alpha) and test them.

A *run* is one CAV: one row of the tcav stage's ``runs.csv``, a mapping with the keys
``target, concept, random, bottleneck, alpha, kind, score, magnitude, cav_accuracy,
n_examples``. ``kind == "concept"`` rows are concept-vs-random CAVs; ``kind == "random"`` rows
are random-vs-random CAVs, the null distribution (all ordered pairs of random sets, as the
reference tcav library builds it).

The summary follows tcav's ``utils.print_results`` / ``utils_plot``: mean and population
standard deviation (``ddof=0``) of the TCAV scores of a concept's CAVs, the same for the
random-vs-random CAVs of the same class and layer, and a two-sided Student t-test between them.
Two deliberate differences from tcav, both stricter:

- the null is pooled per (class, bottleneck, alpha); tcav pools random CAVs over alphas;
- ``significant`` is ``p < significance``; tcav calls ``p == significance`` significant.

Summarising is split into steps so that later statistics slot in without touching the rest:
:func:`group_runs` (rows -> groups and null pools), :func:`summarise_group` (per-group numbers,
no decision), :func:`decide_significance` (a pass over *all* groups, which is where a
multiple-comparison correction belongs), and :func:`summarise_runs` which runs them in order.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
from scipy import stats as _scipy_stats

#: Keys of every summary dict, in output (column) order.
SUMMARY_KEYS: tuple[str, ...] = (
    "target",
    "concept",
    "bottleneck",
    "alpha",
    "score_mean",
    "score_std",
    "random_mean",
    "random_std",
    "p_value",
    "significant",
    "cav_learnable",
    "cav_accuracy",
    "cav_accuracy_std",
    "magnitude_mean",
    "n_random",
    "n_examples",
)

#: Keys a run (one row of runs.csv) must have.
RUN_KEYS: tuple[str, ...] = (
    "target",
    "concept",
    "random",
    "bottleneck",
    "alpha",
    "kind",
    "score",
    "magnitude",
    "cav_accuracy",
    "n_examples",
)

KIND_CONCEPT = "concept"
KIND_RANDOM = "random"

#: (target, concept, bottleneck, alpha): one summarised group.
GroupKey = tuple[str, str, str, float]
#: (target, bottleneck, alpha): one pool of random-vs-random CAVs.
NullKey = tuple[str, str, float]


def ttest_vs_random(concept_scores: Sequence[float], random_scores: Sequence[float]) -> float:
    """Two-sided p-value that the concept's TCAV scores differ from the random-vs-random ones.

    Exactly tcav's test: ``scipy.stats.ttest_ind(random_scores, concept_scores)``, Student's
    t-test with equal variances. Returns NaN when the test is undefined: fewer than two values
    in total beyond one per sample (no degrees of freedom), an empty sample, a NaN score, or
    both samples constant and equal (0/0). Callers treat NaN as *not significant*; the report
    writes it as an empty cell (CSV) or ``null`` (JSON). Two constant but different samples
    give p = 0 (t is infinite), as in tcav.
    """
    concept = np.asarray(concept_scores, dtype=float)
    random = np.asarray(random_scores, dtype=float)
    if concept.size == 0 or random.size == 0 or concept.size + random.size < 3:
        return math.nan
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        # Constant samples make scipy warn about precision loss / division by zero; the NaN
        # (or infinite t) it returns is the documented answer, so the warnings are noise.
        warnings.simplefilter("ignore")
        _, p_value = _scipy_stats.ttest_ind(random, concept)
    return float(p_value)


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


def group_runs(
    rows: Iterable[Mapping[str, Any]],
) -> tuple[dict[GroupKey, list[Mapping[str, Any]]], dict[NullKey, list[Mapping[str, Any]]]]:
    """Split runs into concept groups and null pools, keeping first-appearance order.

    Concept groups are keyed by (target, concept, bottleneck, alpha) and hold the
    ``kind == "concept"`` rows; null pools are keyed by (target, bottleneck, alpha) and hold the
    ``kind == "random"`` rows. Raises ValueError on an unknown ``kind`` or on two rows for the
    same (target, concept, random, bottleneck, alpha).
    """
    groups: dict[GroupKey, list[Mapping[str, Any]]] = {}
    nulls: dict[NullKey, list[Mapping[str, Any]]] = {}
    seen: set[tuple[str, str, str, str, float]] = set()
    for row in rows:
        target, concept, bottleneck = str(row["target"]), str(row["concept"]), str(row["bottleneck"])
        alpha = float(row["alpha"])
        run_key = (target, concept, str(row["random"]), bottleneck, alpha)
        if run_key in seen:
            raise ValueError(
                "two runs for target={!r}, concept={!r}, random={!r}, bottleneck={!r}, alpha={!r}".format(*run_key)
            )
        seen.add(run_key)
        kind = row["kind"]
        if kind == KIND_CONCEPT:
            groups.setdefault((target, concept, bottleneck, alpha), []).append(row)
        elif kind == KIND_RANDOM:
            nulls.setdefault((target, bottleneck, alpha), []).append(row)
        else:
            raise ValueError(f"kind must be {KIND_CONCEPT!r} or {KIND_RANDOM!r}, got {kind!r} (run {run_key})")
    return groups, nulls


def summarise_group(
    key: GroupKey, concept_rows: Sequence[Mapping[str, Any]], random_rows: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """Numbers for one (target, concept, bottleneck, alpha) group against its null pool.

    Returns every key of :data:`SUMMARY_KEYS`; ``significant`` is left ``False`` here and set
    by :func:`decide_significance`, which sees all groups at once.
    """
    target, concept, bottleneck, alpha = key
    scores = [float(row["score"]) for row in concept_rows]
    random_scores = [float(row["score"]) for row in random_rows]
    score_mean, score_std = mean_std(scores)
    random_mean, random_std = mean_std(random_scores)
    accuracy_mean, accuracy_std = mean_std([float(row["cav_accuracy"]) for row in concept_rows])
    summary: dict[str, Any] = {
        "target": target,
        "concept": concept,
        "bottleneck": bottleneck,
        "alpha": alpha,
        "score_mean": score_mean,
        "score_std": score_std,
        "random_mean": random_mean,
        "random_std": random_std,
        "p_value": ttest_vs_random(scores, random_scores),
        "significant": False,
        "cav_accuracy": accuracy_mean,
        "cav_accuracy_std": accuracy_std,
        "magnitude_mean": nan_mean([float(row["magnitude"]) for row in concept_rows]),
        "n_random": len(concept_rows),
        # Class images scored; the same for every CAV of a class in a normal run. The minimum
        # is the honest figure should the tcav stage ever score fewer for some CAVs.
        "n_examples": min(int(row["n_examples"]) for row in concept_rows),
    }
    return summary


def decide_significance(summaries: Sequence[dict[str, Any]], significance: float,
                        min_cav_accuracy: float = 0.0) -> None:
    """Set ``cav_learnable`` and ``significant`` in place.

    ``cav_learnable``: the group's mean held-out CAV accuracy is at least
    ``min_cav_accuracy``. A CAV barely better than a coin flip does not point at the concept,
    so its score says nothing about it, however consistent: such a group is never
    significant. ``significant = cav_learnable and p_value < significance`` (False when the
    p-value is NaN).

    One pass over all groups: a multiple-comparison correction (adjusting the p-values of a
    family of tests before the decision) goes here.
    """
    if not 0 < significance < 1:
        raise ValueError(f"significance must be between 0 and 1, got {significance!r}")
    if not 0 <= min_cav_accuracy <= 1:
        raise ValueError(f"min_cav_accuracy must be between 0 and 1, got {min_cav_accuracy!r}")
    for summary in summaries:
        p_value = summary["p_value"]
        summary["cav_learnable"] = bool(summary["cav_accuracy"] >= min_cav_accuracy)
        summary["significant"] = bool(summary["cav_learnable"] and not math.isnan(p_value) and p_value < significance)


def _rank(order: Sequence[str] | None, values: Iterable[str]) -> dict[str, int]:
    """Position of each value: first as listed in ``order``, then unlisted ones as met."""
    ranks = {value: index for index, value in enumerate(order or [])}
    for value in values:
        ranks.setdefault(value, len(ranks))
    return ranks


def summarise_runs(
    rows: Iterable[Mapping[str, Any]],
    significance: float,
    *,
    targets: Sequence[str] | None = None,
    concepts: Sequence[str] | None = None,
    bottlenecks: Sequence[str] | None = None,
    min_cav_accuracy: float = 0.0,
) -> list[dict[str, Any]]:
    """One summary dict (keys :data:`SUMMARY_KEYS`) per (target, concept, bottleneck, alpha).

    ``min_cav_accuracy``: groups whose CAVs are less accurate on average are marked not
    learnable and never significant (see :func:`decide_significance`).

    Groups are the ``kind == "concept"`` rows; each is tested against the ``kind == "random"``
    rows of the same target, bottleneck and alpha. Order: targets as in ``targets``, then
    concepts as in ``concepts``, bottlenecks as in ``bottlenecks`` (values not listed follow
    the listed ones, in the order first met), alphas ascending.

    Raises ValueError when a group has no random-vs-random rows, naming its
    (target, bottleneck, alpha), and on malformed rows (see :func:`group_runs`).
    """
    groups, nulls = group_runs(rows)
    target_rank = _rank(targets, (key[0] for key in groups))
    concept_rank = _rank(concepts, (key[1] for key in groups))
    bottleneck_rank = _rank(bottlenecks, (key[2] for key in groups))

    def sort_key(key: GroupKey) -> tuple[int, int, int, float]:
        target, concept, bottleneck, alpha = key
        return target_rank[target], concept_rank[concept], bottleneck_rank[bottleneck], alpha

    summaries = []
    for key in sorted(groups, key=sort_key):
        target, _, bottleneck, alpha = key
        random_rows = nulls.get((target, bottleneck, alpha))
        if not random_rows:
            raise ValueError(
                f"no random-vs-random runs (kind={KIND_RANDOM!r}) for target={target!r}, "
                f"bottleneck={bottleneck!r}, alpha={alpha!r}: nothing to test the concept scores against"
            )
        summaries.append(summarise_group(key, groups[key], random_rows))
    decide_significance(summaries, significance, min_cav_accuracy)
    return [{key: summary[key] for key in SUMMARY_KEYS} for summary in summaries]
