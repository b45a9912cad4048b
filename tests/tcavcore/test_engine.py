"""tcavcore.engine: which CAVs a run learns (the reference tcav pairing)."""


import common  # noqa: F401  (sets the TensorFlow/protobuf environment first)


import numpy as np

from tcavcore.engine import CavPlan, run_tcav


def test_plan_pairs_match_tcav_reference_pairing():
    plan = CavPlan(("red", "blue"), ("random500_0", "random500_1", "random500_2"))
    assert plan.concept_pairs() == [("red", "random500_0"), ("red", "random500_1"), ("red", "random500_2"),
                                    ("blue", "random500_0"), ("blue", "random500_1"), ("blue", "random500_2")]
    randoms = plan.random_pairs()
    assert len(randoms) == 6 and len(set(randoms)) == 6
    assert all(a != b for a, b in randoms)


class _NoisyLinearModel:
    """A stand-in for the frozen-graph wrapper: fixed random projections as bottlenecks, and
    per-example gradients, so CAV fits depend on their random split (not a separable toy)."""

    def __init__(self, n_pixels: int, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.weights = {b: rng.normal(size=(n_pixels, 6)) for b in ("b1", "b2")}
        self.directions = rng.normal(size=(2, 6))

    def activations_at(self, images, bottlenecks):
        flat = images.reshape(len(images), -1)
        return {b: np.tanh(flat @ self.weights[b]).astype(np.float32) for b in bottlenecks}

    def gradients(self, acts, class_id, bottleneck, target="loss"):
        return acts * self.directions[class_id] - 0.3 * self.directions[1 - class_id]

    def label_to_id(self, label):
        return ["fire", "water"].index(label)


def test_the_same_images_under_two_names_get_identical_scores():
    rng = np.random.default_rng(3)

    def images(n, shift):
        return (rng.random((n, 4, 4, 3)) + shift).astype(np.float32)

    classes = {"fire": images(12, 0.1), "water": images(12, -0.1)}
    red = images(40, 0.15)  # barely apart from random: the fit's random split matters
    concepts = {"red": red, "spiky": red.copy(), "blue": images(40, -0.15)}
    randoms = {f"random500_{i}": images(40, 0.0) for i in range(3)}
    rows = run_tcav(_NoisyLinearModel(4 * 4 * 3), classes, concepts, randoms, ["b1", "b2"], [0.1], seed=5,
                    progress=False)
    by_key = {(r["target"], r["concept"], r["random"], r["bottleneck"]): (r["score"], r["cav_accuracy"]) for r in rows}
    same = [by_key[t, "red", r, b] == by_key[t, "spiky", r, b] for t in classes for r in randoms for b in ("b1", "b2")]
    assert all(same)
    # not vacuous: the CAVs are not all alike, so a seed drawn from the name would have shown
    results = {by_key[k] for k in by_key if k[1] == "red"}
    assert len(results) > 2
    again = run_tcav(_NoisyLinearModel(4 * 4 * 3), classes, {"other": red}, randoms, ["b1"], [0.1], seed=5,
                     progress=False)
    assert [(r["score"], r["cav_accuracy"]) for r in again if r["kind"] == "concept"] == [
        by_key[r["target"], "red", r["random"], "b1"] for r in again if r["kind"] == "concept"]


def test_every_run_row_carries_the_sizes_of_its_two_sets():
    rng = np.random.default_rng(0)
    classes = {"fire": rng.random((6, 4, 4, 3), dtype=np.float32), "water": rng.random((6, 4, 4, 3), dtype=np.float32)}
    concepts = {"red": rng.random((9, 4, 4, 3), dtype=np.float32)}
    randoms = {"random500_0": rng.random((11, 4, 4, 3), dtype=np.float32),
               "random500_1": rng.random((13, 4, 4, 3), dtype=np.float32)}
    rows = run_tcav(_NoisyLinearModel(48), classes, concepts, randoms, ["b1"], [0.1], seed=1, progress=False)
    sizes = {"red": 9, "random500_0": 11, "random500_1": 13}
    assert rows and all((r["n_concept"], r["n_random_images"]) == (sizes[r["concept"]], sizes[r["random"]])
                        for r in rows)
    assert all(r["n_examples"] == 6 for r in rows)
