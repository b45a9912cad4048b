"""Are confirmed findings right on data the defaults were not chosen on? The built-in worlds as a user's folders.

The accuracy tables of ``benchmarks/method_accuracy.py`` are measured on the models the
defaults were chosen with. This measures the way a held-out check would: each built-in
world's images (classes, concepts, random sets; the synthetic source's output for a seed)
are copied into folders under **other names** and run through the **``local`` source**
with the default params and the world's training, as a user would run their own folders.
The pipeline has no known truth for such a run (its report says so); here the truth is
then measured on **that run's own model** (``worlds/truth.py``, the counterfactual pairs of
the world the images came from), and the run's ``confirmed`` findings, as ``scores.csv``
states them, are scored against it: a finding is right when its direction is that of an
effect of at least ``--threshold`` logit; recall is the share of such effects confirmed at
some layer. TCAV alone (every significant row) is scored the same way for comparison. Both
are also scored against a weaker truth, as a held-out check may word it: the share of findings
in the direction of a *measurable* effect (its interval excludes 0, whatever its size).

With the same seed, the local copy trains the same model as the synthetic run (the same
pictures give the same answers whatever they are named: ``tests/pipeline/test_renamed_e2e.py``),
so its figures are those of the first draw of ``method_accuracy.py`` for that seed. Its default
seeds are therefore others than the tables': models nobody chose anything on.

    .venv/bin/python benchmarks/local_worlds.py                  # both worlds, seeds 11 12 13 14 15
    .venv/bin/python benchmarks/local_worlds.py --worlds texture --seeds 11 --keep /tmp/local-worlds

``--keep DIR`` keeps every world's folders, project and measured truth under ``DIR`` and
reuses what is already there.

``--draw-seeds K`` also redraws both tests K times on each run's model (seed offsets 1..K, as
``method_accuracy.py --draw-seeds`` does: the model, CAVs and TCAV scores unchanged, which
concept image goes where drawn anew) and scores each draw's confirmed findings the way the
report confirms them. One draw of a few confirmed findings says little; the pooled draws
say how often the rule is right on these models.
"""

from __future__ import annotations

import argparse
import csv
import math
import shutil
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from method_accuracy import WORLDS, checks_of, redrawn, scene_drawn, world_overrides  # noqa: E402
from tcavcore.accuracy import REAL_EFFECT, Counts  # noqa: E402
from tests.pipeline_project import make_project, run  # noqa: E402

#: The user's names for each world's classes (nothing in them says what the class is).
CLASS_NAMES = {"colour": {"fire": "flame_thing", "water": "wave_thing", "grass": "leaf_thing"},
               "texture": {"tiger": "stripy_cat", "leopard": "spotted_cat", "giraffe": "tall_one"}}


def concept_name(concept: str) -> str:
    """The user's name for a concept folder: ``red`` -> ``k_der``."""
    return f"k_{concept[::-1]}"


def synthetic_images(world: str, seed: int, folder: Path) -> Path:
    """A synthetic project of ``world`` and ``seed`` whose crawl stages have run (reused when present)."""
    if not (folder / "dvc.yaml").exists():
        make_project(folder, {**world_overrides(world), "seed": seed})
    run(["dvc", "repro", "crawl", "crawl_concept", "crawl_random"], folder)  # nothing to do when up to date
    return folder


def user_folders(source: Path, world: str, local: Path) -> tuple[dict[str, str], dict[str, str]]:
    """Copy ``source``'s class, concept and random-set images into ``local`` under the user's names.

    Returns the class and concept renames (built-in name -> folder name). Manifests are left
    behind: a user's folders hold images only.
    """
    params = yaml.safe_load((source / "params.yaml").read_text())
    classes = CLASS_NAMES[world]
    concepts = {c: concept_name(c) for c in params["tcav"]["concepts"]}
    images_only = shutil.ignore_patterns("*.json")
    for old, new in classes.items():
        shutil.copytree(source / "datasets" / "raw" / old, local / new, ignore=images_only)
    for old, new in concepts.items():
        shutil.copytree(source / "concepts" / old, local / new, ignore=images_only)
    for random_set in sorted((source / "concepts" / "random").iterdir()):
        if random_set.is_dir():
            shutil.copytree(random_set, local / random_set.name, ignore=images_only)
    return classes, concepts


def measured_truth(source: Path, project: Path, world: str, classes: dict[str, str],
                   concepts: dict[str, str]) -> dict[tuple[str, str], tuple[float, float, float]]:
    """The effect of every (class, concept) the world can draw, on ``project``'s model, and its interval:
    ``(effect, ci_low, ci_high)`` keyed by the user's names."""
    from common.params import load_params
    from images.loading import to_model_input
    from worlds.counterfactual import to_image
    from worlds.truth import measurable, measure
    from wrappers import FrozenGraphWrapper

    params = load_params(source / "params.yaml")
    model = FrozenGraphWrapper(project / "models" / "frozen", [], with_gradients=False)
    known, _ = measurable(world, list(classes), list(concepts))

    def to_input(array):
        return to_model_input(to_image(array), params.preprocess.image_size)

    effects = {}
    for class_name, folder in classes.items():
        for concept in known:
            truth = measure(model.logits_batched, to_input, world, class_name, model.label_to_id(folder), concept,
                            count=params.truth.pairs, size=params.crawl.synthetic_size, seed=params.seed,
                            confidence=params.tcav.confidence)
            effects[(folder, concepts[concept])] = (truth.effect, truth.ci_low, truth.ci_high)
    model.sess.close()
    return effects


def read_truth(path: Path) -> dict[tuple[str, str], float]:
    """The measured effects written by :func:`write_truth`, keyed by (class, concept) folder names."""
    with path.open(newline="") as handle:
        return {(r["class"], r["concept"]): float(r["effect"]) for r in csv.DictReader(handle)}


def read_signs(path: Path) -> dict[tuple[str, str], int] | None:
    """Each measured effect's :func:`tcavcore.accuracy.measured_sign`; None for a file without intervals."""
    from tcavcore.accuracy import measured_sign

    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    if rows and "ci_low" not in rows[0]:
        return None
    return {(r["class"], r["concept"]): measured_sign(float(r["ci_low"]), float(r["ci_high"])) for r in rows}


def write_truth(path: Path, effects: dict[tuple[str, str], tuple[float, float, float]]) -> None:
    """``class,concept,effect,ci_low,ci_high`` rows, sorted."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(("class", "concept", "effect", "ci_low", "ci_high"))
        writer.writerows((c, k, *(repr(v) for v in values)) for (c, k), values in sorted(effects.items()))


#: What is scored: TCAV alone (every significant row), confirmed findings, and those of them whose size is certain.
KINDS = ("tcav", "confirmed", "size_certain")


def score(rows: list[dict], effects: dict[tuple[str, str], float], threshold: float,
          checks=None, significance: float = 0.05, min_effect: float = 0.5,
          signs: dict[tuple[str, str], int] | None = None) -> tuple[dict[str, Counts], list[str]]:
    """Each of :data:`KINDS` of ``scores.csv``'s ``rows`` scored against ``effects``; the wrong confirmed ones,
    in words.

    A row is confirmed (and its size certain) as ``scores.csv`` says, or, given ``checks``
    (another draw of the tests, :class:`tcavcore.confirmation.Checks`), as the report would
    decide it with those at ``significance``. A ``scores.csv`` from before the ``size_certain``
    column is read from its scene interval and ``min_effect`` (the run's ``insertion.min_effect``).
    ``signs`` (:func:`read_signs`): also count the findings in the direction of a measurable effect.
    """
    from tcavcore.accuracy import checked_finding
    from tcavcore.confirmation import size_certain

    signs = signs or {}
    real = {key: (1 if e > 0 else -1) for key, e in effects.items() if abs(e) >= threshold}
    counts = {kind: Counts(real=len(real)) for kind in KINDS}
    found: dict[str, set] = {kind: set() for kind in KINDS}
    wrong = []
    for row in rows:
        key = (row["target"], row["concept"])
        if row["significant"] != "True" or key not in effects:
            continue
        sign = 1 if float(row["score_mean"]) > 0.5 else -1
        right = real.get(key) == sign
        if checks is None:
            verdict, scene = row["verdict"], float(row["scene_effect"])
            is_confirmed = row["confirmed"] == "True"
            if "size_certain" in row:
                is_certain = row["size_certain"] == "True"
            else:  # a scores.csv from before the column: read from the scene test's interval
                interval = {"ci_low": float(row["scene_ci_low"]), "ci_high": float(row["scene_ci_high"])}
                is_certain = row["confirmed_by"] == "scene" and size_certain(verdict, interval, min_effect)
        else:
            verdict, is_certain = checked_finding(key, sign, checks, significance)
            scene = float(checks.scene[key]["effect"]) if key in checks.scene else math.nan
            is_confirmed = verdict.endswith("(confirmed)")
        for kind, counted in zip(KINDS, (True, is_confirmed, is_confirmed and is_certain)):
            if counted:
                counts[kind].findings += 1
                counts[kind].right += right
                counts[kind].measurable += signs.get(key) == sign
                if right:
                    found[kind].add(key)
        if is_confirmed and not right:
            certain = ", size certain" if is_certain else ""
            wrong.append(f"{row['bottleneck']}: {verdict}{certain} {key} (measured {effects[key]:+.2f}, "
                         f"scene test {scene:+.2f})")
    for kind in KINDS:
        counts[kind].found = len(found[kind])
    return counts, wrong


def read_rows(scores: Path) -> list[dict]:
    """The rows of a run's ``scores.csv``."""
    with scores.open(newline="") as handle:
        return list(csv.DictReader(handle))


def redrawn_scores(project: Path, effects: dict[tuple[str, str], float], draws: int,
                   threshold: float, first: int = 1,
                   signs: dict[tuple[str, str], int] | None = None) -> list[tuple[dict[str, Counts], list[str]]]:
    """Draws ``first``..``draws`` of the tests on ``project``'s model (draw 0: the run's own), each scored against
    ``effects`` as :func:`score` does, with the wrong confirmed findings in words (the tests' tables are kept
    under ``project/bench`` and reused)."""
    from common.params import load_params

    params = load_params(project / "params.yaml")
    test = params.insertion
    variant = f"{test.control} on {test.carrier}, {test.region:g}, {test.fit}"  # the run's own insertion test
    settings = SimpleNamespace(confidence=params.tcav.confidence, random_check=test.random_check, confirm="report",
                               min_effect=test.min_effect)
    rows = read_rows(project / "results" / "scores.csv")
    saved = project / "bench"
    saved.mkdir(exist_ok=True)
    out = []
    for draw in range(first, draws + 1):
        tables, random_tables = redrawn(project, saved, (variant,), draw)
        on_object = scene_drawn(project, saved, draw, on_object=True) if params.insertion.object else None
        checks = checks_of(tables, random_tables, scene_drawn(project, saved, draw), variant, settings, on_object)
        out.append(score(rows, effects, threshold, checks, params.tcav.significance, signs=signs))
    return out


def main(argv: list[str]) -> int:
    from common.params import load_params

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", nargs="*", type=int, default=[11, 12, 13, 14, 15])
    parser.add_argument("--worlds", nargs="*", default=list(WORLDS), choices=WORLDS)
    parser.add_argument("--threshold", type=float, default=REAL_EFFECT,
                        help=f"|effect| of a real effect, logit (default {REAL_EFFECT})")
    parser.add_argument("--keep", type=Path, help="keep (and reuse) every world's folders, project and truth here")
    parser.add_argument("--draw-seeds", type=int, default=0, metavar="K",
                        help="also redraw both tests K times on each model and score every draw's confirmed findings")
    args = parser.parse_args(argv)

    totals = {world: {kind: Counts() for kind in KINDS} for world in args.worlds}
    drawn = {world: [{kind: Counts() for kind in KINDS} for _ in range(args.draw_seeds + 1)]
             for world in args.worlds}  # per draw, over seeds
    with tempfile.TemporaryDirectory(prefix="tcav-local-worlds-") as tmp:
        base = args.keep or Path(tmp)
        for world in args.worlds:
            for seed in args.seeds:
                start = time.perf_counter()
                folder = base / f"{world}-{seed}"
                project, truth_file = folder / "project", folder / "truth.csv"
                if not (project / "results" / "scores.csv").exists():
                    shutil.rmtree(folder, ignore_errors=True)
                    source = synthetic_images(world, seed, folder / "synthetic")
                    classes, concepts = user_folders(source, world, folder / "local")
                    overrides = world_overrides(world)
                    overrides["classes"] = list(classes.values())
                    overrides["seed"] = seed
                    overrides["crawl"] = {"source": "local", "local_dir": str(folder / "local"),
                                          "concepts": list(concepts.values())}
                    overrides["tcav"] = {"concepts": list(concepts.values())}
                    make_project(project, overrides)
                    run(["dvc", "repro"], project)
                if not truth_file.exists() or read_signs(truth_file) is None:  # none yet, or without intervals
                    source = synthetic_images(world, seed, folder / "synthetic")
                    built_in = yaml.safe_load((source / "params.yaml").read_text())["tcav"]["concepts"]
                    write_truth(truth_file, measured_truth(source, project, world, CLASS_NAMES[world],
                                                           {c: concept_name(c) for c in built_in}))
                floor = load_params(project / "params.yaml").insertion.min_effect
                rows = read_rows(project / "results" / "scores.csv")
                effects, signs = read_truth(truth_file), read_signs(truth_file)
                if rows and "object_effect" not in rows[0]:
                    # a run from before the object test: its own draw checked as the report now checks it
                    counts, wrong = redrawn_scores(project, effects, 0, args.threshold, first=0, signs=signs)[0]
                else:
                    counts, wrong = score(rows, effects, args.threshold, min_effect=floor, signs=signs)
                add(totals[world], counts)
                add(drawn[world][0], counts)
                print(f"{world} seed {seed} ({time.perf_counter() - start:.0f} s): TCAV alone {counts['tcav'].text()}; "
                      f"confirmed {counts['confirmed'].text()}; size certain {counts['size_certain'].text()}",
                      flush=True)
                for line in wrong:
                    print(f"    wrong: {line}")
                if args.draw_seeds:
                    redraws = redrawn_scores(project, effects, args.draw_seeds, args.threshold, signs=signs)
                    for draw, (counts, wrong) in enumerate(redraws, start=1):
                        add(drawn[world][draw], counts)
                        print(f"    draw {draw}: confirmed {counts['confirmed'].text()}; size certain "
                              f"{counts['size_certain'].text()}", flush=True)
                        for line in wrong:
                            print(f"      wrong: {line}")
    print(f"\nreal effect: |measured effect| >= {args.threshold} logit on the run's own model; seeds {args.seeds}")
    for world, counts in totals.items():
        print(f"{world:8s} TCAV alone {counts['tcav'].text()}   confirmed {counts['confirmed'].text()}   "
              f"size certain {counts['size_certain'].text()}")
        print(f"{'':8s} {measurable_text(counts['tcav'], 'TCAV alone')}; {measurable_text(counts['confirmed'])}")
    if args.draw_seeds:
        print(f"\nconfirmed (and size-certain) findings over {args.draw_seeds + 1} draws of both tests (draw 0: the "
              "run's own), each pooled over the seeds; then all draws pooled")
        for world, per_draw in drawn.items():
            pooled = {kind: Counts() for kind in KINDS}
            for draw, counts in enumerate(per_draw):
                add(pooled, counts)
                print(f"  {world:8s} draw {draw}: confirmed {counts['confirmed'].text()}   "
                      f"size certain {counts['size_certain'].text()}")
            print(f"  {world:8s} pooled:  confirmed {pooled['confirmed'].text()}   "
                  f"size certain {pooled['size_certain'].text()}   {measurable_text(pooled['confirmed'])}")
    return 0


def measurable_text(counts: Counts, what: str = "confirmed") -> str:
    """``confirmed in the direction of a measurable effect 0.93 (240/257)``: precision against the weaker truth."""
    return (f"{what} in the direction of a measurable effect {counts.measurable_precision:.2f} "
            f"({counts.measurable}/{counts.findings})")


def add(total: dict[str, Counts], counts: dict[str, Counts]) -> None:
    """Add each kind's ``counts`` to ``total`` (pooling runs or draws)."""
    for kind, counted in counts.items():
        total[kind].add(counted)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
