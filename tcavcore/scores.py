"""Where a score is computed: directional derivatives along a CAV, and TCAV scores from them.

Two definitions, selected by ``definition``:

- ``"tcav"`` (the tcav library): derivatives of the class's cross-entropy loss; a class
  image counts when the derivative is *negative* (moving toward the concept makes the class
  more likely). Scores equal the reference ``TCAV.run``.
- ``"paper"`` (Kim et al. 2018): derivatives of the class logit; an image counts when the
  derivative is *positive*.
"""

from __future__ import annotations

import numpy as np

DEFINITIONS = ("tcav", "paper")


def directional_derivatives(gradients: np.ndarray, cav: np.ndarray) -> np.ndarray:
    """Derivative of each example along ``cav``: ``gradients (n, d) @ cav (d,)`` -> ``(n,)``."""
    gradients = np.asarray(gradients).reshape(len(gradients), -1)
    return gradients @ np.asarray(cav, dtype=np.float64)


def toward_class(derivatives: np.ndarray, definition: str) -> np.ndarray:
    """Boolean mask of examples for which moving along the CAV favours the class."""
    if definition == "tcav":
        return derivatives < 0
    if definition == "paper":
        return derivatives > 0
    raise ValueError(f"definition must be one of {DEFINITIONS}, got {definition!r}")


def tcav_score(derivatives: np.ndarray, definition: str = "tcav") -> float:
    """Fraction of class examples whose prediction is pushed toward the class by the concept."""
    if len(derivatives) == 0:
        raise ValueError("no directional derivatives: the class has no examples")
    return float(np.mean(toward_class(derivatives, definition)))


def tcav_magnitude(derivatives: np.ndarray, definition: str = "tcav") -> float:
    """TCAV magnitude (Kim et al. 2018): share of the total |derivative| that favours the class.

    NaN when every derivative is exactly zero (the concept does not move the prediction).
    """
    total = float(np.sum(np.abs(derivatives)))
    if total == 0.0:
        return float("nan")
    return float(np.sum(np.abs(derivatives[toward_class(derivatives, definition)])) / total)
