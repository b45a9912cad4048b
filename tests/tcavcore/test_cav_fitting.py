"""Parallel CAV fitting: the same CAVs whatever the number of workers, chunking or backend."""

import numpy as np
import pytest

from tcavcore.cav import learn_cav
from tcavcore.cav_fitting import ParallelConfig, SchedulerUnreachableError, fit_cavs, plan_chunks
from tcavcore.engine import CavPlan

BOTTLENECKS = ("low", "high")


@pytest.fixture(scope="module")
def problem():
    """Activations of 2 concepts and 4 random sets at 2 bottlenecks, and the plan's 2 x 20 CAV jobs."""
    rng = np.random.default_rng(0)
    names = ["red", "blue", "random500_0", "random500_1", "random500_2", "random500_3"]
    acts = {name: {b: (rng.normal(size=(30, 6, d)) + (0.5 if name == "red" else 0.0)).astype(np.float32)
                   for b, d in zip(BOTTLENECKS, (8, 3))} for name in names}
    plan = CavPlan(("red", "blue"), tuple(names[2:]))
    jobs = [(c, r, b, 0.1) for b in BOTTLENECKS for c, r in plan.concept_pairs() + plan.random_pairs()]
    return acts, jobs


def assert_same_cavs(a: dict, b: dict):
    assert list(a) and set(a) == set(b)
    for key in a:
        np.testing.assert_array_equal(a[key].vector, b[key].vector)
        assert a[key].accuracy == b[key].accuracy


def test_every_job_fitted_once_as_learn_cav_fits_it(problem):
    acts, jobs = problem
    cavs = fit_cavs(jobs, acts, model_type="linear", seed=4)
    assert set(cavs) == set(jobs) and len(jobs) == 2 * (2 * 4 + 4 * 3)
    concept, random, bottleneck, alpha = jobs[5]
    alone = learn_cav(concept, random, bottleneck, acts[concept][bottleneck], acts[random][bottleneck],
                      model_type="linear", alpha=alpha, seed=4)
    np.testing.assert_array_equal(cavs[jobs[5]].vector, alone.vector)


def test_chunks_cover_every_job_once_one_bottleneck_each(problem):
    acts, jobs = problem
    for n_chunks in (1, 3, 7, 100):
        chunks = plan_chunks(jobs, acts, n_chunks)
        assert sorted(job for chunk in chunks for job in chunk) == sorted(jobs)
        assert all(len({job[2] for job in chunk}) == 1 for chunk in chunks)


@pytest.mark.parametrize("backend", ["threads", "loky"])
def test_local_threads_or_processes_give_the_cavs_of_one_process(problem, backend):
    acts, jobs = problem
    one = fit_cavs(jobs, acts, model_type="linear", seed=4, parallel=ParallelConfig(backend, n_jobs=1))
    two = fit_cavs(jobs, acts, model_type="linear", seed=4, parallel=ParallelConfig(backend, n_jobs=2))
    assert_same_cavs(one, two)
    # and the seed matters: the comparison is not vacuous
    other = fit_cavs(jobs[:3], acts, model_type="linear", seed=5)
    assert not np.array_equal(other[jobs[0]].vector, one[jobs[0]].vector)


def test_a_dask_cluster_on_loopback_gives_the_same_cavs(problem):
    from distributed import LocalCluster

    acts, jobs = problem
    local = fit_cavs(jobs, acts, model_type="linear", seed=4)
    # two worker processes of two threads each: CAVs are also fitted concurrently in one process
    with LocalCluster(host="127.0.0.1", n_workers=2, threads_per_worker=2, processes=True,
                      dashboard_address=None) as cluster:
        on_dask = fit_cavs(jobs, acts, model_type="linear", seed=4,
                           parallel=ParallelConfig(backend="dask", scheduler=cluster.scheduler_address))
    assert_same_cavs(local, on_dask)


def test_an_unreachable_scheduler_is_named():
    config = ParallelConfig(backend="dask", scheduler="tcp://127.0.0.1:9", connect_timeout=1)
    acts = {"c": {"b": np.zeros((4, 2), np.float32)}, "r": {"b": np.ones((4, 2), np.float32)}}
    with pytest.raises(SchedulerUnreachableError, match="tcp://127.0.0.1:9"):
        fit_cavs([("c", "r", "b", 0.1)], acts, model_type="linear", seed=0, parallel=config)


@pytest.mark.parametrize("kwargs, message", [
    ({"backend": "spark"}, "backend must be one of"),
    ({"backend": "dask"}, "needs a scheduler address"),
    ({"n_jobs": 0}, "not 0"),
])
def test_bad_parallel_config_is_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ParallelConfig(**kwargs)
