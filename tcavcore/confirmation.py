"""A TCAV finding checked by the insertion test: confirmed, not confirmed or contradicted.

TCAV says that a concept's direction scores differently from random directions; the insertion
test (:mod:`tcavcore.insertion`) says whether putting the concept's content into the class's
images moves the class logit. A finding is **confirmed** when TCAV is significant and the
insertion effect is significant (after its own correction over the run) in the same
direction; **contradicted** when the insertion effect is significant the other way; **not
confirmed** otherwise (no measurable insertion effect).
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

from tcavcore.verdicts import LOWERS, RAISES

RAISES_CONFIRMED = f"{RAISES} (confirmed)"
RAISES_UNCONFIRMED = f"{RAISES} (not confirmed)"
LOWERS_CONFIRMED = f"{LOWERS} (confirmed)"
LOWERS_UNCONFIRMED = f"{LOWERS} (not confirmed)"
CONTRADICTED = "contradicted"
CHECKED_VERDICTS = (RAISES_CONFIRMED, RAISES_UNCONFIRMED, LOWERS_CONFIRMED, LOWERS_UNCONFIRMED, CONTRADICTED)

#: Columns the check adds to every summary row.
INSERTION_KEYS = ("insertion_effect", "insertion_ci_low", "insertion_ci_high", "insertion_p",
                  "insertion_p_adjusted", "confirmed")

#: Status of a finding, for charts: confirmed, unconfirmed, contradicted, or none (not significant).
STATUS_CONFIRMED, STATUS_UNCONFIRMED, STATUS_CONTRADICTED = "confirmed", "unconfirmed", "contradicted"


def empty_columns() -> dict[str, Any]:
    """The insertion columns of a row that has no insertion test."""
    return {"insertion_effect": math.nan, "insertion_ci_low": math.nan, "insertion_ci_high": math.nan,
            "insertion_p": math.nan, "insertion_p_adjusted": math.nan, "confirmed": False}


def checked_verdict(verdict: str, insertion_effect: float, insertion_p_adjusted: float, significance: float) -> str:
    """The verdict of a TCAV finding once the insertion test is known (other verdicts unchanged)."""
    if verdict not in (RAISES, LOWERS):
        return verdict
    tcav_sign = 1 if verdict == RAISES else -1
    if not (insertion_p_adjusted < significance) or insertion_effect == 0 or math.isnan(insertion_effect):
        return RAISES_UNCONFIRMED if verdict == RAISES else LOWERS_UNCONFIRMED
    if (insertion_effect > 0) == (tcav_sign > 0):
        return RAISES_CONFIRMED if verdict == RAISES else LOWERS_CONFIRMED
    return CONTRADICTED


def adjusted_insertion(insertion: Mapping[tuple[str, str], Mapping[str, float]],
                       correction: str) -> dict[tuple[str, str], dict[str, float]]:
    """The tests with ``p_adjusted``: their p-values corrected over all of them (the run's family)."""
    from tcavcore.significance import adjust_p_values

    keys = sorted(insertion)
    adjusted = adjust_p_values([float(insertion[key]["p"]) for key in keys], correction)
    return {key: {**insertion[key], "p_adjusted": float(p)} for key, p in zip(keys, adjusted)}


def apply_insertion(rows: Sequence[dict[str, Any]], insertion: Mapping[tuple[str, str], Mapping[str, float]],
                    significance: float, correction: str) -> None:
    """Add :data:`INSERTION_KEYS` to every summary row in place and refine its verdict.

    ``insertion[(target, concept)]`` holds ``effect, ci_low, ci_high, p`` of the test (the
    insertion stage's table); the p-values are adjusted over the whole table with
    ``correction`` (as the TCAV tests are over theirs). A row whose (target, concept) has no
    test keeps its verdict and gets empty columns.
    """
    insertion = adjusted_insertion(insertion, correction)
    for row in rows:
        test = insertion.get((row["target"], row["concept"]))
        if test is None:
            row.update(empty_columns())
            continue
        row.update({"insertion_effect": float(test["effect"]), "insertion_ci_low": float(test["ci_low"]),
                    "insertion_ci_high": float(test["ci_high"]), "insertion_p": float(test["p"]),
                    "insertion_p_adjusted": float(test["p_adjusted"])})
        row["verdict"] = checked_verdict(row["verdict"], row["insertion_effect"], row["insertion_p_adjusted"],
                                         significance)
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
