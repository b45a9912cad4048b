"""Concept maps in the report: where each significant concept is, in a few test images per class.

Input: the ``concept_maps`` stage's arrays (the feature-map views' images, their labels and
predictions, and per bottleneck and concept the calibrated maps of
:func:`tcavcore.concept_maps.image_concept_maps`). :func:`overlay` is shared with the explorer.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import matplotlib
import numpy as np

from reporting.charts.base import RC, new_figure, png_bytes
from tcavcore.concept_maps import upsample

#: The overlay's colour: purple, the report's "raises" colour, never a concept's own red or blue.
OVERLAY_RGB = (84, 39, 136)
#: Calibrated value drawn at full strength: as present as in the concept's own images on average.
FULL = 1.0


def overlay(image: np.ndarray, calibrated: np.ndarray) -> np.ndarray:
    """``image`` (uint8 ``(H, W, 3)``) in faded grey, with a layer's calibrated concept map laid over it in purple.

    The map is upsampled to the image; 0 or below (as in random images) leaves the faded image,
    :data:`FULL` (as in the concept's images) or above is solid purple. NaN (a CAV that tells
    nothing apart) draws nothing.
    """
    height, width = image.shape[:2]
    values = upsample(np.nan_to_num(calibrated, nan=0.0), height, width)
    alpha = np.clip(values / FULL, 0.0, 1.0)[..., None] * 0.85
    # grey and faded towards white underneath: the purple then never mixes with the image's own
    # colours (a blue image under purple would look "present"); the image itself is shown beside it
    grey = image.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    faded = np.repeat((0.45 * grey + 0.55 * 255.0)[..., None], 3, axis=-1)
    mixed = (1 - alpha) * faded + alpha * np.asarray(OVERLAY_RGB, dtype=np.float64)
    return np.clip(np.rint(mixed), 0, 255).astype(np.uint8)


def significant_concepts(rows: Sequence[Mapping[str, Any]], bottleneck: str) -> list[tuple[str, str]]:
    """(concept, what it does) for every concept significant for some class at ``bottleneck``, in row order."""
    found: dict[str, list[str]] = {}
    for row in rows:
        if row["bottleneck"] == bottleneck and row["significant"]:
            way = "+" if row["score_mean"] > 0.5 else "\u2212"
            found.setdefault(row["concept"], []).append(f"{way}{row['target']}")
    return [(concept, " ".join(dict.fromkeys(ways))) for concept, ways in found.items()]


def render_concept_maps(maps: Mapping[str, np.ndarray], classes: Sequence[str], bottleneck: str,
                        concepts: Sequence[tuple[str, str]]) -> bytes:
    """One layer's concept maps: a row per image (the input, then one overlay per concept).

    ``maps``: the stage's arrays; ``concepts``: (name, label) from :func:`significant_concepts`.
    Each tile's title gives the image's calibrated presence (0: random images, 1: the concept's).
    """
    images, labels = maps["images"], maps["labels"]
    predicted = maps.get("predicted")
    n_images, tile = len(images), 1.05
    width = max(4.6, 1.2 + tile * (len(concepts) + 1))
    height = 1.3 + (tile + 0.3) * n_images
    with matplotlib.rc_context(RC):
        figure = new_figure(width, height)
        top = 1 - 1.0 / height
        for i in range(n_images):
            y = top - (i + 1) * (tile + 0.3) / height
            name = classes[int(labels[i])] if int(labels[i]) < len(classes) else str(labels[i])
            said = f"{name}" + (f"\n\u2192 {predicted[i]}" if predicted is not None else "")
            figure.text(0.08 / width, y + tile / 2 / height, said, fontsize=7, va="center")
            axes = figure.add_axes((1.1 / width, y, tile * 0.92 / width, tile * 0.92 / height))
            axes.imshow(images[i], interpolation="nearest")
            axes.set_axis_off()
            for c, (concept, _) in enumerate(concepts):
                calibrated = maps[f"maps/{bottleneck}/{concept}"][i]
                presence = float(maps[f"presence/{bottleneck}/{concept}"][i])
                axes = figure.add_axes(((1.1 + tile * (c + 1)) / width, y, tile * 0.92 / width, tile * 0.92 / height))
                axes.imshow(overlay(images[i], calibrated), interpolation="bilinear")
                axes.set_title(f"{presence:.2f}", fontsize=6, pad=1.5)
                axes.set_axis_off()
        for c, (concept, label) in enumerate(concepts):
            figure.text((1.1 + tile * (c + 1) + tile * 0.46) / width, 1 - 1.12 / height, f"{concept}\n{label}",
                        fontsize=7, ha="center", va="bottom")
        figure.text(0.08 / width, 1 - 0.1 / height, f"Concept maps at {bottleneck}", fontsize=11,
                    fontweight="bold", va="top")
        figure.text(0.08 / width, 1 - 0.36 / height,
                    "purple: as present as in the concept's own images (1); clear: as in random images (0)\n"
                    "number over a map: the whole image's presence on the same scale", fontsize=6.5, va="top",
                    color="0.3")
        return png_bytes(figure)
