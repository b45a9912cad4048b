"""The explorer's pictures, as ``data:`` PNG URIs: the input, feature-map grids, concept-map overlays.

Drawn on the server (Pillow, with matplotlib's viridis table), so the page needs no drawing
library and loads nothing but its own three files.
"""

from __future__ import annotations

import base64
import io
import math

import numpy as np
from PIL import Image

#: Each feature-map tile is enlarged to at least this many pixels a side (nearest neighbour).
MIN_TILE = 28
#: Side of a concept-map overlay, in pixels.
OVERLAY_SIDE = 128
#: At most this many channels of a layer are drawn (a wide layer would give a wall of tiles).
MAX_CHANNELS = 64


def png_uri(pixels: np.ndarray) -> str:
    """``pixels`` (uint8 ``(h, w, 3)`` or ``(h, w)``) as a ``data:image/png;base64`` URI."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels)).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def image_uri(image: np.ndarray) -> str:
    """A model input (float ``(h, w, 3)`` in [0, 1]) as a PNG URI, at its own size (the page enlarges it)."""
    return png_uri(np.clip(np.rint(image * 255), 0, 255).astype(np.uint8))


def _viridis() -> np.ndarray:
    import matplotlib

    return np.round(matplotlib.colormaps["viridis"](np.linspace(0, 1, 256))[:, :3] * 255).astype(np.uint8)


VIRIDIS = _viridis()


def feature_grid(acts: np.ndarray, max_channels: int = MAX_CHANNELS) -> np.ndarray:
    """One layer's activations ``(h, w, c)`` as a grid of viridis tiles, each scaled to its own range.

    Own range per tile, as in the report's feature maps: weak channels stay visible, so compare
    shapes, not brightness across tiles. An all-constant channel is drawn dark.
    """
    acts = np.asarray(acts, dtype=np.float64)
    h, w, channels = acts.shape
    channels = min(channels, max_channels)
    scale = max(1, math.ceil(MIN_TILE / max(h, w)))
    columns = max(1, math.ceil(math.sqrt(channels)))
    rows = math.ceil(channels / columns)
    gap = 2
    tile_h, tile_w = h * scale, w * scale
    grid = np.full((rows * (tile_h + gap) - gap, columns * (tile_w + gap) - gap, 3), 255, np.uint8)
    for c in range(channels):
        channel = acts[..., c]
        low, high = float(channel.min()), float(channel.max())
        levels = np.zeros_like(channel) if high <= low else (channel - low) / (high - low)
        tile = VIRIDIS[np.round(levels * 255).astype(int)]
        tile = np.repeat(np.repeat(tile, scale, axis=0), scale, axis=1)
        r, col = divmod(c, columns)
        grid[r * (tile_h + gap): r * (tile_h + gap) + tile_h, col * (tile_w + gap): col * (tile_w + gap) + tile_w] = tile
    return grid


def feature_grid_uri(acts: np.ndarray) -> str:
    """:func:`feature_grid` as a PNG URI."""
    return png_uri(feature_grid(acts))


def overlay_uri(pixels: np.ndarray, calibrated: np.ndarray, side: int = OVERLAY_SIDE) -> str:
    """The report's concept-map overlay (:func:`reporting.charts.concept_maps.overlay`) of ``pixels``, ``side`` px."""
    from reporting.charts.concept_maps import overlay

    big = np.asarray(Image.fromarray(pixels).resize((side, side), Image.NEAREST))
    return png_uri(overlay(big, calibrated))
