"""The known truth of a synthetic run: the trained model's measured dependence on each concept.

For a (class, concept) the effect is the mean change of the class logit from the scene
without the concept to the same scene with it, over counterfactual pairs
(:mod:`worlds.counterfactual`), with a Student t interval over pairs. This is what *this
model* does when the concept is put into its class's scenes (Kim et al. 2018, section 4.3,
made a standing measurement), the yardstick TCAV's findings and the insertion test are
scored against.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
from scipy import stats as _scipy_stats

from worlds import counterfactual

#: Columns of ``truth.csv``.
TRUTH_KEYS = ("class", "concept", "intervention", "effect", "ci_low", "ci_high", "n")


@dataclass(frozen=True)
class Truth:
    """The measured effect of one (class, concept)."""

    class_name: str
    concept: str
    intervention: str
    effect: float
    ci_low: float
    ci_high: float
    n: int

    def row(self) -> dict:
        """As a ``truth.csv`` row."""
        return dict(zip(TRUTH_KEYS, (self.class_name, self.concept, self.intervention, self.effect, self.ci_low,
                                     self.ci_high, self.n)))


def mean_interval(values: np.ndarray, confidence: float) -> tuple[float, float, float]:
    """Mean and Student t interval of ``values``."""
    values = np.asarray(values, dtype=np.float64)
    mean = float(values.mean())
    if len(values) < 2:
        return mean, math.nan, math.nan
    half = float(_scipy_stats.t.ppf(0.5 + confidence / 2, len(values) - 1) * values.std(ddof=1) / math.sqrt(len(values)))
    return mean, mean - half, mean + half


def measure(logits: Callable[[np.ndarray], np.ndarray], to_input: Callable[[np.ndarray], np.ndarray], world: str,
            class_name: str, class_id: int, concept: str, *, count: int, size: int, seed: int,
            confidence: float = 0.95) -> Truth:
    """The effect of ``concept`` on ``class_name``'s logit (index ``class_id``) over ``count`` pairs.

    ``to_input`` turns a rendered float image into what the model sees (the pipeline's
    8-bit storing and resizing, so the pairs are seen as the class images are).
    """
    with_concept, without = [], []
    how = counterfactual.intervention_for(world, class_name, concept)
    for pair in counterfactual.pairs(world, class_name, concept, count, size, seed):
        with_concept.append(to_input(pair.with_concept))
        without.append(to_input(pair.without))
    delta = logits(np.stack(with_concept))[:, class_id] - logits(np.stack(without))[:, class_id]
    effect, low, high = mean_interval(delta, confidence)
    return Truth(class_name, concept, how, effect, low, high, len(delta))


def measurable(world: str, classes: Sequence[str], concepts: Sequence[str]) -> tuple[list[str], list[str]]:
    """Which concepts have a known truth in ``world`` for these classes, and which do not."""
    if any(c not in counterfactual.classes_of(world) for c in classes):
        return [], list(concepts)
    known = set(counterfactual.known_concepts())
    return [c for c in concepts if c in known], [c for c in concepts if c not in known]
