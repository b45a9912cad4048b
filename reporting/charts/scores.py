"""Per-class TCAV score charts: per concept, one point with its interval per bottleneck, over the random band."""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import matplotlib
from matplotlib.legend_handler import HandlerTuple
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle

# base first: it selects the Agg backend before anything is drawn
from reporting.charts.base import BOTTLENECK_COLORS, RC, STATUS_MARKS, new_figure, png_bytes
from tcavcore.confirmation import status

BAND_COLOR = (0.15, 0.15, 0.15, 0.13)  # random ± std, drawn behind the points
POINT_SIZE = 7.5  # marker size of a score, in points
SIGNIFICANT_MARK = "*"  # above a significant score, as everyone reads it
# Layout, in inches. Sizes depend only on the numbers of concepts, bottlenecks and alphas
# and on the label lengths, so the same rows always give the same picture.
BAR = 0.3  # one bar
GROUP_GAP = 0.45  # between two concepts' groups of bars
MIN_AXES_WIDTH = 6.5
FACET_HEIGHT = 3.4  # one panel (one alpha)
LEFT, RIGHT = 0.85, 0.3
TITLE_BAND = 0.5  # from the top edge to below the title
LEGEND_ROW = 0.27
FACET_TITLE = 0.3
TICK_LABELS = 0.45  # unrotated concept names
X_LABEL = 0.25
FOOTNOTE = 0.35
CHAR = 0.075  # rough width of one 10-pt character
LEGEND_CHAR = 0.068  # ... of a 9-pt one
FOOTNOTE_CHAR = 0.058  # ... of an 8-pt one
ROTATION = 30


def _unique(values) -> list:
    seen: dict = {}
    for value in values:
        seen.setdefault(value, None)
    return list(seen)


def _legend_rows(labels: Sequence[str], width: float) -> tuple[int, int]:
    """(columns, rows) for legend entries to fit in ``width`` inches (estimated text widths)."""
    entries = [0.5 + LEGEND_CHAR * len(label) for label in labels]  # handle, pads, text
    if sum(entries) <= width:
        return len(labels), 1
    columns = max(1, min(len(labels), int(width // max(entries))))
    return columns, math.ceil(len(labels) / columns)


def render_class_scores(
    rows_for_class: Sequence[Mapping[str, Any]], class_name: str, significance: float | None = None,
    confidence: float = 0.95,
) -> bytes:
    """PNG bytes of the chart of one class's TCAV scores.

    ``rows_for_class`` are summary rows (keys of ``tcavcore.records.SUMMARY_KEYS``) of one target.
    One group per concept (x axis, in row order), one slot per bottleneck (legend, in row
    order): the score ``score_mean`` is a point with its confidence interval
    ``score_ci_low .. score_ci_high``, drawn *over* the random baseline of that class and
    bottleneck (a grey ``± random_std`` band with a dashed line at ``random_mean``), so a score
    of 0.00 is as visible as one of 1.00. A significant score is a filled point marked ``*``
    above it; a not-significant one is hollow; a footnote names the level (``significance``,
    when given). A group whose CAV is not learnable (no score) is marked "n/l". y runs from 0
    to 1, with a dotted line at 0.5.

    Several alphas: one panel per alpha, stacked, smallest on top, so nothing is dropped.

    Deterministic: the figure size follows from the numbers of concepts, bottlenecks and
    alphas and the label lengths; fixed dpi and no software/date metadata make the PNG
    byte-identical for the same rows (and the same matplotlib version).
    """
    if not rows_for_class:
        raise ValueError(f"no score rows for class {class_name!r}")
    concepts = [str(c) for c in _unique(row["concept"] for row in rows_for_class)]
    bottlenecks = [str(b) for b in _unique(row["bottleneck"] for row in rows_for_class)]
    alphas = sorted(_unique(float(row["alpha"]) for row in rows_for_class))
    by_key = {(str(row["concept"]), str(row["bottleneck"]), float(row["alpha"])): row for row in rows_for_class}
    any_not_significant = any(not bool(row["significant"]) and math.isfinite(float(row["score_mean"]))
                              for row in rows_for_class)
    any_significant = any(bool(row["significant"]) for row in rows_for_class)
    not_learnable = sorted({f"{row['concept']} @ {row['bottleneck']}" for row in rows_for_class
                            if not row.get("cav_learnable", True)})
    faceted = len(alphas) > 1

    # ---- layout
    n_bars = len(bottlenecks)
    axes_width = max(MIN_AXES_WIDTH, len(concepts) * (n_bars * BAR + GROUP_GAP) + 0.4)
    group_width = axes_width / len(concepts)  # inches per concept on the x axis
    longest = max(len(c) for c in concepts)
    rotate = longest * CHAR > group_width * 0.95
    ticks = TICK_LABELS + (longest * CHAR * math.sin(math.radians(ROTATION)) if rotate else 0.0)
    labels = ([*bottlenecks, "random (mean ± std)"] + (["significant (adjusted p < α)"] if any_significant else [])
              + (["hollow: not significant"] if any_not_significant else []))
    legend_columns, legend_rows = _legend_rows(labels, axes_width)
    top = TITLE_BAND + legend_rows * LEGEND_ROW + 0.1 + (FACET_TITLE if faceted else 0.05)
    between = ticks + FACET_TITLE + 0.15
    footnote = [
        f"{SIGNIFICANT_MARK} significant (adjusted p < α{f' = {significance:g}' if significance is not None else ''}).",
        f"Points: mean over random counterexample sets, with its {confidence:.0%} confidence interval; dotted line: 0.5.",
    ]
    if any(status(row) in STATUS_MARKS for row in rows_for_class if row.get("significant") and "verdict" in row):
        footnote.append("Insertion test on significant scores: \u2713 confirmed, ? not confirmed, \u2717 contradicted.")
    if not_learnable:
        footnote.append("n/l: CAV not learnable here (accuracy below threshold): " + ", ".join(not_learnable))
    if sum(len(line) + 3 for line in footnote) * FOOTNOTE_CHAR <= axes_width + RIGHT:
        footnote = ["   ".join(footnote)]
    bottom = ticks + X_LABEL + FOOTNOTE + 0.14 * (len(footnote) - 1)
    width = LEFT + axes_width + RIGHT
    height = top + len(alphas) * FACET_HEIGHT + (len(alphas) - 1) * between + bottom

    with matplotlib.rc_context(RC):
        figure = new_figure(width, height)
        figure.subplots_adjust(
            left=LEFT / width,
            right=1 - RIGHT / width,
            top=1 - top / height,
            bottom=bottom / height,
            hspace=between / FACET_HEIGHT,
        )
        axes_list = figure.subplots(len(alphas), 1, squeeze=False)[:, 0]
        # One concept group spans 1.0 on the x axis; a bar is BAR inches of the narrowest layout.
        bar_width = min(BAR / (n_bars * BAR + GROUP_GAP), 0.8 / n_bars)
        offsets = [(index - (n_bars - 1) / 2) * bar_width for index in range(n_bars)]

        for axes, alpha in zip(axes_list, alphas):
            axes.axhline(0.5, color="0.45", linewidth=0.9, linestyle=":", zorder=1)
            for b_index, bottleneck in enumerate(bottlenecks):
                color = BOTTLENECK_COLORS[b_index % len(BOTTLENECK_COLORS)]
                for c_index, concept in enumerate(concepts):
                    row = by_key.get((concept, bottleneck, alpha))
                    if row is not None:
                        _draw_point(axes, c_index + offsets[b_index], bar_width * 0.92, color, row)
            axes.set_ylim(0, 1)
            axes.set_xlim(-0.5, len(concepts) - 0.5)
            axes.set_yticks([0, 0.25, 0.5, 0.75, 1.0])
            axes.set_ylabel("TCAV score")
            axes.yaxis.grid(True, color="0.9", linewidth=0.8, zorder=0)
            axes.set_axisbelow(True)
            axes.set_xticks(range(len(concepts)))
            axes.set_xticklabels(
                concepts, rotation=ROTATION if rotate else 0, ha="right" if rotate else "center",
                rotation_mode="anchor" if rotate else "default",
            )
            if faceted:
                axes.set_title(f"CAV alpha = {alpha:g}", fontsize=10, loc="left", pad=6)
        axes_list[-1].set_xlabel("concept")

        handles: list = [Line2D([], [], marker="o", linestyle="none", markersize=POINT_SIZE,
                                color=BOTTLENECK_COLORS[i % len(BOTTLENECK_COLORS)]) for i in range(n_bars)]
        handles.append(
            (Patch(facecolor=BAND_COLOR, edgecolor="none"), Line2D([], [], color="0.1", linestyle="--", linewidth=1.3))
        )
        if any_significant:
            handles.append(Line2D([], [], marker="$*$", linestyle="none", markersize=9, color="0.15"))
        if any_not_significant:
            handles.append(Line2D([], [], marker="o", linestyle="none", markersize=POINT_SIZE, markerfacecolor="white",
                                  markeredgecolor="0.4", markeredgewidth=1.5))
        figure.legend(
            handles,
            labels,
            handler_map={tuple: HandlerTuple(ndivide=1, pad=0.0)},
            loc="upper left",
            bbox_to_anchor=(LEFT / width, 1 - TITLE_BAND / height),
            ncol=legend_columns,
            frameon=False,
            fontsize=9,
            handlelength=1.8,
            columnspacing=1.2,
            borderaxespad=0.0,
            borderpad=0.0,
        )
        figure.suptitle(
            f"TCAV scores for class {class_name}",
            x=LEFT / width,
            y=1 - 0.15 / height,
            ha="left",
            va="top",
            fontsize=13,
            fontweight="bold",
        )
        figure.text(
            LEFT / width, 0.1 / height, "\n".join(footnote), ha="left", va="bottom", fontsize=8, color="0.3"
        )
        return png_bytes(figure)


def _draw_point(axes, x: float, width: float, color: str, row: Mapping[str, Any]) -> None:
    """One bottleneck's score for one concept: random band behind, the interval, the point, its marks.

    A group whose CAV is not learnable has no score: it gets a small "n/l" label at the
    bottom instead.
    """
    mean = float(row["score_mean"])
    if not math.isfinite(mean):
        axes.text(x, 0.01, "n/l", ha="center", va="bottom", fontsize=7, color="0.35", rotation=90, zorder=5)
        return
    significant = bool(row["significant"])
    _draw_random_baseline(axes, x, width, row)
    low, high = float(row.get("score_ci_low", math.nan)), float(row.get("score_ci_high", math.nan))
    if math.isfinite(low) and math.isfinite(high) and high > low:
        axes.errorbar(x, mean, yerr=[[mean - low], [high - mean]], fmt="none", ecolor=color, elinewidth=1.6,
                      capsize=3, zorder=4, clip_on=False)
    else:
        high = mean
    axes.plot([x], [mean], marker="o", linestyle="none", markersize=POINT_SIZE, zorder=5, clip_on=False,
              markerfacecolor=color if significant else "white", markeredgecolor=color, markeredgewidth=1.6)
    top = min(max(high, mean) + 0.02, 0.975)
    if significant:
        mark = STATUS_MARKS.get(status(row)) if "verdict" in row else None
        text = SIGNIFICANT_MARK + (mark.strip() if mark else "")  # the insertion test's word (confirmation.py)
        axes.text(x, top, text, ha="center", va="bottom", fontsize=11, fontweight="bold", color="0.15", zorder=6,
                  clip_on=False)


def _draw_random_baseline(axes, x: float, width: float, row: Mapping[str, Any]) -> None:
    """The random-vs-random score behind one point: grey band for ± std, dashed line at the mean."""
    mean, std = float(row["random_mean"]), float(row["random_std"])
    if not math.isfinite(mean):
        return
    left = x - width / 2
    if math.isfinite(std) and std > 0:
        low, high = max(mean - std, 0.0), min(mean + std, 1.0)
        axes.add_patch(Rectangle((left, low), width, high - low, facecolor=BAND_COLOR, edgecolor="none", zorder=2))
    axes.hlines(mean, left, left + width, colors="0.1", linestyles="--", linewidth=1.3, zorder=2.5)
