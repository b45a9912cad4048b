"""The planted answer of the built-in dataset, as checks on a run's scores.csv.

Shared by ``tests/pipeline/test_ground_truth.py`` and ``benchmarks/seed_stability.py``.
"""

from __future__ import annotations

import csv
from pathlib import Path

import yaml

OWN_COLOUR = {"fire": "red", "water": "blue", "grass": "green"}
TEXTURES = ("striped", "dotted")


def last_conv_bottleneck(project: Path) -> str:
    """The deepest ``conv*`` layer among the run's ``tcav.bottlenecks``."""
    params = yaml.safe_load((project / "params.yaml").read_text())
    return [b for b in params["tcav"]["bottlenecks"] if b.startswith("conv")][-1]


def read_scores(project: Path, bottleneck: str) -> dict[tuple[str, str], dict]:
    """``scores.csv`` rows at ``bottleneck``, keyed by (target, concept)."""
    with open(project / "results" / "scores.csv", newline="") as handle:
        return {(r["target"], r["concept"]): r for r in csv.DictReader(handle) if r["bottleneck"] == bottleneck}


def significant_high(row: dict) -> bool:
    """Significant with a score of at least 0.8."""
    return row["significant"] == "True" and float(row["score_mean"]) >= 0.8


def own_colour_found(row: dict) -> bool:
    """A class's own colour must be significant-high."""
    return significant_high(row)


def other_colour_ok(row: dict) -> bool:
    """Another class's colour: not significant, or significant with a score of at most 0.2."""
    return row["significant"] != "True" or float(row["score_mean"]) <= 0.2


def texture_ok(row: dict) -> bool:
    """A texture must not be significant-high."""
    return not significant_high(row)


def failures(scores: dict[tuple[str, str], dict]) -> list[str]:
    """Every way the scores miss the planted answer (empty when it is recovered)."""
    found = []
    for target, colour in OWN_COLOUR.items():
        row = scores[target, colour]
        if not own_colour_found(row):
            found.append(f"{target}/{colour} (own colour) score {row['score_mean']} significant {row['significant']}")
        for other in OWN_COLOUR.values():
            row = scores[target, other]
            if other != colour and not other_colour_ok(row):
                found.append(f"{target}/{other} (other colour) significant with score {row['score_mean']}")
        for texture in TEXTURES:
            row = scores[target, texture]
            if not texture_ok(row):
                found.append(f"{target}/{texture} (texture) significant with score {row['score_mean']}")
    return found


# --------------------------------------------------------------------------- the measured truth



def read_truth(project: Path) -> dict[tuple[str, str], dict]:
    """``truth.csv`` rows keyed by (class, concept), numbers as floats."""
    with open(project / "results" / "truth.csv", newline="") as handle:
        return {(r["class"], r["concept"]): {**r, "effect": float(r["effect"]), "ci_low": float(r["ci_low"]),
                                             "ci_high": float(r["ci_high"])} for r in csv.DictReader(handle)}


def read_all_scores(project: Path) -> list[dict]:
    """Every row of ``scores.csv``."""
    with open(project / "results" / "scores.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def measured_sign(truth_row: dict) -> int:
    """+1 / -1 when the measured effect's interval excludes 0, else 0 (no measurable effect)."""
    from tcavcore.accuracy import measured_sign as sign_of

    return sign_of(truth_row["ci_low"], truth_row["ci_high"])


def marked_findings(rows: list[dict], truth: dict, column: str):
    """(row, its direction +1/-1, its truth row) for every row whose ``column`` is true."""
    for r in rows:
        if r[column] == "True":
            yield r, (1 if float(r["score_mean"]) > 0.5 else -1), truth[r["target"], r["concept"]]


def confirmed_against_truth(rows: list[dict], truth: dict) -> list[str]:
    """Every confirmed finding whose direction is not that of a measured effect (empty when all agree)."""
    return [f"{r['target']}/{r['concept']} at {r['bottleneck']}: {r['verdict']}, measured effect "
            f"{t['effect']:+.3f} [{t['ci_low']:+.3f}, {t['ci_high']:+.3f}]"
            for r, sign, t in marked_findings(rows, truth, "confirmed") if measured_sign(t) != sign]


def size_certain_against_truth(rows: list[dict], truth: dict, floor: float = 0.5) -> list[str]:
    """Every size-certain finding whose measured effect is not at least ``floor`` logit its way (empty when none)."""
    return [f"{r['target']}/{r['concept']} at {r['bottleneck']}: {r['verdict']}, size certain (scene "
            f"{float(r['scene_ci_low']):+.2f} to {float(r['scene_ci_high']):+.2f}), measured effect {t['effect']:+.3f}"
            for r, sign, t in marked_findings(rows, truth, "size_certain") if not t["effect"] * sign >= floor]
