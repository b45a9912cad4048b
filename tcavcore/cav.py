"""Where a CAV is learned: a linear classifier separating concept from random activations.

:func:`learn_cav` makes exactly the calls of the reference ``tcav.cav.CAV.train`` (same
training set, same ``train_test_split``, same ``SGDClassifier`` / ``LogisticRegression``, same
accuracies), so the vectors are tcav's bit for bit (``tests/tcavcore/test_cav.py`` checks it
against ``tcav.cav.CAV`` itself, :func:`learn_cav_with_tcav`). It differs in two ways, both
about where it can run, not what it computes:

- tcav draws its split and SGD shuffling from NumPy's *global* random state, with no seed.
  Here both draw, in the same order, from a ``RandomState`` seeded per CAV from the run seed
  and what the CAV separates (:func:`cav_seed` of the two sets' *content* fingerprints,
  :func:`set_fingerprint`, never their names: the same images under two folder names give the
  same CAV and the same scores). The stream is the one a seeded global state would give, but
  nothing global is touched, so CAVs can be fitted in any order, process or thread.
- It imports no TensorFlow (``tcav.cav`` does), so a worker process that fits CAVs starts in
  a fraction of a second.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import pickle
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# tcav.cav.CAV.default_hparams() and CAV._train_lm's held-out fraction.
CAV_MAX_ITER = 1000
CAV_TOL = 1e-3
CAV_TEST_SIZE = 0.33
#: ``linear`` / ``logistic``: tcav's classifiers (reference-identical); ``pattern``: mean difference.
CAV_MODELS = ("linear", "logistic", "pattern")


@dataclass(frozen=True)
class LearnedCav:
    """A concept activation vector and how well its classifier separated the two sets."""

    concept: str
    random: str
    bottleneck: str
    alpha: float
    vector: np.ndarray  # flattened, pointing toward the concept
    accuracy: float  # held-out accuracy of the linear classifier (tcav's "overall")
    # held-out accuracy on the concept's and on the random set's examples (tcav's per-concept ones)
    class_accuracies: tuple[float, float] = (float("nan"), float("nan"))


def set_fingerprint(examples: np.ndarray) -> str:
    """SHA-256 over the sorted SHA-256s of the examples (rows) of ``examples``, with their dtype and shape.

    Equal for equal content whatever the set is called (and whatever order its files are in).
    """
    examples = np.ascontiguousarray(examples)
    rows = sorted(hashlib.sha256(memoryview(row).cast("B")).hexdigest() for row in examples)
    digest = hashlib.sha256(f"{examples.dtype.str}|{examples.shape[1:]}|".encode())
    for row in rows:
        digest.update(row.encode())
    return digest.hexdigest()


def cav_seed(seed: int, concept: str, random: str, bottleneck: str, alpha: float, model_type: str) -> int:
    """A 32-bit seed that depends only on the run seed and what the CAV separates.

    ``concept`` and ``random`` identify the two sets: :func:`learn_cav` passes their content
    fingerprints (:func:`set_fingerprint` of the activations), so a renamed copy of a folder
    is seeded like the original.
    """
    key = f"{seed}|{concept}|{random}|{bottleneck}|{alpha!r}|{model_type}".encode()
    return zlib.crc32(key)


def content_cav_seed(seed: int, concept_acts: np.ndarray, random_acts: np.ndarray, bottleneck: str, alpha: float,
                     model_type: str) -> int:
    """:func:`cav_seed` of the two activation sets' content fingerprints: the seed every CAV is fitted with."""
    return cav_seed(seed, set_fingerprint(concept_acts), set_fingerprint(random_acts), bottleneck, alpha, model_type)


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
    """tcav's CAV hyper-parameters (``CAV.default_hparams()``) with our model type and regularisation."""
    return {"model_type": model_type, "alpha": alpha, "max_iter": CAV_MAX_ITER, "tol": CAV_TOL}


def cav_training_set(concept_acts: np.ndarray, random_acts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """tcav's training set: both sets truncated to the smaller one's size, flattened; label 0 = concept."""
    n = min(len(concept_acts), len(random_acts))
    x = np.concatenate([concept_acts[:n].reshape(n, -1), random_acts[:n].reshape(n, -1)])
    return x, np.repeat(np.arange(2), n)


def learn_cav(concept: str, random: str, bottleneck: str, concept_acts: np.ndarray, random_acts: np.ndarray,
              *, model_type: str, alpha: float, seed: int) -> LearnedCav:
    """Fit one CAV (``concept`` vs ``random``) as ``tcav.cav.CAV.train`` does, seeded by
    :func:`content_cav_seed` (the names only label the result).

    ``concept_acts`` / ``random_acts``: activations ``(n, ...)`` of the two image sets at
    ``bottleneck``. As in tcav, the larger set is truncated to the smaller one's size.
    """
    import sklearn
    from sklearn import linear_model, metrics
    from sklearn.model_selection import train_test_split

    if model_type not in CAV_MODELS:
        raise ValueError(f"model_type must be one of {', '.join(CAV_MODELS)}, got {model_type!r}")
    cav_rng_seed = content_cav_seed(seed, concept_acts, random_acts, bottleneck, alpha, model_type)
    x, y = cav_training_set(concept_acts, random_acts)
    if model_type == "pattern":
        return _pattern_cav(concept, random, bottleneck, alpha, x, y, np.random.RandomState(cav_rng_seed))
    # One stream for the split, then the SGD shuffling seed: the draws tcav makes from the
    # global state, in the same order.
    rng = np.random.RandomState(cav_rng_seed)
    # Validation off: the arrays are ours and finite (skipping it does not change the fit).
    with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
        x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=CAV_TEST_SIZE, stratify=y,
                                                            random_state=rng)
        if model_type == "linear":
            classifier = linear_model.SGDClassifier(alpha=alpha, max_iter=CAV_MAX_ITER, tol=CAV_TOL,
                                                    random_state=rng)
        else:
            classifier = linear_model.LogisticRegression()
        classifier.fit(x_train, y_train)
        y_pred = classifier.predict(x_test)
        # tcav's accuracy bookkeeping, operation for operation (so the float is the same)
        per_class, num_correct = [], 0
        for class_id in range(2):
            idx = y_test == class_id
            per_class.append(metrics.accuracy_score(y_pred[idx], y_test[idx]))
            num_correct += sum(idx) * per_class[-1]
    # two labels: tcav's CAV for the concept (label 0) is the negated coefficient vector
    return LearnedCav(concept, random, bottleneck, alpha, -1 * classifier.coef_[0],
                      float(num_correct) / float(len(y_test)), (per_class[0], per_class[1]))


def _pattern_cav(concept: str, random: str, bottleneck: str, alpha: float, x: np.ndarray, y: np.ndarray,
                 rng: np.random.RandomState) -> LearnedCav:
    """A pattern CAV (Pahde et al., ICLR 2025): the difference of the two sets' mean activations.

    The direction is the covariance of the activations with the label (for balanced sets,
    proportional to mean(concept) - mean(random)), not a classifier's weights, which also
    lean on directions that only cancel noise. Its held-out accuracy, for the
    ``min_cav_accuracy`` gate, is that of the nearest-mean rule along it on the same split as
    the linear CAVs (``alpha`` plays no part).
    """
    from sklearn.model_selection import train_test_split

    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=CAV_TEST_SIZE, stratify=y, random_state=rng)
    mean_concept = x_train[y_train == 0].mean(axis=0, dtype=np.float64)
    mean_random = x_train[y_train == 1].mean(axis=0, dtype=np.float64)
    vector = mean_concept - mean_random
    threshold = 0.5 * float((mean_concept + mean_random) @ vector)
    y_pred = np.where(x_test.astype(np.float64) @ vector > threshold, 0, 1)
    per_class = [float(np.mean(y_pred[y_test == c] == c)) for c in range(2)]
    return LearnedCav(concept, random, bottleneck, alpha, vector, float(np.mean(y_pred == y_test)),
                      (per_class[0], per_class[1]))


def learn_cav_with_tcav(concept: str, random: str, bottleneck: str, concept_acts: np.ndarray,
                        random_acts: np.ndarray, *, model_type: str, alpha: float, seed: int) -> LearnedCav:
    """The same CAV fitted by ``tcav.cav.CAV`` itself, its global random state seeded as in :func:`learn_cav`.

    The reference :func:`learn_cav` is tested against; imports TensorFlow.
    """
    from tcav.cav import CAV

    acts = {concept: {bottleneck: concept_acts}, random: {bottleneck: random_acts}}
    cav = CAV([concept, random], bottleneck, cav_hparams(model_type, alpha))
    logger = logging.getLogger("tensorflow")
    level = logger.level
    logger.setLevel(logging.WARNING)  # tcav logs every fit at INFO
    try:
        with seeded_global_numpy(content_cav_seed(seed, concept_acts, random_acts, bottleneck, alpha, model_type)):
            cav.train(acts)
    finally:
        logger.setLevel(level)
    return LearnedCav(concept, random, bottleneck, alpha, np.asarray(cav.get_direction(concept), dtype=np.float64),
                      float(cav.accuracies["overall"]), (cav.accuracies[concept], cav.accuracies[random]))


def tcav_cav_path(cav_dir: str | os.PathLike, concept: str, random: str, bottleneck: str, model_type: str,
                  alpha: float) -> Path:
    """Where the reference ``TCAV.run`` looks for this CAV in ``cav_dir`` (tcav's ``CAV.cav_key`` naming)."""
    key = "-".join([concept, random]) + "-" + bottleneck + "-" + model_type + "-" + str(alpha)
    return Path(cav_dir) / (key.replace("/", ".") + ".pkl")


def save_tcav_cav(cav: LearnedCav, cav_dir: str | os.PathLike, model_type: str) -> Path:
    """Save ``cav`` in tcav's own (pickle) format where the reference ``TCAV.run`` loads it instead of refitting.

    Only for handing CAVs to the reference library; this project's cache never uses pickle.
    """
    path = tcav_cav_path(cav_dir, cav.concept, cav.random, cav.bottleneck, model_type, cav.alpha)
    record = {
        "concepts": [cav.concept, cav.random],
        "bottleneck": cav.bottleneck,
        "hparams": cav_hparams(model_type, cav.alpha),
        "accuracies": {cav.concept: cav.class_accuracies[0], cav.random: cav.class_accuracies[1],
                       "overall": cav.accuracy},
        "cavs": [cav.vector, -1 * cav.vector],
        "saved_path": str(path),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(record))
    return path
