"""What the network sees, as arrays for the report's charts: the confusion matrix, feature maps
before and after training, and 2-D projections of the bottleneck activations (the ``views``
stage writes them; keeping the arrays there keeps TensorFlow out of the report)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Sequence

import numpy as np

from common.errors import PipelineError
from common.files import npz_bytes
from common.params import Params

log = logging.getLogger(__name__)

KIND_CLASS, KIND_CONCEPT, KIND_RANDOM = "class", "concept", "random"


def layer_outputs(model, layers: Sequence[str], images: np.ndarray, batch_size: int = 256) -> dict[str, np.ndarray]:
    """Activations of the named layers for ``images``, in batches."""
    import keras

    missing = [name for name in layers if name not in {layer.name for layer in model.layers}]
    if missing:
        raise PipelineError(f"layer(s) {', '.join(missing)} not in the model; it has {', '.join(l.name for l in model.layers)}")
    probe = keras.Model(model.input, [model.get_layer(name).output for name in layers])
    # Called directly, batch by batch: Model.predict would trace a new function per probe.
    batches = [probe(images[start:start + batch_size], training=False) for start in range(0, len(images), batch_size)]
    if len(layers) == 1:  # a one-output model returns the tensor itself, not a list of one
        batches = [[batch] for batch in batches]
    return {name: np.concatenate([np.asarray(batch[i]) for batch in batches]) for i, name in enumerate(layers)}


def confusion(model, images: np.ndarray, labels: np.ndarray, classes: Sequence[str]) -> dict:
    """Confusion matrix (true x predicted counts) and accuracy of ``model`` on ``images``."""
    from sklearn.metrics import confusion_matrix

    logits = np.concatenate([np.asarray(model(images[start:start + 256], training=False))
                             for start in range(0, len(images), 256)]) if len(images) else np.zeros((0, len(classes)))
    predicted = np.argmax(logits, axis=1)
    matrix = confusion_matrix(labels, predicted, labels=list(range(len(classes))))
    return {
        "classes": list(classes),
        "matrix": matrix.astype(int).tolist(),
        "n_images": int(len(labels)),
        "accuracy": round(float(np.mean(predicted == labels)), 6) if len(labels) else None,
    }


def first_per_class(labels: np.ndarray, count: int, n_classes: int) -> np.ndarray:
    """Indices of the first ``count`` items of each class, class by class."""
    return np.concatenate([np.flatnonzero(labels == c)[:count] for c in range(n_classes)]).astype(int)


def project(features: np.ndarray, method: str, seed: int) -> tuple[np.ndarray, np.ndarray | None]:
    """2-D projection of ``features`` (n, d): the coordinates and, for PCA, explained variance ratios."""
    from model.projection import fit_projection

    fitted = fit_projection(features, method, seed)
    return fitted.xy, fitted.explained


def projection_sets(params: Params, processed: Path, concepts_dir: Path) -> list[tuple[str, str, np.ndarray]]:
    """(group name, kind, images) for the projection: each class, each concept, and random
    images taken in turn from the tcav random sets (so no one set stands for "random")."""
    from images.loading import load_folder

    size, count, pixels = params.preprocess.image_size, params.views.projection_images, params.crawl.curation.max_pixels
    split_dir = processed / params.tcav.target_split
    sets = [(c, KIND_CLASS, load_folder(split_dir / c, size, count, pixels)[0]) for c in params.classes]
    sets += [(c, KIND_CONCEPT, load_folder(concepts_dir / c, size, count, pixels)[0]) for c in params.tcav.concepts]
    per_set = [load_folder(concepts_dir / "random" / r, size, count, pixels)[0] for r in params.random_sets]
    mixed = [per_set[i % len(per_set)][i // len(per_set)] for i in range(count)
             if i // len(per_set) < len(per_set[i % len(per_set)])]
    sets.append(("random", KIND_RANDOM, np.stack(mixed)))
    return sets


def compute_views_frozen(params: Params, frozen_dir: Path, processed: Path, concepts_dir: Path) -> dict[str, bytes]:
    """The stage's files for an outside model, from its converted graph (no feature maps)."""
    from images.splits import load_split
    from wrappers import FrozenGraphWrapper, ModelLoadError, UnknownBottleneckError

    try:
        model = FrozenGraphWrapper(frozen_dir, params.tcav.bottlenecks)
    except UnknownBottleneckError as error:
        raise PipelineError(f"tcav.bottlenecks: {error}") from None
    except ModelLoadError as error:
        raise PipelineError(str(error)) from None
    classes, size = params.classes, params.preprocess.image_size
    columns = [model.label_to_id(name) for name in classes]
    x_test, y_test = load_split(processed, "test", classes, size)
    logits = np.concatenate([model.logits(x_test[i:i + 256]) for i in range(0, len(x_test), 256)]) \
        if len(x_test) else np.zeros((0, len(model.labels)), np.float32)
    # The matrix is over the scored classes: each image goes to the scored class with the highest
    # logit; how many images the model gives to another of its labels is recorded beside it.
    from sklearn.metrics import confusion_matrix

    predicted = np.argmax(logits[:, columns], axis=1) if len(x_test) else np.zeros(0, int)
    others = int(np.sum(~np.isin(np.argmax(logits, axis=1), columns))) if len(x_test) else 0
    matrix = {
        "classes": list(classes),
        "matrix": confusion_matrix(y_test, predicted, labels=list(range(len(classes)))).astype(int).tolist(),
        "n_images": int(len(y_test)),
        "accuracy": round(float(np.mean(predicted == y_test)), 6) if len(y_test) else None,
        "predicted_other_label": others,
    }
    log.info("views: test accuracy %s on %d images among the scored classes (%d given another of the model's "
             "labels)", matrix["accuracy"], matrix["n_images"], others)
    target_split = params.tcav.target_split
    x_target, y_target = (x_test, y_test) if target_split == "test" else load_split(processed, target_split, classes, size)
    chosen = first_per_class(y_target, params.views.images_per_class, len(classes))
    maps = {"images": np.round(x_target[chosen] * 255).astype(np.uint8), "labels": y_target[chosen]}
    log.info("views: no feature maps before/after training for model.source %s (nothing was trained here)",
             params.model.source)
    sets = projection_sets(params, processed, concepts_dir)
    stacked = np.concatenate([images for _, _, images in sets])
    projections: dict[str, np.ndarray] = {
        "groups": np.array([name for name, _, images in sets for _ in range(len(images))]),
        "kinds": np.array([kind for _, kind, images in sets for _ in range(len(images))]),
    }
    activations = model.activations_at(stacked, list(params.tcav.bottlenecks))
    for name in params.tcav.bottlenecks:
        xy, explained = project(activations[name].reshape(len(stacked), -1).astype(np.float64),
                                params.views.projection, params.seed)
        projections[f"{name}/xy"] = xy
        if explained is not None:
            projections[f"{name}/explained"] = explained
    return {
        "confusion.json": (json.dumps(matrix, indent=2) + "\n").encode(),
        "feature_maps.npz": npz_bytes(maps),
        "projections.npz": npz_bytes(projections),
    }


def compute_views(params: Params, model_path: Path, init_path: Path, processed: Path, concepts_dir: Path,
                  frozen_dir: Path = Path("models/frozen")) -> dict[str, bytes]:
    """Every output file of the stage, by name, as bytes. With an outside model (``model.source``
    not ``train``) from the converted graph in ``frozen_dir``: no feature maps, nothing was trained."""
    if params.model.source != "train":
        return compute_views_frozen(params, frozen_dir, processed, concepts_dir)
    from images.splits import load_split
    from model.cnn import bottleneck_layer_names, load_model
    from common.determinism import make_deterministic

    make_deterministic(params.seed)
    trained, untrained = load_model(model_path), load_model(init_path)
    classes, size = params.classes, params.preprocess.image_size

    x_test, y_test = load_split(processed, "test", classes, size)
    matrix = confusion(trained, x_test, y_test, classes)
    log.info("views: test accuracy %s on %d images", matrix["accuracy"], matrix["n_images"])

    target_split = params.tcav.target_split
    x_target, y_target = (x_test, y_test) if target_split == "test" else load_split(processed, target_split, classes, size)
    chosen = first_per_class(y_target, params.views.images_per_class, len(classes))
    images = x_target[chosen]
    spatial = [name for name in bottleneck_layer_names(params.train.conv_filters, params.train.dense_units)
               if name.startswith(("conv", "pool"))]
    maps: dict[str, np.ndarray] = {"images": np.round(images * 255).astype(np.uint8), "labels": y_target[chosen]}
    for when, model in (("before", untrained), ("after", trained)):
        for name, value in layer_outputs(model, spatial, images).items():
            maps[f"{when}/{name}"] = value[..., : params.views.max_channels].astype(np.float32)

    sets = projection_sets(params, processed, concepts_dir)
    stacked = np.concatenate([images for _, _, images in sets])
    groups = np.array([name for name, _, images in sets for _ in range(len(images))])
    kinds = np.array([kind for _, kind, images in sets for _ in range(len(images))])
    projections: dict[str, np.ndarray] = {"groups": groups, "kinds": kinds}
    activations = layer_outputs(trained, params.tcav.bottlenecks, stacked)
    for name in params.tcav.bottlenecks:
        features = activations[name].reshape(len(stacked), -1).astype(np.float64)
        xy, explained = project(features, params.views.projection, params.seed)
        projections[f"{name}/xy"] = xy
        if explained is not None:
            projections[f"{name}/explained"] = explained
    log.info("views: %s of %d images at %s", params.views.projection, len(stacked), ", ".join(params.tcav.bottlenecks))

    return {
        "confusion.json": (json.dumps(matrix, indent=2) + "\n").encode(),
        "feature_maps.npz": npz_bytes(maps),
        "projections.npz": npz_bytes(projections),
    }
