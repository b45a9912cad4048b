"""The report's inputs from the model side, and every chart of the report, grouped in sections.

The report stage reads the train stage's ``metrics.json`` and ``train_history.csv`` and the
views stage's ``confusion.json``, ``feature_maps.npz``, ``projections.npz`` and, when it drew
them, its pictures of the projection during training through
:func:`read_model_views` (each missing or malformed file is a :class:`PipelineError` naming
it), then :func:`build_sections` renders the charts.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from common.errors import PipelineError
from reporting.html import Chart
from common.params import Params
from reporting.charts.scores import render_class_scores
from reporting.charts.network import render_confusion, render_feature_maps, render_projection, render_training_curves
from reporting.charts.overview import render_cav_accuracy, render_distributions, render_heatmap
from reporting.charts.concept_maps import render_concept_maps, significant_concepts


@dataclass
class ModelViews:
    """What the train and views stages measured of the model."""

    metrics: dict[str, Any]
    history: list[dict[str, float]]
    confusion: dict[str, Any]
    feature_maps: dict[str, np.ndarray]
    projections: dict[str, np.ndarray]
    # The views stage's drawings of the projection during training, by file name (none for an
    # outside model: nothing was trained, so nothing recorded).
    epoch_pictures: dict[str, bytes] = field(default_factory=dict)


#: The views stage's pictures of the projection during training, in the order the report shows them.
EPOCH_PICTURES = ("epoch_projection.gif", "epoch_strip.png", "train_test.png")

EPOCH_HOW_TO_READ = (
    "Each point is one training image (the same images in every frame), coloured by its true class, at "
    "{layer}, before training and after every epoch. The 2-D map ({method}) was fitted once, on every "
    "epoch's activations together, and is the same in every frame: when a point moves, the layer's "
    "activations for that image moved; classes pulling apart is the network learning to tell them apart at "
    "this layer. What it cannot tell: a 2-D map keeps only part of the layer (PCA the two directions of "
    "largest variance over all epochs, which the later, larger activations dominate, so early frames may "
    "look like one clump; UMAP and t-SNE neighbourhoods, not distances, and clusters they draw apart may be "
    "close in the layer); the silhouette in each frame's title is measured in the layer itself, not on the map."
)
TRAIN_TEST_HOW_TO_READ = (
    "The trained network's map of the same training images (faint circles) with the test images (stars) "
    "{how}, coloured by true class; a black ring marks a test image the model misclassifies. A ring in "
    "another class's cloud is an image the layer already sees as that class; a ring between clouds, one "
    "it cannot place."
)


def _missing(path: Path, stage: str) -> PipelineError:
    return PipelineError(f"{path}: not found (the {stage} stage writes it; run `dvc repro`)")


def _json(path: Path, stage: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise _missing(path, stage) from None
    except (ValueError, UnicodeDecodeError) as error:
        raise PipelineError(f"{path}: not valid JSON ({error})") from None


def _npz(path: Path, stage: str) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as data:
            return {name: data[name] for name in data.files}
    except FileNotFoundError:
        raise _missing(path, stage) from None
    except (ValueError, OSError) as error:
        raise PipelineError(f"{path}: not a readable .npz archive ({error})") from None


def read_history(path: Path) -> list[dict[str, float]]:
    """The train stage's per-epoch history (``epoch`` and the metric columns) as floats."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except FileNotFoundError:
        raise _missing(path, "train") from None
    needed = ("epoch", "accuracy", "loss", "val_accuracy", "val_loss")
    if not rows and handle_header(path) == list(needed):
        return []  # an outside model: nothing was trained (pipeline/train.py)
    if not rows or any(column not in rows[0] for column in needed):
        raise PipelineError(f"{path}: expected a CSV with columns {', '.join(needed)} and one row per epoch")
    try:
        return [{column: float(row[column] or "nan") for column in needed} for row in rows]
    except ValueError as error:
        raise PipelineError(f"{path}: {error}") from None


def handle_header(path: Path) -> list[str]:
    """The header row of a CSV file."""
    with path.open(newline="", encoding="utf-8") as handle:
        return next(csv.reader(handle), [])


def read_model_views(metrics: Path, history: Path, views: Path, classes: Sequence[str]) -> ModelViews:
    """Read and check the model-side inputs of the report."""
    confusion_path = views / "confusion.json"
    confusion = _json(confusion_path, "views")
    matrix = confusion.get("matrix") if isinstance(confusion, dict) else None
    if (
        not isinstance(confusion, dict)
        or list(confusion.get("classes", [])) != list(classes)
        or not isinstance(matrix, list)
        or len(matrix) != len(classes)
        or any(not isinstance(row, list) or len(row) != len(classes) for row in matrix)
    ):
        raise PipelineError(
            f"{confusion_path}: expected classes {list(classes)} (as in params.yaml) and a "
            f"{len(classes)}x{len(classes)} matrix; it is out of date or damaged: run `dvc repro`"
        )
    return ModelViews(
        metrics=_json(metrics, "train"),
        history=read_history(history),
        confusion=confusion,
        feature_maps=_npz(views / "feature_maps.npz", "views"),
        projections=_npz(views / "projections.npz", "views"),
        epoch_pictures={name: (views / name).read_bytes() for name in EPOCH_PICTURES if (views / name).is_file()},
    )


def read_concept_maps(path: Path) -> dict[str, np.ndarray]:
    """The concept_maps stage's arrays (``images``, ``labels``, ``maps/<bottleneck>/<concept>``, ...)."""
    return _npz(path, "concept_maps")


def concept_map_charts(rows: Sequence[Mapping[str, Any]], maps: Mapping[str, np.ndarray], params: Params) -> list[Chart]:
    """Per bottleneck with a significant concept, its concept maps on the feature-map views' images."""
    charts = []
    for b in params.tcav.bottlenecks:
        concepts = [(c, label) for c, label in significant_concepts(rows, b) if f"maps/{b}/{c}" in maps]
        if concepts and len(maps["images"]):
            charts.append(Chart(f"concept_maps_{b}.png", render_concept_maps(maps, params.classes, b, concepts),
                                f"Where each concept significant at {b} is in a few test images per class "
                                "(+class / −class: raises / lowers it)"))
    return charts


def concept_map_section(rows: Sequence[Mapping[str, Any]], maps: Mapping[str, np.ndarray] | None,
                        params: Params) -> list[tuple[str, str, list[Chart]]]:
    """The report's concept-map section, or none (no maps given, or no chart to show)."""
    charts = concept_map_charts(rows, maps, params) if maps else []
    return [("concept-maps", "Concept maps", charts)] if charts else []


def build_sections(rows: Sequence[Mapping[str, Any]], runs: Sequence[Mapping[str, Any]], views: ModelViews,
                   params: Params, concept_maps: Mapping[str, np.ndarray] | None = None) -> list[tuple[str, str, list[Chart]]]:
    """Every chart, as (section id, heading, charts), in the order the report shows them.

    ``concept_maps``: the concept_maps stage's arrays (no such section without them, or when no
    concept is significant at a layer with spatial axes).
    """
    classes, bottlenecks, concepts = params.classes, params.tcav.bottlenecks, params.tcav.concepts
    t = params.tcav
    class_charts = [
        Chart(f"tcav_{name}.png",
              render_class_scores([r for r in rows if r["target"] == name], name, t.significance, t.confidence),
              f"TCAV scores for class {name}, per concept and layer")
        for name in classes
    ]
    heatmaps = [Chart(f"heatmap_{b}.png", render_heatmap(rows, b, t.significance), f"Class x concept scores at {b}")
                for b in bottlenecks]
    distributions = [
        Chart(f"distributions_{name}.png", render_distributions(runs, name, bottlenecks, concepts),
              f"Per-CAV scores of each concept vs the random-vs-random scores, class {name}")
        for name in classes
    ]
    accuracy = [Chart("cav_accuracy.png", render_cav_accuracy(runs, concepts, bottlenecks, t.min_cav_accuracy),
                      "Held-out accuracy of every concept CAV")]

    maps = views.feature_maps
    layers = [key.split("/", 1)[1] for key in maps if key.startswith("after/")]
    network = [  # no training curves for an outside model (no history)
        Chart("training_curves.png", render_training_curves(views.history), "Accuracy and loss per epoch"),
    ] if views.history else []
    network += epoch_charts(views.epoch_pictures, params)
    network += [Chart("confusion_matrix.png", render_confusion(views.confusion), "Confusion matrix on the test split")]
    network += [
        Chart(f"feature_maps_{layer}.png",
              render_feature_maps(maps["images"], maps["labels"], classes, layer, maps[f"before/{layer}"], maps[f"after/{layer}"]),
              f"Feature maps of {layer} before and after training")
        for layer in layers
    ]
    projections = views.projections
    method = params.views.projection
    network += [
        Chart(f"projection_{b}.png",
              render_projection(projections[f"{b}/xy"], projections["groups"], projections["kinds"], b, method,
                                projections.get(f"{b}/explained")),
              f"{method.upper()} of the activations at {b}: class, concept and random images")
        for b in bottlenecks if f"{b}/xy" in projections
    ]
    return [
        ("classes", "Scores per class", class_charts),
        ("heatmaps", "Scores per layer", heatmaps),
        ("distributions", "Concept vs random scores", distributions),
        ("cav-quality", "CAV quality", accuracy),
        ("network", "Inside the network", network),
    ] + concept_map_section(rows, concept_maps, params)


def epoch_charts(pictures: Mapping[str, bytes], params: Params) -> list[Chart]:
    """The views stage's pictures of the projection during training as charts, with how to read them."""
    layer, method = params.views.epoch_layer, params.views.projection
    how = "placed on the map fitted to the training images" if method != "tsne" else \
        "fitted together with them (t-SNE cannot place new points on a finished map)"
    texts = {
        "epoch_projection.gif": (f"{layer} during training, one frame per epoch ({method.upper()} fitted once)",
                                 EPOCH_HOW_TO_READ.format(layer=layer, method=method.upper())),
        "epoch_strip.png": ("The same frames side by side (at most ten epochs)", ""),
        "train_test.png": (f"Train + test at {layer}: test images on the trained network's {method.upper()} map",
                           TRAIN_TEST_HOW_TO_READ.format(how=how)),
    }
    return [Chart(name, pictures[name], *texts[name]) for name in EPOCH_PICTURES if name in pictures]
