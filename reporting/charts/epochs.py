"""The training-time projection as pictures: an animated GIF (one frame per epoch), a strip of
frames in one PNG, and the "train + test" scatter (seed 001).

Inputs are the maps of :mod:`model.epoch_projection`. Every frame has the same axes (the
limits of all epochs together), because the map is one map: a point that moves between frames
moved in the layer. Output bytes are the same on every run for the same input.
"""

from __future__ import annotations

import io

import matplotlib
import numpy as np

from reporting.charts.figures import CLASS_COLORS, RC, new_figure, png_bytes

#: Milliseconds each frame of the GIF is shown; the last (the trained network) stays longer.
FRAME_MS, LAST_FRAME_MS = 450, 2000


def _limits(xy: np.ndarray) -> tuple[float, float, float, float]:
    """Axis limits holding every point of every frame, with a margin."""
    points = xy.reshape(-1, 2)
    low, high = points.min(axis=0), points.max(axis=0)
    pad = np.maximum((high - low) * 0.05, 1e-6)
    return float(low[0] - pad[0]), float(high[0] + pad[0]), float(low[1] - pad[1]), float(high[1] + pad[1])


def _axis_labels(axes, method: str, explained) -> None:
    if explained is not None and len(explained) == 2:
        axes.set_xlabel(f"PC 1 ({explained[0]:.0%})", fontsize=8)
        axes.set_ylabel(f"PC 2 ({explained[1]:.0%})", fontsize=8)
    else:
        axes.set_xlabel(f"{method} 1", fontsize=8)
        axes.set_ylabel(f"{method} 2", fontsize=8)


def _frame_title(frames, e: int) -> str:
    epoch = int(frames.epochs[e])
    accuracy = float(np.mean(frames.predictions[e] == frames.labels))
    when = "before training" if epoch == 0 else f"epoch {epoch}"
    separation = frames.separation[e]
    extra = "" if np.isnan(separation) else f", silhouette {separation:.2f}"
    return f"{when}: accuracy {accuracy:.2f}{extra}"


def _draw_frame(axes, frames, e: int, limits, size: float) -> None:
    for c, name in enumerate(frames.classes):
        mask = frames.labels == c
        axes.scatter(frames.xy[e, mask, 0], frames.xy[e, mask, 1], s=size, color=CLASS_COLORS[c % len(CLASS_COLORS)],
                     edgecolors="black", linewidths=0.3, alpha=0.85, label=name)
    axes.set_xlim(limits[0], limits[1])
    axes.set_ylim(limits[2], limits[3])
    axes.tick_params(labelsize=7)
    axes.grid(True, color="0.92")


def _frame_image(frames, e: int, limits):
    from PIL import Image

    with matplotlib.rc_context(RC):
        figure = new_figure(5.2, 4.6)
        axes = figure.add_axes((0.12, 0.11, 0.62, 0.76))
        _draw_frame(axes, frames, e, limits, 18)
        _axis_labels(axes, frames.method, frames.explained)
        axes.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False, fontsize=8, title="true class",
                    title_fontsize=8)
        figure.text(0.02, 0.97, f"{frames.layer}, {frames.method.upper()} fitted once on every epoch",
                    fontsize=10, fontweight="bold", va="top")
        figure.text(0.02, 0.92, _frame_title(frames, e), fontsize=9, va="top")
        figure.canvas.draw()
        rgba = np.asarray(figure.canvas.buffer_rgba())
    return Image.fromarray(rgba[..., :3].copy())


def render_epoch_animation(frames) -> bytes:
    """An animated GIF, one frame per recorded epoch (0 = before training), looping."""
    limits = _limits(frames.xy)
    images = [_frame_image(frames, e, limits) for e in range(len(frames.epochs))]
    # One palette for every frame (the last's, which has every class colour): colours do not flicker.
    palette = images[-1].quantize(colors=128, method=0, dither=0)
    paletted = [image.quantize(palette=palette, dither=0) for image in images]
    buffer = io.BytesIO()
    durations = [FRAME_MS] * (len(paletted) - 1) + [LAST_FRAME_MS]
    paletted[0].save(buffer, format="GIF", save_all=True, append_images=paletted[1:], duration=durations, loop=0,
                     optimize=False, disposal=1)
    return buffer.getvalue()


def strip_epochs(count: int, most: int = 10) -> list[int]:
    """Which of ``count`` recorded epochs the strip shows: at most ``most``, evenly spaced, first and last always."""
    if count <= most:
        return list(range(count))
    return sorted({int(round(i)) for i in np.linspace(0, count - 1, most)})


def render_epoch_strip(frames, columns: int = 5) -> bytes:
    """Up to ten frames side by side on the same axes, as one PNG (the animation, readable on paper)."""
    chosen = strip_epochs(len(frames.epochs))
    rows = -(-len(chosen) // columns)
    cols = min(columns, len(chosen))
    limits = _limits(frames.xy)
    tile = 2.3
    with matplotlib.rc_context(RC):
        figure = new_figure(0.4 + tile * cols, 0.8 + tile * rows)
        width, height = figure.get_size_inches()
        for k, e in enumerate(chosen):
            r, c = divmod(k, cols)
            axes = figure.add_axes(((0.3 + c * tile) / width, 1 - (0.7 + (r + 1) * tile) / height + 0.25 / height,
                                    (tile - 0.35) / width, (tile - 0.55) / height))
            _draw_frame(axes, frames, e, limits, 6)
            axes.set_xticks([])
            axes.set_yticks([])
            epoch = int(frames.epochs[e])
            accuracy = float(np.mean(frames.predictions[e] == frames.labels))
            axes.set_title(("before training" if epoch == 0 else f"epoch {epoch}") + f" · acc {accuracy:.2f}",
                           fontsize=8)
        handles = [matplotlib.lines.Line2D([], [], marker="o", linestyle="", color=CLASS_COLORS[c % len(CLASS_COLORS)],
                                           markeredgecolor="black", markeredgewidth=0.3, label=name)
                   for c, name in enumerate(frames.classes)]
        figure.legend(handles=handles, loc="upper right", ncol=len(handles), frameon=False, fontsize=8)
        figure.text(0.1 / width, 1 - 0.12 / height,
                    f"{frames.layer} during training: {frames.method.upper()} fitted once on every epoch, same axes",
                    fontsize=11, fontweight="bold", va="top")
        return png_bytes(figure)


def render_train_test(placed) -> bytes:
    """Training images (small circles) and test images (stars) on the trained network's map,
    coloured by true class; misclassified test images are circled in black."""
    with matplotlib.rc_context(RC):
        figure = new_figure(8.0, 5.6)
        axes = figure.add_axes((0.08, 0.1, 0.6, 0.76))
        for c, name in enumerate(placed.classes):
            color = CLASS_COLORS[c % len(CLASS_COLORS)]
            mask = placed.train_labels == c
            axes.scatter(placed.train_xy[mask, 0], placed.train_xy[mask, 1], s=12, color=color, alpha=0.35,
                         linewidths=0, label=f"train {name}")
        for c, name in enumerate(placed.classes):
            color = CLASS_COLORS[c % len(CLASS_COLORS)]
            mask = placed.test_labels == c
            axes.scatter(placed.test_xy[mask, 0], placed.test_xy[mask, 1], s=48, marker="*", color=color,
                         edgecolors="black", linewidths=0.4, zorder=3, label=f"test {name}")
        wrong = placed.test_predicted != placed.test_labels
        axes.scatter(placed.test_xy[wrong, 0], placed.test_xy[wrong, 1], s=150, facecolors="none", edgecolors="black",
                     linewidths=1.2, zorder=4, label=f"misclassified test image ({int(wrong.sum())})")
        axes.set_xlabel(f"{placed.method} 1")
        axes.set_ylabel(f"{placed.method} 2")
        axes.grid(True, color="0.92")
        axes.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False, fontsize=8)
        how = ("test images placed on the map fitted to the training images" if placed.placed else
               "t-SNE cannot place new points: fitted on training and test images together")
        figure.text(0.02, 0.97, f"Train + test at {placed.layer}, {placed.method.upper()} of the trained network",
                    fontsize=12, fontweight="bold", va="top")
        figure.text(0.02, 0.92, how, fontsize=9, va="top")
        return png_bytes(figure)

