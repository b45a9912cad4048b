"""tcavcore.cav: seeded CAV fits, bit-identical to tcav.cav.CAV.train, safe in threads."""


import numpy as np


import pytest


import common  # noqa: F401  (sets the TensorFlow/protobuf environment first)


from tcavcore.cav import cav_seed, learn_cav


def _separable_acts(seed, n=40, d=12):
    rng = np.random.default_rng(seed)
    concept = rng.normal(size=(n, d)) + np.r_[3.0, np.zeros(d - 1)]
    random = rng.normal(size=(n, d))
    return concept, random


@pytest.mark.parametrize("model_type", ["linear", "logistic"])
def test_learn_cav_is_seeded_points_to_concept_and_restores_global_state(model_type):
    concept, random = _separable_acts(1)
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    a = learn_cav("c", "r", "b", concept, random, model_type=model_type, alpha=0.1, seed=7)
    assert np.array_equal(np.random.get_state()[1], before)
    b = learn_cav("c", "r", "b", concept, random, model_type=model_type, alpha=0.1, seed=7)
    np.testing.assert_array_equal(a.vector, b.vector)
    assert a.accuracy == b.accuracy > 0.8  # two classes 3 sd apart on one axis: ~0.93 expected
    # the CAV points from random toward the concept: concept examples project higher
    assert (concept @ a.vector).mean() > (random @ a.vector).mean()


def test_cav_seed_depends_on_identity_not_order():
    assert cav_seed(1, "c", "r", "b", 0.1, "linear") == cav_seed(1, "c", "r", "b", 0.1, "linear")
    assert cav_seed(1, "c", "r", "b", 0.1, "linear") != cav_seed(2, "c", "r", "b", 0.1, "linear")
    assert cav_seed(1, "c", "r", "b", 0.1, "linear") != cav_seed(1, "r", "c", "b", 0.1, "linear")
    concept, random = _separable_acts(2)
    a = learn_cav("c", "r", "b", concept, random, model_type="linear", alpha=0.1, seed=1)
    b = learn_cav("c", "r", "b", concept, random, model_type="linear", alpha=0.1, seed=2)
    assert not np.array_equal(a.vector, b.vector)


@pytest.mark.parametrize("model_type", ["linear", "logistic"])
def test_learn_cav_is_tcav_cav_train_bit_for_bit(model_type):
    """Our fit makes tcav.cav.CAV.train's calls with the same random draws: same vector, same accuracies."""
    from tcavcore.cav import learn_cav_with_tcav

    rng = np.random.default_rng(5)
    sets = {"c": rng.normal(size=(31, 4, 5)) + 0.4, "r": rng.normal(size=(40, 4, 5)),  # unequal sizes: truncated
            "r2": rng.normal(size=(29, 4, 5)) * 1.5}
    for concept, random in [("c", "r"), ("r", "r2"), ("r2", "r")]:
        ours = learn_cav(concept, random, "b", sets[concept].astype(np.float32), sets[random].astype(np.float32),
                         model_type=model_type, alpha=0.1, seed=3)
        reference = learn_cav_with_tcav(concept, random, "b", sets[concept].astype(np.float32),
                                        sets[random].astype(np.float32), model_type=model_type, alpha=0.1, seed=3)
        np.testing.assert_array_equal(ours.vector, reference.vector)
        assert ours.accuracy == reference.accuracy
        assert ours.class_accuracies == reference.class_accuracies


def test_learn_cav_gives_the_same_cav_in_concurrent_threads():
    """No global random state: CAVs fitted at once in threads equal those fitted one by one."""
    from concurrent.futures import ThreadPoolExecutor

    pairs = [_separable_acts(seed) for seed in range(8)]

    def fit(i):
        return learn_cav(f"c{i}", "r", "b", *pairs[i], model_type="linear", alpha=0.1, seed=9).vector

    alone = [fit(i) for i in range(8)]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(fit, range(8)))
    for a, b in zip(alone, together):
        np.testing.assert_array_equal(a, b)


def test_learn_cav_is_seeded_by_content_not_by_names():
    concept, random = _separable_acts(4, n=30)
    concept = concept + np.random.default_rng(0).normal(scale=2.0, size=concept.shape)  # a noisy fit
    a = learn_cav("red", "random500_0", "b", concept, random, model_type="linear", alpha=0.1, seed=1)
    b = learn_cav("spiky", "random500_7", "b", concept.copy(), random.copy(), model_type="linear", alpha=0.1, seed=1)
    np.testing.assert_array_equal(a.vector, b.vector)
    assert (a.concept, b.concept) == ("red", "spiky")
    other = concept.copy()
    other[0, 0] += 1e-3  # one value changed: another set, another seed
    c = learn_cav("red", "random500_0", "b", other, random, model_type="linear", alpha=0.1, seed=1)
    assert not np.array_equal(a.vector, c.vector)
