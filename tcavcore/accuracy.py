"""How often are a run's findings right? TCAV, the insertion test and both, scored against a known truth.

The truth (``truth.csv``, :mod:`worlds.truth`) is the model's measured dependence on each
(class, concept): the mean change of the class logit when the concept is put into the same
scene. A **real effect** is one at least ``threshold`` logit in size; its sign is its
direction. Then, for each kind of finding:

- **precision**: the share of findings whose direction is that of a real effect (a finding
  about a (class, concept) with no real effect, or the wrong way round, is wrong);
- **recall**: the share of real effects found in their direction (TCAV and confirmed
  findings: at some layer; the insertion test has one test per (class, concept)).

The same function scores one run for the report and every configuration for
``benchmarks/method_accuracy.py``.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Mapping, Sequence

from tcavcore.confirmation import checked_verdict

#: |measured effect| (logit) from which an effect counts as real; fixed before measuring.
REAL_EFFECT = 0.5
KINDS = ("tcav", "insertion", "confirmed")


@dataclasses.dataclass
class Counts:
    """Findings and how many were right; real effects and how many were found."""

    findings: int = 0
    right: int = 0
    real: int = 0
    found: int = 0

    def add(self, other: "Counts") -> None:
        """Add ``other``'s counts to these (pooling runs)."""
        for field in dataclasses.fields(self):
            setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))

    @property
    def precision(self) -> float:
        return self.right / self.findings if self.findings else math.nan

    @property
    def recall(self) -> float:
        return self.found / self.real if self.real else math.nan

    def text(self) -> str:
        """``precision (right/findings) recall (found/real)``, e.g. ``1.00 ( 54/54 ) 0.49 (19/39)``."""
        precision = f"{self.precision:.2f}" if self.findings else "  - "
        recall = f"{self.recall:.2f}" if self.real else "  - "
        return f"{precision} ({self.right:>3}/{self.findings:<3}) {recall} ({self.found:>2}/{self.real:<2})"


def _is_true(value: Any) -> bool:
    return value is True or str(value) == "True"


def score_findings(rows: Sequence[Mapping[str, Any]], effects: Mapping[tuple[str, str], float],
                   insertion: Mapping[tuple[str, str], Mapping[str, float]], significance: float,
                   threshold: float = REAL_EFFECT,
                   random_bounds: Mapping[str, tuple[float, float]] | None = None) -> dict[str, Counts]:
    """Precision and recall counts of TCAV alone, the insertion test alone and both (confirmed).

    ``rows``: score rows (``target``, ``concept``, ``significant``, ``score_mean``; as read
    from ``scores.csv`` or as the report holds them). ``effects``: measured effect per (class,
    concept). ``insertion``: per (class, concept) ``effect`` and ``p_adjusted``.
    ``random_bounds``: per class, the random sets' prediction interval a confirmation must
    clear (:func:`tcavcore.confirmation.random_interval`; none: no such check). Only pairs
    with a measured effect are scored.
    """
    random_bounds = random_bounds or {}
    real = {key: (1 if effect > 0 else -1) for key, effect in effects.items() if abs(effect) >= threshold}
    counts = {kind: Counts(real=len(real)) for kind in KINDS}
    found: dict[str, set] = {"tcav": set(), "confirmed": set()}
    for row in rows:
        key = (row["target"], row["concept"])
        if not _is_true(row["significant"]) or key not in effects:
            continue
        sign = 1 if float(row["score_mean"]) > 0.5 else -1
        right = real.get(key) == sign
        kinds = ["tcav"]
        test = insertion.get(key)
        if test is not None and checked_verdict("raises class" if sign > 0 else "lowers class", test["effect"],
                                                test["p_adjusted"], significance,
                                                random_bounds.get(key[0])).endswith("(confirmed)"):
            kinds.append("confirmed")
        for kind in kinds:
            counts[kind].findings += 1
            counts[kind].right += right
            if right:
                found[kind].add(key)
    for key, test in insertion.items():
        if key in effects and test["p_adjusted"] < significance:
            right = real.get(key) == (1 if test["effect"] > 0 else -1)
            counts["insertion"].findings += 1
            counts["insertion"].right += right
            counts["insertion"].found += right
    for kind, keys in found.items():
        counts[kind].found = len(keys)
    return counts
