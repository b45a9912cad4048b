"""tcavcore.concept_maps: per-position projections on a CAV, calibration, upsampling."""

import numpy as np
import pytest

from tcavcore.cav_store import StoredCav
from tcavcore.concept_maps import (calibrate, calibrated_concept_map, calibrated_presence, concept_map, projection,
                                   reference_presences, upsample)


def acts(seed=0, shape=(5, 4, 3)):
    return np.random.default_rng(seed).random(shape)


def cav(vector, concept=(2.0, 4.0), random=(0.0, 1.0)):
    return StoredCav("red", "random500_0", "conv1", 0.1, np.asarray(vector, float), 0.9,
                     np.asarray(concept, float), np.asarray(random, float))


@pytest.mark.parametrize("channel", [0, 2])
def test_a_cav_along_one_channel_gives_that_channels_map_spatial_mean(channel):
    a = acts()
    vector = np.eye(3)[channel]
    np.testing.assert_allclose(concept_map(a, vector, "spatial_mean"), a[..., channel])


@pytest.mark.parametrize("channel", [0, 1])
def test_a_cav_along_one_channel_at_every_position_gives_that_channels_map_pooling_none(channel):
    a = acts()
    vector = np.tile(np.eye(3)[channel], (5, 4, 1)).ravel()  # flattened (h, w, c) as the CAV is stored
    np.testing.assert_allclose(concept_map(a, vector, "none"), a[..., channel])


def test_a_pooling_none_cav_weighs_each_position_by_its_own_weights():
    a = acts()
    weights = np.zeros((5, 4, 3))
    weights[1, 2, 0] = 2.0  # one position, one channel
    expected = np.zeros((5, 4))
    expected[1, 2] = 2.0 * a[1, 2, 0]
    np.testing.assert_allclose(concept_map(a, weights.ravel(), "none"), expected)


def test_the_maps_mean_or_sum_is_the_images_presence():
    a = acts(1)
    rng = np.random.default_rng(2)
    channel_cav, full_cav = rng.normal(size=3), rng.normal(size=5 * 4 * 3)
    assert concept_map(a, channel_cav, "spatial_mean").mean() == pytest.approx(projection(a[None], channel_cav, "spatial_mean")[0])
    assert concept_map(a, full_cav, "none").sum() == pytest.approx(projection(a[None], full_cav, "none")[0])


def test_batched_maps_and_wrong_sizes():
    batch = acts(shape=(2, 5, 4, 3))
    assert concept_map(batch, np.ones(3), "spatial_mean").shape == (2, 5, 4)
    with pytest.raises(ValueError, match="one weight per channel"):
        concept_map(batch, np.ones(4), "spatial_mean")
    with pytest.raises(ValueError, match="per position and channel"):
        concept_map(batch, np.ones(3), "none")
    with pytest.raises(ValueError, match="conv layer"):
        concept_map(np.ones((2, 3)), np.ones(3), "spatial_mean")
    with pytest.raises(ValueError, match="pooling"):
        concept_map(batch, np.ones(3), "max")


def test_calibration_puts_random_at_0_and_concept_at_1():
    c = cav([1.0, 0.0, 0.0], concept=(2.0, 4.0), random=(0.0, 2.0))  # means 3 and 1
    np.testing.assert_allclose(calibrate([1.0, 3.0, 5.0], c), [0.0, 1.0, 2.0])
    concept, random = reference_presences([c])
    assert concept.mean() == pytest.approx(1.0) and random.mean() == pytest.approx(0.0)
    assert np.isnan(calibrate([1.0], cav([1.0], concept=(1.0,), random=(1.0,)))).all()


@pytest.mark.parametrize("pooling", ["spatial_mean", "none"])
def test_the_calibrated_maps_mean_is_the_calibrated_presence(pooling):
    a = acts(3)
    rng = np.random.default_rng(4)
    size = 3 if pooling == "spatial_mean" else 60
    cavs = [cav(rng.normal(size=size), concept=rng.normal(size=6) + 3, random=rng.normal(size=6)) for _ in range(3)]
    presence = calibrated_presence(a[None], cavs, pooling)[0]
    assert calibrated_concept_map(a, cavs, pooling).mean() == pytest.approx(presence)


def test_upsampling_shape_range_and_constants():
    small = np.array([[0.0, 1.0], [2.0, 3.0]])
    big = upsample(small, 8, 6)
    assert big.shape == (8, 6)
    assert big.min() >= 0.0 and big.max() <= 3.0
    np.testing.assert_allclose(upsample(np.full((3, 3), 0.7), 32, 32), 0.7)
    np.testing.assert_allclose(upsample(small, 2, 2), small)  # same size: unchanged
    # corners keep the corner values, the middle is the average of the four
    assert big[0, 0] == pytest.approx(0.0) and big[-1, -1] == pytest.approx(3.0)
    assert upsample(small, 3, 3)[1, 1] == pytest.approx(1.5)


def test_upsampling_matches_pillows_bilinear_resize():
    from PIL import Image

    small = np.random.default_rng(5).random((4, 4)).astype(np.float32)
    ours = upsample(small, 16, 16)
    pillow = np.asarray(Image.fromarray(small, mode="F").resize((16, 16), Image.BILINEAR))
    np.testing.assert_allclose(ours, pillow, atol=1e-5)
