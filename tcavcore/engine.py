"""The TCAV engine: every score of a run from activations computed once per image set.

The reference ``TCAV.run`` recomputes each class image's gradient one example at a time,
for every (concept, random set) pair. The gradient depends only on (class, bottleneck,
example), so here it is computed once, in batches, and every CAV is scored against it with
one matrix-vector product. Random-vs-random CAVs (the null distribution) are fitted once
and shared by all classes and concepts, in parallel (:mod:`tcavcore.cav_fitting`), and both
activations and CAVs can be kept in a content-keyed cache (:mod:`tcavcore.cache`).
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, Protocol

import numpy as np
from tqdm import tqdm

from tcavcore.cache import ContentCache, activations_fields, array_fingerprint, cav_fields, entry_key
from tcavcore.cav import LearnedCav, cav_hparams, save_tcav_cav
from tcavcore.cav_fitting import CavJob, ParallelConfig, iter_fit_cavs, start_workers
from tcavcore.scores import directional_derivatives, tcav_magnitude, tcav_score
from tcavcore.records import KIND_CONCEPT, KIND_RANDOM

log = logging.getLogger(__name__)

class BatchedModel(Protocol):
    """What the engine needs from a model wrapper (see ``wrappers.FrozenGraphWrapper``)."""

    def activations_at(self, images: np.ndarray, bottlenecks: list[str]) -> dict[str, np.ndarray]: ...
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
                        progress: bool = True, *, cache: ContentCache | None = None,
                        keys: dict[str, dict[str, dict]] | None = None) -> dict[str, dict[str, np.ndarray]]:
    """``acts[set name][bottleneck]`` for every image set: one batched forward pass per set,
    fetching every bottleneck the cache does not already hold.

    With a ``cache`` and every set's key fields ``keys[set name][bottleneck]`` (from
    :func:`activation_keys`), activations already computed for the same model, image pixels
    and bottleneck are read from the cache instead, and new ones stored.
    """
    bottlenecks = list(bottlenecks)
    acts: dict[str, dict[str, np.ndarray]] = {name: {} for name in image_sets}
    keys = keys if cache is not None else None
    for name in tqdm(image_sets, desc="activations", unit="set", disable=not progress):
        missing = []
        for bottleneck in bottlenecks:
            stored = cache.load(keys[name][bottleneck]) if keys else None
            if stored is not None:
                acts[name][bottleneck] = stored["acts"]
            else:
                missing.append(bottleneck)
        if not missing:
            continue
        for bottleneck, values in model.activations_at(image_sets[name], missing).items():
            acts[name][bottleneck] = values
            if keys:
                cache.store(keys[name][bottleneck], {"acts": values})
    return acts


def activation_keys(image_sets: dict[str, np.ndarray], bottlenecks: Iterable[str],
                    model_key: str) -> dict[str, dict[str, dict]]:
    """Cache key fields of every set's activations: the model, the set's pixels, the bottleneck."""
    bottlenecks = list(bottlenecks)
    keys = {}
    for name, images in image_sets.items():
        images_key = array_fingerprint(images)
        keys[name] = {b: activations_fields(model_key, images_key, b) for b in bottlenecks}
    return keys


def iter_learned_cavs(jobs: list[CavJob], acts: dict[str, dict[str, np.ndarray]], *, model_type: str, seed: int,
                      progress: bool = True, cav_dir: str | None = None, parallel: ParallelConfig = ParallelConfig(),
                      cache: ContentCache | None = None,
                      acts_keys: dict[str, dict[str, dict]] | None = None) -> Iterator[LearnedCav]:
    """Every CAV of ``jobs``, each fitted once, yielded as it is ready (cached ones first, in no fixed order).

    ``parallel``: where the CAVs are fitted (the result does not depend on it).
    ``cache`` with ``acts_keys`` (the key fields of each set's activations, from
    :func:`activation_keys`): CAVs fitted before on the same activations, hyper-parameters
    and seed are read from it (one at a time), new ones stored.
    ``cav_dir``: also save each CAV there in tcav's format, for the reference ``TCAV.run``.
    """
    use_cache = cache is not None and acts_keys is not None
    missing = []
    for job in jobs:
        stored = cache.load(cav_cache_fields(job, acts_keys, model_type, seed)) if use_cache else None
        if stored is None:
            missing.append(job)
            continue
        cav = LearnedCav(*job, stored["vector"], float(stored["accuracy"]),
                         tuple(float(a) for a in stored["class_accuracies"]))
        if cav_dir is not None:
            save_tcav_cav(cav, cav_dir, model_type)
        yield cav
    if missing:
        log.info("tcav: fitting %d CAVs (%d read from the cache), backend %s", len(missing), len(jobs) - len(missing),
                 parallel.backend)
    for cav in iter_fit_cavs(missing, acts, model_type=model_type, seed=seed, parallel=parallel, progress=progress):
        if use_cache:
            job = (cav.concept, cav.random, cav.bottleneck, cav.alpha)
            cache.store(cav_cache_fields(job, acts_keys, model_type, seed),
                        {"vector": cav.vector, "accuracy": np.float64(cav.accuracy),
                         "class_accuracies": np.array(cav.class_accuracies, dtype=np.float64)})
        if cav_dir is not None:
            save_tcav_cav(cav, cav_dir, model_type)
        yield cav


def cav_jobs(plan: CavPlan, bottlenecks: Iterable[str], alphas: Iterable[float]) -> list[CavJob]:
    """Every CAV of the plan as ``(concept, random, bottleneck, alpha)``, in the plan's order."""
    pairs = plan.concept_pairs() + plan.random_pairs()
    return list(dict.fromkeys((c, r, b, a) for b in bottlenecks for a in alphas for c, r in pairs))


def cav_cache_fields(job: CavJob, acts_keys: dict[str, dict[str, dict]], model_type: str, seed: int) -> dict:
    """Cache key fields of a CAV: the keys of the activations it separates, hyper-parameters, the run seed.

    A CAV's own seed follows from these (the run seed and the content of the two activation
    sets, :func:`tcavcore.cav.content_cav_seed`), so the names of the sets play no part.
    """
    concept, random, bottleneck, alpha = job
    return cav_fields(entry_key(acts_keys[concept][bottleneck]), entry_key(acts_keys[random][bottleneck]),
                      {**cav_hparams(model_type, alpha), "seeded_by": "content"}, seed)


def cached_jobs(jobs: list[CavJob], cache: ContentCache, acts_keys: dict[str, dict[str, dict]], *, model_type: str,
                seed: int) -> set[CavJob]:
    """The jobs whose CAV has a cache entry (checked by name only; read and verified when used)."""
    return {job for job in jobs if cache.has(cav_cache_fields(job, acts_keys, model_type, seed))}


POOLINGS = ("none", "spatial_mean")


def pool_spatial(values: np.ndarray, pooling: str) -> np.ndarray:
    """``(n, h, w, c)`` activations or gradients averaged over height and width to ``(n, c)``.

    A CAV learned on concept images that fill the frame and scored on class images where the
    concept sits on a part of the object compares different positions; averaged over space,
    both say only which channels respond. Arrays without spatial axes are returned as they are.
    """
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
    if pooling == "none" or values.ndim != 4:
        return values
    return values.mean(axis=(1, 2))


def gradient_target(definition: str) -> str:
    """What the gradient is taken of: the loss (tcav's definition) or the class logit (the paper's)."""
    return "loss" if definition == "tcav" else "logit"


def score_row(class_name: str, cav: LearnedCav, gradients: np.ndarray, kind: str, definition: str) -> dict:
    """One run: the class's TCAV score and magnitude along ``cav`` (columns ``tcavcore.records.RUN_KEYS``)."""
    derivatives = directional_derivatives(gradients, cav.vector)
    return {
        "target": class_name, "concept": cav.concept, "random": cav.random,
        "bottleneck": cav.bottleneck, "alpha": cav.alpha, "kind": kind,
        "score": tcav_score(derivatives, definition),
        "magnitude": tcav_magnitude(derivatives, definition),
        "cav_accuracy": cav.accuracy, "n_examples": int(len(derivatives)),
        "n_concept": 0, "n_random_images": 0,  # the sets' sizes, set by run_tcav
    }


def class_gradients(model: BatchedModel, class_acts: dict[str, dict[str, np.ndarray]], bottlenecks: Iterable[str],
                    definition: str) -> dict[tuple[str, str], np.ndarray]:
    """``gradients[class, bottleneck]``: each class's gradients at each bottleneck, one batched pass each.

    The gradient depends only on (class, bottleneck, example), so it is computed once here and
    reused for every CAV (the reference ``TCAV.run`` recomputes it per example and CAV).
    """
    return {(c, b): model.gradients(class_acts[c][b], model.label_to_id(c), b, target=gradient_target(definition))
            for c in class_acts for b in bottlenecks}


def score_cav(cav: LearnedCav, gradients: dict[tuple[str, str], np.ndarray], class_names: Iterable[str], kind: str,
              definition: str) -> list[dict]:
    """One run per class for ``cav``: its rows of runs.csv (see :func:`score_row`)."""
    return [score_row(c, cav, gradients[c, cav.bottleneck], kind, definition) for c in class_names]


def run_tcav(model: BatchedModel, class_images: dict[str, np.ndarray], concept_images: dict[str, np.ndarray],
             random_images: dict[str, np.ndarray], bottlenecks: list[str], alphas: list[float], *,
             model_type: str = "linear", definition: str = "tcav", seed: int = 0,
             progress: bool = True, on_step: Callable[[str], None] | None = None,
             parallel: ParallelConfig = ParallelConfig(), cache: ContentCache | None = None,
             model_key: str | None = None, cav_dir: str | None = None, pooling: str = "none",
             on_concept_cav: Callable[[LearnedCav, np.ndarray, np.ndarray], None] | None = None) -> list[dict]:
    """All TCAV runs of an experiment: every class x (concept and random) CAV x bottleneck x alpha.

    ``class_images`` are scored; ``concept_images`` and ``random_images`` (name -> images
    ``(n, h, w, 3)`` in the model's value range) are what CAVs separate. ``parallel``: where
    CAVs are fitted. ``cache`` + ``model_key`` (the model's fingerprint): reuse activations
    and CAVs computed before from the same content. ``cav_dir``: also save every CAV there in
    tcav's format, so that the reference ``TCAV.run`` can be run on exactly these CAVs.
    ``pooling="spatial_mean"``: CAVs are learned on activations averaged over height and width
    and scored with gradients averaged the same way (:func:`pool_spatial`); ``"none"``:
    flattened, as tcav. ``on_concept_cav(cav, concept_acts, random_acts)`` is called for every
    concept CAV (not the random-vs-random ones) with the activations it was fitted on, pooled
    as for the fit, in no fixed order: how :mod:`tcavcore.cav_store` keeps them (scores do not
    depend on it).
    """
    step = on_step or log.info
    overlap = set(concept_images) & set(random_images)
    if overlap:
        raise ValueError(f"names used both as concept and random set: {sorted(overlap)}")
    plan = CavPlan(tuple(concept_images), tuple(random_images))
    step(f"tcav: activations of {len(concept_images)} concepts, {len(random_images)} random sets, "
         f"{len(class_images)} classes at {len(bottlenecks)} bottlenecks")
    cav_sets = {**concept_images, **random_images}
    use_cache = cache is not None and model_key is not None
    keys = activation_keys({**cav_sets, **class_images}, bottlenecks, model_key) if use_cache else None
    cache = cache if use_cache else None
    jobs = cav_jobs(plan, bottlenecks, alphas)
    cached = cached_jobs(jobs, cache, keys, model_type=model_type, seed=seed) if cache is not None else set()
    start_workers(parallel, len(jobs) - len(cached))  # they start while activations are computed
    acts = compute_activations(model, cav_sets, bottlenecks, progress, cache=cache, keys=keys)
    class_acts = compute_activations(model, class_images, bottlenecks, progress, cache=cache, keys=keys)
    gradients = class_gradients(model, class_acts, bottlenecks, definition)
    if pooling != "none":
        gradients = {(c, b): pool_spatial(g.reshape(class_acts[c][b].shape), pooling) for (c, b), g in gradients.items()}
        acts = {name: {b: pool_spatial(a, pooling) for b, a in by_b.items()} for name, by_b in acts.items()}
        if keys is not None:  # pooled CAVs are other CAVs: their cache entries say so
            keys = {name: {b: {**fields, "pooling": pooling} for b, fields in by_b.items()} for name, by_b in keys.items()}
    concept_pairs = set(plan.concept_pairs())
    step(f"tcav: learning {len(jobs)} CAVs ({model_type}, alphas {alphas}) and scoring {len(class_images)} classes "
         f"against each ({definition} definition)")
    # Each CAV is scored as soon as it is fitted (or read) and then dropped: memory does not
    # grow with the number of CAVs, only the rows do.
    rows: dict[CavJob, list[dict]] = {}
    for cav in iter_learned_cavs(jobs, acts, model_type=model_type, seed=seed, progress=progress, parallel=parallel,
                                 cache=cache, acts_keys=keys, cav_dir=cav_dir):
        kind = KIND_CONCEPT if (cav.concept, cav.random) in concept_pairs else KIND_RANDOM
        if on_concept_cav is not None and kind == KIND_CONCEPT:
            on_concept_cav(cav, acts[cav.concept][cav.bottleneck], acts[cav.random][cav.bottleneck])
        rows[cav.concept, cav.random, cav.bottleneck, cav.alpha] = score_cav(cav, gradients, class_images, kind,
                                                                             definition)
    if cache is not None:
        step(f"tcav: cache {cache.root}: {cache.hits} entries reused, {cache.misses} computed")
    sizes = {name: int(len(images)) for name, images in cav_sets.items()}
    for job_rows in rows.values():
        for row in job_rows:
            row["n_concept"], row["n_random_images"] = sizes[row["concept"]], sizes[row["random"]]
    # the order runs.csv has always had: class, then bottleneck, alpha, concept/random pair
    return [rows[job][i] for i in range(len(class_images)) for job in jobs]
