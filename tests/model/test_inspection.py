"""Tests for the views stage's pieces and the helpers it shares (npz writing, random labels)."""

from __future__ import annotations

import io

import numpy as np
import pytest

from common.errors import PipelineError
from common.files import npz_bytes
from model.cnn import build_cnn, load_model
from model.training import random_labels
from model.inspection import confusion, first_per_class, layer_outputs, project


def test_npz_bytes_round_trip_and_is_byte_stable():
    arrays = {"images": np.arange(24, dtype=np.uint8).reshape(2, 2, 2, 3), "after/conv1": np.ones((2, 3), np.float32),
              "groups": np.array(["fire", "random"])}
    data = npz_bytes(arrays)
    assert npz_bytes(arrays) == data  # no timestamps
    with np.load(io.BytesIO(data), allow_pickle=False) as loaded:
        assert sorted(loaded.files) == sorted(arrays)
        for name, value in arrays.items():
            assert np.array_equal(loaded[name], value) and loaded[name].dtype == value.dtype


def test_random_labels_carry_no_information_about_the_true_class():
    true = np.repeat(np.arange(3), [90, 91, 89])
    new = random_labels(true, 3, seed=5)
    assert np.array_equal(new, random_labels(true, 3, seed=5))
    assert not np.array_equal(new, random_labels(true, 3, seed=6))
    for c in range(3):
        counts = np.bincount(new[true == c], minlength=3)
        assert counts.max() - counts.min() <= 1  # as even as the class size allows
    assert np.mean(new == true) == pytest.approx(1 / 3, abs=0.01)


def test_first_per_class_takes_the_first_images_class_by_class():
    labels = np.array([1, 0, 1, 2, 0, 1, 2, 0])
    assert first_per_class(labels, 2, 3).tolist() == [1, 4, 0, 2, 3, 6]


def test_pca_projection_is_deterministic_and_reports_variance():
    features = np.random.default_rng(0).normal(size=(40, 10)) * np.arange(1, 11)
    xy, explained = project(features, "pca", seed=1)
    again, _ = project(features, "pca", seed=1)
    assert xy.shape == (40, 2) and np.array_equal(xy, again)
    assert explained[0] >= explained[1] > 0 and explained.sum() <= 1


def test_tsne_projection_is_seeded():
    features = np.random.default_rng(0).normal(size=(30, 5))
    xy, explained = project(features, "tsne", seed=3)
    assert explained is None and xy.shape == (30, 2)
    assert np.array_equal(xy, project(features, "tsne", seed=3)[0])


@pytest.fixture(scope="module")
def small_model():
    import keras

    keras.utils.set_random_seed(0)
    return build_cnn(8, 3, [2, 4], 0, 0.0)


def test_layer_outputs_and_confusion(small_model):
    images = np.random.default_rng(0).random((5, 8, 8, 3), dtype=np.float32)
    outputs = layer_outputs(small_model, ["conv1", "pool1", "conv2"], images, batch_size=2)
    assert [outputs[name].shape for name in ("conv1", "pool1", "conv2")] == [(5, 8, 8, 2), (5, 4, 4, 2), (5, 4, 4, 4)]
    whole = layer_outputs(small_model, ["conv2"], images, batch_size=64)["conv2"]
    assert whole.shape == (5, 4, 4, 4)  # one layer asked for: still one array of all images
    assert np.allclose(whole, outputs["conv2"], atol=1e-6)  # batching changes nothing
    with pytest.raises(PipelineError, match="conv9"):
        layer_outputs(small_model, ["conv9"], images)
    matrix = confusion(small_model, images, np.array([0, 1, 2, 0, 1]), ["a", "b", "c"])
    assert matrix["classes"] == ["a", "b", "c"] and sum(map(sum, matrix["matrix"])) == 5
    assert [sum(row) for row in matrix["matrix"]] == [2, 2, 1]


def test_load_model_names_a_missing_or_damaged_file(tmp_path):
    with pytest.raises(PipelineError, match="not found"):
        load_model(tmp_path / "none.keras")
    bad = tmp_path / "bad.keras"
    bad.write_bytes(b"not a zip")
    with pytest.raises(PipelineError, match="bad.keras"):
        load_model(bad)
