"""How often the default pipeline recovers the built-in dataset's planted answer, by seed.

TCAV reads one trained model, and a different seed is a different model (and different
images). This runs `dvc repro` on the default params for each seed given, in throw-away
copies of the project, and prints per seed whether the ground truth of
`tests/pipeline/test_ground_truth.py` holds at the last convolutional bottleneck, and what missed.

    .venv/bin/python benchmarks/seed_stability.py 42 7 123
    .venv/bin/python benchmarks/seed_stability.py 42 7 123 --set '{"train": {"epochs": 30}}'
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.ground_truth import failures, last_conv_bottleneck, read_scores  # noqa: E402
from tests.pipeline_project import make_project, run  # noqa: E402


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("seeds", nargs="*", type=int, default=[42, 7, 123])
    parser.add_argument("--set", default="{}", help="params overrides as JSON, merged into params.yaml")
    args = parser.parse_args(argv)
    overrides = json.loads(args.set)
    recovered = 0
    for seed in args.seeds:
        with tempfile.TemporaryDirectory(prefix=f"tcav-seed{seed}-") as tmp:
            project = make_project(Path(tmp) / "project", {**overrides, "seed": seed})
            start = time.perf_counter()
            run(["dvc", "repro"], project)
            missed = failures(read_scores(project, last_conv_bottleneck(project)))
        recovered += not missed
        print(f"seed {seed}: {'recovered' if not missed else 'MISSED'} ({time.perf_counter() - start:.0f} s)")
        for line in missed:
            print(f"    {line}")
    print(f"planted answer recovered for {recovered} of {len(args.seeds)} seeds" + (f" with {args.set}" if overrides else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
