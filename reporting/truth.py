"""The known truth in the report: reading ``truth.csv``, and this run's findings scored against it."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Mapping

from common.errors import PipelineError
from tcavcore.accuracy import Counts


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


#: What each row of the accuracy table counts as a finding.
KIND_LABELS = {"tcav": "TCAV alone (significant)", "insertion": "insertion test alone (significant)",
               "scene": "scene test alone (significant, at least insertion.min_effect)",
               "object": "object test alone (a significant raise, its interval wholly beyond insertion.min_effect)",
               "confirmed": "confirmed (TCAV and the scene test agreeing, or the object test for a raise; no test "
                            "contradicting)",
               "size_certain": "confirmed, size certain (the scene test's interval wholly beyond insertion.min_effect)"}


def accuracy_metrics(counts: Mapping[str, Counts]) -> dict[str, dict[str, float | int | None]]:
    """The accuracy counts as plain numbers for ``tcav_metrics.json`` (None where undefined)."""
    def number(value: float) -> float | None:
        return None if math.isnan(value) else round(value, 4)

    return {kind: {"precision": number(c.precision), "recall": number(c.recall), "findings": c.findings,
                   "right": c.right, "real_effects": c.real, "found": c.found,
                   "measurable_sign_precision": number(c.measurable_precision), "measurable_sign": c.measurable}
            for kind, c in counts.items()}


def accuracy_html(counts: Mapping[str, Counts], threshold: float) -> str:
    """The report's table of this run's verdicts scored against its known truth."""
    body = []
    for kind, label in KIND_LABELS.items():
        c = counts[kind]
        precision = f"{c.precision:.2f}" if c.findings else "–"
        recall = f"{c.recall:.2f}" if c.real else "–"
        measurable = f"{c.measurable_precision:.2f}" if c.findings else "–"
        body.append(f"<tr><td>{label}</td><td>{precision} ({c.right} of {c.findings})</td>"
                    f"<td>{recall} ({c.found} of {c.real})</td><td>{measurable} ({c.measurable} of {c.findings})</td></tr>")
    return ("<h3>How often this run's findings are right</h3>"
            "<p>Scored against the known truth of this synthetic run (<code>truth.csv</code>: the model's measured "
            f"change of the class logit when the concept is put into the same scene). A real effect is one of at "
            f"least {threshold:g} logit; <b>precision</b>: the share of findings whose direction is that of a real "
            "effect; <b>recall</b>: the share of real effects found in their direction (at some layer); "
            "<b>sign of a measurable effect</b>: the share of findings whose direction is that of an effect whose "
            "interval excludes 0, whatever its size (a weaker truth).</p>"
            "<table class='accuracy'><thead><tr><th>findings</th><th>precision</th><th>recall</th>"
            "<th>sign of a measurable effect</th></tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>")
