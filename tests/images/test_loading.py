"""images.loading: images as the model sees them, read as tcav's loader reads them."""


from __future__ import annotations


import hashlib
import logging


import warnings


from pathlib import Path


import numpy as np


import pytest


from PIL import Image


from images import loading as images


from common.errors import PipelineError


from tests.image_fixtures import png_claiming_size, scene


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


def test_load_image_of_plain_rgb_matches_tcavs_loader(tmp_path):
    path = tmp_path / "a.png"
    rgb = np.random.default_rng(1).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    Image.fromarray(rgb, "RGB").save(path)
    array = images.load_image(path, 16)
    expected = np.array(Image.open(path).convert("RGB").resize((16, 16), Image.BILINEAR), dtype=np.float32) / 255.0
    assert array.dtype == np.float32 and array.shape == (16, 16, 3)
    assert np.array_equal(array, expected)


def test_sixteen_bit_grey_reads_as_the_same_picture_as_eight_bit(tmp_path):
    grey8 = np.asarray(scene(3, 40).convert("L"), dtype=np.uint8)
    Image.fromarray(grey8, "L").save(tmp_path / "eight.png")
    Image.fromarray(grey8.astype(np.uint16) * 257).save(tmp_path / "sixteen.png")  # 16-bit: 0..65535
    assert Image.open(tmp_path / "sixteen.png").mode.startswith("I")
    eight, sixteen = images.load_image(tmp_path / "eight.png", 24), images.load_image(tmp_path / "sixteen.png", 24)
    assert eight.std() > 0.05  # a picture, not a flat field
    assert np.abs(eight - sixteen).max() <= 1 / 255 + 1e-6
    assert sixteen.max() < 1.0  # not clipped to white, as convert('RGB') would


def test_transparency_is_composited_on_white_not_read_as_hidden_colours(tmp_path):
    rgba = np.zeros((8, 8, 4), dtype=np.uint8)
    rgba[..., :3] = (200, 10, 10)  # red hidden under full transparency on the left half
    rgba[:, 4:, 3] = 255  # right half opaque red
    rgba[:, :4, 3] = 0
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    array = images.load_image(tmp_path / "rgba.png", 8)
    assert np.allclose(array[:, 0], 1.0)  # transparent: white background
    assert np.allclose(array[:, 7], [200 / 255, 10 / 255, 10 / 255])
    la = np.zeros((8, 8, 2), dtype=np.uint8)
    la[..., 0], la[..., 1] = 0, 0  # black, fully transparent
    Image.fromarray(la, "LA").save(tmp_path / "la.png")
    assert np.allclose(images.load_image(tmp_path / "la.png", 8), 1.0)
    palette = Image.new("P", (8, 8), 0)
    palette.putpalette([0, 0, 255] + [0, 0, 0] * 255)
    palette.save(tmp_path / "p.png", transparency=0)  # index 0 (blue) is transparent
    assert np.allclose(images.load_image(tmp_path / "p.png", 8), 1.0)


def test_an_image_over_max_pixels_is_refused_naming_the_file(tmp_path, caplog):
    folder = tmp_path / "concept"
    folder.mkdir()
    for i in range(2):
        scene(i, 16).save(folder / f"small{i}.png")
    (folder / "huge.png").write_bytes(png_claiming_size(20_000, 20_000))
    with pytest.raises(PipelineError, match=r"huge\.png: decompression bomb.*400000000 pixels.*max_pixels"):
        images.load_image(folder / "huge.png", 8)
    scene(9, 40).save(folder / "big.png")  # 1600 pixels: over a limit of 1000
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no Pillow DecompressionBombWarning passes through
        with caplog.at_level(logging.WARNING):
            array, paths = images.load_folder(folder, 8, 10, max_pixels=1000)
    assert sorted(p.name for p in paths) == ["small0.png", "small1.png"]
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "big.png" in logged and "huge.png" in logged and "decompression bomb" in logged


def test_load_folder_reads_first_images_in_content_order_skipping_broken(tmp_path, caplog):
    folder = tmp_path / "concept"
    folder.mkdir()
    for i in range(5):
        Image.new("RGB", (6, 6), (i * 50, 0, 0)).save(folder / f"{i}.png")
    (folder / "0b.jpg").write_text("not an image")
    (folder / "readme.txt").write_text("ignored: not an image suffix")
    with caplog.at_level(logging.WARNING):
        array, paths = images.load_folder(folder, 4, 10)
    assert sorted(p.name for p in paths) == [f"{i}.png" for i in range(5)]
    assert any("0b.jpg" in r.getMessage() for r in caplog.records)
    by_content = sorted(folder.glob("*.png"), key=lambda p: hashlib.sha256(p.read_bytes()).hexdigest())
    assert [p.name for p in paths] == [p.name for p in by_content]  # not name order: by each file's SHA-256
    assert [p.name for p in paths] != sorted(p.name for p in paths)

    first, first_paths = images.load_folder(folder, 4, 3)
    assert [p.name for p in first_paths] == [p.name for p in by_content[:3]]
    assert first.shape == (3, 4, 4, 3) and first.dtype == np.float32
    red = int(first_paths[1].stem) * 50
    assert np.allclose(first[1, 0, 0], [red / 255, 0, 0])
    # the same files under other names: the same images, in the same order
    renamed = tmp_path / "renamed"
    renamed.mkdir()
    for i, path in enumerate(sorted(folder.iterdir(), reverse=True)):  # another name order
        (renamed / f"z{i}_{path.name}").write_bytes(path.read_bytes())
    again, _ = images.load_folder(renamed, 4, 3)
    assert np.array_equal(first, again)


def test_load_folder_needs_two_usable_images(tmp_path):
    folder = tmp_path / "thin"
    folder.mkdir()
    Image.new("RGB", (6, 6)).save(folder / "only.png")
    (folder / "bad.png").write_bytes(b"nope")
    with pytest.raises(PipelineError, match=r"thin.*1 readable image.*holds: bad.png, only.png"):
        images.load_folder(folder, 4, 10)
    with pytest.raises(PipelineError, match="does not exist"):
        images.load_folder(tmp_path / "absent", 4, 10)
