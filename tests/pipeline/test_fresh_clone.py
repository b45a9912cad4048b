"""A fresh clone's `make run` leaves `git status` clean.

The pipeline writes two kinds of file git tracks: `dvc.lock` and the metrics kept out of the
DVC cache (`results/metrics.json`, ...). The default run (a copy of what a fresh clone has,
`dvc repro` from nothing) must therefore write exactly those files as the repository has them:
a code change committed without its lock, or an output that is not the same on every run,
fails here with the stage and path at fault.
"""

import os

import pytest
import yaml

from tests.pipeline_project import ROOT, run, tracked_outputs

pytestmark = pytest.mark.slow


def _hashes(lock: dict) -> dict[tuple[str, str, str], str]:
    """(stage, deps|outs, path) -> md5 of every entry of a dvc.lock; params as their values."""
    found = {}
    for stage, entry in lock["stages"].items():
        for kind in ("deps", "outs"):
            for item in entry.get(kind, []):
                found[stage, kind, item["path"]] = item.get("md5")
        for file, values in entry.get("params", {}).items():
            found[stage, "params", file] = repr(sorted(values.items()))
    return found


def test_the_default_run_writes_the_repository_dvc_lock(default_run):
    written = _hashes(yaml.safe_load((default_run / "dvc.lock").read_text()))
    committed = _hashes(yaml.safe_load((ROOT / "dvc.lock").read_text()))
    differ = sorted(key for key in written.keys() | committed.keys() if written.get(key) != committed.get(key))
    assert not differ, ("dvc.lock is not what a fresh `make run` writes (run `dvc repro` and commit dvc.lock): "
                        + "; ".join(f"{stage} {kind} {path}" for stage, kind, path in differ[:12]))


@pytest.mark.parametrize("name", tracked_outputs())
def test_the_default_run_rewrites_the_tracked_metrics_byte_for_byte(default_run, name):
    assert (default_run / name).read_bytes() == (ROOT / name).read_bytes(), \
        f"{name} differs from the repository's after a fresh run (rerun `dvc repro` and commit it)"


def test_bytecode_caches_do_not_change_the_code_hashes(default_run):
    """Without PYTHONDONTWRITEBYTECODE, stages leave __pycache__ in the code folders they depend on."""
    cache = default_run / "common" / "__pycache__"
    cache.mkdir(exist_ok=True)
    (cache / "params.cpython-312.pyc").write_bytes(os.urandom(64))
    try:
        status = run(["dvc", "status", "--json"], default_run)
    finally:
        for file in cache.iterdir():
            file.unlink()
        cache.rmdir()
    assert "modified" not in status.stdout, status.stdout
