"""Plain-text tables of the scores, for the log."""

from __future__ import annotations

import math
from typing import Any, Sequence

from tcavcore.verdicts import Decision

#: Below this a p-value is not a number one can print: double precision's relative resolution
#: near 1 (the t and Fisher tests return 0.0 when 1 - cdf underflows).
P_FLOOR = 1e-16


def format_p(p_value: float, significance: float) -> str:
    """A p-value in two significant digits, more if rounding would put p on the other side of the
    level; ``< 1e-16`` below :data:`P_FLOOR` (never ``0``)."""
    if math.isnan(p_value):
        return "n/a"
    if p_value < P_FLOOR:
        return f"< {P_FLOOR:.0e}"
    for digits in range(2, 8):
        text = f"{p_value:.{digits}g}"
        if (float(text) < significance) == (p_value < significance):
            return text
    return repr(p_value)


def _pm(mean: float, std: float) -> str:
    return "-" if math.isnan(mean) else f"{mean:.2f} ± {std:.2f}"


def format_class_table(rows_for_class: Sequence[dict[str, Any]], class_name: str, decision: Decision) -> str:
    """Plain-text table of one class's scores for the log."""
    n_random = sorted({row["n_random"] for row in rows_for_class})
    n_examples = sorted({row["n_examples"] for row in rows_for_class})
    header = (
        f"class {class_name}: {'/'.join(map(str, n_examples))} images scored, "
        f"{'/'.join(map(str, n_random))} random counterexample sets per concept"
    )
    p_key = f"p_{decision.test}"
    table = [("concept", "bottleneck", "alpha", "score", f"{decision.confidence:.0%} CI", "random", "d",
              f"p ({decision.test})", "adjusted", "cav acc", "insertion", "verdict")]
    for row in rows_for_class:
        learnable = not math.isnan(row["score_mean"])
        table.append(
            (
                row["concept"],
                row["bottleneck"],
                f"{row['alpha']:g}",
                _pm(row["score_mean"], row["score_std"]),
                f"{row['score_ci_low']:.2f}-{row['score_ci_high']:.2f}" if learnable and not math.isnan(row["score_ci_low"]) else "-",
                _pm(row["random_mean"], row["random_std"]),
                "-" if math.isnan(row["effect_size"]) else f"{row['effect_size']:+.1f}",
                format_p(row[p_key], decision.significance),
                format_p(row[f"{p_key}_adjusted"], decision.significance),
                f"{row['cav_accuracy']:.2f}",
                "-" if math.isnan(row["insertion_effect"]) else
                f"{row['insertion_effect']:+.2f} (p {format_p(row['insertion_p_adjusted'], decision.significance)})",
                row["verdict"],
            )
        )
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    lines = ["  " + "  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in table]
    return "\n".join([header, *lines])
