"""Benchmark: this project's tcav stage against the reference ``tcav.tcav.TCAV.run``, same scores.

One run of this script measures, each side in its own child process (so that its peak
memory is its own), from the image folders to every (class, CAV) score:

- **ours**: the tcav stage's work (``load_folder`` + ``tcavcore.engine.run_tcav``) with the
  params' ``backend``/``n_jobs``, from an empty (cold) cache folder; then once more from the
  cache it filled (warm), for reference;
- **reference**: ``TCAV.run`` for each class with this project's wrapper, tcav's own
  ``ImageActivationGenerator`` on the same folders, an empty activation folder and an empty
  CAV folder: it computes its own activations and fits its own CAVs (once, shared by the
  classes through the CAV folder, as tcav users do). Two things are pinned so that it fits
  the same CAVs and every score can be compared one to one: its ``CAV.train`` is wrapped to
  seed NumPy's global random state per CAV exactly as this project seeds each CAV (tcav takes
  no seed; the wrapper costs microseconds), and its generator reads a folder's images in content
  order (by each file's SHA-256), as this project does, instead of in an unseeded shuffled order
  (same loading code, ``load_images_from_files``, with ``do_shuffle=False``).

The script exits 1 unless every score (and every CAV accuracy) is identical. Clocks start
after TensorFlow is imported and the model is loaded (the same wrapper on both sides).
Peak memory: the child's own peak RSS (``getrusage``) and the peak of the sum of RSS over
the child and its worker processes (sampled every 50 ms with psutil; TensorFlow's
allocations are invisible to ``tracemalloc``); both include TensorFlow and the loaded model.
CPU time: user + system of the child and its workers, which contention from other
processes on the machine inflates less than wall time.

``--scaling`` adds the scaling table on a generated dataset (200 images per class, concept
and random set, the default model): ``num_random_exp`` 5, 10, 20, 50 x ``max_examples`` 50,
200. A reference run that would take longer than ``--reference-limit`` seconds (10 min) is
not run; its time is estimated from the reference's measured cost per gradient call and per
CAV fit, and marked ``est.``.

    .venv/bin/python benchmarks/tcav_vs_reference.py [--scaling] [--classes fire] [--bottlenecks conv3]

Needs the default pipeline's outputs (``dvc repro`` first).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import common  # noqa: E402,F401  (sets the TensorFlow/protobuf environment first)

SCALING_RANDOM_EXP = (5, 10, 20, 50)
SCALING_EXAMPLES = (50, 200)
SCALING_IMAGES = 200


# --------------------------------------------------------------------------- the two sides (child processes)

def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_seconds() -> float:
    """CPU time (user + system) of this process and its live worker processes so far."""
    import psutil

    me = psutil.Process()
    return sum(sum(p.cpu_times()[:2]) for p in [me, *me.children(recursive=True)])


def run_ours(spec: dict) -> dict:
    """This project's stage on ``spec``'s folders: images -> activations -> CAVs -> scores."""
    from tcavcore.cache import ContentCache, model_fingerprint
    from tcavcore.cav_fitting import ParallelConfig
    from tcavcore.engine import run_tcav
    from images.loading import load_folder
    from wrappers import FrozenGraphWrapper

    model = FrozenGraphWrapper(spec["model_dir"], spec["bottlenecks"])
    marks = {}
    cpu0 = _cpu_seconds()
    t0 = time.perf_counter()
    size, limit = spec["image_size"], spec["max_examples"]
    images = {name: load_folder(folder, size, limit)[0] for name, folder in spec["folders"].items()}
    classes = {c: images[c] for c in spec["classes"]}
    concepts = {c: images[c] for c in spec["concepts"]}
    randoms = {r: images[r] for r in spec["randoms"]}
    marks["load images"] = time.perf_counter()

    def on_step(message: str) -> None:
        if message.startswith("tcav: learning"):  # after activations and the class gradients
            marks["activations, gradients"] = time.perf_counter()

    cache = ContentCache(spec["cache_dir"])
    parallel = ParallelConfig(backend=spec["backend"], n_jobs=spec["n_jobs"])
    rows = run_tcav(model, classes, concepts, randoms, spec["bottlenecks"], spec["alphas"],
                    model_type=spec["cav_model"], seed=spec["seed"], progress=False, on_step=on_step,
                    parallel=parallel, cache=cache, model_key=model_fingerprint(spec["model_dir"]))
    t1 = time.perf_counter()
    cpu, peak = _cpu_seconds() - cpu0, _peak_rss_mb()
    Path(spec["measured_marker"]).touch()  # the parent's memory sampling stops here
    marks["CAV fitting + scoring"] = t1
    steps, last = {}, t0
    for name, mark in marks.items():
        steps[name], last = mark - last, mark
    # The stage scores each CAV as it arrives; the scoring part alone (gradients + every CAV's
    # scores, same CAVs, read back from the cache) is timed apart, after the stage's clock.
    from tcavcore.engine import CavPlan, activation_keys, cav_jobs, class_gradients, iter_learned_cavs, score_cav

    keys = activation_keys({**concepts, **randoms}, spec["bottlenecks"], model_fingerprint(spec["model_dir"]))
    plan = CavPlan(tuple(concepts), tuple(randoms))
    cavs = list(iter_learned_cavs(cav_jobs(plan, spec["bottlenecks"], spec["alphas"]), {}, model_type=spec["cav_model"],
                                  seed=spec["seed"], progress=False, cache=ContentCache(spec["cache_dir"]), acts_keys=keys))
    class_acts = {c: {b: model.activations(classes[c], b) for b in spec["bottlenecks"]} for c in classes}
    s0 = time.perf_counter()
    gradients = class_gradients(model, class_acts, spec["bottlenecks"], "tcav")
    for cav in cavs:  # the kind column does not change the work
        score_cav(cav, gradients, classes, "concept", "tcav")
    steps["scoring alone (gradients + scores)"] = time.perf_counter() - s0
    return {"seconds": t1 - t0, "cpu_seconds": cpu, "steps": steps, "cache_hits": cache.hits, "peak_rss_mb": peak,
            "scores": [[r["target"], r["concept"], r["random"], r["bottleneck"], r["alpha"], r["score"],
                        r["cav_accuracy"]] for r in rows]}


def run_reference(spec: dict) -> dict:
    """``TCAV.run`` per class on ``spec``'s folders, fitting its own (seeded) CAVs into an empty folder."""
    import tcav.activation_generator as tcav_activations
    import tcav.cav as tcav_cav
    import tcav.tcav as tcav_tcav

    from common.files import content_order, list_images
    from tcavcore.cav import content_cav_seed, seeded_global_numpy
    from wrappers import FrozenGraphWrapper

    model = FrozenGraphWrapper(spec["model_dir"], spec["bottlenecks"])
    spent = {"activations": 0.0, "CAV fitting": 0.0, "scoring": 0.0}
    fitted = [0]

    def timed(function, step):
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                spent[step] += time.perf_counter() - start
        return wrapper

    train = tcav_cav.CAV.train

    def seeded_train(self, acts):  # tcav's own fit, with this project's per-CAV seed
        fitted[0] += 1
        concept, random = self.concepts
        with seeded_global_numpy(content_cav_seed(spec["seed"], acts[concept][self.bottleneck],
                                                  acts[random][self.bottleneck], self.bottleneck,
                                                  self.hparams["alpha"], self.hparams["model_type"])):
            return train(self, acts)

    tcav_cav.CAV.train = seeded_train
    tcav_tcav.get_or_train_cav = timed(tcav_tcav.get_or_train_cav, "CAV fitting")
    class ContentOrderGenerator(tcav_activations.ImageActivationGenerator):
        """tcav's generator, reading a folder's first images in content order (as this project does)
        instead of in an unseeded shuffled order, so that both sides fit CAVs on the same examples."""

        def get_examples_for_concept(self, concept):
            folder = Path(self.source_dir) / concept
            # the folder's image files, as this project lists them (a crawled folder also holds
            # its manifest.json, which tcav would count against max_examples)
            paths = [str(path) for path in content_order(list_images(folder))]
            return self.load_images_from_files(paths, self.max_examples, do_shuffle=False,
                                               shape=self.model.get_image_shape()[:2])

    generator_class = ContentOrderGenerator
    generator_class.process_and_load_activations = timed(generator_class.process_and_load_activations,
                                                         "activations")
    tcav_tcav.TCAV.compute_tcav_score = staticmethod(timed(tcav_tcav.TCAV.compute_tcav_score, "scoring"))
    tcav_tcav.TCAV.get_directional_dir = staticmethod(timed(tcav_tcav.TCAV.get_directional_dir, "scoring"))

    scores = []
    with tempfile.TemporaryDirectory(prefix="tcav-ref-") as tmp:
        source = Path(tmp) / "source"
        source.mkdir()
        for name, folder in spec["folders"].items():
            (source / name).symlink_to(folder, target_is_directory=True)
        cpu0 = _cpu_seconds()
        t0 = time.perf_counter()
        for target in spec["classes"]:
            generator = generator_class(model, str(source), str(Path(tmp) / "acts"), max_examples=spec["max_examples"])
            tcav = tcav_tcav.TCAV(model.sess, target, list(spec["concepts"]), spec["bottlenecks"], generator,
                                  list(spec["alphas"]), cav_dir=str(Path(tmp) / "cavs"),
                                  num_random_exp=len(spec["randoms"]))
            for result in tcav.run(run_parallel=False):
                scores.append([target, result["cav_concept"], result["negative_concept"], result["bottleneck"],
                               result["alpha"], result["i_up"], result["cav_accuracies"]["overall"]])
        t1 = time.perf_counter()
        cpu = _cpu_seconds() - cpu0
    spent["other (re-reading class images per run, ...)"] = (t1 - t0) - sum(spent.values())
    return {"seconds": t1 - t0, "cpu_seconds": cpu, "steps": spent, "cavs_fitted": fitted[0], "peak_rss_mb": _peak_rss_mb(),
            "scores": scores}


# --------------------------------------------------------------------------- the parent: run, sample, compare

def measure(side: str, spec: dict) -> dict:
    """Run one side in a child process; add the sampled peak RSS of its process tree."""
    import psutil

    with tempfile.TemporaryDirectory(prefix="tcav-bench-") as tmp:
        spec_path, result_path = Path(tmp) / "spec.json", Path(tmp) / "result.json"
        marker = Path(tmp) / "measured"
        spec_path.write_text(json.dumps({**spec, "measured_marker": str(marker)}))
        child = subprocess.Popen([sys.executable, __file__, "--child", side, str(spec_path), str(result_path)])
        peak, done = [0], threading.Event()

        def sample():
            process = psutil.Process(child.pid)
            while not done.is_set() and not marker.exists():
                try:
                    tree = [process, *process.children(recursive=True)]
                    peak[0] = max(peak[0], sum(p.memory_info().rss for p in tree if p.is_running()))
                except psutil.Error:
                    pass
                done.wait(0.05)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        code = child.wait()
        done.set()
        sampler.join()
        if code != 0:
            sys.exit(f"{side} run failed (exit {code})")
        result = json.loads(result_path.read_text())
    result["peak_tree_mb"] = peak[0] / 2**20
    return result


def compare(ours: dict, reference: dict) -> tuple[int, int, list]:
    """(identical, total, differences) over every (class, concept, random, bottleneck, alpha) key."""
    mine = {tuple(row[:5]): tuple(row[5:]) for row in ours["scores"]}
    theirs = {tuple(row[:5]): tuple(row[5:]) for row in reference["scores"]}
    keys = set(mine) | set(theirs)
    different = sorted(k for k in keys if mine.get(k) != theirs.get(k))
    return len(keys) - len(different), len(keys), different


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    load = os.getloadavg()[0]
    return (f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, "
            f"load average {load:.2f} at start")


def default_spec(params, classes, bottlenecks, cache_dir: str) -> dict:
    split = ROOT / "datasets" / "processed" / params.tcav.target_split
    folders = {c: split / c for c in classes}
    folders.update({c: ROOT / "concepts" / c for c in params.tcav.concepts})
    folders.update({r: ROOT / "concepts" / "random" / r for r in params.random_sets})
    for folder in folders.values():
        if not folder.is_dir():
            sys.exit(f"{folder}: missing; run `dvc repro` first")
    p = params.tcav
    return {"model_dir": str(ROOT / "models" / "frozen"), "bottlenecks": bottlenecks, "classes": classes,
            "concepts": list(p.concepts), "randoms": params.random_sets, "alphas": list(p.alphas),
            "folders": {k: str(v) for k, v in folders.items()}, "image_size": params.preprocess.image_size,
            "max_examples": p.max_examples, "cav_model": p.cav_model, "seed": params.seed, "backend": p.backend, "n_jobs": p.n_jobs,
            "cache_dir": cache_dir}


def n_cavs(spec: dict) -> int:
    r, c = len(spec["randoms"]), len(spec["concepts"])
    return (c * r + r * (r - 1)) * len(spec["bottlenecks"]) * len(spec["alphas"])


def print_side_by_side(ours: dict, warm: dict, reference: dict) -> None:
    print(f"{'':44}{'ours':>10}{'reference':>12}{'ref/ours':>10}")
    # ours scores each CAV as it is fitted; the reference's steps are timed inside TCAV.run
    for step in ("load images", "activations, gradients", "CAV fitting + scoring"):
        print(f"  {step + ' (s)':42}{ours['steps'][step]:10.2f}")
    mine, theirs = ours["steps"]["scoring alone (gradients + scores)"], reference["steps"]["scoring"]
    print(f"  {'scoring alone, same CAVs (s)':42}{mine:10.2f}{theirs:12.2f}{theirs / mine:9.0f}x")
    for step in ("activations", "CAV fitting"):
        print(f"  {step + ' (s)':42}{'':10}{reference['steps'][step]:12.2f}")
    other = [k for k in reference["steps"] if k.startswith("other")][0]
    print(f"  {other + ' (s)':42}{'':10}{reference['steps'][other]:12.2f}")
    print(f"  {'whole stage, cold (s)':42}{ours['seconds']:10.2f}{reference['seconds']:12.2f}"
          f"{reference['seconds'] / ours['seconds']:9.1f}x")
    print(f"  {'whole stage, cold, CPU time (s)':42}{ours['cpu_seconds']:10.2f}{reference['cpu_seconds']:12.2f}"
          f"{reference['cpu_seconds'] / ours['cpu_seconds']:9.1f}x")
    print(f"  {'whole stage, warm cache (s)':42}{warm['seconds']:10.2f}{'':12}"
          f"{reference['seconds'] / warm['seconds']:9.1f}x")
    print(f"  {'peak RSS, main process (MB)':42}{ours['peak_rss_mb']:10.0f}{reference['peak_rss_mb']:12.0f}")
    print(f"  {'peak RSS, with worker processes (MB)':42}{ours['peak_tree_mb']:10.0f}{reference['peak_tree_mb']:12.0f}")


def make_scaling_dataset(root: Path, params, n_random: int) -> dict[str, Path]:
    """200 generated images per class, concept and random set (PNG, as the crawl stage writes them)."""
    from worlds.generate import generate

    folders = {}
    # class images drawn with another seed than the model's training images
    sets = ([("class", c) for c in params.classes] + [("concept", c) for c in params.tcav.concepts]
            + [("random", f"random500_{i}") for i in range(n_random)])
    for kind, name in sets:
        folder = root / name
        folder.mkdir(parents=True)
        for file_name, image in generate(kind, name, SCALING_IMAGES, size=params.crawl.synthetic_size,
                                         seed=params.seed + 1000):
            image.save(folder / file_name)
        folders[name] = folder
    return folders


def set_examples(spec: dict, names) -> int:
    """Examples per set that ``spec`` reads from ``names`` (the smallest)."""
    from common.files import list_images

    return min(min(spec["max_examples"], len(list_images(spec["folders"][n]))) for n in names)


def reference_estimate(measured: dict, spec: dict) -> float:
    """Seconds the reference would take on ``spec``, from the costs of a measured reference run.

    Scoring: per gradient call (two per class example per CAV); fitting: per CAV and set
    example; activations: per image.
    """
    base, steps = measured["spec"], measured["reference"]["steps"]

    def counts(s):
        class_n, set_n = set_examples(s, s["classes"]), set_examples(s, s["concepts"] + s["randoms"])
        return 2 * len(s["classes"]) * n_cavs(s) * class_n, n_cavs(s) * set_n, len(s["folders"]) * set_n

    calls, fits, images = counts(base)
    scoring = steps["scoring"] + steps[[k for k in steps if k.startswith("other")][0]]
    new_calls, new_fits, new_images = counts(spec)
    return (scoring / calls * new_calls + steps["CAV fitting"] / fits * new_fits
            + steps["activations"] / images * new_images)


def scaling(params, bottlenecks, limit: float, measured_default: dict) -> list[dict]:
    rows, measured = [], [measured_default]
    with tempfile.TemporaryDirectory(prefix="tcav-scaling-") as tmp:
        t = time.perf_counter()
        folders = make_scaling_dataset(Path(tmp) / "images", params, max(SCALING_RANDOM_EXP))
        print(f"scaling dataset: {len(folders)} folders x {SCALING_IMAGES} images generated in "
              f"{time.perf_counter() - t:.0f} s", flush=True)
        for examples in SCALING_EXAMPLES:
            for n_random in SCALING_RANDOM_EXP:
                spec = default_spec(params, params.classes, bottlenecks, str(Path(tmp) / f"cache-{examples}-{n_random}"))
                randoms = [f"random500_{i}" for i in range(n_random)]
                spec.update(randoms=randoms, max_examples=examples,
                            folders={n: str(folders[n]) for n in [*params.classes, *params.tcav.concepts, *randoms]})
                ours = measure("ours", spec)
                estimate = reference_estimate(measured[-1], spec)
                row = {"random_exp": n_random, "examples": examples, "cavs": n_cavs(spec), "ours": ours,
                       "estimate": estimate}
                if estimate <= limit:
                    reference = measure("reference", spec)
                    identical, total, _ = compare(ours, reference)
                    row.update(reference=reference, identical=identical, total=total)
                    measured.append({"spec": spec, "reference": reference})
                rows.append(row)
                print_scaling_row(row, header=len(rows) == 1)
    return rows


def print_scaling_row(row: dict, header: bool) -> None:
    if header:
        print(f"{'random sets':>12}{'examples':>10}{'CAVs':>7}{'ours (s)':>10}{'ours CPU s':>11}{'ours fit (s)':>13}"
              f"{'ours peak MB':>13}{'reference (s)':>15}{'ref peak MB':>12}{'ref/ours':>10}{'identical':>12}")
    ours = row["ours"]
    if "reference" in row:
        ref, ref_mb = f"{row['reference']['seconds']:.1f}", f"{row['reference']['peak_tree_mb']:.0f}"
        ratio, same = row["reference"]["seconds"] / ours["seconds"], f"{row['identical']}/{row['total']}"
    else:
        ref, ref_mb, ratio, same = f"~{row['estimate']:.0f} est.", "", row["estimate"] / ours["seconds"], "(not run)"
    print(f"{row['random_exp']:12d}{row['examples']:10d}{row['cavs']:7d}{ours['seconds']:10.1f}{ours['cpu_seconds']:11.1f}"
          f"{ours['steps']['CAV fitting + scoring']:13.1f}{ours['peak_tree_mb']:13.0f}{ref:>15}{ref_mb:>12}{ratio:9.1f}x{same:>12}",
          flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--classes", nargs="*", help="classes to score (default: all)")
    parser.add_argument("--bottlenecks", nargs="*", help="bottlenecks (default: tcav.bottlenecks)")
    parser.add_argument("--scaling", action="store_true", help="also the scaling table (tens of minutes)")
    parser.add_argument("--reference-limit", type=float, default=600.0,
                        help="skip (and estimate) reference runs expected to take longer (s)")
    parser.add_argument("--child", nargs=3, metavar=("SIDE", "SPEC", "RESULT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        side, spec_path, result_path = args.child
        spec = json.loads(Path(spec_path).read_text())
        result = (run_ours if side == "ours" else run_reference)(spec)
        Path(result_path).write_text(json.dumps(result))
        return 0

    from common.params import load_params

    params = load_params(ROOT / "params.yaml")
    classes = args.classes or params.classes
    bottlenecks = args.bottlenecks or params.tcav.bottlenecks
    print(f"machine: {machine()}")
    failed = False
    with tempfile.TemporaryDirectory(prefix="tcav-cache-") as cache_dir:
        spec = default_spec(params, classes, bottlenecks, cache_dir)
        print(f"default experiment: {len(classes)} classes, {len(spec['concepts'])} concepts, "
              f"{len(spec['randoms'])} random sets, {len(bottlenecks)} bottlenecks, alphas {spec['alphas']}: "
              f"{n_cavs(spec)} CAVs; ours with backend={spec['backend']}, n_jobs={spec['n_jobs']}", flush=True)
        ours = measure("ours", spec)
        warm = measure("ours", spec)
        reference = measure("reference", spec)
    identical, total, different = compare(ours, reference)
    warm_identical, _, _ = compare(ours, warm)
    print(f"reference fitted {reference['cavs_fitted']} CAVs; ours read {warm['cache_hits']} cache entries when warm")
    print(f"scores and CAV accuracies identical: {identical} of {total} (warm cache vs cold: {warm_identical} of {total})")
    for key in different[:10]:
        print(f"  differs: {key}")
    print_side_by_side(ours, warm, reference)
    ratio = reference["seconds"] / ours["seconds"]
    print(f"whole stage: {ratio:.1f}x faster than the reference (goal 30x: {'met' if ratio >= 30 else 'not met'}); "
          f"load average now {os.getloadavg()[0]:.2f}")
    failed |= identical != total or warm_identical != total

    if args.scaling:
        rows = scaling(params, bottlenecks, args.reference_limit, {"spec": spec, "reference": reference})
        failed |= any(row.get("identical") != row.get("total") for row in rows)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
