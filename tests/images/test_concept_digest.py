"""The digest the concept-reading stages depend on changes exactly when what they read does."""

import shutil

import pytest
import yaml
from PIL import Image

from common.errors import PipelineError
from common.params import Params
from images.concept_digest import concept_digest
from tests.pipeline_project import ROOT, deep_update


def write_png(path, colour):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), colour).save(path)


def make_concepts(root, names=("red", "spiky"), randoms=2):
    for name in list(names) + [f"random/random500_{i}" for i in range(randoms)]:
        for i in range(3):
            write_png(root / name / f"{i}.png", (i * 40, 10, 200))
    return root


def params(concepts=("red", "spiky")):
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    deep_update(raw, {"tcav": {"concepts": list(concepts), "num_random_exp": 2}})
    return Params.model_validate(raw)


def test_an_unlisted_folder_or_a_non_image_file_leaves_the_digest_unchanged(tmp_path):
    root = make_concepts(tmp_path / "concepts")
    before = concept_digest(params(), root)
    shutil.copytree(root / "red", root / "unlisted")
    (root / "red" / "notes.txt").write_text("no loader reads this")
    (root / "random" / "random500_7").mkdir()  # a random set the run does not use
    assert concept_digest(params(), root) == before


@pytest.mark.parametrize("change", ["add", "edit", "rename", "remove", "random"])
def test_any_change_to_a_read_image_changes_the_digest(tmp_path, change):
    root = make_concepts(tmp_path / "concepts")
    before = concept_digest(params(), root)
    if change == "add":
        write_png(root / "spiky" / "9.png", (1, 2, 3))
    elif change == "edit":
        write_png(root / "spiky" / "0.png", (9, 9, 9))
    elif change == "rename":
        (root / "spiky" / "0.png").rename(root / "spiky" / "z.png")
    elif change == "remove":
        (root / "spiky" / "0.png").unlink()
    else:
        write_png(root / "random" / "random500_1" / "0.png", (9, 9, 9))
    assert concept_digest(params(), root) != before


def test_the_digest_is_the_same_whatever_the_folder_is_named(tmp_path):
    a = concept_digest(params(), make_concepts(tmp_path / "a"))
    b = concept_digest(params(), make_concepts(tmp_path / "b"))
    assert a == b


def test_a_missing_concept_folder_is_named_with_what_exists(tmp_path):
    root = make_concepts(tmp_path / "concepts")
    with pytest.raises(PipelineError, match=r"concepts/nope.*concept folder not found.*red.*spiky"):
        concept_digest(params(("red", "nope")), root)
