"""model.epoch_recorder: the activations of a fixed sample, before training and after every epoch."""

from __future__ import annotations

import numpy as np
import pytest

import common  # noqa: F401  (sets the TensorFlow/protobuf environment first)
from common.errors import PipelineError
from common.determinism import make_deterministic
from model.epoch_recorder import EpochRecorder, epoch_sample, not_recorded_bytes, read_recording, recording_bytes


def test_the_sample_is_spread_over_the_classes_seeded_and_sorted():
    labels = np.repeat(np.arange(3), [20, 20, 4])
    sample = epoch_sample(labels, 10, 3, seed=7)
    assert np.array_equal(sample, epoch_sample(labels, 10, 3, seed=7))
    assert not np.array_equal(sample, epoch_sample(labels, 10, 3, seed=8))
    assert np.all(np.diff(sample) > 0)
    assert np.bincount(labels[sample], minlength=3).tolist() == [4, 3, 3]  # the remainder to the first class
    # a class with fewer images than its share gives all it has
    assert np.bincount(labels[epoch_sample(labels, 30, 3, seed=7)], minlength=3).tolist() == [10, 10, 4]


def images_and_labels():
    rng = np.random.default_rng(0)
    x = rng.random((48, 8, 8, 3), dtype=np.float32)
    y = np.repeat(np.arange(3), 16)
    x[y == 0, ..., 0] += 0.6  # something to learn
    x[y == 1, ..., 2] += 0.6
    return x, y


def fit(recorder=None, epochs=3):
    import keras

    from model.cnn import build_cnn

    x, y = images_and_labels()
    make_deterministic(3)
    model = build_cnn(8, 3, [4, 8], 8, 0.25)  # with dropout: recording must not draw its random numbers
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss=keras.losses.CategoricalCrossentropy(from_logits=True))
    initial = [w.copy() for w in model.get_weights()]
    model.fit(x, keras.utils.to_categorical(y, 3), epochs=epochs, batch_size=16, verbose=0, shuffle=True,
              callbacks=[recorder] if recorder is not None else None)
    return model, initial


@pytest.fixture(scope="module")
def recorded():
    x, y = images_and_labels()
    sample = epoch_sample(y, 12, 3, seed=1)
    recorder = EpochRecorder(x[sample], "gap")
    model, initial = fit(recorder)
    return recorder, model, initial, x[sample], y[sample], sample


def test_records_before_training_and_after_every_epoch(recorded):
    recorder, _, _, images, _, _ = recorded
    assert recorder.epochs == [0, 1, 2, 3]
    assert recorder.activations.shape == (4, len(images), 8) and recorder.activations.dtype == np.float32
    assert recorder.predictions.shape == (4, len(images))
    assert not np.array_equal(recorder.activations[0], recorder.activations[-1])  # training moved them


def test_epoch_0_is_the_untrained_network_and_the_last_the_trained_one(recorded):
    from model.cnn import build_cnn
    from model.inspection import layer_outputs

    recorder, model, initial, images, _, _ = recorded
    untrained = build_cnn(8, 3, [4, 8], 8, 0.25)
    untrained.set_weights(initial)
    np.testing.assert_allclose(recorder.activations[0], layer_outputs(untrained, ["gap"], images)["gap"], atol=1e-6)
    np.testing.assert_allclose(recorder.activations[-1], layer_outputs(model, ["gap"], images)["gap"], atol=1e-6)


def test_recording_changes_no_weight(recorded):
    _, with_recorder, _, _, _, _ = recorded
    without, _ = fit(None)
    assert all(np.array_equal(a, b) for a, b in zip(with_recorder.get_weights(), without.get_weights()))


def test_a_layer_the_model_lacks_is_named_with_the_ones_it_has():
    x, _ = images_and_labels()
    with pytest.raises(PipelineError, match=r"views\.epoch_layer: 'conv9'.*conv1, pool1, conv2, gap"):
        fit(EpochRecorder(x[:4], "conv9"), epochs=1)


def test_the_recording_file_is_byte_stable_and_reads_back(recorded, tmp_path):
    recorder, _, _, _, labels, sample = recorded
    data = recording_bytes(recorder, labels, sample, ["fire", "water", "grass"])
    assert data == recording_bytes(recorder, labels, sample, ["fire", "water", "grass"])
    path = tmp_path / "epoch_activations.npz"
    path.write_bytes(data)
    arrays = read_recording(path)
    assert arrays["epochs"].tolist() == [0, 1, 2, 3] and str(arrays["layer"]) == "gap"
    assert np.array_equal(arrays["activations"], recorder.activations)
    assert np.array_equal(arrays["labels"], labels) and np.array_equal(arrays["indices"], sample)
    assert arrays["classes"].tolist() == ["fire", "water", "grass"]


def test_nothing_recorded_says_why_and_a_missing_file_is_named(tmp_path):
    path = tmp_path / "none.npz"
    path.write_bytes(not_recorded_bytes("model.source is 'keras'"))
    arrays = read_recording(path)
    assert len(arrays["epochs"]) == 0 and str(arrays["reason"]) == "model.source is 'keras'"
    with pytest.raises(PipelineError, match="missing.npz: not found"):
        read_recording(tmp_path / "missing.npz")
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(PipelineError, match="bad.npz"):
        read_recording(tmp_path / "bad.npz")


def test_a_wide_layer_is_warned_about(monkeypatch, caplog):
    import logging

    import model.epoch_recorder as recorder_module

    monkeypatch.setattr(recorder_module, "LARGE_RECORDING", 1000)
    x, _ = images_and_labels()
    with caplog.at_level(logging.WARNING):
        fit(EpochRecorder(x[:4], "conv1"), epochs=1)
    assert "views.epoch_layer conv1 has 256 values per image" in caplog.text
