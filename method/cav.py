"""Where a CAV is learned: a linear classifier separating concept from random activations.

The fit itself is ``tcav.cav.CAV.train`` (the reference library), so the vectors are tcav's.
tcav draws its train/test split and SGD shuffling from NumPy's global random state with no
seed; :func:`learn_cav` seeds that state per CAV from the run seed and the CAV's identity,
so a CAV is the same whichever order or process it is fitted in.
"""

from __future__ import annotations

import contextlib
import logging
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class LearnedCav:
    """A concept activation vector and how well its classifier separated the two sets."""

    concept: str
    random: str
    bottleneck: str
    alpha: float
    vector: np.ndarray  # flattened, pointing toward the concept
    accuracy: float  # held-out accuracy of the linear classifier (tcav's "overall")


def cav_seed(seed: int, concept: str, random: str, bottleneck: str, alpha: float, model_type: str) -> int:
    """A 32-bit seed that depends only on the run seed and what the CAV separates."""
    key = f"{seed}|{concept}|{random}|{bottleneck}|{alpha!r}|{model_type}".encode()
    return zlib.crc32(key)


@contextlib.contextmanager
def seeded_global_numpy(seed: int):
    """Seed NumPy's global random state for the block, then restore the previous state."""
    saved = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(saved)


def cav_hparams(model_type: str, alpha: float) -> dict:
    """tcav's CAV hyper-parameters with our model type and regularisation."""
    from tcav.cav import CAV

    hparams = CAV.default_hparams()
    hparams.update(model_type=model_type, alpha=alpha)
    return hparams


def tcav_cav_path(cav_dir: str | os.PathLike, concept: str, random: str, bottleneck: str, model_type: str,
                  alpha: float) -> Path:
    """Where the reference ``TCAV.run`` looks for this CAV in ``cav_dir`` (tcav's file naming)."""
    from tcav.cav import CAV

    return Path(cav_dir) / (CAV.cav_key([concept, random], bottleneck, model_type, alpha).replace("/", ".") + ".pkl")


def learn_cav(concept: str, random: str, bottleneck: str, concept_acts: np.ndarray, random_acts: np.ndarray,
              *, model_type: str, alpha: float, seed: int, save_path: str | os.PathLike | None = None) -> LearnedCav:
    """Fit one CAV with ``tcav.cav.CAV`` (``concept`` vs ``random``) and return its vector.

    ``concept_acts`` / ``random_acts``: activations ``(n, ...)`` of the two image sets at
    ``bottleneck``. As in tcav, the larger set is truncated to the smaller one's size.
    ``save_path``: also save it there in tcav's own (pickle) format, e.g. at
    :func:`tcav_cav_path`, where the reference ``TCAV.run`` loads it instead of refitting.
    """
    from tcav.cav import CAV

    acts = {concept: {bottleneck: concept_acts}, random: {bottleneck: random_acts}}
    cav = CAV([concept, random], bottleneck, cav_hparams(model_type, alpha),
              save_path=None if save_path is None else str(save_path))
    logger = logging.getLogger("tensorflow")
    level = logger.level
    logger.setLevel(logging.WARNING)  # tcav logs every fit at INFO
    try:
        with seeded_global_numpy(cav_seed(seed, concept, random, bottleneck, alpha, model_type)):
            cav.train(acts)
    finally:
        logger.setLevel(level)
    return LearnedCav(concept, random, bottleneck, alpha, np.asarray(cav.get_direction(concept), dtype=np.float64),
                      float(cav.accuracies["overall"]))
