"""dvc.yaml tells the truth about code: every project module a stage runs is one of its deps.

DVC reruns a stage when one of its ``deps`` changes, so a module the stage imports but does
not list is a change DVC cannot see: results move while ``dvc status`` says all is up to
date. The imports are read statically (ast), transitively, including imports inside
functions (the stages import TensorFlow-heavy code lazily) and modules named in strings
(the crawl's source registry imports its sources by name).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
STAGE_MODULE = re.compile(r"\bpython -m ([\w.]+)")


def project_packages(root: Path) -> set[str]:
    """Top-level folders of ``root`` that are Python packages (have an ``__init__.py``)."""
    return {p.parent.name for p in root.glob("*/__init__.py")}


def module_file(root: Path, dotted: str) -> Path | None:
    """The file of project module ``dotted`` (``a/b.py`` or ``a/b/__init__.py``), None if none."""
    base = root.joinpath(*dotted.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imported_modules(root: Path, path: Path, packages: set[str]) -> set[str]:
    """Dotted names of the project modules ``path`` imports anywhere in it, or names as a dotted string."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)  # may be submodules
        elif (isinstance(node, ast.Constant) and isinstance(node.value, str)
              and re.fullmatch(r"\w+(\.\w+)+", node.value) and module_file(root, node.value) is not None):
            found.add(node.value)  # "pkg.module", imported by name (not "model.pb", nor a plain word)
    return {name for name in found if name.split(".")[0] in packages}


def stage_code(root: Path, entry_module: str) -> set[Path]:
    """Every project file that running ``python -m entry_module`` in ``root`` executes (statically)."""
    packages = project_packages(root)
    files: set[Path] = set()
    pending = [entry_module]
    seen: set[str] = set()
    while pending:
        dotted = pending.pop()
        if dotted in seen:
            continue
        seen.add(dotted)
        parts = dotted.split(".")
        # importing a.b.c runs a/__init__.py and a/b/__init__.py first
        for depth in range(1, len(parts) + 1):
            path = module_file(root, ".".join(parts[:depth]))
            if path is not None and path not in files:
                files.add(path)
                pending.extend(imported_modules(root, path, packages))
    return files


def stage_commands(dvc_yaml: dict) -> dict[str, tuple[str, list[str]]]:
    """Stage name -> (entry module of its ``cmd``, its ``deps``); ``foreach`` stages by their template."""
    stages = {}
    for name, stage in dvc_yaml["stages"].items():
        body = stage.get("do", stage)
        match = STAGE_MODULE.search(body["cmd"])
        assert match, f"stage {name}: cmd {body['cmd']!r} does not run `python -m <module>`"
        stages[name] = (match.group(1), [str(dep) for dep in body.get("deps", [])])
    return stages


def uncovered(root: Path, dvc_yaml: dict) -> dict[str, list[str]]:
    """Per stage, the project files it runs that none of its deps (a file, or a folder holding it) covers."""
    problems = {}
    for name, (module, deps) in stage_commands(dvc_yaml).items():
        dep_paths = [(root / dep).resolve() for dep in deps]
        missing = sorted(
            str(path.relative_to(root))
            for path in stage_code(root, module)
            if not any(path == dep or dep in path.parents for dep in dep_paths)
        )
        if missing:
            problems[name] = missing
    return problems


def load_dvc_yaml() -> dict:
    return yaml.safe_load((ROOT / "dvc.yaml").read_text(encoding="utf-8"))


def test_every_stage_lists_all_the_code_it_runs():
    assert uncovered(ROOT, load_dvc_yaml()) == {}


def test_the_stages_do_import_project_code():
    # the check is not vacuous: the tcav stage reaches the engine, the wrapper and the params
    code = {str(p.relative_to(ROOT)) for p in stage_code(ROOT, "pipeline.tcav")}
    assert {"tcavcore/engine.py", "wrappers/frozen_graph.py", "common/params.py", "pipeline/__init__.py"} <= code


def test_a_missing_package_dependency_is_reported():
    dvc_yaml = load_dvc_yaml()
    dvc_yaml["stages"]["tcav"]["deps"].remove("tcavcore")
    problems = uncovered(ROOT, dvc_yaml)
    assert list(problems) == ["tcav"]
    assert "tcavcore/engine.py" in problems["tcav"] and "tcavcore/cav.py" in problems["tcav"]


def test_a_foreach_stage_is_checked_too():
    dvc_yaml = load_dvc_yaml()
    dvc_yaml["stages"]["crawl_concept"]["do"]["deps"].remove("worlds")
    assert "worlds/generate.py" in uncovered(ROOT, dvc_yaml)["crawl_concept"]


def test_lazy_and_by_name_imports_are_followed(tmp_path):
    (tmp_path / "pipeline").mkdir()
    (tmp_path / "pipeline" / "__init__.py").write_text("")
    (tmp_path / "pipeline" / "stage.py").write_text("def main():\n    from lib.core import work\n    return work()\n")
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "__init__.py").write_text("")
    (tmp_path / "lib" / "core.py").write_text(
        "import importlib\n\ndef work():\n    return importlib.import_module('lib.plugin')\n")
    (tmp_path / "lib" / "plugin.py").write_text("VALUE = 1\n")
    dvc_yaml = {"stages": {"s": {"cmd": "python -m pipeline.stage", "deps": ["pipeline/stage.py", "lib/core.py"]}}}
    assert uncovered(tmp_path, dvc_yaml) == {"s": ["lib/__init__.py", "lib/plugin.py", "pipeline/__init__.py"]}
    dvc_yaml["stages"]["s"]["deps"] = ["pipeline", "lib"]
    assert uncovered(tmp_path, dvc_yaml) == {}
