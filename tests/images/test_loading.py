"""images.loading: images as the model sees them, read as tcav's loader reads them."""


from __future__ import annotations


import logging


from pathlib import Path


import numpy as np


import pytest


from PIL import Image


from images import loading as images


from common.errors import PipelineError


CLASSES = ["fire", "water", "grass"]


@pytest.fixture
def raw(tmp_path: Path) -> Path:
    """20 small distinct images per class, as PNG and JPEG."""
    root = tmp_path / "raw"
    rng = np.random.default_rng(0)
    for name in CLASSES:
        (root / name).mkdir(parents=True)
        for i in range(20):
            pixels = rng.integers(0, 256, (12, 10, 3), dtype=np.uint8)
            suffix = "jpg" if i % 5 == 0 else "png"
            Image.fromarray(pixels).save(root / name / f"img{i:02d}.{suffix}")
    return root


def test_load_image_matches_tcavs_loader(tmp_path):
    path = tmp_path / "a.png"
    rgba = np.random.default_rng(1).integers(0, 256, (20, 30, 4), dtype=np.uint8)
    Image.fromarray(rgba, "RGBA").save(path)
    array = images.load_image(path, 16)
    expected = np.array(Image.open(path).convert("RGB").resize((16, 16), Image.BILINEAR), dtype=np.float32) / 255.0
    assert array.dtype == np.float32 and array.shape == (16, 16, 3)
    assert np.array_equal(array, expected)
    assert 0.0 <= array.min() and array.max() <= 1.0


def test_load_folder_reads_first_images_in_name_order_skipping_broken(tmp_path, caplog):
    folder = tmp_path / "concept"
    folder.mkdir()
    for i in range(5):
        Image.new("RGB", (6, 6), (i * 50, 0, 0)).save(folder / f"{i}.png")
    (folder / "0b.jpg").write_text("not an image")
    (folder / "readme.txt").write_text("ignored: not an image suffix")
    with caplog.at_level(logging.WARNING):
        array, paths = images.load_folder(folder, 4, 3)
    assert [p.name for p in paths] == ["0.png", "1.png", "2.png"]
    assert array.shape == (3, 4, 4, 3) and array.dtype == np.float32
    assert np.allclose(array[1, 0, 0], [50 / 255, 0, 0])
    assert any("0b.jpg" in r.getMessage() for r in caplog.records)


def test_load_folder_needs_two_usable_images(tmp_path):
    folder = tmp_path / "thin"
    folder.mkdir()
    Image.new("RGB", (6, 6)).save(folder / "only.png")
    (folder / "bad.png").write_bytes(b"nope")
    with pytest.raises(PipelineError, match=r"thin.*1 readable image.*holds: bad.png, only.png"):
        images.load_folder(folder, 4, 10)
    with pytest.raises(PipelineError, match="does not exist"):
        images.load_folder(tmp_path / "absent", 4, 10)
