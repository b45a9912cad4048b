"""Reading ``truth.csv`` (the truth stage's measured effects) for the report."""

from __future__ import annotations

import csv
from pathlib import Path

from common.errors import PipelineError


def read_truth(path: str | Path) -> dict[tuple[str, str], dict]:
    """``truth.csv`` keyed by (class, concept); empty when the run has no known truth."""
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except FileNotFoundError:
        raise PipelineError(f"{path}: not found (the truth stage writes it; run `dvc repro`)") from None
    try:
        return {(r["class"], r["concept"]): {**r, "effect": float(r["effect"]), "ci_low": float(r["ci_low"]),
                                             "ci_high": float(r["ci_high"]), "n": int(r["n"])} for r in rows}
    except (KeyError, ValueError) as error:
        raise PipelineError(f"{path}: not a truth table ({error}); run the truth stage again") from None
