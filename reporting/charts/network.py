"""Charts of the network itself: training curves, confusion matrix, feature maps, projections.

Inputs are the train stage's history rows and the arrays of the ``views`` stage; each
``render_*`` function returns deterministic PNG bytes.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import matplotlib
import numpy as np

from reporting.charts.base import RC, new_figure, png_bytes
from reporting.charts.figures import CLASS_COLORS

# Classes: strong colours (CLASS_COLORS) with circles; concepts: tab10's with triangles; random: grey x.


def render_training_curves(history: Sequence[Mapping[str, float]]) -> bytes:
    """Accuracy and loss per epoch, training (solid) and validation (dashed)."""
    epochs = [int(row["epoch"]) for row in history]
    with matplotlib.rc_context(RC):
        figure = new_figure(9.0, 3.4)
        left, right = figure.subplots(1, 2)
        figure.subplots_adjust(left=0.08, right=0.98, top=0.8, bottom=0.16, wspace=0.25)
        for axes, key, label in ((left, "accuracy", "accuracy"), (right, "loss", "loss")):
            for prefix, style, name in (("", "-", "training"), ("val_", "--", "validation")):
                values = [float(row[prefix + key]) for row in history]
                if all(math.isnan(v) for v in values):
                    continue
                axes.plot(epochs, values, style, color="#0072B2" if not prefix else "#D55E00", label=name, marker=".")
            axes.set_xlabel("epoch")
            axes.set_ylabel(label)
            axes.grid(True, color="0.9")
        left.set_ylim(0, 1.02)
        left.legend(frameon=False, loc="lower right")
        figure.suptitle("Training curves", x=0.02, ha="left", fontsize=12, fontweight="bold")
        return png_bytes(figure)


def render_confusion(confusion: Mapping[str, Any]) -> bytes:
    """Counts of true (rows) vs predicted (columns) classes on the test split."""
    classes = list(confusion["classes"])
    matrix = np.asarray(confusion["matrix"], dtype=float)
    n = len(classes)
    size = 2.2 + 0.7 * n
    with matplotlib.rc_context(RC):
        figure = new_figure(size, size)
        axes = figure.add_axes((1.3 / size, 1.1 / size, 1 - 1.6 / size, 1 - 1.8 / size))
        totals = matrix.sum(axis=1, keepdims=True)
        shares = np.divide(matrix, totals, out=np.zeros_like(matrix), where=totals > 0)
        axes.imshow(shares, cmap="Blues", vmin=0, vmax=1)
        for i in range(n):
            for j in range(n):
                axes.text(j, i, f"{int(matrix[i, j])}", ha="center", va="center",
                          color="white" if shares[i, j] > 0.6 else "black", fontsize=10)
        axes.set_xticks(range(n), classes, rotation=30, ha="right", rotation_mode="anchor")
        axes.set_yticks(range(n), classes)
        axes.set_xlabel("predicted")
        axes.set_ylabel("true")
        accuracy = confusion.get("accuracy")
        title = "Confusion matrix, test split" + (f" (accuracy {accuracy:.3f})" if accuracy is not None else "")
        figure.text(0.1 / size, 1 - 0.12 / size, title, fontsize=11, fontweight="bold", va="top")
        return png_bytes(figure)


def render_feature_maps(images: np.ndarray, labels: np.ndarray, classes: Sequence[str], layer: str,
                        before: np.ndarray, after: np.ndarray) -> bytes:
    """One layer's feature maps for a few images: per image a row before and a row after training.

    Each row shows the input, then one tile per channel. Every tile is scaled to its own
    range (so weak maps stay visible; compare shapes, not brightness across tiles).
    """
    n_images, channels = len(images), before.shape[-1]
    tile = 0.55
    width = 1.6 + tile * (channels + 1)
    height = 0.7 + tile * 2 * n_images + 0.1 * n_images
    with matplotlib.rc_context(RC):
        figure = new_figure(width, height)
        top = 1 - 0.6 / height
        for i in range(n_images):
            for r, (when, maps) in enumerate((("before", before), ("after", after))):
                row = 2 * i + r
                y = top - (row + 1) * tile / height - i * 0.1 / height
                figure.text(0.08 / width, y + tile / 2 / height, f"{classes[int(labels[i])]} · {when}", fontsize=7,
                            va="center")
                axes = figure.add_axes((1.4 / width, y, tile * 0.95 / width, tile * 0.95 / height))
                axes.imshow(images[i], interpolation="nearest")
                axes.set_axis_off()
                for c in range(channels):
                    axes = figure.add_axes(((1.4 + tile * (c + 1)) / width, y, tile * 0.95 / width, tile * 0.95 / height))
                    channel = maps[i, :, :, c]
                    low, high = float(channel.min()), float(channel.max())
                    axes.imshow(channel, cmap="viridis", vmin=low, vmax=high if high > low else low + 1,
                                interpolation="nearest")
                    axes.set_axis_off()
        figure.text(0.08 / width, 1 - 0.12 / height,
                    f"Feature maps of {layer} (first {channels} channels), before and after training",
                    fontsize=11, fontweight="bold", va="top")
        return png_bytes(figure)


def render_projection(xy: np.ndarray, groups: Sequence[str], kinds: Sequence[str], layer: str, method: str,
                      explained: np.ndarray | None = None) -> bytes:
    """Scatter of a bottleneck's 2-D projection: classes (circles), concepts (triangles), random (grey x)."""
    groups = np.asarray(groups)
    kinds = np.asarray(kinds)
    names = list(dict.fromkeys(groups.tolist()))
    concept_colors = matplotlib.colormaps["tab10"].colors
    with matplotlib.rc_context(RC):
        figure = new_figure(8.0, 5.6)
        axes = figure.add_axes((0.08, 0.1, 0.62, 0.78))
        class_index = concept_index = 0
        for name in names:
            mask = groups == name
            kind = kinds[mask][0]
            if kind == "class":
                style = {"marker": "o", "s": 22, "color": CLASS_COLORS[class_index % len(CLASS_COLORS)],
                         "edgecolors": "black", "linewidths": 0.4, "zorder": 3}
                class_index += 1
                label = f"class {name}"
            elif kind == "concept":
                style = {"marker": "^", "s": 14, "color": concept_colors[concept_index % 10], "zorder": 2}
                concept_index += 1
                label = f"concept {name}"
            else:
                style = {"marker": "x", "s": 14, "color": "0.55", "zorder": 1, "linewidths": 0.8}
                label = "random images"
            axes.scatter(xy[mask, 0], xy[mask, 1], label=label, alpha=0.85, **style)
        if explained is not None and len(explained) == 2:
            axes.set_xlabel(f"PC 1 ({explained[0]:.0%} of variance)")
            axes.set_ylabel(f"PC 2 ({explained[1]:.0%} of variance)")
        else:
            axes.set_xlabel(f"{method} 1")
            axes.set_ylabel(f"{method} 2")
        axes.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False, fontsize=8)
        figure.text(0.02, 0.97, f"Activations at {layer}, {method.upper()} projection", fontsize=12, fontweight="bold",
                    va="top")
        return png_bytes(figure)
