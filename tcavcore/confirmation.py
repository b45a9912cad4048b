"""A TCAV finding checked by intervention: confirmed, not confirmed or contradicted.

TCAV says that a concept's direction scores differently from random directions; three tests on
images say whether putting the concept's content into pictures moves the class logit:

- the **scene test** (:mod:`tcavcore.scene`): a blob of the concept on the background of the
  class's own images against blobs of random content in the same places. It *agrees* with a
  finding when its effect is significant (after its own correction over the run) in the same
  direction, lies beyond what random content does (outside, on the finding's side, the
  prediction interval of the random sets' own scene effects: :func:`random_interval`), **and is
  at least ``min_effect`` logit in size** (``insertion.min_effect``: the size the accuracy tables
  call a real effect; the scene test's effects are on the known truth's scale).
- the **insertion test** (:mod:`tcavcore.insertion`): a window of the concept on random images,
  where the class is absent, against the images' own content moved there; its random sets are
  the held-out ones (``insertion_random.csv``).

- the **object test** (:mod:`tcavcore.scene`, ``where="object"``): a larger blob of the concept
  *on* the object (the places where blurring moves the class logit most) against the random
  sets' blobs there. It sees a class's own cue, which a blob beside the object hardly shows,
  but also content the model merely reads as that cue; so it agrees only with a **raise**,
  only when its whole interval lies beyond ``min_effect`` (not its estimate alone) and beyond
  what random content does, and it never contradicts.

A test *contradicts* a finding when its effect is significant the other way (the scene test:
and at least ``min_effect``). A finding is **contradicted** when the insertion or the scene
test contradicts it, **confirmed** when neither does and the scene test agrees (or, for a
raise, the object test does), **not confirmed** otherwise.

A finding confirmed by the scene test has its **size certain** (``size_certain``) when its whole
interval, not only its estimate, lies beyond ``min_effect`` on the finding's side. The
direction of confirmed findings was right at least 0.97 of the time on every set of models
measured; where they were wrong, it was mostly on size (an effect the right way but under 0.5
logit in the truth, on the texture worlds), and every wrong one's interval reached under the
floor: the size-certain ones were right every time (README "Measured accuracy").

Why the insertion test does not confirm on its own: over six seeds and ten draws of both
tests, its confirmations were right 0.99 of the time on the colour world but 0.66 on the
texture world, where a concept's images carry other cues (dark marks read as stripes) that
move a class on images without it but not beside it; the scene test's were right 1.00 on both
on those (earlier) models, and 1.00 and 0.90 on the new ones (README "Measured accuracy").
With the scene test off (``insertion.scene: false``) the insertion test confirms, as before
2026-12-06.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from tcavcore.verdicts import LOWERS, RAISES

RAISES_CONFIRMED = f"{RAISES} (confirmed)"
RAISES_UNCONFIRMED = f"{RAISES} (not confirmed)"
LOWERS_CONFIRMED = f"{LOWERS} (confirmed)"
LOWERS_UNCONFIRMED = f"{LOWERS} (not confirmed)"
CONTRADICTED = "contradicted"
CHECKED_VERDICTS = (RAISES_CONFIRMED, RAISES_UNCONFIRMED, LOWERS_CONFIRMED, LOWERS_UNCONFIRMED, CONTRADICTED)

#: Columns the checks add to every summary row.
INSERTION_KEYS = ("insertion_effect", "insertion_ci_low", "insertion_ci_high", "insertion_p",
                  "insertion_p_adjusted", "insertion_random_low", "insertion_random_high",
                  "scene_effect", "scene_ci_low", "scene_ci_high", "scene_p", "scene_p_adjusted",
                  "scene_random_low", "scene_random_high", "object_effect", "object_ci_low", "object_ci_high",
                  "object_p", "object_p_adjusted", "object_random_low", "object_random_high",
                  "confirmed", "confirmed_by", "size_certain")
#: ``confirmed_by`` values: the test that confirmed a finding (the insertion test only with the scene test off;
#: the object test only a raise the scene test does not confirm).
BY_INSERTION, BY_SCENE, BY_OBJECT = "insertion", "scene", "object"

#: Status of a finding, for charts: confirmed, unconfirmed, contradicted, or none (not significant).
STATUS_CONFIRMED, STATUS_UNCONFIRMED, STATUS_CONTRADICTED = "confirmed", "unconfirmed", "contradicted"


def empty_columns() -> dict[str, Any]:
    """The check columns of a row that has no test."""
    return {**{key: math.nan for key in INSERTION_KEYS}, "confirmed": False, "confirmed_by": "", "size_certain": False}


@dataclass(frozen=True)
class Reading:
    """One test of a (class, concept) as a verdict reads it.

    ``bounds``: the class's :func:`random_interval` the effect must clear (None or NaN: no
    comparison with random content); ``min_effect``: the smallest |effect| that counts either
    way (0 for the insertion test).
    """

    effect: float
    p_adjusted: float
    bounds: tuple[float, float] | None = None
    min_effect: float = 0.0
    interval: tuple[float, float] | None = None

    def certain(self, sign: int) -> bool:
        """Does its whole interval lie beyond ``min_effect`` on the side of ``sign``? False without an interval."""
        if self.interval is None:
            return False
        return interval_beyond({"ci_low": self.interval[0], "ci_high": self.interval[1]}, sign, self.min_effect)

    def says(self, sign: int, significance: float) -> int:
        """+1 when it agrees with a finding of direction ``sign`` (+1 raises, -1 lowers), -1 when it
        contradicts it, 0 when it says neither."""
        effect = self.effect
        if not (self.p_adjusted < significance) or math.isnan(effect) or effect == 0 or abs(effect) < self.min_effect:
            return 0
        if (effect > 0) != (sign > 0):
            return -1
        return 1 if beyond_random(effect, sign, self.bounds) else 0


@dataclass(frozen=True)
class Checks:
    """A run's tests per (class, concept), their p-values adjusted, and what a confirmation needs.

    Build it with :meth:`of`; :meth:`readings` gives the insertion and scene tests of one (class,
    concept), :meth:`object_reading` its object test.
    """

    insertion: Mapping[tuple[str, str], Mapping[str, float]]
    insertion_bounds: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    scene: Mapping[tuple[str, str], Mapping[str, float]] = field(default_factory=dict)
    scene_bounds: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    min_effect: float = 0.0
    object: Mapping[tuple[str, str], Mapping[str, float]] = field(default_factory=dict)
    object_bounds: Mapping[str, tuple[float, float]] = field(default_factory=dict)

    @classmethod
    def of(cls, insertion: Mapping[tuple[str, str], Mapping[str, float]], correction: str, *,
           insertion_bounds: Mapping[str, tuple[float, float]] | None = None,
           scene: Mapping[tuple[str, str], Mapping[str, float]] | None = None,
           scene_bounds: Mapping[str, tuple[float, float]] | None = None, min_effect: float = 0.0,
           object: Mapping[tuple[str, str], Mapping[str, float]] | None = None,
           object_bounds: Mapping[str, tuple[float, float]] | None = None) -> "Checks":
        """The tests as the stage wrote them (``effect, ci_low, ci_high, p``), each family adjusted with ``correction``."""
        return cls(adjusted_insertion(insertion, correction), dict(insertion_bounds or {}),
                   adjusted_insertion(scene or {}, correction), dict(scene_bounds or {}), float(min_effect),
                   adjusted_insertion(object or {}, correction), dict(object_bounds or {}))

    def object_reading(self, target: str, concept: str) -> Reading | None:
        """The object test's :class:`Reading` of (target, concept), with its interval; None where not run."""
        test = self.object.get((target, concept))
        if test is None:
            return None
        return Reading(float(test["effect"]), float(test["p_adjusted"]), self.object_bounds.get(target),
                       self.min_effect, (float(test["ci_low"]), float(test["ci_high"])))

    def readings(self, target: str, concept: str) -> tuple[Reading | None, Reading | None]:
        """The insertion test's and the scene test's :class:`Reading` of (target, concept); None where not run."""
        key = (target, concept)
        insertion = self.insertion.get(key)
        scene = self.scene.get(key)
        return (None if insertion is None else Reading(float(insertion["effect"]), float(insertion["p_adjusted"]),
                                                        self.insertion_bounds.get(target)),
                None if scene is None else Reading(float(scene["effect"]), float(scene["p_adjusted"]),
                                                    self.scene_bounds.get(target), self.min_effect))


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


def interval_beyond(test: Mapping[str, float], sign: int, floor: float) -> bool:
    """Does the whole interval of ``test`` (``ci_low``, ``ci_high``) lie beyond ``floor`` on the side of ``sign``?

    False when the test has no interval: then its size is not shown.
    """
    bound = float(test.get("ci_low", math.nan)) if sign > 0 else -float(test.get("ci_high", math.nan))
    return math.isfinite(bound) and bound >= floor


def size_certain(verdict: str, test: Mapping[str, float] | None, floor: float) -> bool:
    """Is a checked ``verdict`` confirmed with the scene ``test``'s whole interval beyond ``floor`` its way?"""
    if verdict not in (RAISES_CONFIRMED, LOWERS_CONFIRMED) or test is None:
        return False
    return interval_beyond(test, 1 if verdict == RAISES_CONFIRMED else -1, floor)


def checked_verdict(verdict: str, significance: float, insertion: Reading | None = None,
                    scene: Reading | None = None, on_object: Reading | None = None) -> str:
    """The verdict of a TCAV finding once its tests are known (other verdicts unchanged)."""
    return checked_with(verdict, significance, insertion, scene, on_object)[0]


def checked_with(verdict: str, significance: float, insertion: Reading | None = None, scene: Reading | None = None,
                 on_object: Reading | None = None) -> tuple[str, str]:
    """The checked verdict and the test that confirmed it (``confirmed_by``; '' unless confirmed).

    ``on_object``, the object test, is read only with the scene test: it confirms a raise the
    scene test does not, when it agrees and its whole interval lies beyond its ``min_effect``.
    """
    if verdict not in (RAISES, LOWERS):
        return verdict, ""
    sign = 1 if verdict == RAISES else -1
    said = {name: reading.says(sign, significance) for name, reading in ((BY_INSERTION, insertion), (BY_SCENE, scene))
            if reading is not None}
    if -1 in said.values():
        return CONTRADICTED, ""
    judge = BY_SCENE if scene is not None else BY_INSERTION
    if said.get(judge) == 1:
        return (RAISES_CONFIRMED if sign > 0 else LOWERS_CONFIRMED), judge
    if (sign > 0 and scene is not None and on_object is not None and on_object.says(sign, significance) == 1
            and on_object.certain(sign)):
        return RAISES_CONFIRMED, BY_OBJECT
    return (RAISES_UNCONFIRMED if sign > 0 else LOWERS_UNCONFIRMED), ""


def adjusted_insertion(insertion: Mapping[tuple[str, str], Mapping[str, float]],
                       correction: str) -> dict[tuple[str, str], dict[str, float]]:
    """The tests with ``p_adjusted``: their p-values corrected over all of them (the run's family)."""
    from tcavcore.significance import adjust_p_values

    keys = sorted(insertion)
    adjusted = adjust_p_values([float(insertion[key]["p"]) for key in keys], correction)
    return {key: {**insertion[key], "p_adjusted": float(p)} for key, p in zip(keys, adjusted)}


def apply_checks(rows: Sequence[dict[str, Any]], checks: Checks, significance: float) -> None:
    """Add :data:`INSERTION_KEYS` to every summary row in place and refine its verdict.

    A row whose (target, concept) has neither test keeps its verdict and gets empty columns.
    """
    for row in rows:
        target, concept = row["target"], row["concept"]
        insertion, scene = checks.readings(target, concept)
        on_object = checks.object_reading(target, concept)
        row.update(empty_columns())
        if insertion is None and scene is None:
            continue
        for prefix, table, bounds in (("insertion", checks.insertion, checks.insertion_bounds),
                                      ("scene", checks.scene, checks.scene_bounds),
                                      ("object", checks.object, checks.object_bounds)):
            test = table.get((target, concept))
            if test is not None:
                row.update({f"{prefix}_effect": float(test["effect"]), f"{prefix}_ci_low": float(test["ci_low"]),
                            f"{prefix}_ci_high": float(test["ci_high"]), f"{prefix}_p": float(test["p"]),
                            f"{prefix}_p_adjusted": float(test["p_adjusted"])})
                row[f"{prefix}_random_low"], row[f"{prefix}_random_high"] = bounds.get(target, (math.nan, math.nan))
        row["verdict"], row["confirmed_by"] = checked_with(row["verdict"], significance, insertion, scene, on_object)
        row["confirmed"] = row["verdict"] in (RAISES_CONFIRMED, LOWERS_CONFIRMED)
        row["size_certain"] = row["confirmed_by"] == BY_SCENE and size_certain(
            row["verdict"], checks.scene.get((target, concept)), checks.min_effect)


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
