"""The TCAV engine: every score of a run from activations computed once per image set.

The reference ``TCAV.run`` recomputes each class image's gradient one example at a time,
for every (concept, random set) pair. The gradient depends only on (class, bottleneck,
example), so here it is computed once, in batches, and every CAV is scored against it with
one matrix-vector product. Random-vs-random CAVs (the null distribution) are fitted once
and shared by all classes and concepts.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Protocol

import numpy as np
from tqdm import tqdm

from method.cav import LearnedCav, learn_cav, tcav_cav_path
from method.scores import directional_derivatives, tcav_magnitude, tcav_score
from method.stats import KIND_CONCEPT, KIND_RANDOM, RUN_KEYS

log = logging.getLogger(__name__)

class BatchedModel(Protocol):
    """What the engine needs from a model wrapper (see ``wrappers.FrozenGraphWrapper``)."""

    def activations(self, images: np.ndarray, bottleneck: str) -> np.ndarray: ...
    def gradients(self, acts: np.ndarray, class_id: int, bottleneck: str, target: str = "loss") -> np.ndarray: ...
    def label_to_id(self, label: str) -> int: ...


@dataclass(frozen=True)
class CavPlan:
    """Which CAVs a run learns: each concept against each random set, and random pairs."""

    concepts: tuple[str, ...]
    random_sets: tuple[str, ...]

    def concept_pairs(self) -> list[tuple[str, str]]:
        """(concept, random set) for every concept and random set."""
        return [(c, r) for c in self.concepts for r in self.random_sets]

    def random_pairs(self) -> list[tuple[str, str]]:
        """Every ordered pair of distinct random sets, as tcav builds its null distribution."""
        return [(a, b) for a, b in itertools.permutations(self.random_sets, 2)]


def compute_activations(model: BatchedModel, image_sets: dict[str, np.ndarray], bottlenecks: Iterable[str],
                        progress: bool = True) -> dict[str, dict[str, np.ndarray]]:
    """``acts[set name][bottleneck]`` for every image set, one batched pass per set and bottleneck."""
    bottlenecks = list(bottlenecks)
    acts: dict[str, dict[str, np.ndarray]] = {name: {} for name in image_sets}
    jobs = [(name, b) for name in image_sets for b in bottlenecks]
    for name, bottleneck in tqdm(jobs, desc="activations", unit="set", disable=not progress):
        acts[name][bottleneck] = model.activations(image_sets[name], bottleneck)
    return acts


def learn_cavs(plan: CavPlan, acts: dict[str, dict[str, np.ndarray]], bottlenecks: Iterable[str],
               alphas: Iterable[float], *, model_type: str, seed: int, progress: bool = True,
               cav_dir: str | None = None) -> dict[tuple[str, str, str, float], LearnedCav]:
    """Every CAV of the plan, keyed by ``(concept, random, bottleneck, alpha)``, each fitted once.

    ``cav_dir``: also save each CAV there in tcav's format, for the reference ``TCAV.run``.
    """
    pairs = plan.concept_pairs() + plan.random_pairs()
    jobs = [(c, r, b, a) for b in bottlenecks for a in alphas for c, r in pairs]
    cavs = {}
    if cav_dir is not None:
        Path(cav_dir).mkdir(parents=True, exist_ok=True)
    for concept, random, bottleneck, alpha in tqdm(jobs, desc="CAVs", unit="cav", disable=not progress):
        save_path = None if cav_dir is None else tcav_cav_path(cav_dir, concept, random, bottleneck, model_type, alpha)
        cavs[concept, random, bottleneck, alpha] = learn_cav(
            concept, random, bottleneck, acts[concept][bottleneck], acts[random][bottleneck],
            model_type=model_type, alpha=alpha, seed=seed, save_path=save_path)
    return cavs


def score_runs(model: BatchedModel, class_acts: dict[str, dict[str, np.ndarray]], cavs: dict,
               plan: CavPlan, *, definition: str, progress: bool = True) -> list[dict]:
    """One row per (class, CAV): TCAV score, magnitude and CAV accuracy (columns ``method.stats.RUN_KEYS``).

    Gradients are computed once per (class, bottleneck), batched, then reused for every CAV.
    """
    target = "loss" if definition == "tcav" else "logit"
    concept_pairs = set(plan.concept_pairs())
    by_bottleneck: dict[str, list] = {}
    for key, cav in cavs.items():
        by_bottleneck.setdefault(key[2], []).append(cav)
    rows = []
    jobs = [(c, b) for c in class_acts for b in by_bottleneck]
    for class_name, bottleneck in tqdm(jobs, desc="gradients", unit="class-layer", disable=not progress):
        gradients = model.gradients(class_acts[class_name][bottleneck], model.label_to_id(class_name),
                                    bottleneck, target=target)
        for cav in by_bottleneck[bottleneck]:
            derivatives = directional_derivatives(gradients, cav.vector)
            rows.append({
                "target": class_name, "concept": cav.concept, "random": cav.random,
                "bottleneck": bottleneck, "alpha": cav.alpha,
                "kind": KIND_CONCEPT if (cav.concept, cav.random) in concept_pairs else KIND_RANDOM,
                "score": tcav_score(derivatives, definition),
                "magnitude": tcav_magnitude(derivatives, definition),
                "cav_accuracy": cav.accuracy, "n_examples": int(len(derivatives)),
            })
    return rows


def run_tcav(model: BatchedModel, class_images: dict[str, np.ndarray], concept_images: dict[str, np.ndarray],
             random_images: dict[str, np.ndarray], bottlenecks: list[str], alphas: list[float], *,
             model_type: str = "linear", definition: str = "tcav", seed: int = 0,
             progress: bool = True, on_step: Callable[[str], None] | None = None) -> list[dict]:
    """All TCAV runs of an experiment: every class x (concept and random) CAV x bottleneck x alpha.

    ``class_images`` are scored; ``concept_images`` and ``random_images`` (name -> images
    ``(n, h, w, 3)`` in the model's value range) are what CAVs separate.
    """
    step = on_step or log.info
    overlap = set(concept_images) & set(random_images)
    if overlap:
        raise ValueError(f"names used both as concept and random set: {sorted(overlap)}")
    plan = CavPlan(tuple(concept_images), tuple(random_images))
    step(f"tcav: activations of {len(concept_images)} concepts, {len(random_images)} random sets, "
         f"{len(class_images)} classes at {len(bottlenecks)} bottlenecks")
    acts = compute_activations(model, {**concept_images, **random_images}, bottlenecks, progress)
    class_acts = compute_activations(model, class_images, bottlenecks, progress)
    n_cavs = (len(plan.concept_pairs()) + len(plan.random_pairs())) * len(bottlenecks) * len(alphas)
    step(f"tcav: learning {n_cavs} CAVs ({model_type}, alphas {alphas})")
    cavs = learn_cavs(plan, acts, bottlenecks, alphas, model_type=model_type, seed=seed, progress=progress)
    step(f"tcav: scoring {len(class_images)} classes against every CAV ({definition} definition)")
    return score_runs(model, class_acts, cavs, plan, definition=definition, progress=progress)
