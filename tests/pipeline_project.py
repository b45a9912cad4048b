"""Run the real DVC pipeline in a throw-away copy of this project (used by the slow tests)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
#: Besides the code packages: what a run reads from the project.
PROJECT_FILES = ("exclude", "dvc.yaml", "params.yaml", ".dvcignore")
#: Folders the pipeline fills; the files git tracks in them (a README, a .gitignore) come
#: along, since stages hash these folders and a fresh clone has them.
DATA_FOLDERS = ("concepts", "datasets", "models", "results")


def code_packages(root: Path = ROOT) -> list[str]:
    """The project's top-level Python packages (folders with an ``__init__.py``), tests excepted."""
    return sorted(p.parent.name for p in root.glob("*/__init__.py") if p.parent.name != "tests")


def stage_outputs(root: Path = ROOT) -> set[str]:
    """Every path dvc.yaml's stages write (outs, metrics, plots), as written there."""
    stages = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]
    return {next(iter(item)) if isinstance(item, dict) else item
            for stage in stages.values() for kind in ("outs", "metrics", "plots") for item in stage.get(kind, [])}


def _git_files(root: Path, *paths: str) -> list[str]:
    """The files git tracks under ``paths`` (all of them when none), relative to ``root``."""
    listed = subprocess.run(["git", "ls-files", "-z", "--", *paths], cwd=root, capture_output=True, text=True,
                            check=True).stdout
    return [name for name in listed.split("\0") if name]


def tracked_data_files(root: Path = ROOT) -> list[str]:
    """The files git tracks under :data:`DATA_FOLDERS` that no stage writes (paths relative to ``root``)."""
    outputs = stage_outputs(root)
    return sorted(name for name in _git_files(root, *DATA_FOLDERS) if name not in outputs)


def tracked_outputs(root: Path = ROOT) -> list[str]:
    """The stage outputs git tracks (metrics kept out of the DVC cache): a run must rewrite them
    byte for byte, or a fresh clone's run leaves git status dirty."""
    outputs = stage_outputs(root)
    return sorted(name for name in _git_files(root) if name in outputs)


def make_project(dest: Path, overrides: dict | None = None) -> Path:
    """Copy what a fresh clone has (the code, dvc.yaml, params.yaml, the data folders' tracked
    files) into ``dest``, apply ``overrides``, git + dvc init."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in tracked_data_files():
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, dest / name)
    for name in (*code_packages(), *PROJECT_FILES):
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, dest / name)
    if overrides:
        params = yaml.safe_load((dest / "params.yaml").read_text())
        deep_update(params, overrides)
        (dest / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run(["git", "init", "-q"], dest)
    run(["git", "config", "user.email", "test@example.invalid"], dest)
    run(["git", "config", "user.name", "test"], dest)
    run(["dvc", "init", "-q"], dest)
    run(["dvc", "config", "core.analytics", "false"], dest)
    run(["git", "add", "-A"], dest)
    run(["git", "commit", "-qm", "project"], dest)
    return dest


def deep_update(base: dict, changes: dict) -> None:
    """Merge ``changes`` into ``base`` recursively (dicts merge, other values replace)."""
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            deep_update(base[key], value)
        else:
            base[key] = value


def set_params(project: Path, changes: dict) -> None:
    """Edit the project's params.yaml in place."""
    params = yaml.safe_load((project / "params.yaml").read_text())
    deep_update(params, changes)
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def env() -> dict:
    """The environment dvc runs stages in: this interpreter's bin first, so `python` is ours."""
    environment = dict(os.environ)
    environment["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{environment.get('PATH', '')}"
    environment["DVC_NO_ANALYTICS"] = "1"
    return environment


def run(cmd: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    """Run ``cmd`` (``dvc`` resolved from this interpreter's bin) and capture its output."""
    if cmd[0] == "dvc":
        cmd = [str(Path(sys.executable).parent / "dvc"), *cmd[1:]]
    result = subprocess.run(cmd, cwd=cwd, env=env(), capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result
