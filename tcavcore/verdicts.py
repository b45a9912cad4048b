"""Verdicts over TCAV runs: summarise many CAVs per (class, concept, layer, alpha), test and judge them.

A *run* is one CAV: one row of the tcav stage's ``runs.csv``, a mapping with the keys
``target, concept, random, bottleneck, alpha, kind, score, magnitude, cav_accuracy,
n_examples``. ``kind == "concept"`` rows are concept-vs-random CAVs; ``kind == "random"`` rows
are random-vs-random CAVs, the null distribution (all ordered pairs of random sets, as the
reference tcav library builds it).

Per (target, concept, bottleneck, alpha) *group* this module computes:

- the mean and population standard deviation (``ddof=0``, as tcav) of the concept's TCAV
  scores over its CAVs (one per random set), and a confidence interval for the mean
  (Student t interval, clipped to [0, 1]);
- the same mean and spread for the random-vs-random CAVs of the same class and layer;
- the effect size: Cohen's d of concept vs random scores (difference of means over the root
  mean square of the two sample standard deviations, the form that matches Welch's test);
- two two-sided tests, both always reported:

  * ``p_random``: tcav's test, concept scores vs random-vs-random scores. **Welch's** t-test,
    not tcav's Student test: the two samples have very different spreads (a concept that
    matters scores near 0 or 1 every time, random CAVs scatter over [0, 1]; sd 0.1 vs 0.4 on
    the built-in run) and different sizes (n vs n(n-1)), which is exactly where Student's
    pooled variance misstates the p-value;
  * ``p_half``: the paper's test (Kim et al. 2018), concept scores vs 0.5 (one-sample t-test).

- a multiple-comparison correction of each test over the *family* of one run: every group
  tested (classes x concepts x bottlenecks x alphas). Holm by default; Bonferroni,
  Benjamini-Hochberg (``bh``, controls the false discovery rate instead of the family-wise
  error) or ``none`` selectable. The adjustment is statsmodels' ``multipletests``.
- a decision: ``significant`` when the CAVs are learnable and the *adjusted* p-value of the
  chosen test (``random`` or ``half``) is below the significance level.

CAV quality comes first: a group whose CAVs separate the concept from random images no better
than ``min_cav_accuracy`` (mean held-out accuracy) is "CAV not learnable here". It gets no
score, no test and no place in the family: such a CAV does not point at the concept, so a
score along it says nothing about the concept however consistent it is. Its accuracy is still
reported. Leaving it out of the family is independent filtering: the filter looks at CAV
accuracy, never at the scores being tested.

The model comes before both: TCAV explains how a model decides a class, so a class the model
does not recognise on held-out images (its predictions of the class are no more often right
than chance: one-sided Fisher exact test on the test split's confusion matrix, see
:func:`recognition_p_values`, the classes corrected as one family) has no decision to explain.
Its concepts are reported with their scores and raw p-values but are never significant and
leave the family. This matters: a network trained on random labels still responds to colour
in consistent directions, and on the built-in data TCAV's t-tests, even Holm-corrected, call
most concepts significant for it.

Summarising is split into steps: :func:`group_runs` (rows -> groups and null pools),
:func:`summarise_group` (per-group numbers, no decision), :func:`decide_significance` (a pass
over *all* groups: learnability, correction, decision) and :func:`summarise_runs` which runs
them in order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from tcavcore.records import KIND_CONCEPT, KIND_RANDOM, SCORE_KEYS, SUMMARY_KEYS
from tcavcore.significance import (CORRECTIONS, adjust_p_values, cohens_d, mean_ci, mean_std, nan_mean,
                                   ttest_vs_half, ttest_vs_random)

#: ``verdict`` values.
RAISES = "raises class"  # significant, score above 0.5: the concept pushes images toward the class
LOWERS = "lowers class"  # significant, score below 0.5: the concept pushes images away from it
NOT_SIGNIFICANT = "not significant"
NOT_LEARNABLE = "CAV not learnable here"
NOT_RECOGNISED = "model does not recognise class"  # held-out predictions no better than chance
UNTESTABLE = "untestable"  # the test is undefined (e.g. constant, equal samples)
VERDICTS: tuple[str, ...] = (RAISES, LOWERS, NOT_SIGNIFICANT, NOT_LEARNABLE, NOT_RECOGNISED, UNTESTABLE)


#: Which test decides ``significant``: tcav's (vs random CAVs) or the paper's (vs 0.5).
TESTS: dict[str, str] = {"random": "p_random", "half": "p_half"}


@dataclass(frozen=True)
class Decision:
    """How groups are judged: level, deciding test, correction, CAV accuracy floor, CI level."""

    significance: float = 0.05
    test: str = "random"
    correction: str = "holm"
    min_cav_accuracy: float = 0.0
    confidence: float = 0.95

    def __post_init__(self) -> None:
        if not 0 < self.significance < 1:
            raise ValueError(f"significance must be between 0 and 1, got {self.significance!r}")
        if not 0 <= self.min_cav_accuracy <= 1:
            raise ValueError(f"min_cav_accuracy must be between 0 and 1, got {self.min_cav_accuracy!r}")
        if not 0 < self.confidence < 1:
            raise ValueError(f"confidence must be between 0 and 1, got {self.confidence!r}")
        if self.test not in TESTS:
            raise ValueError(f"test must be one of {', '.join(TESTS)}, got {self.test!r}")
        if self.correction not in CORRECTIONS:
            raise ValueError(f"correction must be one of {', '.join(CORRECTIONS)}, got {self.correction!r}")


#: (target, concept, bottleneck, alpha): one summarised group.
GroupKey = tuple[str, str, str, float]


#: (target, bottleneck, alpha): one pool of random-vs-random CAVs.
NullKey = tuple[str, str, float]


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
    key: GroupKey,
    concept_rows: Sequence[Mapping[str, Any]],
    random_rows: Sequence[Mapping[str, Any]],
    confidence: float = 0.95,
) -> dict[str, Any]:
    """Numbers for one (target, concept, bottleneck, alpha) group against its null pool.

    Returns every key of :data:`SUMMARY_KEYS` with raw p-values; the adjusted p-values,
    ``cav_learnable``, ``significant`` and ``verdict`` are placeholders here, set by
    :func:`decide_significance`, which sees all groups at once.
    """
    target, concept, bottleneck, alpha = key
    scores = [float(row["score"]) for row in concept_rows]
    random_scores = [float(row["score"]) for row in random_rows]
    score_mean, score_std = mean_std(scores)
    ci_low, ci_high = mean_ci(scores, confidence)
    random_mean, random_std = mean_std(random_scores)
    accuracy_mean, accuracy_std = mean_std([float(row["cav_accuracy"]) for row in concept_rows])
    p_random = ttest_vs_random(scores, random_scores)
    p_half = ttest_vs_half(scores)
    return {
        "target": target,
        "concept": concept,
        "bottleneck": bottleneck,
        "alpha": alpha,
        "verdict": UNTESTABLE,
        "score_mean": score_mean,
        "score_std": score_std,
        "score_ci_low": ci_low,
        "score_ci_high": ci_high,
        "random_mean": random_mean,
        "random_std": random_std,
        "effect_size": cohens_d(scores, random_scores),
        "p_random": p_random,
        "p_random_adjusted": p_random,
        "p_half": p_half,
        "p_half_adjusted": p_half,
        "significant": False,
        "cav_learnable": True,
        "cav_accuracy": accuracy_mean,
        "cav_accuracy_std": accuracy_std,
        "magnitude_mean": nan_mean([float(row["magnitude"]) for row in concept_rows]),
        "n_random": len(concept_rows),
        # Class images scored; the same for every CAV of a class in a normal run. The minimum
        # is the honest figure should the tcav stage ever score fewer for some CAVs.
        "n_examples": min(int(row["n_examples"]) for row in concept_rows),
        "n_concept": min(int(row["n_concept"]) for row in concept_rows),
        "n_random_images": min(int(row["n_random_images"]) for row in concept_rows),
        "small_sets": False,
        "class_independent": False,
    }


def decide_significance(summaries: Sequence[dict[str, Any]], decision: Decision,
                        unrecognised: Iterable[str] = ()) -> None:
    """Set ``cav_learnable``, the adjusted p-values, ``significant`` and ``verdict`` in place.

    0. Groups of a class in ``unrecognised`` (the model does not recognise it, see
       :func:`recognition_p_values`) keep their scores and raw p-values, get NaN adjusted
       p-values and the verdict :data:`NOT_RECOGNISED`, and leave the family.
    1. ``cav_learnable``: mean held-out CAV accuracy >= ``decision.min_cav_accuracy``. A group
       that is not learnable has its score columns (:data:`SCORE_KEYS`) set to NaN and the
       verdict :data:`NOT_LEARNABLE`; it leaves the family.
    2. Each test's p-values are adjusted over the family: every learnable group whose p-value
       is defined.
    3. ``significant``: the adjusted p-value of ``decision.test`` is below the level. The
       verdict then says which way (:data:`RAISES` for a mean score above 0.5, else
       :data:`LOWERS`); otherwise :data:`NOT_SIGNIFICANT`, or :data:`UNTESTABLE` when the
       deciding p-value is NaN.
    """
    unrecognised = set(unrecognised)
    family = []
    for summary in summaries:
        summary["cav_learnable"] = bool(summary["cav_accuracy"] >= decision.min_cav_accuracy)
        if not summary["cav_learnable"]:
            for key in SCORE_KEYS:
                summary[key] = math.nan
        elif summary["target"] in unrecognised:
            for raw_key in TESTS.values():
                summary[f"{raw_key}_adjusted"] = math.nan
        else:
            family.append(summary)
    for raw_key in TESTS.values():
        adjusted = adjust_p_values([summary[raw_key] for summary in family], decision.correction)
        for summary, value in zip(family, adjusted):
            summary[f"{raw_key}_adjusted"] = value
    deciding = f"{TESTS[decision.test]}_adjusted"
    for summary in summaries:
        p_value = summary[deciding]
        summary["significant"] = bool(summary["cav_learnable"] and p_value < decision.significance)
        if not summary["cav_learnable"]:
            summary["verdict"] = NOT_LEARNABLE
        elif summary["target"] in unrecognised:
            summary["verdict"] = NOT_RECOGNISED
        elif math.isnan(p_value):
            summary["verdict"] = UNTESTABLE
        elif summary["significant"]:
            summary["verdict"] = RAISES if summary["score_mean"] > 0.5 else LOWERS
        else:
            summary["verdict"] = NOT_SIGNIFICANT


def _rank(order: Sequence[str] | None, values: Iterable[str]) -> dict[str, int]:
    """Position of each value: first as listed in ``order``, then unlisted ones as met."""
    ranks = {value: index for index, value in enumerate(order or [])}
    for value in values:
        ranks.setdefault(value, len(ranks))
    return ranks


def summarise_runs(
    rows: Iterable[Mapping[str, Any]],
    decision: Decision = Decision(),
    *,
    targets: Sequence[str] | None = None,
    concepts: Sequence[str] | None = None,
    bottlenecks: Sequence[str] | None = None,
    unrecognised: Iterable[str] = (),
) -> list[dict[str, Any]]:
    """One summary dict (keys :data:`SUMMARY_KEYS`) per (target, concept, bottleneck, alpha).

    Groups are the ``kind == "concept"`` rows; each is tested against the ``kind == "random"``
    rows of the same target, bottleneck and alpha, then all are judged together by
    :func:`decide_significance` under ``decision`` (``unrecognised``: classes the model does
    not recognise, never significant). Order: targets as in ``targets``, then
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
        summaries.append(summarise_group(key, groups[key], random_rows, decision.confidence))
    decide_significance(summaries, decision, unrecognised)
    for summary in summaries:  # no test on images yet (tcavcore.confirmation.apply_checks adds them)
        summary.update({key: math.nan for key in SUMMARY_KEYS[SUMMARY_KEYS.index("insertion_effect"):]})
        summary["confirmed"], summary["confirmed_by"], summary["size_certain"] = False, "", False
    return [{key: summary[key] for key in SUMMARY_KEYS} for summary in summaries]


def mark_small_sets(summaries: Sequence[dict[str, Any]], min_images: int) -> list[dict[str, Any]]:
    """Set ``small_sets`` in place: the concept or one of its random sets has fewer than
    ``min_images`` images (``tcav.min_concept_images``). Returns the rows marked."""
    marked = []
    for summary in summaries:
        summary["small_sets"] = bool(min(summary["n_concept"], summary["n_random_images"]) < min_images)
        if summary["small_sets"]:
            marked.append(summary)
    return marked


def mark_class_independent(summaries: Sequence[dict[str, Any]], targets: Sequence[str]) -> list[tuple[str, str, float]]:
    """Set ``class_independent`` in place; return the (concept, bottleneck, alpha) groups marked.

    A concept that is significant the same way (every score above 0.5, or every one below) for
    *every* class of ``targets`` at a layer is a direction along which the network grows more
    (or less) confident in whatever it already predicts: not evidence about any one class.
    """
    groups: dict[tuple[str, str, float], list[dict[str, Any]]] = {}
    for summary in summaries:
        summary["class_independent"] = False
        groups.setdefault((summary["concept"], summary["bottleneck"], float(summary["alpha"])), []).append(summary)
    marked = []
    for key, group in groups.items():
        if len(targets) < 2 or sorted(r["target"] for r in group) != sorted(targets):
            continue
        if not all(r["significant"] and math.isfinite(r["score_mean"]) for r in group):
            continue
        sides = {r["score_mean"] > 0.5 for r in group}
        if len(sides) == 1:
            for r in group:
                r["class_independent"] = True
            marked.append(key)
    return marked
