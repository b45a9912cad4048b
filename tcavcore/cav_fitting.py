"""Fit many CAVs at once, in parallel, through joblib: local processes or a Dask cluster.

Each CAV is seeded from what it separates (:func:`tcavcore.cav.content_cav_seed`), never from the order
or the worker it is fitted in, so the CAVs are the same whatever ``n_jobs``, backend or
chunking. Work is sent in chunks of CAVs of one bottleneck, each carrying only the
activations it needs, largest first so that no worker is left with a long tail.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Iterable, Iterator, Optional

import numpy as np

from tcavcore.cav import LearnedCav, learn_cav

BACKENDS = ("threads", "loky", "dask")
# A chunk carries the activations of every set it uses; capped so that no chunk carries many.
MAX_CAVS_PER_CHUNK = 64
# Below this many CAVs per worker, starting worker processes costs more than it saves.
MIN_CAVS_PER_WORKER = 16

#: (concept, random set, bottleneck, alpha): one CAV to fit.
CavJob = tuple[str, str, str, float]


@dataclass(frozen=True)
class ParallelConfig:
    """Where CAVs are fitted.

    ``backend="threads"``: ``n_jobs`` threads of this process (joblib's meaning: -1 = one per
    core, 1 = no other thread). scikit-learn's SGD fit releases the GIL, so threads fit in
    parallel without starting processes or copying activations to them (on 2 cores, 510 CAVs:
    6.8 s against 8.5 s with worker processes). ``backend="loky"``: ``n_jobs`` local worker
    processes, for CAV models that hold the GIL. ``backend="dask"``: the workers of the Dask cluster whose
    scheduler listens at ``scheduler`` (e.g. ``tcp://10.0.0.5:8786``); ``n_jobs`` is ignored.
    """

    backend: str = "threads"
    n_jobs: int = 1
    scheduler: Optional[str] = None
    connect_timeout: float = 30.0  # seconds to reach the Dask scheduler

    def __post_init__(self):
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {self.backend!r}")
        if self.backend == "dask" and not self.scheduler:
            raise ValueError("backend 'dask' needs a scheduler address, e.g. tcp://127.0.0.1:8786")
        if self.n_jobs == 0:
            raise ValueError("n_jobs must be a positive number of processes or negative (-1 = all cores), not 0")


class SchedulerUnreachableError(ConnectionError):
    """The Dask scheduler named in :class:`ParallelConfig` did not answer."""


def _local_workers(parallel: ParallelConfig, n_cavs: int) -> int:
    """Local worker processes for ``n_cavs`` CAVs: ``n_jobs`` (joblib's meaning), fewer for a few CAVs."""
    from joblib import effective_n_jobs

    return max(1, min(effective_n_jobs(parallel.n_jobs), math.ceil(n_cavs / MIN_CAVS_PER_WORKER)))


def _import_fitting() -> None:
    import sklearn.linear_model  # noqa: F401  (what makes a worker slow to start)
    import sklearn.metrics  # noqa: F401
    import sklearn.model_selection  # noqa: F401


_starting: list[threading.Thread] = []


def start_workers(parallel: ParallelConfig, n_cavs: int) -> None:
    """Start the local worker processes that will fit ``n_cavs`` CAVs, in the background.

    A worker spends about a second importing scikit-learn; started while the caller computes
    activations, that second is no longer on the critical path. :func:`fit_cavs` reuses them
    (joblib keeps its loky workers between calls with the same ``n_jobs``).
    """
    from joblib import Parallel, delayed

    workers = _local_workers(parallel, n_cavs)
    if parallel.backend != "loky" or workers < 2:
        return
    thread = threading.Thread(target=lambda: Parallel(n_jobs=workers, backend="loky")(
        delayed(_import_fitting)() for _ in range(workers)), daemon=True)
    thread.start()
    _starting.append(thread)


def _fit_chunk(jobs: list[CavJob], model_type: str, seed: int, names: list[str], *arrays: np.ndarray) -> list[LearnedCav]:
    """Runs in a worker: every CAV of ``jobs`` (one bottleneck); ``arrays[i]`` are the activations of ``names[i]``.

    The arrays are separate arguments so that joblib ships each once per call, not once per
    chunk: loky memory-maps them, Dask scatters them to the workers.
    """
    acts = dict(zip(names, arrays))
    return [learn_cav(concept, random, bottleneck, acts[concept], acts[random], model_type=model_type, alpha=alpha,
                      seed=seed) for concept, random, bottleneck, alpha in jobs]


def plan_chunks(jobs: list[CavJob], acts: dict[str, dict[str, np.ndarray]], n_chunks: int) -> list[list[CavJob]]:
    """Split ``jobs`` into about ``n_chunks`` chunks of one bottleneck each, most expensive first."""
    by_bottleneck: dict[str, list[CavJob]] = {}
    for job in jobs:
        by_bottleneck.setdefault(job[2], []).append(job)
    size = max(1, min(MAX_CAVS_PER_CHUNK, math.ceil(len(jobs) / max(1, n_chunks))))
    chunks = [group[i:i + size] for group in by_bottleneck.values() for i in range(0, len(group), size)]

    def cost(chunk: list[CavJob]) -> int:  # an SGD epoch is linear in the activation size
        concept, _, bottleneck, _ = chunk[0]
        return len(chunk) * int(np.prod(acts[concept][bottleneck].shape[1:]))

    return sorted(chunks, key=cost, reverse=True)


def _chunk_call(chunk: list[CavJob], acts: dict[str, dict[str, np.ndarray]], model_type: str, seed: int):
    from joblib import delayed

    bottleneck = chunk[0][2]
    names = sorted({name for job in chunk for name in job[:2]})
    return delayed(_fit_chunk)(chunk, model_type, seed, names, *(acts[name][bottleneck] for name in names))


def fit_cavs(jobs: Iterable[CavJob], acts: dict[str, dict[str, np.ndarray]], *, model_type: str, seed: int,
             parallel: ParallelConfig = ParallelConfig(), progress: bool = False) -> dict[CavJob, LearnedCav]:
    """Every CAV of ``jobs`` from ``acts[set name][bottleneck]``, keyed by its job."""
    return {(cav.concept, cav.random, cav.bottleneck, cav.alpha): cav
            for cav in iter_fit_cavs(jobs, acts, model_type=model_type, seed=seed, parallel=parallel,
                                     progress=progress)}


def iter_fit_cavs(jobs: Iterable[CavJob], acts: dict[str, dict[str, np.ndarray]], *, model_type: str, seed: int,
                  parallel: ParallelConfig = ParallelConfig(), progress: bool = False) -> Iterator[LearnedCav]:
    """The CAVs of ``jobs``, yielded as workers finish them (in no particular order).

    The caller can use each and let it go, so memory does not grow with the number of CAVs.
    """
    from joblib import Parallel, parallel_config
    from tqdm import tqdm

    jobs = list(jobs)
    while _starting:  # one caller of the worker pool at a time
        _starting.pop().join()
    if not jobs:
        return
    if parallel.backend == "dask":
        from distributed import Client

        try:
            client = Client(parallel.scheduler, set_as_default=False, timeout=parallel.connect_timeout)
        except OSError as error:
            raise SchedulerUnreachableError(f"no Dask scheduler answers at {parallel.scheduler!r} ({error})") from None
        with client, parallel_config(backend="dask", client=client):
            chunks = plan_chunks(jobs, acts, 4 * max(1, sum(client.nthreads().values())))
            results = Parallel(n_jobs=-1, return_as="generator_unordered")(
                _chunk_call(chunk, acts, model_type, seed) for chunk in chunks)
            for chunk in tqdm(results, total=len(chunks), desc="CAVs (dask)", unit="chunk", disable=not progress):
                yield from chunk
    else:
        workers = _local_workers(parallel, len(jobs))
        chunks = plan_chunks(jobs, acts, 4 * workers if workers > 1 else 32)
        backend = "threading" if parallel.backend == "threads" else "loky"
        results = Parallel(n_jobs=workers, backend=backend, return_as="generator_unordered")(
            _chunk_call(chunk, acts, model_type, seed) for chunk in chunks)
        for chunk in tqdm(results, total=len(chunks), desc="CAVs", unit="chunk", disable=not progress):
            yield from chunk
