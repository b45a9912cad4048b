"""Benchmark: wall time of the default pipeline (`dvc repro` from nothing).

Runs in a throw-away copy of the project, so the working tree's outputs are untouched.
Dependencies must already be installed (this measures the pipeline, not pip).

    make bench            # or: .venv/bin/python benchmarks/make_run_time.py
"""

from __future__ import annotations

import os
import platform
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.pipeline_project import make_project, run  # noqa: E402

BUDGET_SECONDS = 300


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="tcav-bench-") as tmp:
        project = make_project(Path(tmp) / "project")
        start = time.perf_counter()
        result = run(["dvc", "repro", "--verbose"], project)
        total = time.perf_counter() - start
    log = result.stdout + result.stderr
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    print(f"machine: {os.cpu_count()} cores, {cpu}, Python {platform.python_version()}")
    stages = re.findall(r"Running stage '([^']+)'", log)
    print(f"stages run: {len(stages)} ({', '.join(stages)})")
    print(f"dvc repro (default params, from nothing): {total:.1f} s; budget {BUDGET_SECONDS} s; "
          f"ratio budget/measured = {BUDGET_SECONDS / total:.1f}x")
    return 0 if total < BUDGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
