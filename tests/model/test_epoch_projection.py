"""model.epoch_projection: one map fitted once for every epoch, and the test images placed on it."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pytest

import model.epoch_projection as epoch_projection
from model.epoch_projection import (class_separation, epoch_coordinates, epoch_csv, epoch_map, separation_csv,
                                    train_test_csv, train_test_map)
from model.projection import fit_projection

ROOT = Path(__file__).resolve().parents[2]


def recording(epochs=4, per_class=10, features=6, seed=0):
    """A made-up recording: three classes that pull apart epoch by epoch."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(3), per_class)
    centres = rng.normal(size=(3, features)) * 3
    noise = rng.normal(size=(len(labels), features))
    acts = np.stack([noise + centres[labels] * e / (epochs - 1) for e in range(epochs)]).astype(np.float32)
    predictions = np.stack([labels if e else np.zeros_like(labels) for e in range(epochs)]).astype(np.int16)
    return {"epochs": np.arange(epochs), "activations": acts, "predictions": predictions, "labels": labels,
            "indices": np.arange(len(labels)) * 2, "layer": np.array("gap"), "classes": np.array(["a", "b", "c"])}


@pytest.mark.parametrize("method", ["pca", "tsne", "umap"])
def test_frames_of_identical_activations_have_identical_coordinates(method):
    still = recording()["activations"][1]
    stacked = np.stack([still, still, still * 2, still])  # epoch 2 moved, epochs 0, 1, 3 did not
    xy, _ = epoch_coordinates(stacked, method, seed=3)
    assert xy.shape == (4, len(still), 2)
    assert np.array_equal(xy[0], xy[1]) and np.array_equal(xy[0], xy[3])
    assert not np.allclose(xy[0], xy[2])


def test_the_map_is_fitted_once_on_every_epoch_together(monkeypatch):
    calls = []

    def counting(features, method, seed):
        calls.append(len(features))
        return fit_projection(features, method, seed)

    monkeypatch.setattr(epoch_projection, "fit_projection", counting)
    rec = recording(epochs=5)
    frames = epoch_map(rec, "pca", seed=0)
    assert calls == [5 * 30]  # one fit, on all 5 epochs' 30 images
    # PCA: the frames are the one linear map applied to each epoch (the same axes for all)
    stacked = rec["activations"].reshape(150, -1).astype(np.float64)
    np.testing.assert_allclose(frames.xy.reshape(150, 2), fit_projection(stacked, "pca", 0).xy, atol=1e-5)


@pytest.mark.parametrize("method", ["pca", "umap"])
def test_the_map_is_deterministic(method):
    rec = recording()
    first, again = epoch_map(rec, method, seed=5), epoch_map(rec, method, seed=5)
    assert np.array_equal(first.xy, again.xy)
    assert epoch_csv(first) == epoch_csv(again)


def test_separation_grows_as_the_classes_pull_apart_and_is_nan_when_undefined():
    frames = epoch_map(recording(), "pca", seed=0)
    assert frames.separation[0] < 0.1 < 0.5 < frames.separation[-1]
    assert np.isnan(class_separation(np.zeros((6, 3)), np.repeat(np.arange(3), 2)))  # dead units
    assert np.isnan(class_separation(np.ones((4, 3)) * np.arange(4)[:, None], np.zeros(4, int)))  # one class


@pytest.mark.parametrize("method", ["pca", "umap"])
def test_test_images_are_placed_on_the_map_fitted_to_the_training_images(method):
    rec = recording()
    train = rec["activations"][-1]
    test = train[::3] + 0.01
    placed = train_test_map(train, rec["labels"], test, rec["labels"][::3], rec["labels"][::3], method, 1, "gap",
                            ["a", "b", "c"])
    assert placed.placed
    fitted = fit_projection(train, method, 1)
    assert np.array_equal(placed.train_xy, fitted.xy)  # the training map is not refitted with the test images
    if method == "pca":
        np.testing.assert_allclose(placed.test_xy, fitted.place(test), atol=1e-5)


def test_tsne_cannot_place_new_points_so_both_are_fitted_together():
    rec = recording()
    train = rec["activations"][-1]
    placed = train_test_map(train, rec["labels"], train[:5], rec["labels"][:5], rec["labels"][:5], "tsne", 1, "gap",
                            ["a", "b", "c"])
    assert not placed.placed and placed.train_xy.shape == (30, 2) and placed.test_xy.shape == (5, 2)
    with pytest.raises(ValueError, match="cannot place new points"):
        fit_projection(train, "tsne", 1).place(train[:2])


def test_the_csv_files_have_a_row_per_point():
    rec = recording(epochs=3)
    frames = epoch_map(rec, "pca", seed=0)
    rows = list(csv.DictReader(io.StringIO(epoch_csv(frames))))
    assert len(rows) == 3 * 30 and rows[0].keys() == {"epoch", "image", "class", "predicted", "x", "y"}
    assert rows[0]["epoch"] == "0" and rows[-1]["epoch"] == "2" and rows[1]["image"] == "2"
    per_epoch = list(csv.DictReader(io.StringIO(separation_csv(frames))))
    assert [r["epoch"] for r in per_epoch] == ["0", "1", "2"] and per_epoch[-1]["accuracy"] == "1.000000"
    wrong = rec["labels"][:6].copy()
    wrong[0] = 1
    placed = train_test_map(rec["activations"][-1], rec["labels"], rec["activations"][-1][:6], rec["labels"][:6],
                            wrong, "pca", 0, "gap", ["a", "b", "c"])
    rows = list(csv.DictReader(io.StringIO(train_test_csv(placed))))
    assert [r["split"] for r in rows].count("test") == 6
    assert [r["correct"] for r in rows if r["split"] == "test"] == ["0", "1", "1", "1", "1", "1"]


def test_with_an_outside_model_the_views_stage_says_nothing_was_recorded(tmp_path, caplog):
    import logging

    from common.params import load_params
    from model.epoch_recorder import not_recorded_bytes
    from pipeline.views import epoch_files

    path = tmp_path / "epoch_activations.npz"
    path.write_bytes(not_recorded_bytes("not trained: model.source is 'keras'"))
    with caplog.at_level(logging.INFO):
        assert epoch_files(load_params(ROOT / "params.yaml"), path, tmp_path / "no_model.keras", tmp_path) == {}
    assert "no projection during training (not trained: model.source is 'keras')" in caplog.text
