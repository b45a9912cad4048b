"""Report stage: per-class TCAV scores with their statistics, charts and one HTML page.

``python -m pipeline.report --params P --runs RUNS --metrics M --history H --views DIR [--concept-maps NPZ] --out DIR``
(``dvc.yaml`` gives the paths).

Reads the tcav stage's per-CAV table and summarises it with :func:`tcavcore.verdicts.summarise_runs`
(one row per class, concept, bottleneck and alpha; both tests, corrected over the run).
Classes the model does not recognise on the test split (confusion matrix of the views stage)
are never significant. Writes, each atomically (a failed run leaves the
previous outputs in place):

- ``<out>/scores.csv`` and ``<out>/scores.json``: the summary rows, columns
  :data:`tcavcore.records.SUMMARY_KEYS`. Floats are written with ``repr`` (exact, byte-stable);
  an undefined value (NaN: the score of a CAV that is not learnable, a p-value of two constant
  equal samples) is an empty CSV cell and a JSON ``null``.
- ``<out>/tcav_metrics.json``: counts of significant tests, per bottleneck and in total, and
  on a synthetic run the findings' precision and recall against the known truth
  (:mod:`tcavcore.accuracy`), for ``dvc metrics show``.
- ``<out>/plots/*.png``: every chart (see :mod:`reporting.sections`). The folder is
  replaced as a whole, so it belongs to this stage only.
- with ``--concept-maps`` (the concept_maps stage's arrays), also ``<out>/plots/concept_maps_<layer>.png``
  per layer with a significant concept: where each such concept is in the feature-map views'
  images (:mod:`reporting.charts.concept_maps`);
- ``<out>/report.html``: one self-contained page with all of it (:mod:`reporting.html`).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Sequence

from common.errors import PipelineError, stage_main
from common.files import atomic_directory, atomic_write_json, atomic_write_text
from common.params import load_params
from reporting import html as html_report
from reporting.findings import (CORRECTION_NAMES, TEST_NAMES, check_coverage, decision_of, decision_text, metrics,
                                recognised_classes)
from reporting.params_text import params_values_text
from reporting.sections import build_sections, read_concept_maps, read_model_views
from reporting.tables import format_class_table, format_p
from reporting.truth import accuracy_html, accuracy_metrics, read_truth
from tcavcore.accuracy import REAL_EFFECT, measured_sign, score_findings
from tcavcore.confirmation import Checks, apply_checks, random_intervals
from tcavcore.insertion_records import read_insertion
from tcavcore.records import read_runs, scores_csv, scores_json
from tcavcore.verdicts import mark_class_independent, mark_small_sets, summarise_runs

log = logging.getLogger(__name__)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m pipeline.report", description=__doc__.split("\n\n")[0])
    parser.add_argument("--params", required=True, help="parameters file")
    parser.add_argument("--runs", required=True, help="per-CAV table of the tcav stage")
    parser.add_argument("--metrics", required=True, help="the train stage's metrics")
    parser.add_argument("--history", required=True, help="the train stage's history")
    parser.add_argument("--views", required=True, help="the views stage's folder")
    parser.add_argument("--insertion", required=True, help="the insertion stage's tests")
    parser.add_argument("--insertion-random", required=True,
                        help="the insertion stage's tests of the held-out random sets")
    parser.add_argument("--scene", required=True, help="the insertion stage's scene tests")
    parser.add_argument("--scene-random", required=True, help="the insertion stage's scene tests of the random sets")
    parser.add_argument("--object", default=None, help="the insertion stage's object tests (optional)")
    parser.add_argument("--object-random", default=None,
                        help="the insertion stage's object tests of the random sets (optional)")
    parser.add_argument("--truth", required=True, help="the truth stage's measured effects")
    parser.add_argument("--concept-maps", default=None, help="the concept_maps stage's arrays (optional)")
    parser.add_argument("--out", required=True, help="folder for scores, metrics, plots/ and report.html")
    return parser.parse_args(argv)


def random_bounds_of(params, path: str, test: str) -> dict[str, tuple[float, float]]:
    """Per class, the interval of a random set's effect in ``test`` (its random-set table at
    ``path``) that a confirmation must clear.

    Empty when ``insertion.random_check`` is off; a warning when a class has too few random
    sets for an interval (its findings are then judged on the test's significance alone).
    """
    if not params.insertion.random_check:
        return {}
    bounds = random_intervals(read_insertion(path), params.tcav.confidence)
    for name in params.classes:
        low, high = bounds.get(name, (float("nan"),) * 2)
        if not (low == low and high == high):  # NaN: fewer than two random-set tests
            log.warning("warning: %s has fewer than two random-set %s tests in %s: its findings are checked without "
                        "the comparison with random content", name, test, path)
    return bounds


def checks_of(params, correction: str, args: argparse.Namespace) -> Checks:
    """The run's insertion, scene and object tests (``insertion.scene`` off: the insertion test alone), adjusted."""
    if not params.insertion.random_check:
        log.info("insertion.random_check is off: a confirmation needs no effect beyond what random sets do")
    scene, scene_bounds = {}, {}
    if params.insertion.scene:
        scene = read_insertion(args.scene)
        scene_bounds = random_bounds_of(params, args.scene_random, "scene")
        if not scene:
            log.warning("warning: %s holds no scene tests although insertion.scene is on; rerun the insertion stage",
                        args.scene)
    else:
        log.info("insertion.scene is off: findings are checked by the insertion test alone")
    on_object, object_bounds = {}, {}
    if params.insertion.scene and params.insertion.object and args.object:
        on_object = read_insertion(args.object)
        object_bounds = random_bounds_of(params, args.object_random, "object")
        if not on_object:
            log.warning("warning: %s holds no object tests although insertion.object is on; rerun the insertion stage",
                        args.object)
    return Checks.of(read_insertion(args.insertion), correction,
                     insertion_bounds=random_bounds_of(params, args.insertion_random, "insertion"), scene=scene,
                     scene_bounds=scene_bounds, min_effect=params.insertion.min_effect, object=on_object,
                     object_bounds=object_bounds)


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
    unrecognised, recognition = recognised_classes(views.confusion, decision)
    for name in unrecognised:
        log.warning("the model does not recognise class %r better than chance on the test split "
                    "(p = %s, %s correction over the classes): none of its concepts can be significant",
                    name, format_p(recognition[name], significance), CORRECTION_NAMES[decision.correction])
    try:
        rows = summarise_runs(runs, decision, targets=params.classes, concepts=params.tcav.concepts,
                              bottlenecks=params.tcav.bottlenecks, unrecognised=unrecognised)
    except ValueError as error:
        raise PipelineError(f"{runs_path}: {error}") from None
    checks = checks_of(params, decision.correction, args)
    apply_checks(rows, checks, significance)
    for concept, bottleneck, _ in mark_class_independent(rows, params.classes):
        log.warning("warning: %s is significant the same way for every class at %s: class-independent, not "
                    "listed as evidence for any class", concept, bottleneck)
    small = [r for r in mark_small_sets(rows, params.tcav.min_concept_images) if r["significant"]]
    for row in small:
        log.warning("warning: %s / %s at %s (%s) rests on small sets: %d concept images, %d random images "
                    "(tcav.min_concept_images is %d)", row["target"], row["concept"], row["bottleneck"],
                    row["verdict"], row["n_concept"], row["n_random_images"], params.tcav.min_concept_images)
    truth = read_truth(args.truth)
    accuracy = score_findings(rows, {key: t["effect"] for key, t in truth.items()}, checks, significance,
                              signs={key: measured_sign(t["ci_low"], t["ci_high"]) for key, t in truth.items()}
                              ) if truth else None
    if not truth:
        log.warning("this run has no known truth (%s is empty: its classes or concepts do not come from the "
                    "synthetic source); the tests on images are the only checks of the findings", args.truth)

    rows_by_class = {name: [row for row in rows if row["target"] == name] for name in params.classes}
    log.info("TCAV scores (mean ± std over CAVs; significant: %s-adjusted p < %g, two-sided %s)",
             decision.correction, significance, TEST_NAMES[decision.test])
    for name, class_rows in rows_by_class.items():
        log.info("%s", format_class_table(class_rows, name, decision))

    maps = read_concept_maps(Path(args.concept_maps)) if args.concept_maps else None
    sections = build_sections(rows, runs, views, params, maps)
    notes = [f"The model does not recognise class {name} better than chance on the test split "
             f"(Fisher exact p = {format_p(recognition[name], significance)}, "
             f"{CORRECTION_NAMES[decision.correction]} correction over the classes): its concepts are never "
             "significant."
             for name in unrecognised]
    if not truth:
        notes.append("This run has no known truth: its classes or concepts do not come from the built-in synthetic "
                     "source, so no finding can be scored against a measured effect. The tests on images (insertion, "
                     "scene and object) are the only checks.")
    page = html_report.render(html_report.ReportContent(
        title=f"TCAV report: {', '.join(params.classes)}",
        rows=rows, classes=params.classes, bottlenecks=params.tcav.bottlenecks,
        decision_text=decision_text(decision), confidence=decision.confidence,
        model_metrics=views.metrics, params_text=params_values_text(params_path), sections=sections,
        notes=notes, truth=truth, accuracy_html=accuracy_html(accuracy, REAL_EFFECT) if accuracy else "",
        min_concept_images=params.tcav.min_concept_images,
    ))
    plots = out / "plots"
    with atomic_directory(plots) as folder:
        for _, _, charts in sections:
            for chart in charts:
                (folder / chart.name).write_bytes(chart.png)
    atomic_write_text(out / "scores.csv", scores_csv(rows))
    atomic_write_text(out / "scores.json", scores_json(rows))
    summary = metrics(rows, params.tcav.bottlenecks)
    if accuracy:
        summary["against_truth"] = accuracy_metrics(accuracy)
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
    by_object = sum(1 for row in rows if row["confirmed_by"] == "object")
    log.info("%d findings confirmed by the %s test%s, %d contradicted by a test", summary["confirmed"],
             "scene" if params.insertion.scene else "insertion",
             f" ({by_object} of them raises by the object test)" if by_object else "", summary["contradicted"])
    judge = "scene" if params.insertion.scene else "insertion"
    within = [row for row in rows if row["significant"] and not row["confirmed"]
              and row[f"{judge}_p_adjusted"] < significance
              and (row[f"{judge}_effect"] > 0) == (row["score_mean"] > 0.5)]
    if within:
        log.info("%d findings not confirmed although their %s effect is significant the same way: it is under "
                 "insertion.min_effect or within what a random set does (%s_random_low / _high in scores.csv)",
                 len(within), judge, judge)
    for row in rows:
        if row["confirmed"]:
            log.info("  %s / %s at %s: %s, by the %s test (score %.2f, insertion effect %+.3f, scene effect %+.3f, "
                     "object effect %+.3f%s)", row["target"], row["concept"], row["bottleneck"], row["verdict"],
                     row["confirmed_by"], row["score_mean"], row["insertion_effect"], row["scene_effect"],
                     row["object_effect"],
                     ", size certain" if row["size_certain"] else "")
    if accuracy:
        log.info("against the known truth (|effect| >= %g logit): precision / recall  TCAV %s  insertion %s  "
                 "scene %s  object %s  confirmed %s  size certain %s", REAL_EFFECT, accuracy["tcav"].text(),
                 accuracy["insertion"].text(), accuracy["scene"].text(), accuracy["object"].text(),
                 accuracy["confirmed"].text(), accuracy["size_certain"].text())
        log.info("  in the direction of a measurable effect (its interval excludes 0): TCAV %d of %d, confirmed %d of %d",
                 accuracy["tcav"].measurable, accuracy["tcav"].findings, accuracy["confirmed"].measurable,
                 accuracy["confirmed"].findings)
    log.info("report:  %s (open it in a browser; it needs no network)", out / "report.html")
    log.info("scores:  %s (and %s)", out / "scores.csv", out / "scores.json")
    log.info("charts:  %s/ (%d files)", plots, sum(len(charts) for _, _, charts in sections))
    log.info("metrics: %s (dvc metrics show)", out / "tcav_metrics.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
