"""Charts across classes and concepts: score heatmaps, score distributions, CAV accuracy.

Each ``render_*`` function returns PNG bytes (deterministic: fixed sizes and dpi, no
metadata) from summary rows (``tcavcore.records.SUMMARY_KEYS``) or runs (``RUN_KEYS``).
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import matplotlib
import numpy as np

from tcavcore.records import KIND_CONCEPT, KIND_RANDOM
from tcavcore.verdicts import NOT_LEARNABLE
from reporting.charts.base import BOTTLENECK_COLORS, RC, STATUS_MARKS, new_figure, png_bytes
from tcavcore.confirmation import status

GREY = "#d9d9d9"  # a cell or box that is not significant / not learnable
RANDOM_COLOR = "0.55"
#: Diverging scale of the heatmaps: 0 orange (lowers the class) .. 0.5 white .. 1 purple (raises).
#: No red or blue: those are concepts (the built-in study has both), and a reader must not take
#: a cell's colour for the concept's.
HEATMAP_COLORMAP = "PuOr"


def _ordered(values) -> list:
    return list(dict.fromkeys(values))


def render_heatmap(rows: Sequence[Mapping[str, Any]], bottleneck: str, significance: float) -> bytes:
    """Class x concept heatmap of mean TCAV scores at one bottleneck (first alpha).

    Significant cells are coloured on a diverging purple-orange scale centred at 0.5 (purple:
    raises the class, orange: lowers it; not red and blue, which are concepts of the built-in
    study and of many others); non-significant cells are grey, with their score in grey text;
    cells whose CAV is not learnable say "n/l".
    """
    chosen = [row for row in rows if row["bottleneck"] == bottleneck]
    if not chosen:
        raise ValueError(f"no score rows for bottleneck {bottleneck!r}")
    alpha = min(float(row["alpha"]) for row in chosen)
    chosen = [row for row in chosen if float(row["alpha"]) == alpha]
    classes = _ordered(row["target"] for row in chosen)
    concepts = _ordered(row["concept"] for row in chosen)
    by_key = {(row["target"], row["concept"]): row for row in chosen}
    cmap = matplotlib.colormaps[HEATMAP_COLORMAP]

    width = max(5.4, 1.6 + 0.75 * len(concepts))  # the legend lines fit
    height = 1.7 + 0.55 * len(classes)
    with matplotlib.rc_context(RC):
        figure = new_figure(width, height)
        axes = figure.add_axes((1.3 / width, 0.9 / height, 1 - 1.5 / width, 1 - 1.65 / height))
        for i, target in enumerate(classes):
            for j, concept in enumerate(concepts):
                row = by_key.get((target, concept))
                if row is None:
                    continue
                score = float(row["score_mean"])
                if row["verdict"] == NOT_LEARNABLE or not math.isfinite(score):
                    color, text, text_color = "white", "n/l", "0.45"
                elif row["significant"]:
                    color, text = cmap(score), f"{score:.2f}{STATUS_MARKS.get(status(row), '')}"
                    text_color = "white" if abs(score - 0.5) > 0.3 else "black"
                else:
                    color, text, text_color = GREY, f"{score:.2f}", "0.4"
                axes.add_patch(matplotlib.patches.Rectangle((j, i), 1, 1, facecolor=color, edgecolor="white", linewidth=2))
                axes.text(j + 0.5, i + 0.5, text, ha="center", va="center", fontsize=9, color=text_color)
        axes.set_xlim(0, len(concepts))
        axes.set_ylim(len(classes), 0)
        axes.set_xticks([j + 0.5 for j in range(len(concepts))], concepts, rotation=30, ha="right", rotation_mode="anchor")
        axes.set_yticks([i + 0.5 for i in range(len(classes))], classes)
        axes.tick_params(length=0)
        for side in ("left", "bottom", "top", "right"):
            axes.spines[side].set_visible(False)
        figure.text(0.15 / width, 1 - 0.12 / height, f"TCAV scores at {bottleneck}", fontsize=12, fontweight="bold", va="top")
        insertion = ("; tests on images: \u2713 confirmed, ? not confirmed, \u2717 contradicted"
                     if any(row["significant"] for row in chosen) else "")  # marks of tcavcore/confirmation.py
        figure.text(0.15 / width, 1 - 0.42 / height,
                    f"coloured: significant (adjusted p < {significance:g}): purple raises the class, orange lowers it",
                    fontsize=7.5, color="0.3", va="top")
        figure.text(0.15 / width, 1 - 0.62 / height, f"grey: not significant; n/l: CAV not learnable{insertion}",
                    fontsize=7.5, color="0.3", va="top")
        return png_bytes(figure)


def render_distributions(runs: Sequence[Mapping[str, Any]], target: str, bottlenecks: Sequence[str],
                         concepts: Sequence[str]) -> bytes:
    """Per-CAV TCAV scores of each concept next to the random-vs-random scores, for one class.

    One panel per bottleneck; a box (quartiles, whiskers at 1.5 IQR) and every CAV as a dot,
    the random baseline last in grey. This is what the t-test compares: a concept matters
    when its dots sit apart from the random ones.
    """
    alpha = min(float(row["alpha"]) for row in runs)
    chosen = [row for row in runs if row["target"] == target and float(row["alpha"]) == alpha]
    labels = [*concepts, "random"]
    height = 1.0 + 2.2 * len(bottlenecks)
    width = max(6.5, 1.2 + 0.7 * len(labels))
    rng = np.random.default_rng(0)  # horizontal jitter of the dots; fixed, so the PNG is too
    with matplotlib.rc_context(RC):
        figure = new_figure(width, height)
        grid = figure.subplots(len(bottlenecks), 1, squeeze=False)[:, 0]
        figure.subplots_adjust(left=0.9 / width, right=1 - 0.2 / width, top=1 - 0.6 / height, bottom=0.75 / height,
                               hspace=0.45)
        for b_index, (axes, bottleneck) in enumerate(zip(grid, bottlenecks)):
            color = BOTTLENECK_COLORS[b_index % len(BOTTLENECK_COLORS)]
            samples = [[float(r["score"]) for r in chosen if r["bottleneck"] == bottleneck and r["kind"] == KIND_CONCEPT
                        and r["concept"] == concept] for concept in concepts]
            samples.append([float(r["score"]) for r in chosen if r["bottleneck"] == bottleneck and r["kind"] == KIND_RANDOM])
            positions = list(range(len(labels)))
            present = [(p, s) for p, s in zip(positions, samples) if s]
            boxes = axes.boxplot([s for _, s in present], positions=[p for p, _ in present], widths=0.55,
                                 patch_artist=True, showfliers=False, medianprops={"color": "black"})
            for patch, (p, _) in zip(boxes["boxes"], present):
                patch.set_facecolor(matplotlib.colors.to_rgba(RANDOM_COLOR if p == len(concepts) else color, 0.35))
            for p, s in present:
                x = p + rng.uniform(-0.18, 0.18, len(s))
                axes.scatter(x, s, s=9, color=RANDOM_COLOR if p == len(concepts) else color, zorder=3, linewidths=0)
            axes.axhline(0.5, color="0.45", linewidth=0.9, linestyle=":")
            axes.set_ylim(-0.03, 1.03)
            axes.set_xlim(-0.6, len(labels) - 0.4)
            axes.set_xticks(positions, labels)
            axes.set_ylabel("TCAV score")
            axes.set_title(bottleneck, fontsize=10, loc="left")
        figure.suptitle(f"Score distributions for class {target}: concept CAVs vs random-vs-random CAVs",
                        x=0.15 / width, ha="left", y=1 - 0.12 / height, va="top", fontsize=11, fontweight="bold")
        return png_bytes(figure)


def render_cav_accuracy(runs: Sequence[Mapping[str, Any]], concepts: Sequence[str], bottlenecks: Sequence[str],
                        min_cav_accuracy: float) -> bytes:
    """Held-out accuracy of every concept CAV, per concept (x) and bottleneck (colour).

    CAVs are the same for every class, so each (concept, random set, bottleneck) is drawn
    once. The dashed line is ``tcav.min_cav_accuracy``: below it, "CAV not learnable here";
    the dotted one is chance (0.5).
    """
    seen: dict[tuple[str, str, str], float] = {}
    for row in runs:
        if row["kind"] == KIND_CONCEPT:
            seen.setdefault((row["concept"], row["bottleneck"], row["random"]), float(row["cav_accuracy"]))
    width = max(6.5, 1.4 + 0.35 * len(concepts) * len(bottlenecks))
    height = 3.8
    with matplotlib.rc_context(RC):
        figure = new_figure(width, height)
        axes = figure.add_axes((0.8 / width, 0.9 / height, 1 - 1.0 / width, 1 - 1.7 / height))
        n = len(bottlenecks)
        step = 0.8 / n
        rng = np.random.default_rng(0)
        for b_index, bottleneck in enumerate(bottlenecks):
            color = BOTTLENECK_COLORS[b_index % len(BOTTLENECK_COLORS)]
            for c_index, concept in enumerate(concepts):
                values = [v for (c, b, _), v in seen.items() if c == concept and b == bottleneck]
                if not values:
                    continue
                x = c_index - 0.4 + step * (b_index + 0.5)
                axes.scatter(x + rng.uniform(-step / 4, step / 4, len(values)), values, s=10, color=color, linewidths=0,
                             label=bottleneck if c_index == 0 else None)
                axes.hlines(np.mean(values), x - step / 2.5, x + step / 2.5, colors="black", linewidth=1.4)
        axes.axhline(min_cav_accuracy, color="#D55E00", linestyle="--", linewidth=1.1,
                     label=f"min_cav_accuracy {min_cav_accuracy:g}")
        axes.axhline(0.5, color="0.45", linestyle=":", linewidth=0.9, label="chance")
        axes.set_xticks(range(len(concepts)), concepts, rotation=30, ha="right", rotation_mode="anchor")
        axes.set_xlim(-0.6, len(concepts) - 0.4)
        axes.set_ylim(0.3, 1.02)
        axes.set_ylabel("held-out CAV accuracy")
        axes.legend(loc="lower left", bbox_to_anchor=(0, 1.0), ncol=n + 2, frameon=False, fontsize=8, borderaxespad=0.3)
        figure.text(0.15 / width, 1 - 0.12 / height, "CAV accuracy per concept and layer (bar: mean)",
                    fontsize=11, fontweight="bold", va="top")
        return png_bytes(figure)
