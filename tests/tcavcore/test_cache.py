"""The content-keyed cache: a warm cache gives the same scores; a changed model or image set never
reuses a stale entry; entries are .npz (no pickle) and a broken one is recomputed."""

import shutil

import numpy as np
import pytest

import common  # noqa: F401  (sets the TensorFlow/protobuf environment first)
from tcavcore.cache import ContentCache, array_fingerprint, model_fingerprint
from tcavcore.engine import run_tcav
from model.freeze import export_model
from model.cnn import bottleneck_layer_names, build_cnn
from worlds.generate import generate
from images.loading import to_model_input

SIZE = 16
CLASSES = ["fire", "water"]
CONCEPTS = ["red", "striped"]
RANDOMS = ["random500_0", "random500_1", "random500_2"]
BOTTLENECKS = ["pool1", "conv2"]
# 2 concepts x 3 random sets + 3 x 2 random pairs, at 2 bottlenecks
N_CAVS = (2 * 3 + 3 * 2) * 2
N_ACTIVATIONS = (2 + 2 + 3) * 2  # (classes + concepts + random sets) x bottlenecks


def _export(path, weights_seed):
    import keras

    keras.utils.set_random_seed(weights_seed)
    model = build_cnn(SIZE, len(CLASSES), [4, 8], 8, 0.0)
    check = np.random.default_rng(0).random((4, SIZE, SIZE, 3), dtype=np.float32)
    export_model(model, CLASSES, bottleneck_layer_names([4, 8], 8), path, check)
    return path


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    return _export(root / "a", 0), _export(root / "b", 1)


@pytest.fixture(scope="module")
def images():
    sets = {}
    for kind, names, count in (("class", CLASSES, 6), ("concept", CONCEPTS, 10), ("random", RANDOMS, 10)):
        for name in names:
            sets[name] = np.stack([to_model_input(image, SIZE) for _, image in generate(kind, name, count, 32, seed=3)])
    return sets


def scores(model_dir, images, cache=None, **changes):
    from wrappers import FrozenGraphWrapper

    sets = {**images, **changes}
    model = FrozenGraphWrapper(model_dir, BOTTLENECKS)
    rows = run_tcav(model, {c: sets[c] for c in CLASSES}, {c: sets[c] for c in CONCEPTS},
                    {r: sets[r] for r in RANDOMS}, BOTTLENECKS, [0.1], seed=11, progress=False, cache=cache,
                    model_key=model_fingerprint(model_dir) if cache else None)
    return [(r["target"], r["concept"], r["random"], r["bottleneck"], r["score"], r["magnitude"], r["cav_accuracy"])
            for r in rows]


def test_a_warm_cache_gives_identical_scores_without_recomputing(models, images, tmp_path):
    fresh = scores(models[0], images)
    cold = ContentCache(tmp_path / "cache")
    assert scores(models[0], images, cold) == fresh
    assert (cold.hits, cold.misses) == (0, N_ACTIVATIONS + N_CAVS)
    warm = ContentCache(tmp_path / "cache")
    assert scores(models[0], images, warm) == fresh
    assert (warm.hits, warm.misses) == (N_ACTIVATIONS + N_CAVS, 0)
    # every entry is a plain .npz: readable without pickle
    entries = list((tmp_path / "cache").rglob("*.npz"))
    assert len(entries) == N_ACTIVATIONS + N_CAVS
    for entry in entries:
        with np.load(entry, allow_pickle=False) as data:
            assert "__fields__" in data.files


def test_a_model_replaced_at_the_same_path_reuses_nothing(models, images, tmp_path):
    """tcav's trap: its CAV cache keys on names, so a retrained model reuses stale CAVs."""
    path = tmp_path / "model"
    shutil.copytree(models[0], path)
    scores(path, images, ContentCache(tmp_path / "cache"))
    shutil.rmtree(path)
    shutil.copytree(models[1], path)  # same folder name, other weights
    cache = ContentCache(tmp_path / "cache")
    after = scores(path, images, cache)
    assert cache.hits == 0
    assert after == scores(models[1], images)
    assert after != scores(models[0], images)  # the models do differ


def test_a_changed_image_set_reuses_only_what_it_does_not_touch(models, images, tmp_path):
    scores(models[0], images, ContentCache(tmp_path / "cache"))
    red = images["red"].copy()
    red[0, :4, :4] = 1.0 - red[0, :4, :4]  # one corner of one image
    assert array_fingerprint(red) != array_fingerprint(images["red"])
    cache = ContentCache(tmp_path / "cache")
    after = scores(models[0], images, cache, red=red)
    assert after == scores(models[0], images, red=red)
    # recomputed: red's activations at 2 bottlenecks and its 3 CAVs at each; the rest is reused
    assert cache.misses == 2 + 3 * 2
    assert cache.hits == N_ACTIVATIONS + N_CAVS - cache.misses
    # fewer images in a set (another max_examples) is another set too
    cache = ContentCache(tmp_path / "cache")
    scores(models[0], images, cache, red=images["red"][:8])
    assert cache.misses == 2 + 3 * 2


def test_a_broken_entry_is_recomputed_not_trusted(models, images, tmp_path):
    fresh = scores(models[0], images, ContentCache(tmp_path / "cache"))
    entries = sorted((tmp_path / "cache").rglob("*.npz"))
    entries[0].write_bytes(b"not an npz")
    entries[1].write_bytes(entries[2].read_bytes())  # a valid file under another entry's key
    cache = ContentCache(tmp_path / "cache")
    assert scores(models[0], images, cache) == fresh
    assert cache.misses == 2
    recheck = ContentCache(tmp_path / "cache")
    scores(models[0], images, recheck)
    assert recheck.misses == 0  # rewritten


def test_scores_are_the_same_with_worker_processes_and_on_a_dask_cluster(models, images, tmp_path):
    """The backend and the number of workers change where CAVs are fitted, never a score."""
    from distributed import LocalCluster

    from tcavcore.cav_fitting import ParallelConfig
    from wrappers import FrozenGraphWrapper

    def rows(parallel):
        model = FrozenGraphWrapper(models[0], BOTTLENECKS)
        return run_tcav(model, {c: images[c] for c in CLASSES}, {c: images[c] for c in CONCEPTS},
                        {r: images[r] for r in RANDOMS}, BOTTLENECKS, [0.1], seed=11, progress=False,
                        parallel=parallel)

    in_process = rows(ParallelConfig(n_jobs=1))
    assert rows(ParallelConfig("threads", n_jobs=2)) == in_process
    assert rows(ParallelConfig("loky", n_jobs=2)) == in_process
    with LocalCluster(host="127.0.0.1", n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster:
        assert rows(ParallelConfig(backend="dask", scheduler=cluster.scheduler_address)) == in_process
    assert len(in_process) == len(CLASSES) * N_CAVS
