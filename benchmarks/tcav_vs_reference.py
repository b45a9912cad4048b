"""Benchmark: this project's TCAV engine against the reference ``tcav.tcav.TCAV.run``.

Both run in this one process on the default pipeline's outputs (``make run`` first): the
exported model through the same wrapper, the same class, concept and random images. The
CAVs are fitted once by this project and saved in tcav's format, where ``TCAV.run`` loads
them, so every (class, concept, random set, bottleneck) score can be compared; the script
fails if any differs. Prints wall times and the reference / ours ratio.

    .venv/bin/python benchmarks/tcav_vs_reference.py [--classes fire] [--bottlenecks conv3]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pipeline  # noqa: E402,F401  (environment for tcav and TensorFlow)
from pipeline.params import load_params  # noqa: E402


def link_source_dir(params, target: Path) -> None:
    """One folder per class, concept and random set, as tcav's ImageActivationGenerator wants."""
    split = ROOT / "datasets" / "processed" / params.tcav.target_split
    folders = {c: split / c for c in params.classes}
    folders.update({c: ROOT / "concepts" / c for c in params.tcav.concepts})
    folders.update({r: ROOT / "concepts" / "random" / r for r in params.random_sets})
    for name, folder in folders.items():
        if not folder.is_dir():
            sys.exit(f"{folder}: missing; run `make run` first")
        (target / name).symlink_to(folder, target_is_directory=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--classes", nargs="*", help="classes to score (default: all)")
    parser.add_argument("--bottlenecks", nargs="*", help="bottlenecks (default: tcav.bottlenecks)")
    args = parser.parse_args(argv)

    from tcav.activation_generator import ImageActivationGenerator
    from tcav.tcav import TCAV

    from method.engine import CavPlan, compute_activations, learn_cavs, score_runs
    from pipeline.tcav import load_image_sets
    from wrappers import FrozenGraphWrapper

    params = load_params(ROOT / "params.yaml")
    p = params.tcav
    classes = args.classes or params.classes
    bottlenecks = args.bottlenecks or p.bottlenecks
    wrapper = FrozenGraphWrapper(ROOT / "models" / "frozen", bottlenecks)

    with tempfile.TemporaryDirectory(prefix="tcav-ref-") as tmp:
        tmp = Path(tmp)
        (tmp / "source").mkdir()
        link_source_dir(params, tmp / "source")

        # --- ours: the tcav stage's engine, step by step
        t0 = time.perf_counter()
        class_images, concept_images, random_images = load_image_sets(
            params, ROOT / "datasets" / "processed", ROOT / "concepts")
        class_images = {c: class_images[c] for c in classes}
        plan = CavPlan(tuple(concept_images), tuple(random_images))
        acts = compute_activations(wrapper, {**concept_images, **random_images}, bottlenecks, progress=False)
        class_acts = compute_activations(wrapper, class_images, bottlenecks, progress=False)
        t1 = time.perf_counter()
        cavs = learn_cavs(plan, acts, bottlenecks, p.alphas, model_type=p.cav_model, seed=params.seed,
                          progress=False, cav_dir=str(tmp / "cavs"))
        t2 = time.perf_counter()
        rows = score_runs(wrapper, class_acts, cavs, plan, definition="tcav", progress=False)
        t3 = time.perf_counter()
        ours = {(r["target"], r["concept"], r["random"], r["bottleneck"], r["alpha"]): r["score"] for r in rows}

        # --- reference: TCAV.run per class, loading the CAVs saved above
        reference = {}
        r0 = time.perf_counter()
        for target in classes:
            generator = ImageActivationGenerator(wrapper, str(tmp / "source"), str(tmp / "acts"),
                                                 max_examples=p.max_examples)
            tcav = TCAV(wrapper.sess, target, list(p.concepts), bottlenecks, generator, list(p.alphas),
                        cav_dir=str(tmp / "cavs"), num_random_exp=p.num_random_exp)
            for result in tcav.run(run_parallel=False):
                key = (target, result["cav_concept"], result["negative_concept"], result["bottleneck"],
                       result["alpha"])
                reference[key] = result["i_up"]
        r1 = time.perf_counter()

    different = [k for k in ours if reference.get(k) != ours[k]]
    missing = sorted(set(ours) ^ set(reference))
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    print(f"machine: {os.cpu_count()} cores, {cpu}")
    print(f"experiment: {len(classes)} classes, {len(p.concepts)} concepts, {p.num_random_exp} random sets, "
          f"{len(bottlenecks)} bottlenecks, alphas {list(p.alphas)}: {len(ours)} (class, CAV) scores")
    print(f"scores identical: {len(ours) - len(different)} of {len(ours)}"
          + (f"; {len(missing)} keys only on one side" if missing else ""))
    scoring_ours, scoring_ref = t3 - t2, r1 - r0
    print(f"{'':34}{'ours':>10}{'reference':>12}{'ratio':>9}")
    print(f"{'activations (s)':34}{t1 - t0:10.2f}{'(inside)':>12}")
    print(f"{'CAV fitting, shared (s)':34}{t2 - t1:10.2f}{'(loaded)':>12}")
    print(f"{'scoring: gradients + scores (s)':34}{scoring_ours:10.2f}{scoring_ref:12.2f}{scoring_ref / scoring_ours:8.0f}x")
    print(f"{'whole, same CAVs (s)':34}{t3 - t0:10.2f}{scoring_ref:12.2f}{scoring_ref / (t3 - t0):8.1f}x")
    return 1 if different or missing else 0


if __name__ == "__main__":
    sys.exit(main())
