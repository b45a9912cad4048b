"""The training-time projection: one fixed 2-D map for every epoch's activations, and the test
images placed on the trained network's map (seed 001's "train + test" plot).

**One map, fitted once, on every epoch stacked.** The recording (``model.epoch_recorder``) holds
the same images' activations at each epoch. Fitting a projection per epoch, as seed 001 does,
gives each frame its own axes: PCA's may flip or rotate, UMAP's and t-SNE's are arbitrary, so
points move from frame to frame even when the network did not change. Here the projection is
fitted once, on all epochs' activations together, and each frame shows its epoch's points of that
one map: when a point moves between frames, its activations moved. Fitting on all epochs (not on
the last one and placing the earlier ones) keeps every frame a fitted part of the map: the
untrained network's activations resemble none of the trained network's, and UMAP would place
them among neighbours they do not have; t-SNE cannot place new points at all.

**Train + test.** The trained network's map is fitted to the sample of training images (their
last recorded epoch: the trained model's activations) and the test images are placed on it
(PCA's linear map, UMAP's transform). t-SNE cannot place new points, so with t-SNE both are
fitted together and the chart says so.
"""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass

import numpy as np

from model.projection import PLACES_NEW_POINTS, fit_projection

log = logging.getLogger(__name__)


@dataclass
class EpochMap:
    """Every epoch's points on one fixed map."""

    method: str
    layer: str
    classes: list[str]
    epochs: np.ndarray  # (E,) epoch numbers, 0 = before training
    labels: np.ndarray  # (n,) true class of each sampled training image
    indices: np.ndarray  # (n,) the images' positions in the train split
    predictions: np.ndarray  # (E, n) the class each image was given at each epoch
    xy: np.ndarray  # (E, n, 2) coordinates, one fixed map
    explained: np.ndarray | None  # PCA: variance ratio of the two axes over all epochs
    separation: np.ndarray  # (E,) silhouette of the true classes in the layer's own space


@dataclass
class TrainTestMap:
    """The trained network's map of the training sample, with the test images on it."""

    method: str
    layer: str
    classes: list[str]
    train_xy: np.ndarray
    train_labels: np.ndarray
    test_xy: np.ndarray
    test_labels: np.ndarray
    test_predicted: np.ndarray
    placed: bool  # True: test images placed on the training map; False: fitted together (t-SNE)


def epoch_coordinates(activations: np.ndarray, method: str, seed: int) -> tuple[np.ndarray, np.ndarray | None]:
    """(E, n, 2) coordinates of every epoch's activations (E, n, d) on one map fitted once to all
    of them stacked, and PCA's explained variance ratios (None otherwise).

    The map is fitted to the distinct activation rows: UMAP and t-SNE lay out duplicates with
    random jitter, so an image whose activations did not change would seem to move. This way
    equal activations get equal coordinates with every method.
    """
    epochs, n = activations.shape[:2]
    distinct, where = np.unique(activations.reshape(epochs * n, -1), axis=0, return_inverse=True)
    if len(distinct) < 3:  # a layer of dead units: nothing to lay out
        return np.zeros((epochs, n, 2), np.float32), None
    fitted = fit_projection(distinct, method, seed)
    return fitted.xy[where.ravel()].reshape(epochs, n, 2), fitted.explained


def class_separation(features: np.ndarray, labels: np.ndarray) -> float:
    """Silhouette of the true classes in ``features`` (n, d), in the layer's space, not the map's:
    1 = tight, well separated classes, 0 = overlapping, NaN when it is undefined (one class, or
    every point identical, as in a layer of dead units)."""
    from sklearn.metrics import silhouette_score

    if len(np.unique(labels)) < 2 or len(labels) <= len(np.unique(labels)) or np.ptp(features) == 0:
        return float("nan")
    return float(silhouette_score(features, labels))


def epoch_map(recording: dict[str, np.ndarray], method: str, seed: int) -> EpochMap:
    """The fixed map of a train-stage recording (``model.epoch_recorder.read_recording``)."""
    activations = recording["activations"].astype(np.float64)
    xy, explained = epoch_coordinates(activations, method, seed)
    labels = recording["labels"]
    return EpochMap(
        method=method, layer=str(recording["layer"]), classes=[str(c) for c in recording["classes"]],
        epochs=recording["epochs"], labels=labels, indices=recording["indices"],
        predictions=recording["predictions"], xy=xy, explained=explained,
        separation=np.array([class_separation(a, labels) for a in activations], np.float64),
    )


def train_test_map(train_features: np.ndarray, train_labels: np.ndarray, test_features: np.ndarray,
                   test_labels: np.ndarray, test_predicted: np.ndarray, method: str, seed: int, layer: str,
                   classes: list[str]) -> TrainTestMap:
    """Fit the map to the training features and place the test features on it (PCA, UMAP), or,
    for t-SNE (no transform), fit both together."""
    train_features = np.asarray(train_features, np.float64)
    test_features = np.asarray(test_features, np.float64)
    if method in PLACES_NEW_POINTS or len(test_features) == 0:
        fitted = fit_projection(train_features, method, seed)
        if len(test_features) == 0:  # a run with no test split: nothing to place
            return TrainTestMap(method, layer, classes, fitted.xy, np.asarray(train_labels), np.zeros((0, 2), np.float32),
                                np.zeros(0, int), np.zeros(0, int), True)
        train_xy, test_xy, placed = fitted.xy, fitted.place(test_features), True
    else:
        both = fit_projection(np.concatenate([train_features, test_features]), method, seed).xy
        train_xy, test_xy, placed = both[:len(train_features)], both[len(train_features):], False
    return TrainTestMap(method, layer, classes, train_xy, np.asarray(train_labels), test_xy,
                        np.asarray(test_labels), np.asarray(test_predicted), placed)


def epoch_csv(frames: EpochMap) -> str:
    """One row per (epoch, image): ``epoch, image, class, predicted, x, y`` (``dvc plots``)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["epoch", "image", "class", "predicted", "x", "y"])
    for e, epoch in enumerate(frames.epochs):
        for i, index in enumerate(frames.indices):
            writer.writerow([int(epoch), int(index), frames.classes[int(frames.labels[i])],
                             frames.classes[int(frames.predictions[e, i])],
                             f"{frames.xy[e, i, 0]:.6g}", f"{frames.xy[e, i, 1]:.6g}"])
    return out.getvalue()


def separation_csv(frames: EpochMap) -> str:
    """One row per epoch: ``epoch, silhouette, accuracy`` of the sample (``dvc plots``)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["epoch", "silhouette", "accuracy"])
    for e, epoch in enumerate(frames.epochs):
        accuracy = float(np.mean(frames.predictions[e] == frames.labels))
        writer.writerow([int(epoch), f"{frames.separation[e]:.6f}", f"{accuracy:.6f}"])
    return out.getvalue()


def train_test_csv(placed: TrainTestMap) -> str:
    """One row per image: ``split, class, predicted, correct, x, y`` (``dvc plots``)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["split", "class", "predicted", "correct", "x", "y"])
    names = placed.classes
    for i, label in enumerate(placed.train_labels):
        writer.writerow(["train", names[int(label)], "", "", f"{placed.train_xy[i, 0]:.6g}",
                         f"{placed.train_xy[i, 1]:.6g}"])
    for i, label in enumerate(placed.test_labels):
        predicted = int(placed.test_predicted[i])
        writer.writerow(["test", names[int(label)], names[predicted], int(predicted == int(label)),
                         f"{placed.test_xy[i, 0]:.6g}", f"{placed.test_xy[i, 1]:.6g}"])
    return out.getvalue()


def training_time_maps(params, recording_path, model_path, processed) -> tuple[EpochMap, TrainTestMap] | str:
    """Both maps for the views stage, from the train stage's recording and the trained model, or,
    when the train stage recorded nothing (an outside model), the reason it gave."""
    from pathlib import Path

    from common.errors import PipelineError
    from images.splits import load_split
    from model.cnn import load_model
    from model.epoch_recorder import read_recording
    from model.inspection import layer_outputs

    recording = read_recording(recording_path)
    if len(recording["epochs"]) == 0:
        return str(recording.get("reason", "the train stage recorded no epoch"))
    if [str(c) for c in recording["classes"]] != list(params.classes):
        raise PipelineError(f"{recording_path}: recorded for classes {[str(c) for c in recording['classes']]}, "
                            f"params.yaml has {list(params.classes)}: it is out of date, run `dvc repro`")
    method, seed = params.views.projection, params.seed
    frames = epoch_map(recording, method, seed)
    log.info("views: %s of %d training images at %s over %d epochs (one map, fitted once)", method,
             len(frames.labels), frames.layer, len(frames.epochs) - 1)

    trained = load_model(Path(model_path))
    x_test, y_test = load_split(Path(processed), "test", params.classes, params.preprocess.image_size)
    test_features = layer_outputs(trained, [frames.layer], x_test)[frames.layer].reshape(len(x_test), -1) \
        if len(x_test) else np.zeros((0, recording["activations"].shape[-1]))
    logits = np.concatenate([np.asarray(trained(x_test[i:i + 256], training=False))
                             for i in range(0, len(x_test), 256)]) if len(x_test) else np.zeros((0, len(params.classes)))
    # The last recorded epoch is the trained model: its activations are the training sample's.
    placed = train_test_map(recording["activations"][-1], frames.labels, test_features, y_test,
                            np.argmax(logits, axis=1), method, seed, frames.layer, frames.classes)
    log.info("views: %d test images %s the training map (%d misclassified)", len(y_test),
             "placed on" if placed.placed else "fitted together with (t-SNE places no new point)",
             int(np.sum(placed.test_predicted != placed.test_labels)))
    return frames, placed
