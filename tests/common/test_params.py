"""params.yaml validation: every bad value is reported with its key and what was expected."""

import pytest
import yaml

from common.errors import PipelineError
from common.params import load_params
from tests.pipeline_project import ROOT, deep_update


def write_params(tmp_path, changes):
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    deep_update(params, changes)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def error_for(tmp_path, changes) -> str:
    with pytest.raises(PipelineError) as info:
        load_params(write_params(tmp_path, changes))
    return str(info.value)


def test_the_shipped_params_are_valid():
    params = load_params(ROOT / "params.yaml")
    assert params.tcav.num_random_exp <= params.crawl.num_random_sets
    assert len(params.random_sets) == params.tcav.num_random_exp


@pytest.mark.parametrize("changes, key, hint", [
    ({"train": {"epochs": "ten"}}, "train.epochs", "integer"),
    ({"train": {"epochs": 0}}, "train.epochs", "greater than or equal to 1"),
    ({"train": {"dropout": 1.5}}, "train.dropout", "less than 1"),
    ({"tcav": {"significance": 0}}, "tcav.significance", "greater than 0"),
    ({"tcav": {"score": "fancy"}}, "tcav.score", "'tcav' or 'paper'"),
    ({"tcav": {"concept": ["red"]}}, "tcav.concept", "unknown key"),
    ({"tcav": {"alphas": [0.1, -1.0]}}, "tcav.alphas", "> 0"),
    ({"crawl": {"source": "altavista"}}, "crawl.source", "'synthetic', 'local', 'bing', 'google', 'baidu'"),
    ({"crawl": {"sources": {"fier": "bing"}}}, "(top level)", "'fier' is not a class"),
    ({"crawl": {"sources": {"fire": "yahoo"}}}, "crawl.sources.fire", "'urls' or 'greedy'"),
    ({"crawl": {"queries": {"random500_0": "x"}}}, "(top level)", "'random500_0' is not a class"),
    ({"crawl": {"sources": {"random": "local"}}}, "crawl", "local_dir"),
    ({"crawl": {"web": {"idle_timeout": 100, "time_limit": 10}}}, "crawl.web", "must not exceed time_limit"),
    ({"crawl": {"web": {"threads": 0}}}, "crawl.web.threads", "greater than or equal to 1"),
    ({"crawl": {"curation": {"crop": "left"}}}, "crawl.curation.crop", "'center' or 'none'"),
    ({"crawl": {"curation": {"near_duplicate_distance": -1}}}, "crawl.curation.near_duplicate_distance", "greater than or equal to 0"),
    ({"crawl": {"source": "local"}}, "crawl", "local_dir"),
    ({"preprocess": {"split": {"train": 0.5, "val": 0.2, "test": 0.2}}}, "preprocess.split", "add up to 1"),
    ({"classes": ["fire"]}, "classes", "at least 2"),
    ({"classes": ["fire", "fire"]}, "classes", "unique"),
    ({"tcav": {"concepts": ["red", "random500_3"]}}, "tcav.concepts", "reserved"),
    ({"tcav": {"num_random_exp": 20}}, "num_random_exp", "crawl.num_random_sets is 10"),
    ({"tcav": {"backend": "dask"}}, "tcav", "tcav.scheduler"),
    ({"tcav": {"backend": "spark"}}, "tcav.backend", "'threads', 'loky' or 'dask'"),
    ({"tcav": {"n_jobs": 0}}, "tcav.n_jobs", "-1 for one per core"),
    ({"tcav": {"cache_dir": 3}}, "tcav.cache_dir", "string"),
])
def test_bad_values_name_their_key(tmp_path, changes, key, hint):
    message = error_for(tmp_path, changes)
    assert key in message and hint in message, message
    assert str(tmp_path / "params.yaml") in message


def test_missing_and_malformed_files_are_named(tmp_path):
    with pytest.raises(PipelineError, match="parameters file not found"):
        load_params(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("seed: [1,\n")
    with pytest.raises(PipelineError, match="not valid YAML"):
        load_params(bad)


def test_a_bottleneck_listed_twice_is_refused_naming_the_key(tmp_path):
    error = error_for(tmp_path, {"tcav": {"bottlenecks": ["pool1", "conv3", "pool1"]}})
    assert "params.yaml" in error and "tcav.bottlenecks" in error and "listed twice: pool1" in error


def test_the_check_entry_names_params_yaml_and_the_key_before_dvc_would(tmp_path, capsys):
    from common.params import main

    empty = tmp_path / "params.yaml"
    empty.write_text("")
    assert main([str(empty)]) == 2
    assert f"{empty}: is empty" in capsys.readouterr().err
    assert main([str(write_params(tmp_path, {"crawl": {"concepts": "red, blue"}}))]) == 2
    error = capsys.readouterr().err
    assert "params.yaml" in error and "crawl.concepts" in error and "valid list" in error
    assert "Traceback" not in error and "dvc.yaml" not in error
    assert main([str(write_params(tmp_path, {}))]) == 0
    assert "params.yaml: ok" in capsys.readouterr().out


def test_make_run_checks_the_params_before_dvc_repro():
    recipe = (ROOT / "Makefile").read_text().split("\nrun:", 1)[1].split("\n\n", 1)[0]
    lines = [line.strip() for line in recipe.splitlines()[1:]]
    assert lines.index("$(PYTHON) -m common.params params.yaml") < lines.index("$(BIN)/dvc repro")


def test_dvc_plots_output_is_ignored_by_git():
    assert "dvc_plots/" in (ROOT / ".gitignore").read_text().split()
