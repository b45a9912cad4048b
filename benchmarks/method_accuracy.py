"""How often are the findings right? TCAV, the insertion test and both, against the known truth.

For each built-in world (``colour``, ``texture``) and seed, this runs the real pipeline once
in a throw-away copy of the project (the model is trained once), then for every CAV option
(``tcav.cav_model`` x ``tcav.pooling``) reruns only the stages that depend on it
(``dvc repro``: tcav and report), and computes the insertion test for every control
variant (control x carrier x region x fit, ``--regions``, ``--fits``) in this process with the
insertion stage's own functions. Each finding is scored
against ``results/truth.csv`` (the model's measured dependence on each concept, from
counterfactual pairs):

- a **real effect** is a (class, concept) whose measured effect is at least ``--threshold``
  logit in size (0.5, fixed before measuring, as in the issue);
- **precision**: the share of findings (significant TCAV rows; significant insertion tests;
  confirmed rows) whose direction is that of a real effect;
- **recall**: the share of real effects found in their direction (for TCAV and confirmed: at
  some layer).

    .venv/bin/python benchmarks/method_accuracy.py                 # 2 worlds x seeds 42 7 123
    .venv/bin/python benchmarks/method_accuracy.py --seeds 42 --worlds colour --regions 0.5

Prints one table per world and one over both, and writes them as JSON with ``--json``.

``--draw-seeds K`` also reruns the insertion test of each variant with K other seeds (the
model, CAVs and TCAV scores unchanged; only which concept image goes where is drawn anew) and
prints the spread of the confirmed findings' precision and recall over the K + 1 draws (and
of those whose size is certain: ``size_certain`` in ``scores.csv``): how much of a table's
figure is the luck of one draw.

A confirmation also needs the insertion effect beyond the held-out random sets' prediction
interval (``insertion.random_check``, as the pipeline does); ``--no-random-check`` scores
without it.

Every draw also runs the scene test and the object test (``tcavcore/scene.py``, the project's
``insertion.scene_*`` and ``object_region`` settings) with the same seed offset, and a finding is
confirmed as the report confirms it: the scene test agreeing from ``insertion.min_effect`` logit
on (or, for a raise, the object test with its whole interval beyond it), neither the scene nor
the insertion test contradicting; ``--no-object`` leaves the object test out.
``--confirm insertion`` scores as with ``insertion.scene: false`` (the insertion test confirms);
``--confirm scene`` leaves out the insertion test's contradictions (for comparison; the pipeline
has no such setting).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tcavcore.accuracy import KINDS, REAL_EFFECT, Counts, measured_sign, score_findings  # noqa: E402
from tests.pipeline_project import make_project, run, set_params  # noqa: E402

CAV_OPTIONS = (("linear", "none"), ("linear", "spatial_mean"), ("pattern", "none"), ("pattern", "spatial_mean"))
CONTROLS = ("random", "blur", "elsewhere", "mean")
CARRIERS = ("class", "random", "both")


def variants(regions, fits=("scale",), controls=CONTROLS, carriers=CARRIERS) -> tuple[str, ...]:
    """Every insertion variant, e.g. ``random on both, 0.5, crop``: control on carrier, region side, fit."""
    return tuple(f"{control} on {carrier}, {region:g}, {fit}" for fit in fits for region in regions
                 for carrier in carriers for control in controls)
WORLDS = ("colour", "texture")
#: The kinds of finding whose spread over draws is printed: confirmed, and those of them whose size is certain.
SPREAD_KINDS = ("confirmed", "size_certain")


def world_overrides(world: str) -> dict:
    """The params of a world: the default params, or the texture preset's world-defining keys and
    the training it needs (batch normalisation, augmentation, cosine decay, 100 epochs)."""
    if world == "colour":
        return {}
    import yaml

    preset = yaml.safe_load((ROOT / "presets" / "texture_world.yaml").read_text())
    return {"classes": preset["classes"], "crawl": {"synthetic_task": "texture", "concepts": preset["crawl"]["concepts"]},
            "tcav": {"concepts": preset["tcav"]["concepts"]},
            "train": {key: preset["train"][key] for key in ("epochs", "batch_norm", "augment", "lr_schedule")}}


def read_csv(path: Path) -> list[dict]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def load_tables(path: Path) -> dict:
    """Insertion tables saved by :func:`save_tables` (empty when none)."""
    if not path.exists():
        return {}
    return {variant: {tuple(key.split("|")): test for key, test in table.items()}
            for variant, table in json.loads(path.read_text()).items()}


def save_tables(path: Path, tables: dict) -> None:
    path.write_text(json.dumps({variant: {"|".join(key): test for key, test in table.items()}
                                for variant, table in tables.items()}))


def insertion_tables(project: Path, variants, seed_offset: int = 0) -> tuple[dict, dict]:
    """Every insertion variant's tests on the project's model, keyed by (class, concept), and
    its held-out random sets' tests (what random content does), keyed by (class, random set).

    ``seed_offset`` shifts the insertion test's seed only (another draw of the same test)."""
    from pipeline.insertion import insertion_config, run_insertion, run_random_insertion
    from common.params import load_params
    from images.sets import load_image_sets
    from wrappers import FrozenGraphWrapper

    params = load_params(project / "params.yaml")
    classes, concepts, randoms = load_image_sets(params, project / "datasets" / "processed", project / "concepts")
    model = FrozenGraphWrapper(project / "models" / "frozen", [])
    tables, random_tables = {}, {}
    for variant in variants:
        how, region, fit = variant.split(", ")
        control, carrier = how.split(" on ")
        config = dataclasses.replace(insertion_config(params), control=control, carrier=carrier,
                                     fraction=float(region), fit=fit)
        rows = run_insertion(model.logits_batched, model.label_to_id, classes, concepts, randoms, config,
                             seed=params.seed + seed_offset)
        tables[variant] = keyed(rows)
        random_tables[variant] = keyed(run_random_insertion(model.logits_batched, model.label_to_id, classes,
                                                            randoms, config, seed=params.seed + seed_offset))
    model.sess.close()
    return tables, random_tables


def scene_tables(project: Path, seed_offset: int = 0, on_object: bool = False) -> tuple[dict, dict]:
    """The scene test (``on_object``: the object test) of every (class, concept) and of every random set, keyed like
    :func:`insertion_tables`."""
    from common.params import load_params
    from images.sets import load_image_sets
    from pipeline.insertion import run_scene, scene_config
    from wrappers import FrozenGraphWrapper

    params = load_params(project / "params.yaml")
    classes, concepts, randoms = load_image_sets(params, project / "datasets" / "processed", project / "concepts")
    model = FrozenGraphWrapper(project / "models" / "frozen", [], with_gradients=False)
    rows, random_rows = run_scene(model.logits_batched, model.label_to_id, classes, concepts, randoms,
                                  scene_config(params, on_object), seed=params.seed + seed_offset)
    model.sess.close()
    return keyed(rows), keyed(random_rows)


def keyed(rows: list[dict]) -> dict[tuple[str, str], dict]:
    """Insertion rows as the report reads them: per (class, concept), effect, interval and p."""
    return {(r["target"], r["concept"]): {key: r[key] for key in ("effect", "ci_low", "ci_high", "p")} for r in rows}


def checks_of(tables: dict, random_tables: dict, scene: tuple[dict, dict] | None, variant: str, args,
              on_object: tuple[dict, dict] | None = None) -> "Checks":
    """The run's checks as the report builds them, with the insertion test of ``variant`` (and the object test,
    ``on_object``, read with the scene test only, as the report does)."""
    from tcavcore.confirmation import Checks, random_intervals

    def bounds(table: dict) -> dict:
        return random_intervals(table, args.confidence) if args.random_check else {}

    insertion = {} if args.confirm == "scene" else tables[variant]
    scene = None if args.confirm == "insertion" else scene
    on_object = on_object if scene else None
    return Checks.of(insertion, "holm", insertion_bounds=bounds(random_tables[variant]),
                     scene=scene[0] if scene else None, scene_bounds=bounds(scene[1]) if scene else None,
                     min_effect=args.min_effect, object=on_object[0] if on_object else None,
                     object_bounds=bounds(on_object[1]) if on_object else None)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", nargs="*", type=int, default=[42, 7, 123])
    parser.add_argument("--worlds", nargs="*", default=list(WORLDS), choices=WORLDS)
    parser.add_argument("--threshold", type=float, default=REAL_EFFECT,
                        help=f"|effect| of a real effect, logit (default {REAL_EFFECT})")
    parser.add_argument("--regions", nargs="*", type=float, default=[0.3, 0.5, 0.7],
                        help="insertion region sides (share of the image side) to compare")
    parser.add_argument("--fits", nargs="*", default=["scale", "crop"], choices=["scale", "crop"],
                        help="how concept images go into the region (insertion.fit) to compare")
    parser.add_argument("--controls", nargs="*", default=list(CONTROLS), choices=CONTROLS,
                        help="insertion controls (insertion.control) to compare")
    parser.add_argument("--carriers", nargs="*", default=list(CARRIERS), choices=CARRIERS,
                        help="insertion carriers (insertion.carrier) to compare")
    parser.add_argument("--cavs", nargs="*", default=[f"{m}/{p}" for m, p in CAV_OPTIONS],
                        choices=[f"{m}/{p}" for m, p in CAV_OPTIONS],
                        help="CAV options (tcav.cav_model/tcav.pooling) to compare (default: all)")
    parser.add_argument("--draw-seeds", type=int, default=0, metavar="K",
                        help="also redraw each variant's insertion test with K other seeds and print the spread")
    parser.add_argument("--no-random-check", dest="random_check", action="store_false",
                        help="confirm on a significant insertion effect alone (insertion.random_check: false)")
    parser.add_argument("--confidence", type=float, default=0.95,
                        help="level of the random sets' prediction interval (tcav.confidence; default 0.95)")
    parser.add_argument("--confirm", choices=["report", "insertion", "scene"], default="report",
                        help="report (default): as the report, the scene test confirms, either test contradicts; "
                             "insertion: the insertion test alone (insertion.scene: false); scene: the scene test alone")
    parser.add_argument("--no-object", dest="object", action="store_false",
                        help="leave out the object test (insertion.object: false)")
    parser.add_argument("--min-effect", type=float, default=0.5,
                        help="smallest scene effect that confirms or contradicts, logit (insertion.min_effect; 0.5)")
    parser.add_argument("--json", type=Path, help="also write the counts here")
    parser.add_argument("--keep", type=Path, help="keep the projects under this folder (reused when present)")
    args = parser.parse_args(argv)
    args.scene = args.confirm != "insertion"  # the scene test is run unless it has no say

    results: dict = {}
    scale: dict = {}  # world -> (intervention, measured effect, insertion effect, scene effect) per (class, concept)
    spread: dict = {}  # world -> option -> variant -> draw -> kind -> Counts pooled over seeds (SPREAD_KINDS)
    VARIANTS = variants(args.regions, args.fits, args.controls, args.carriers)
    cav_options = [tuple(option.split("/")) for option in args.cavs]
    with tempfile.TemporaryDirectory(prefix="tcav-accuracy-") as tmp:
        base = args.keep or Path(tmp)
        for world in args.worlds:
            for seed in args.seeds:
                project = base / f"{world}-{seed}"
                saved = project / "bench"  # per-option scores and insertion tables, reused with --keep
                start = time.perf_counter()
                if not (project / "dvc.yaml").exists():
                    make_project(project, {**world_overrides(world), "seed": seed})
                saved.mkdir(exist_ok=True)
                options = [o for o in cav_options if not (saved / f"scores-{o[0]}-{o[1]}.csv").exists()]
                if options or not (project / "results" / "truth.csv").exists():
                    set_params(project, {"tcav": {"cav_model": "linear", "pooling": "none"}})
                    run(["dvc", "repro"], project)
                truth_rows = read_csv(project / "results" / "truth.csv")
                truth = {(r["class"], r["concept"]): float(r["effect"]) for r in truth_rows}
                signs = {(r["class"], r["concept"]): measured_sign(float(r["ci_low"]), float(r["ci_high"]))
                         for r in truth_rows}
                tables, random_tables = redrawn(project, saved, VARIANTS, 0)
                scene = scene_drawn(project, saved, 0) if args.scene else None
                on_object = scene_drawn(project, saved, 0, on_object=True) if args.scene and args.object else None
                for r in truth_rows:  # the pipeline's own draw of each test beside the measured effect
                    key = (r["class"], r["concept"])
                    scale.setdefault(world, []).append(
                        (r["intervention"], float(r["effect"]), float(tables[VARIANTS[0]][key]["effect"]),
                         float(scene[0][key]["effect"]) if scene else float("nan")))
                print(f"{world} seed {seed}: pipeline + insertion variants in {time.perf_counter() - start:.0f} s",
                      flush=True)
                for cav_model, pooling in cav_options:
                    start = time.perf_counter()
                    kept = saved / f"scores-{cav_model}-{pooling}.csv"
                    if not kept.exists():
                        set_params(project, {"tcav": {"cav_model": cav_model, "pooling": pooling}})
                        run(["dvc", "repro"], project)
                        kept.write_bytes((project / "results" / "scores.csv").read_bytes())
                    rows = read_csv(kept)
                    for variant in VARIANTS:
                        counts = score_findings(rows, truth, checks_of(tables, random_tables, scene, variant, args,
                                                                       on_object), 0.05, args.threshold, signs)
                        results.setdefault(world, {}).setdefault(f"{cav_model}/{pooling}", {}).setdefault(variant, []) \
                            .append({name: dataclasses.asdict(c) for name, c in counts.items()})
                    for draw in range(args.draw_seeds + 1):
                        drawn, drawn_random = redrawn(project, saved, VARIANTS, draw)
                        drawn_scene = scene_drawn(project, saved, draw) if args.scene else None
                        drawn_object = (scene_drawn(project, saved, draw, on_object=True) if args.scene and args.object
                                        else None)
                        for variant in VARIANTS:
                            checks = checks_of(drawn, drawn_random, drawn_scene, variant, args, drawn_object)
                            counts = score_findings(rows, truth, checks, 0.05, args.threshold, signs)
                            drawn_counts = spread.setdefault(world, {}).setdefault(f"{cav_model}/{pooling}", {}) \
                                .setdefault(variant, {}).setdefault(draw, {kind: Counts() for kind in SPREAD_KINDS})
                            for kind in SPREAD_KINDS:
                                drawn_counts[kind].add(counts[kind])
                    print(f"  {cav_model}/{pooling}: {time.perf_counter() - start:.0f} s", flush=True)
                set_params(project, {"tcav": {"cav_model": "linear", "pooling": "none"}})
    print_tables(results, args)
    print_scale(scale, VARIANTS[0])
    if args.draw_seeds:
        print_spread(spread, args)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


def redrawn(project: Path, saved: Path, variants, draw: int) -> tuple[dict, dict]:
    """The insertion tables and random-set tables of a draw (seed offset ``draw``; 0: the
    pipeline's own draw), computed once and kept under ``saved``."""
    suffix = "" if draw == 0 else f"-draw{draw}"
    path, random_path = saved / f"insertion{suffix}.json", saved / f"insertion-random{suffix}.json"
    tables, random_tables = load_tables(path), load_tables(random_path)
    missing = [v for v in variants if v not in tables or v not in random_tables]
    if missing:
        new, new_random = insertion_tables(project, missing, draw)
        tables, random_tables = {**tables, **new}, {**random_tables, **new_random}
        save_tables(path, tables)
        save_tables(random_path, random_tables)
    return tables, random_tables


def scene_drawn(project: Path, saved: Path, draw: int, on_object: bool = False) -> tuple[dict, dict]:
    """The scene (``on_object``: object) tables of a draw (seed offset ``draw``), computed once and kept under
    ``saved``."""
    suffix = "" if draw == 0 else f"-draw{draw}"
    name = "object" if on_object else "scene"
    path, random_path = saved / f"{name}{suffix}.json", saved / f"{name}-random{suffix}.json"
    if not (path.exists() and random_path.exists()):
        tested, held = scene_tables(project, draw, on_object)
        save_tables(path, {"scene": tested})
        save_tables(random_path, {"scene": held})
    return load_tables(path)["scene"], load_tables(random_path)["scene"]


def print_scale(scale: dict, variant: str) -> None:
    """How each test's effect follows the measured one: a least-squares line and Pearson's r, per world and
    kind of intervention (the truth's), on the pipeline's own draw."""
    import numpy as np

    print(f"\neach test's effect against the measured effect (test = slope x measured + intercept; r), "
          f"insertion: {variant}")
    for world, points in scale.items():
        for kind in sorted({p[0] for p in points}):
            chosen = [p for p in points if p[0] == kind]
            truth = np.array([p[1] for p in chosen])
            text = f"  {world:<8}{kind:<14}n {len(chosen):>3}"
            for name, column in (("insertion", 2), ("scene", 3)):
                values = np.array([p[column] for p in chosen])
                if len(chosen) > 2 and np.all(np.isfinite(values)) and np.ptp(truth) > 0:
                    slope, intercept = np.polyfit(truth, values, 1)
                    text += f"   {name} {slope:+.2f} x {intercept:+.2f} (r {np.corrcoef(truth, values)[0, 1]:+.2f})"
            print(text)


def print_spread(spread: dict, args) -> None:
    """Confirmed (and size-certain) precision and recall over the draws of the tests: median [min, max]."""
    import statistics

    print(f"\nconfirmed findings, then those of them whose size is certain, over {args.draw_seeds + 1} draws of "
          "the tests (each pooled over the seeds): median [min, max]; all draws pooled (precision against a real "
          "effect, and against the weaker truth: the direction of an effect whose interval excludes 0)")
    for world, options in spread.items():
        print(f"\n{world}")
        for option, by_variant in options.items():
            for variant, draws in by_variant.items():
                for kind in SPREAD_KINDS:
                    counts = [by_kind[kind] for by_kind in draws.values()]
                    precision = [c.precision for c in counts if c.findings]
                    recall = [c.recall for c in counts]
                    pooled = Counts()
                    for c in counts:
                        pooled.add(c)
                    text = (f"precision {statistics.median(precision):.2f} [{min(precision):.2f}, "
                            f"{max(precision):.2f}]" if precision else "precision   -  ")
                    print(f"  {option:<22}{variant:<32}{kind:<13}{text}  recall {statistics.median(recall):.2f} "
                          f"[{min(recall):.2f}, {max(recall):.2f}]  pooled {pooled.text()}  in the direction of a "
                          f"measurable effect {pooled.measurable_precision:.2f} ({pooled.measurable}/{pooled.findings})")


def print_tables(results: dict, args) -> None:
    """One table per world and one over both: precision (right/findings) and recall (found/real)."""
    print(f"\nreal effect: |measured effect| >= {args.threshold:g} logit; seeds {args.seeds}; "
          "precision (right/findings)  recall (found/real)")
    worlds = list(results)
    for label, chosen in [(w, [w]) for w in worlds] + ([("both worlds", worlds)] if len(worlds) > 1 else []):
        print(f"\n{label}")
        print(f"  {'CAV option':<22}{'insertion':<32}{'TCAV alone':<28}{'insertion alone':<28}{'scene alone':<28}"
              f"{'confirmed':<28}{'size certain':<28}")
        for option in results[worlds[0]]:
            for control in variants(args.regions, args.fits, args.controls, args.carriers):
                totals = {name: Counts() for name in KINDS}
                for world in chosen:
                    for entry in results[world][option][control]:
                        for name, counts in entry.items():
                            totals[name].add(Counts(**counts))
                print(f"  {option:<22}{control:<32}" + "".join(f"{totals[n].text():<28}" for n in totals))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
