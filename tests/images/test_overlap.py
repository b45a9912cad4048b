"""images.overlap: concept folders checked against the scored class images and the random sets."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest
from PIL import Image

from common.errors import PipelineError
from common.files import list_images
from images.overlap import check_overlaps, find_overlaps
from worlds.generate import generate

CLASSES = ["fire", "water", "grass"]
CONCEPTS = ["red", "blue", "striped", "white"]
RANDOMS = ["random500_0", "random500_1"]
DISTANCE = 6  # crawl.curation.near_duplicate_distance's default


@pytest.fixture
def world(tmp_path: Path) -> Path:
    """The built-in world as the tcav stage reads it: 32 px class PNGs (as preprocess writes
    them), 64 px concept and random images (as the crawl stores them)."""
    for kind, names, count, size in (("class", CLASSES, 12, 32), ("concept", CONCEPTS, 15, 64),
                                     ("random", RANDOMS, 15, 64)):
        for name in names:
            folder = tmp_path / ("random" if kind == "random" else "") / name
            folder.mkdir(parents=True)
            for file_name, image in generate(kind, name, count, size=64, seed=1):
                image.resize((size, size), Image.BILINEAR).save(folder / Path(file_name).with_suffix(".png"))
    return tmp_path


def _files(root: Path, names, sub=""):
    return {name: list_images(root / sub / name) for name in names}


def _overlaps(root: Path, concepts=CONCEPTS, randoms=RANDOMS):
    return find_overlaps(_files(root, concepts), _files(root, CLASSES), _files(root, randoms, "random"),
                         max_distance=DISTANCE)


def test_the_built_in_world_has_no_overlap(world):
    assert _overlaps(world) == []


def test_a_copy_of_the_class_images_stops_the_run_naming_folders_and_files(world):
    shutil.copytree(world / "fire", world / "fire_again")
    overlaps = _overlaps(world, CONCEPTS + ["fire_again"])
    assert len(overlaps) == 1 and overlaps[0].is_copy
    assert overlaps[0].other == world / "fire" and overlaps[0].other_kind == "class"
    assert all(kind == "exact" for *_, kind in overlaps[0].shared)
    first = sorted(p.name for p in list_images(world / "fire"))[0]
    with pytest.raises(PipelineError) as error:
        check_overlaps(overlaps, allow=False)
    message = str(error.value)
    assert f"{world / 'fire_again'} is a copy of the class {world / 'fire'} (all 12 images)" in message
    assert f"{first} = {first}" in message and "tcav.allow_overlap: true" in message


def test_resized_recompressed_class_images_are_found_as_near_duplicates(world):
    spiky = world / "red"
    for path in list_images(world / "water")[:3]:  # three class images, enlarged and saved as JPEG
        Image.open(path).resize((80, 80), Image.BICUBIC).save(spiky / f"copy_{path.stem}.jpg", quality=85)
    overlaps = _overlaps(world)
    assert [(o.concept, o.other) for o in overlaps] == [(spiky, world / "water")]
    assert sorted(a for a, _, _ in overlaps[0].shared) == sorted(f"copy_{p.stem}.jpg"
                                                                 for p in list_images(world / "water")[:3])
    assert {kind for *_, kind in overlaps[0].shared} == {"near"} and not overlaps[0].is_copy
    assert "shares 3 of its 18 images with the class" in overlaps[0].describe()


def test_a_concept_sharing_a_random_image_and_a_random_set_copying_a_concept(world):
    shutil.copy(list_images(world / "random" / "random500_1")[4], world / "blue" / "stray.png")
    shutil.rmtree(world / "random" / "random500_0")
    shutil.copytree(world / "striped", world / "random" / "random500_0")
    described = [o.describe() for o in _overlaps(world)]
    assert len(described) == 2
    assert any(d.startswith(f"{world / 'blue'} shares 1 of its 16 images with the random set "
                            f"{world / 'random' / 'random500_1'}") and "stray.png = " in d for d in described)
    assert any(d.startswith(f"{world / 'striped'} is a copy of the random set {world / 'random' / 'random500_0'}")
               for d in described)


def test_allow_overlap_logs_a_warning_instead(world, caplog):
    shutil.copytree(world / "grass", world / "grass_again")
    overlaps = _overlaps(world, ["grass_again"])
    with caplog.at_level(logging.WARNING):
        check_overlaps(overlaps, allow=True)
    assert any("tcav.allow_overlap" in r.getMessage() and "grass_again" in r.getMessage() for r in caplog.records)
    check_overlaps([], allow=False)  # nothing shared: nothing said


@pytest.mark.parametrize("stage_name", ["tcav", "insertion"])
def test_the_scoring_stages_stop_before_any_work_naming_the_leak(world, tmp_path, capsys, stage_name):
    import importlib

    import yaml

    stage = importlib.import_module(f"pipeline.{stage_name}")

    processed = tmp_path / "processed"
    (processed / "test").mkdir(parents=True)
    for name in CLASSES:
        shutil.copytree(world / name, processed / "test" / name)
    shutil.copytree(world / "fire", world / "fire_again")
    params = yaml.safe_load((Path(__file__).parents[2] / "params.yaml").read_text())
    params["tcav"].update(concepts=["red", "fire_again"], num_random_exp=2, cache_dir=None)
    params["crawl"]["num_random_sets"] = 2
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    argv = ["--params", str(tmp_path / "params.yaml"), "--model-dir", str(tmp_path / "no_model"),
            "--processed", str(processed), "--concepts", str(world), "--out", str(tmp_path / "runs.csv")]
    assert stage.main(argv) == 2
    error = capsys.readouterr().err
    assert "fire_again is a copy of the class" in error and "Traceback" not in error
    assert not (tmp_path / "runs.csv").exists()
