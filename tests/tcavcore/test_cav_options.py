"""Pattern CAVs and spatially pooled CAVs."""

import numpy as np
import pytest

from tcavcore.cav import learn_cav
from tcavcore.engine import pool_spatial


def two_sets(rng, n=60, d=20, shift=3.0):
    concept = rng.normal(size=(n, d))
    concept[:, 0] += shift
    return concept, rng.normal(size=(n, d))


def test_pattern_cav_is_the_difference_of_means_and_points_to_the_concept():
    rng = np.random.default_rng(0)
    concept, random = two_sets(rng)
    cav = learn_cav("c", "r", "b", concept, random, model_type="pattern", alpha=0.1, seed=1)
    assert cav.vector.shape == (20,)
    assert np.argmax(np.abs(cav.vector)) == 0 and cav.vector[0] > 1.5
    assert cav.accuracy > 0.8 and min(cav.class_accuracies) > 0.7
    again = learn_cav("c", "r", "b", concept, random, model_type="pattern", alpha=0.1, seed=1)
    assert np.array_equal(cav.vector, again.vector)


def test_pattern_cav_is_at_chance_on_sets_that_do_not_differ():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(80, 30)), rng.normal(size=(80, 30))
    cav = learn_cav("c", "r", "b", a, b, model_type="pattern", alpha=0.1, seed=2)
    assert cav.accuracy < 0.7


def test_pattern_cav_ignores_a_distractor_direction_a_classifier_uses():
    """A feature that differs between the sets only by cancelling noise gets no weight in a pattern CAV."""
    rng = np.random.default_rng(2)
    n = 200
    label = np.repeat([1.0, 0.0], n)
    noise = rng.normal(size=2 * n)
    signal = label + noise           # carries the concept, plus noise
    distractor = noise               # the noise alone: useful to a classifier, not the concept
    x = np.stack([signal, distractor], axis=1)
    cav = learn_cav("c", "r", "b", x[:n], x[n:], model_type="pattern", alpha=0.01, seed=3)
    assert abs(cav.vector[1]) < 0.25 * abs(cav.vector[0])
    linear = learn_cav("c", "r", "b", x[:n], x[n:], model_type="linear", alpha=0.01, seed=3)
    assert abs(linear.vector[1]) > 0.5 * abs(linear.vector[0])


def test_spatial_pooling_averages_height_and_width_only():
    values = np.arange(2 * 3 * 4 * 5, dtype=float).reshape(2, 3, 4, 5)
    pooled = pool_spatial(values, "spatial_mean")
    assert pooled.shape == (2, 5)
    assert np.allclose(pooled, values.mean(axis=(1, 2)))
    flat = np.ones((4, 7))
    assert pool_spatial(flat, "spatial_mean") is flat
    assert pool_spatial(values, "none") is values
    with pytest.raises(ValueError, match="pooling"):
        pool_spatial(values, "max")
