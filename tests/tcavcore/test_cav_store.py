"""tcavcore.cav_store: the run's concept CAVs, kept by the engine's hook, written and read back."""

import numpy as np
import pytest

from tcavcore.cav import LearnedCav
from tcavcore.cav_store import CavStore, CavStoreError, read_cav_store, sort_cavs, stored_cav, write_cav_store
from tcavcore.engine import run_tcav
from tests.tcavcore.test_engine import _NoisyLinearModel


def images(rng, n, shift):
    return (rng.random((n, 4, 4, 3)) + shift).astype(np.float32)


def experiment(seed=3):
    rng = np.random.default_rng(seed)
    classes = {"fire": images(rng, 12, 0.1), "water": images(rng, 12, -0.1)}
    concepts = {"red": images(rng, 30, 0.3), "blue": images(rng, 20, -0.3)}
    randoms = {f"random500_{i}": images(rng, 25, 0.0) for i in range(3)}
    return classes, concepts, randoms


def test_the_hook_sees_every_concept_cav_and_scores_stay_the_same():
    classes, concepts, randoms = experiment()
    model = _NoisyLinearModel(4 * 4 * 3)
    plain = run_tcav(model, classes, concepts, randoms, ["b1", "b2"], [0.1], seed=5, progress=False)
    kept = []
    hooked = run_tcav(model, classes, concepts, randoms, ["b1", "b2"], [0.1], seed=5, progress=False,
                      on_concept_cav=lambda cav, c, r: kept.append(stored_cav(cav, c, r)))
    assert hooked == plain
    assert len(kept) == 2 * 3 * 2  # concepts x random sets x bottlenecks; no random-vs-random CAV
    assert {(c.concept, c.random) for c in kept} == {(c, r) for c in concepts for r in randoms}
    one = next(c for c in kept if c.concept == "blue" and c.bottleneck == "b1")
    assert one.concept_projections.shape == (20,) and one.random_projections.shape == (25,)
    acts = model.activations_at(concepts["blue"], ["b1"])["b1"]
    np.testing.assert_allclose(one.concept_projections, acts.astype(np.float64) @ one.vector)
    # the CAV points toward the concept: its images project higher than the random set's
    assert one.concept_projections.mean() > one.random_projections.mean()
    scored = {(r["concept"], r["random"], r["bottleneck"]): r["cav_accuracy"] for r in plain if r["kind"] == "concept"}
    assert all(scored[c.concept, c.random, c.bottleneck] == c.accuracy for c in kept)


def test_spatial_mean_cavs_are_kept_at_the_channel_size():
    rng = np.random.default_rng(1)

    class Spatial(_NoisyLinearModel):
        def activations_at(self, images, bottlenecks):
            return {b: np.repeat(np.repeat(images, 2, axis=1), 2, axis=2) for b in bottlenecks}  # (n, 8, 8, 3)

        def gradients(self, acts, class_id, bottleneck, target="loss"):
            return (acts * (class_id - 0.5)).reshape(len(acts), -1)

    classes = {"fire": images(rng, 6, 0.1), "water": images(rng, 6, -0.1)}
    concepts = {"red": images(rng, 10, 0.4)}
    randoms = {f"random500_{i}": images(rng, 10, 0.0) for i in range(2)}
    for pooling, size in (("spatial_mean", 3), ("none", 8 * 8 * 3)):
        kept = []
        run_tcav(Spatial(48), classes, concepts, randoms, ["b1"], [0.1], seed=0, progress=False, pooling=pooling,
                 on_concept_cav=lambda cav, c, r: kept.append(stored_cav(cav, c, r)))
        assert {c.vector.size for c in kept} == {size}


def cav(concept, random, bottleneck, value):
    return LearnedCav(concept, random, bottleneck, 0.1, np.full(3, value), 0.8)


def test_write_read_round_trip_sorted_and_byte_stable(tmp_path):
    acts = np.arange(12.0).reshape(4, 3)
    kept = [stored_cav(cav(c, r, b, v), acts, acts[:2]) for v, (b, c, r) in
            enumerate([("b2", "red", "r1"), ("b1", "blue", "r0"), ("b1", "red", "r1"), ("b1", "red", "r0")])]
    ordered = sort_cavs(kept, ["red", "blue"], ["r0", "r1"], ["b1", "b2"], [0.1])
    assert [(c.bottleneck, c.concept, c.random) for c in ordered] == [
        ("b1", "red", "r0"), ("b1", "red", "r1"), ("b1", "blue", "r0"), ("b2", "red", "r1")]
    store = CavStore("spatial_mean", {"b1": (4, 4, 3), "b2": (2, 2, 3)}, ordered)
    write_cav_store(tmp_path / "cavs.npz", store)
    first = (tmp_path / "cavs.npz").read_bytes()
    write_cav_store(tmp_path / "cavs.npz", store)
    assert (tmp_path / "cavs.npz").read_bytes() == first
    back = read_cav_store(tmp_path / "cavs.npz")
    assert back.pooling == "spatial_mean" and back.shapes == store.shapes
    assert back.concepts == ["red", "blue"] and back.bottlenecks == ["b1", "b2"] and back.alphas == [0.1]
    assert [c.random for c in back.select("red", "b1")] == ["r0", "r1"]
    for a, b in zip(back.cavs, ordered):
        np.testing.assert_array_equal(a.vector, b.vector)
        np.testing.assert_array_equal(a.random_projections, b.random_projections)
        assert (a.concept, a.random, a.bottleneck, a.alpha, a.accuracy) == (b.concept, b.random, b.bottleneck, b.alpha,
                                                                             b.accuracy)


def test_missing_or_damaged_files_name_the_file(tmp_path):
    with pytest.raises(CavStoreError, match="cavs.npz: not found.*make run"):
        read_cav_store(tmp_path / "cavs.npz")
    (tmp_path / "cavs.npz").write_bytes(b"not a zip")
    with pytest.raises(CavStoreError, match="cavs.npz: not a readable CAV file"):
        read_cav_store(tmp_path / "cavs.npz")
