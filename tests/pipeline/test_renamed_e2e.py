"""The same pictures under other names give the same answers (`dvc repro` end to end, tiny config).

A user's folders reach the pipeline through the ``local`` source under whatever names they
have. Here the built-in source's images of a tiny run (classes, concepts, random sets) are
copied into such folders with every class, concept and file renamed, and run again: the
split, the model, every CAV and both intervention tests must come out the same, so every
number of ``scores.csv`` and ``metrics.json`` is identical, row for row under the new names.
"""

import csv
import hashlib
import json

import pytest

from tests.pipeline.test_e2e import TINY
from tests.pipeline_project import deep_update, make_project, run

pytestmark = pytest.mark.slow

CLASSES = {"fire": "blaze", "water": "sea", "grass": "lawn"}
CONCEPTS = {"red": "k_der", "striped": "k_depirts"}


def user_folders(project, local):
    """Copy the project's crawled images into ``local`` under the new names, every file renamed
    (by a hash of its old name, so the name order is another one)."""
    raw, concepts = project / "datasets" / "raw", project / "concepts"
    folders = {raw / old: new for old, new in CLASSES.items()}
    folders |= {concepts / old: new for old, new in CONCEPTS.items()}
    folders |= {p: p.name for p in (concepts / "random").iterdir() if p.is_dir()}  # random500_<i>: names the source needs
    for source, name in folders.items():
        (local / name).mkdir(parents=True)
        for path in sorted(source.glob("*.png")):
            digest = hashlib.md5(f"{name}/{path.name}".encode()).hexdigest()
            (local / name / f"photo_{digest}.png").write_bytes(path.read_bytes())


def read_rows(project, names):
    """``scores.csv`` keyed by (class, concept, bottleneck) in the built-in names."""
    back = {new: old for old, new in names.items()}
    with open(project / "results" / "scores.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return {(back.get(r["target"], r["target"]), back.get(r["concept"], r["concept"]), r["bottleneck"]):
            {k: v for k, v in r.items() if k not in ("target", "concept")} for r in rows}


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    root = tmp_path_factory.mktemp("renamed")
    original = make_project(root / "original", TINY)
    run(["dvc", "repro"], original)
    local = root / "folders"
    user_folders(original, local)
    overrides = {"classes": list(CLASSES.values()),
                 "crawl": {"source": "local", "local_dir": str(local), "concepts": list(CONCEPTS.values())},
                 "tcav": {"concepts": list(CONCEPTS.values())}}
    params = json.loads(json.dumps(TINY))
    deep_update(params, overrides)
    renamed = make_project(root / "renamed", params)
    run(["dvc", "repro"], renamed)
    return original, renamed


def test_renamed_classes_concepts_and_files_give_identical_scores(both):
    original, renamed = both
    first, second = read_rows(original, CLASSES | CONCEPTS), read_rows(renamed, CLASSES | CONCEPTS)
    assert len(first) == 3 * 2 * 2 and set(first) == set(second)
    differing = {key: [k for k in first[key] if first[key][k] != second[key][k]] for key in first}
    assert not {key: cols for key, cols in differing.items() if cols}
    # not vacuous: the scores vary, and the insertion tests ran
    assert len({row["score_mean"] for row in first.values()}) > 2
    assert all(row[test] not in ("", "nan") for row in first.values() for test in ("scene_effect", "object_effect"))


def test_the_same_split_and_model(both):
    original, renamed = both
    metrics = [json.loads((p / "results" / "metrics.json").read_text()) for p in both]
    assert metrics[0]["test"] == metrics[1]["test"] and metrics[0]["train"] == metrics[1]["train"]

    def pictures(project, split, name):
        return sorted(hashlib.sha256(p.read_bytes()).hexdigest()
                      for p in (project / "datasets" / "processed" / split / name).glob("*.png"))

    for old, new in CLASSES.items():
        for split in ("train", "val", "test"):
            assert pictures(original, split, old) == pictures(renamed, split, new)
    # only the run on the built-in source knows the truth: the renamed run's truth.csv has no rows
    truths = [(p / "results" / "truth.csv").read_text().splitlines() for p in both]
    assert len(truths[0]) > 1 and len(truths[1]) == 1
