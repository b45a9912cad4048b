"""How often are a run's findings right? TCAV, each intervention test and confirmed findings, against a known truth.

The truth (``truth.csv``, :mod:`worlds.truth`) is the model's measured dependence on each
(class, concept): the mean change of the class logit when the concept is put into the same
scene. A **real effect** is one at least ``threshold`` logit in size; its sign is its
direction. Then, for each kind of finding:

- **precision**: the share of findings whose direction is that of a real effect (a finding
  about a (class, concept) with no real effect, or the wrong way round, is wrong);
- **recall**: the share of real effects found in their direction (TCAV and confirmed
  findings: at some layer; the insertion, scene and object tests have one test per (class, concept)).

Precision is also counted against a weaker truth, when the effects' intervals are given: the
share of findings whose direction is that of a **measurable** effect (its interval excludes 0
on that side, whatever its size). That is how a held-out check may word it ("had the sign of
a measurable effect"), and what the ground-truth tests assert of confirmed findings.

The same function scores one run for the report and every configuration for
``benchmarks/method_accuracy.py``.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Mapping, Sequence

from tcavcore.confirmation import BY_SCENE, Checks, checked_with, size_certain

#: |measured effect| (logit) from which an effect counts as real; fixed before measuring.
REAL_EFFECT = 0.5
KINDS = ("tcav", "insertion", "scene", "object", "confirmed", "size_certain")


@dataclasses.dataclass
class Counts:
    """Findings and how many were right; real effects and how many were found."""

    findings: int = 0
    right: int = 0
    real: int = 0
    found: int = 0
    #: findings whose direction is that of a measurable effect (counted when the intervals are known)
    measurable: int = 0

    def add(self, other: "Counts") -> None:
        """Add ``other``'s counts to these (pooling runs)."""
        for field in dataclasses.fields(self):
            setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))

    @property
    def precision(self) -> float:
        return self.right / self.findings if self.findings else math.nan

    @property
    def measurable_precision(self) -> float:
        """The share of findings in the direction of a measurable effect (NaN without findings)."""
        return self.measurable / self.findings if self.findings else math.nan

    @property
    def recall(self) -> float:
        return self.found / self.real if self.real else math.nan

    def text(self) -> str:
        """``precision (right/findings) recall (found/real)``, e.g. ``1.00 ( 54/54 ) 0.49 (19/39)``."""
        precision = f"{self.precision:.2f}" if self.findings else "  - "
        recall = f"{self.recall:.2f}" if self.real else "  - "
        return f"{precision} ({self.right:>3}/{self.findings:<3}) {recall} ({self.found:>2}/{self.real:<2})"


def measured_sign(ci_low: float, ci_high: float) -> int:
    """+1 / -1 when a measured effect's interval lies wholly above / below 0: a measurable effect; else 0."""
    if ci_low > 0:
        return 1
    if ci_high < 0:
        return -1
    return 0


def _is_true(value: Any) -> bool:
    return value is True or str(value) == "True"


def checked_finding(key: tuple[str, str], sign: int, checks: Checks, significance: float) -> tuple[str, bool]:
    """The checked verdict of a significant TCAV finding about ``key`` (class, concept) in the direction
    ``sign``, as the report decides it from ``checks``, and whether its size is certain (confirmed by the
    scene test with its whole interval beyond the floor)."""
    insertion, scene = checks.readings(*key)
    verdict, by = checked_with("raises class" if sign > 0 else "lowers class", significance, insertion, scene,
                               checks.object_reading(*key))
    return verdict, by == BY_SCENE and size_certain(verdict, checks.scene[key], checks.min_effect)


def score_findings(rows: Sequence[Mapping[str, Any]], effects: Mapping[tuple[str, str], float], checks: Checks,
                   significance: float, threshold: float = REAL_EFFECT,
                   signs: Mapping[tuple[str, str], int] | None = None) -> dict[str, Counts]:
    """Precision and recall counts of TCAV alone, each test alone, confirmed findings, and those of them
    whose size is certain (:func:`tcavcore.confirmation.size_certain`).

    ``rows``: score rows (``target``, ``concept``, ``significant``, ``score_mean``; as read
    from ``scores.csv`` or as the report holds them). ``effects``: measured effect per (class,
    concept). ``checks``: the run's tests (:class:`tcavcore.confirmation.Checks`); a test
    alone counts as a finding when it is significant (the scene test: and at least
    ``checks.min_effect``), in its own direction; the object test alone: a significant raise whose
    whole interval lies beyond ``checks.min_effect`` (all it is used for). Only pairs with a
    measured effect are scored. ``signs``: each pair's :func:`measured_sign`, to count
    ``measurable`` (0 everywhere without it).
    """
    signs = signs or {}
    real = {key: (1 if effect > 0 else -1) for key, effect in effects.items() if abs(effect) >= threshold}
    counts = {kind: Counts(real=len(real)) for kind in KINDS}
    found: dict[str, set] = {"tcav": set(), "confirmed": set(), "size_certain": set()}
    for row in rows:
        key = (row["target"], row["concept"])
        if not _is_true(row["significant"]) or key not in effects:
            continue
        sign = 1 if float(row["score_mean"]) > 0.5 else -1
        right = real.get(key) == sign
        kinds = ["tcav"]
        verdict, certain = checked_finding(key, sign, checks, significance)
        if verdict.endswith("(confirmed)"):
            kinds.append("confirmed")
            if certain:
                kinds.append("size_certain")
        for kind in kinds:
            counts[kind].findings += 1
            counts[kind].right += right
            counts[kind].measurable += signs.get(key) == sign
            if right:
                found[kind].add(key)
    for kind, table, floor in (("insertion", checks.insertion, 0.0), ("scene", checks.scene, checks.min_effect)):
        for key, test in table.items():
            if key in effects and test["p_adjusted"] < significance and abs(test["effect"]) >= floor:
                way = 1 if test["effect"] > 0 else -1
                right = real.get(key) == way
                counts[kind].findings += 1
                counts[kind].right += right
                counts[kind].found += right
                counts[kind].measurable += signs.get(key) == way
    for key, test in checks.object.items():
        if key in effects and test["p_adjusted"] < significance and float(test["ci_low"]) >= checks.min_effect:
            right = real.get(key) == 1
            counts["object"].findings += 1
            counts["object"].right += right
            counts["object"].found += right
            counts["object"].measurable += signs.get(key) == 1
    for kind, keys in found.items():
        counts[kind].found = len(keys)
    return counts
