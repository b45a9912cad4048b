"""What a run found, beyond the table: the decision rule in words, class recognition, the
metrics for ``dvc metrics``, and the check that runs.csv answers what params.yaml asks."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

from common.errors import PipelineError
from common.params import Params
from tcavcore.records import KIND_CONCEPT
from tcavcore.significance import adjust_p_values, recognition_p_values
from tcavcore.confirmation import CONTRADICTED
from tcavcore.verdicts import LOWERS, NOT_LEARNABLE, NOT_RECOGNISED, RAISES, Decision

#: How the log and the report name each test.
TEST_NAMES = {
    "random": "Welch t-test of concept vs random-vs-random scores",
    "half": "one-sample t-test of concept scores vs 0.5",
}


#: How the log and the report name each correction ("Holm correction", "no correction").
CORRECTION_NAMES = {"holm": "Holm", "bonferroni": "Bonferroni", "bh": "Benjamini-Hochberg", "none": "no"}


def decision_text(decision: Decision) -> str:
    """One line saying what ``significant`` means under ``decision``."""
    correction = CORRECTION_NAMES[decision.correction]
    return (f"{TEST_NAMES[decision.test]} (two-sided), {correction} correction over all tests of the run, "
            f"adjusted p < {decision.significance:g}; CAV accuracy at least {decision.min_cav_accuracy:g}; "
            "and the model recognises the class on held-out images (Fisher exact test, the same correction over "
            "the classes)")


def decision_of(params: Params) -> Decision:
    """The statistical decision rule ``params.tcav`` asks for."""
    t = params.tcav
    return Decision(t.significance, t.test, t.correction, t.min_cav_accuracy, t.confidence)


def recognised_classes(confusion: dict[str, Any], decision: Decision) -> tuple[list[str], dict[str, float]]:
    """Classes the model does not recognise better than chance, and every class's adjusted p-value.

    The classes are one family, corrected as the run's TCAV tests are (``decision.correction``):
    with many classes, one the model is at chance on would otherwise pass now and then by luck.
    """
    raw = recognition_p_values(confusion["matrix"])
    p_values = dict(zip(confusion["classes"], adjust_p_values(raw, decision.correction)))
    unrecognised = [name for name, p in p_values.items() if not p < decision.significance]
    return unrecognised, p_values


def metrics(rows: Sequence[dict[str, Any]], bottlenecks: Sequence[str]) -> dict[str, Any]:
    """Small summary for ``dvc metrics show`` and ``dvc metrics diff``.

    In total and per bottleneck: ``significant`` (class, concept) pairs, of which ``raises``
    (score above 0.5); ``tests`` (learnable pairs); ``not_learnable`` pairs; the mean held-out
    ``cav_accuracy`` of the concept CAVs. In total also ``lowers`` and ``not_recognised`` (pairs
    of a class the model does not recognise). The decision rule itself is in params
    (``dvc params diff``). With several alphas every count is of (class, concept, alpha).
    """
    def counts(chosen: Sequence[dict[str, Any]], detail: bool) -> dict[str, Any]:
        accuracies = [row["cav_accuracy"] for row in chosen if math.isfinite(row["cav_accuracy"])]
        counted = {
            "significant": sum(row["significant"] for row in chosen),
            "confirmed": sum(bool(row["confirmed"]) for row in chosen),
            "size_certain": sum(bool(row.get("size_certain")) for row in chosen),
            "contradicted": sum(row["verdict"] == CONTRADICTED for row in chosen),
            "raises": sum(row["verdict"].startswith(RAISES) for row in chosen),
            "lowers": sum(row["verdict"].startswith(LOWERS) for row in chosen),
            "tests": sum(row["cav_learnable"] for row in chosen),  # incl. not recognised: tested, then withheld
            "not_learnable": sum(row["verdict"] == NOT_LEARNABLE for row in chosen),
            "not_recognised": sum(row["verdict"] == NOT_RECOGNISED for row in chosen),
            "cav_accuracy": round(sum(accuracies) / len(accuracies), 4) if accuracies else None,
        }
        if not detail:  # keep `dvc metrics show` readable: per layer, the headline numbers only
            for key in ("lowers", "not_recognised"):
                del counted[key]
        return counted

    return {
        **counts(rows, True),
        "bottlenecks": {b: counts([row for row in rows if row["bottleneck"] == b], False) for b in bottlenecks},
    }


def check_coverage(runs: Sequence[dict[str, Any]], params: Params, runs_path: Path, params_path: Path) -> None:
    """Raise :class:`PipelineError` unless runs.csv scores exactly what params.yaml asks for.

    A mismatch means runs.csv is older than the parameters (the report was run by hand
    without the tcav stage); reporting it would show charts that do not match params.yaml.
    """
    concept_runs = [row for row in runs if row["kind"] == KIND_CONCEPT]
    checks = [
        ("class", "classes", params.classes, [row["target"] for row in concept_runs]),
        ("concept", "tcav.concepts", params.tcav.concepts, [row["concept"] for row in concept_runs]),
        ("bottleneck", "tcav.bottlenecks", params.tcav.bottlenecks, [row["bottleneck"] for row in runs]),
        ("alpha", "tcav.alphas", [float(a) for a in params.tcav.alphas], [row["alpha"] for row in runs]),
    ]
    problems = []
    for what, key, wanted, found in checks:
        found_set = set(found)
        absent = [value for value in wanted if value not in found_set]
        extra = sorted(found_set - set(wanted), key=str)
        if absent:
            problems.append(f"no concept runs for {what}(s) {', '.join(map(str, absent))} listed in {key}")
        if extra:
            problems.append(f"runs for {what}(s) {', '.join(map(str, extra))} not listed in {key}")
    if problems:
        raise PipelineError(
            f"{runs_path} does not match {params_path}: " + "; ".join(problems)
            + ". It is out of date: run the tcav stage again (`dvc repro`)."
        )
