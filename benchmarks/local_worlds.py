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
some layer. TCAV alone (every significant row) is scored the same way for comparison.

With the same seed, the local copy trains the same model as the synthetic run (the same
pictures give the same answers whatever they are named: ``tests/pipeline/test_renamed_e2e.py``),
so its figures are those of the first draw of ``method_accuracy.py`` for that seed. Its default
seeds are therefore others than the tables': models nobody chose anything on.

    .venv/bin/python benchmarks/local_worlds.py                  # both worlds, seeds 11 12 13 14 15
    .venv/bin/python benchmarks/local_worlds.py --worlds texture --seeds 11 --keep /tmp/local-worlds

``--keep DIR`` keeps every world's folders, project and measured truth under ``DIR`` and
reuses what is already there.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from method_accuracy import WORLDS, world_overrides  # noqa: E402
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
                   concepts: dict[str, str]) -> dict[tuple[str, str], float]:
    """The effect of every (class, concept) the world can draw, on ``project``'s model, keyed by the user's names."""
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
            effects[(folder, concepts[concept])] = truth.effect
    model.sess.close()
    return effects


def read_truth(path: Path) -> dict[tuple[str, str], float]:
    """The measured effects written by :func:`write_truth`, keyed by (class, concept) folder names."""
    with path.open(newline="") as handle:
        return {(r["class"], r["concept"]): float(r["effect"]) for r in csv.DictReader(handle)}


def write_truth(path: Path, effects: dict[tuple[str, str], float]) -> None:
    """``class,concept,effect`` rows, sorted."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(("class", "concept", "effect"))
        writer.writerows((c, k, repr(e)) for (c, k), e in sorted(effects.items()))


def score(scores: Path, effects: dict[tuple[str, str], float], threshold: float) -> tuple[Counts, Counts, list[str]]:
    """TCAV alone and confirmed findings of ``scores.csv`` against ``effects``; the wrong confirmed ones, in words."""
    real = {key: (1 if e > 0 else -1) for key, e in effects.items() if abs(e) >= threshold}
    tcav, confirmed = Counts(real=len(real)), Counts(real=len(real))
    found: dict[str, set] = {"tcav": set(), "confirmed": set()}
    wrong = []
    with scores.open(newline="") as handle:
        for row in csv.DictReader(handle):
            key = (row["target"], row["concept"])
            if row["significant"] != "True" or key not in effects:
                continue
            sign = 1 if float(row["score_mean"]) > 0.5 else -1
            right = real.get(key) == sign
            kinds = [("tcav", tcav)] + ([("confirmed", confirmed)] if row["confirmed"] == "True" else [])
            for kind, counts in kinds:
                counts.findings += 1
                counts.right += right
                if right:
                    found[kind].add(key)
            if row["confirmed"] == "True" and not right:
                wrong.append(f"{row['bottleneck']}: {row['verdict']} {key} (measured {effects[key]:+.2f}, "
                             f"scene test {float(row['scene_effect']):+.2f})")
    tcav.found, confirmed.found = len(found["tcav"]), len(found["confirmed"])
    return tcav, confirmed, wrong


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", nargs="*", type=int, default=[11, 12, 13, 14, 15])
    parser.add_argument("--worlds", nargs="*", default=list(WORLDS), choices=WORLDS)
    parser.add_argument("--threshold", type=float, default=REAL_EFFECT,
                        help=f"|effect| of a real effect, logit (default {REAL_EFFECT})")
    parser.add_argument("--keep", type=Path, help="keep (and reuse) every world's folders, project and truth here")
    args = parser.parse_args(argv)

    totals = {world: (Counts(), Counts()) for world in args.worlds}
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
                if not truth_file.exists():
                    source = synthetic_images(world, seed, folder / "synthetic")
                    built_in = yaml.safe_load((source / "params.yaml").read_text())["tcav"]["concepts"]
                    write_truth(truth_file, measured_truth(source, project, world, CLASS_NAMES[world],
                                                           {c: concept_name(c) for c in built_in}))
                tcav, confirmed, wrong = score(project / "results" / "scores.csv", read_truth(truth_file),
                                               args.threshold)
                totals[world][0].add(tcav)
                totals[world][1].add(confirmed)
                print(f"{world} seed {seed} ({time.perf_counter() - start:.0f} s): TCAV alone {tcav.text()}; "
                      f"confirmed {confirmed.text()}", flush=True)
                for line in wrong:
                    print(f"    wrong: {line}")
    print(f"\nreal effect: |measured effect| >= {args.threshold} logit on the run's own model; seeds {args.seeds}")
    for world, (tcav, confirmed) in totals.items():
        print(f"{world:8s} TCAV alone {tcav.text()}   confirmed {confirmed.text()}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
