"""Report stage: per-class TCAV scores with their statistics, charts and one HTML page.

``python -m pipeline.report [--params params.yaml] [--runs results/tcav/runs.csv] [--out results]``
(and ``--metrics``, ``--history``, ``--views`` for the train and views stages' outputs).

Reads the tcav stage's per-CAV table and summarises it with :func:`method.stats.summarise_runs`
(one row per class, concept, bottleneck and alpha; both tests, corrected over the run, see
``method/stats.py``). Classes the model does not recognise on the test split (confusion matrix
of the views stage) are never significant. Writes, each atomically (a failed run leaves the
previous outputs in place):

- ``<out>/scores.csv`` and ``<out>/scores.json``: the summary rows, columns
  :data:`method.stats.SUMMARY_KEYS`. Floats are written with ``repr`` (exact, byte-stable);
  an undefined value (NaN: the score of a CAV that is not learnable, a p-value of two constant
  equal samples) is an empty CSV cell and a JSON ``null``.
- ``<out>/tcav_metrics.json``: counts of significant tests, per bottleneck and in total, for
  ``dvc metrics show``.
- ``<out>/plots/*.png``: every chart (see :mod:`pipeline.report_charts`). The folder is
  replaced as a whole, so it belongs to this stage only.
- ``<out>/report.html``: one self-contained page with all of it (:mod:`pipeline.html_report`).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import logging
import math
import sys
from pathlib import Path
from typing import Any, Sequence

from method.stats import KIND_CONCEPT, KIND_RANDOM, LOWERS, NOT_LEARNABLE, NOT_RECOGNISED, RAISES, RUN_KEYS, \
    SUMMARY_KEYS, Decision, recognition_p_values, summarise_runs
from pipeline.errors import PipelineError, stage_main
from pipeline.fsutil import atomic_directory, atomic_write_json, atomic_write_text
from pipeline.params import Params, load_params
from pipeline import html_report
from pipeline.report_charts import build_sections, read_model_views
from tcavcore.confirmation import CONTRADICTED, apply_insertion

log = logging.getLogger(__name__)



# --------------------------------------------------------------------------- reading runs.csv


def _number(raw: str, column: str, where: str, *, low: float | None = None, high: float | None = None,
            allow_nan: bool = False) -> float:
    text = raw.strip()
    if allow_nan and text.lower() in ("", "nan"):
        return math.nan
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    bounds = ""
    if low is not None and high is not None:
        bounds = f" between {low:g} and {high:g}"
    elif low is not None:
        bounds = f" > {low:g}"
    ok = math.isfinite(value)
    if ok and low is not None:
        ok = value >= low if high is not None else value > low
    if ok and high is not None:
        ok = value <= high
    if not ok:
        nan_note = " (or empty/nan)" if allow_nan else ""
        raise PipelineError(f"{where}: column {column!r} must be a number{bounds}{nan_note}, got {raw!r}")
    return value


def read_runs(path: str | Path) -> list[dict[str, Any]]:
    """Parse and check runs.csv into typed rows (str names, float numbers, int n_examples).

    Raises :class:`PipelineError` naming the file (and line and column) when the file is
    missing, lacks a column of :data:`RUN_KEYS`, has no rows or holds a bad value.
    """
    path = Path(path)
    expected = ", ".join(RUN_KEYS)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise PipelineError(
            f"{path}: per-run TCAV table not found (the tcav stage writes it; run `dvc repro`). "
            f"Expected a CSV with columns {expected}"
        ) from None
    except (IsADirectoryError, UnicodeDecodeError) as error:
        raise PipelineError(f"{path}: cannot read the per-run TCAV table ({error}); expected a CSV with columns {expected}") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [name.strip() for name in (reader.fieldnames or [])]
    missing = [column for column in RUN_KEYS if column not in header]
    if missing:
        raise PipelineError(
            f"{path}: missing column(s) {', '.join(missing)}; expected a CSV with columns {expected}"
        )
    reader.fieldnames = header
    rows: list[dict[str, Any]] = []
    for raw in reader:
        where = f"{path}, line {reader.line_num}"
        if None in raw:
            raise PipelineError(f"{where}: more cells than the {len(header)} columns of the header")
        for column in ("target", "concept", "random", "bottleneck", "kind"):
            if not (raw[column] or "").strip():
                raise PipelineError(f"{where}: column {column!r} is empty")
        kind = raw["kind"].strip()
        if kind not in (KIND_CONCEPT, KIND_RANDOM):
            raise PipelineError(f"{where}: column 'kind' must be {KIND_CONCEPT!r} or {KIND_RANDOM!r}, got {raw['kind']!r}")
        n_examples = _number(raw["n_examples"], "n_examples", where, low=0)
        if not n_examples.is_integer():
            raise PipelineError(f"{where}: column 'n_examples' must be a whole number, got {raw['n_examples']!r}")
        rows.append(
            {
                "target": raw["target"].strip(),
                "concept": raw["concept"].strip(),
                "random": raw["random"].strip(),
                "bottleneck": raw["bottleneck"].strip(),
                "alpha": _number(raw["alpha"], "alpha", where, low=0),
                "kind": kind,
                "score": _number(raw["score"], "score", where, low=0, high=1),
                "magnitude": _number(raw["magnitude"], "magnitude", where, allow_nan=True),
                "cav_accuracy": _number(raw["cav_accuracy"], "cav_accuracy", where, low=0, high=1),
                "n_examples": int(n_examples),
            }
        )
    if not rows:
        raise PipelineError(f"{path}: has a header but no runs; the tcav stage should write one row per CAV")
    return rows


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


# --------------------------------------------------------------------------- writing


def _cell(value: Any) -> str:
    """Deterministic CSV text: repr for floats (NaN -> empty), True/False, str otherwise."""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    return str(value)


def scores_csv(rows: Sequence[dict[str, Any]]) -> str:
    """The summary rows as CSV text with header :data:`SUMMARY_KEYS`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(SUMMARY_KEYS)
    for row in rows:
        writer.writerow([_cell(row[key]) for key in SUMMARY_KEYS])
    return buffer.getvalue()


def _json_value(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def scores_json(rows: Sequence[dict[str, Any]]) -> str:
    """The summary rows as a JSON list (keys in column order, NaN -> null)."""
    data = [{key: _json_value(row[key]) for key in SUMMARY_KEYS} for row in rows]
    return json.dumps(data, indent=2, allow_nan=False) + "\n"


#: How the log and the report name each test.
TEST_NAMES = {
    "random": "Welch t-test of concept vs random-vs-random scores",
    "half": "one-sample t-test of concept scores vs 0.5",
}


def decision_text(decision: Decision) -> str:
    """One line saying what ``significant`` means under ``decision``."""
    correction = {"holm": "Holm", "bonferroni": "Bonferroni", "bh": "Benjamini-Hochberg", "none": "no"}[decision.correction]
    return (f"{TEST_NAMES[decision.test]} (two-sided), {correction} correction over all tests of the run, "
            f"adjusted p < {decision.significance:g}; CAV accuracy at least {decision.min_cav_accuracy:g}; "
            "and the model recognises the class on held-out images")


def decision_of(params: Params) -> Decision:
    """The statistical decision rule ``params.tcav`` asks for."""
    t = params.tcav
    return Decision(t.significance, t.test, t.correction, t.min_cav_accuracy, t.confidence)


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


def _format_p(p_value: float, significance: float) -> str:
    """Two significant digits, more if rounding would put p on the other side of the level."""
    if math.isnan(p_value):
        return "n/a"
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
                _format_p(row[p_key], decision.significance),
                _format_p(row[f"{p_key}_adjusted"], decision.significance),
                f"{row['cav_accuracy']:.2f}",
                "-" if math.isnan(row["insertion_effect"]) else
                f"{row['insertion_effect']:+.2f} (p {_format_p(row['insertion_p_adjusted'], decision.significance)})",
                row["verdict"],
            )
        )
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    lines = ["  " + "  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in table]
    return "\n".join([header, *lines])


# --------------------------------------------------------------------------- stage


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m pipeline.report", description=__doc__.split("\n\n")[0])
    parser.add_argument("--params", default="params.yaml", help="parameters file (default: %(default)s)")
    parser.add_argument("--runs", default="results/tcav/runs.csv", help="per-CAV table of the tcav stage (default: %(default)s)")
    parser.add_argument("--metrics", default="results/metrics.json", help="the train stage's metrics (default: %(default)s)")
    parser.add_argument("--history", default="results/train_history.csv", help="the train stage's history (default: %(default)s)")
    parser.add_argument("--views", default="results/views", help="the views stage's folder (default: %(default)s)")
    parser.add_argument("--insertion", default="results/tcav/insertion.csv",
                        help="the insertion stage's tests (default: %(default)s)")
    parser.add_argument("--truth", default="results/truth.csv", help="the truth stage's effects (default: %(default)s)")
    parser.add_argument("--out", default="results", help="folder for scores, metrics, plots/ and report.html (default: %(default)s)")
    return parser.parse_args(argv)


def recognised_classes(confusion: dict[str, Any], significance: float) -> tuple[list[str], dict[str, float]]:
    """Classes the model does not recognise better than chance, and every class's p-value."""
    p_values = dict(zip(confusion["classes"], recognition_p_values(confusion["matrix"])))
    unrecognised = [name for name, p in p_values.items() if not p < significance]
    return unrecognised, p_values


@stage_main
def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    params_path, runs_path, out = Path(args.params), Path(args.runs), Path(args.out)
    params = load_params(params_path)
    runs = read_runs(runs_path)
    check_coverage(runs, params, runs_path, params_path)
    views = read_model_views(Path(args.metrics), Path(args.history), Path(args.views), params.classes)
    decision = decision_of(params)
    significance = decision.significance
    unrecognised, recognition = recognised_classes(views.confusion, significance)
    for name in unrecognised:
        log.warning("the model does not recognise class %r better than chance on the test split (p = %s): "
                    "none of its concepts can be significant", name, _format_p(recognition[name], significance))
    try:
        rows = summarise_runs(runs, decision, targets=params.classes, concepts=params.tcav.concepts,
                              bottlenecks=params.tcav.bottlenecks, unrecognised=unrecognised)
    except ValueError as error:
        raise PipelineError(f"{runs_path}: {error}") from None
    from pipeline.insertion import read_insertion
    from pipeline.truth import read_truth

    apply_insertion(rows, read_insertion(args.insertion), significance)
    truth = read_truth(args.truth)
    if not truth:
        log.warning("this run has no known truth (%s is empty: its classes or concepts do not come from the "
                    "synthetic source); the insertion test is the only check of the findings", args.truth)

    rows_by_class = {name: [row for row in rows if row["target"] == name] for name in params.classes}
    log.info("TCAV scores (mean ± std over CAVs; significant: %s-adjusted p < %g, two-sided %s)",
             decision.correction, significance, TEST_NAMES[decision.test])
    for name, class_rows in rows_by_class.items():
        log.info("%s", format_class_table(class_rows, name, decision))

    sections = build_sections(rows, runs, views, params)
    notes = [f"The model does not recognise class {name} better than chance on the test split "
             f"(Fisher exact p = {_format_p(recognition[name], significance)}): its concepts are never significant."
             for name in unrecognised]
    if not truth:
        notes.append("This run has no known truth: its classes or concepts do not come from the built-in synthetic "
                     "source, so no finding can be scored against a measured effect. The insertion test is the "
                     "only check.")
    page = html_report.render(html_report.ReportContent(
        title=f"TCAV report: {', '.join(params.classes)}",
        rows=rows, classes=params.classes, bottlenecks=params.tcav.bottlenecks,
        decision_text=decision_text(decision), confidence=decision.confidence,
        model_metrics=views.metrics, params_text=params_path.read_text(encoding="utf-8"), sections=sections,
        notes=notes, truth=truth,
    ))
    plots = out / "plots"
    with atomic_directory(plots) as folder:
        for _, _, charts in sections:
            for chart in charts:
                (folder / chart.name).write_bytes(chart.png)
    atomic_write_text(out / "scores.csv", scores_csv(rows))
    atomic_write_text(out / "scores.json", scores_json(rows))
    summary = metrics(rows, params.tcav.bottlenecks)
    atomic_write_json(out / "tcav_metrics.json", summary)
    atomic_write_text(out / "report.html", page)

    log.info(
        "%d of %d (class, concept, bottleneck%s) tests significant at %s-adjusted p < %g; %d not learnable",
        summary["significant"],
        summary["tests"],
        ", alpha" if len(params.tcav.alphas) > 1 else "",
        decision.correction,
        significance,
        summary["not_learnable"],
    )
    log.info("%d findings confirmed by the insertion test, %d contradicted by it", summary["confirmed"],
             summary["contradicted"])
    for row in rows:
        if row["confirmed"]:
            log.info("  %s / %s at %s: %s (score %.2f, insertion effect %+.3f)", row["target"], row["concept"],
                     row["bottleneck"], row["verdict"], row["score_mean"], row["insertion_effect"])
    log.info("report:  %s (open it in a browser; it needs no network)", out / "report.html")
    log.info("scores:  %s (and %s)", out / "scores.csv", out / "scores.json")
    log.info("charts:  %s/ (%d PNG files)", plots, sum(len(charts) for _, _, charts in sections))
    log.info("metrics: %s (dvc metrics show)", out / "tcav_metrics.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
