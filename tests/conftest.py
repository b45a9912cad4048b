"""Shared fixtures: the real pipeline run once per test session on the default params."""

from __future__ import annotations

import pytest

from tests.pipeline_project import make_project, run


@pytest.fixture(scope="session")
def default_run(tmp_path_factory):
    """A copy of this project after `dvc repro` on the default params.yaml (the real pipeline)."""
    project = make_project(tmp_path_factory.mktemp("default") / "project")
    run(["dvc", "repro"], project)
    return project
