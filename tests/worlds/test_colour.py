"""The built-in synthetic dataset: deterministic, and its planted answer is really there."""

from __future__ import annotations

import hashlib
import io
from collections import Counter

import numpy as np
import pytest
from PIL import Image

from common.errors import PipelineError
from worlds import colour
from worlds import generate as generator

SIZE = 48

# Measured here with Pillow's own HSV conversion, independently of the generator's helpers.
HUE_CENTRES = {"red": 0.0, "green": 115.0, "blue": 220.0, "yellow": 55.0}
CLASS_COLOUR = {"fire": "red", "water": "blue", "grass": "green"}


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def digests(kind: str, name: str, count: int, seed: int, size: int = SIZE) -> list[str]:
    return [hashlib.sha256(png_bytes(im)).hexdigest() for _, im in generator.generate(kind, name, count, size, seed)]


def hsv(image: Image.Image) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hue in degrees, saturation and value in [0, 1]."""
    array = np.asarray(image.convert("HSV"), dtype=float)
    return array[..., 0] * 360.0 / 256.0, array[..., 1] / 255.0, array[..., 2] / 255.0


def near_hue(h: np.ndarray, centre: float, width: float = 25.0) -> np.ndarray:
    d = np.abs((h - centre + 180.0) % 360.0 - 180.0)
    return d <= width


def colour_share(image: Image.Image, colour: str) -> float:
    h, s, v = hsv(image)
    if colour == "white":
        hit = (s <= 0.2) & (v >= 0.8)
    elif colour == "black":
        hit = v <= 0.2
    else:
        hit = near_hue(h, HUE_CENTRES[colour]) & (s >= 0.4) & (v >= 0.3)
    return float(hit.mean())


@pytest.mark.parametrize("kind,name", [("class", "fire"), ("concept", "striped"), ("random", "random500_3")])
def test_same_seed_gives_byte_identical_png(kind, name):
    first = digests(kind, name, 6, seed=7)
    second = digests(kind, name, 6, seed=7)
    assert first == second
    assert len(set(first)) == 6  # and the images differ from one another


@pytest.mark.parametrize("kind,name", [("class", "water"), ("concept", "red"), ("random", "random500_0")])
def test_different_seed_gives_different_images(kind, name):
    a = digests(kind, name, 6, seed=1)
    b = digests(kind, name, 6, seed=2)
    assert not set(a) & set(b)


def test_images_are_rgb_of_the_requested_size_and_named_in_order():
    names = []
    for fname, image in generator.generate("class", "grass", 3, 40, 0):
        names.append(fname)
        assert image.mode == "RGB" and image.size == (40, 40)
    assert names == ["0000.png", "0001.png", "0002.png"]
    assert generator.file_name(9999, 10000) == "9999.png"
    assert generator.file_name(7, 10001) == "00007.png"


def test_an_image_does_not_depend_on_how_many_are_generated():
    short = digests("concept", "dotted", 3, seed=5)
    long = digests("concept", "dotted", 8, seed=5)
    assert long[:3] == short


@pytest.mark.parametrize("name", ["fire", "water", "grass"])
def test_class_colour_is_the_dominant_saturated_hue(name):
    count = 60
    good = 0
    for _, image in generator.generate("class", name, count, SIZE, 11):
        h, s, v = hsv(image)
        saturated = (s >= 0.4) & (v >= 0.3)
        shares = {c: (near_hue(h, HUE_CENTRES[c]) & saturated).sum() for c in ("red", "green", "blue")}
        own = shares[CLASS_COLOUR[name]]
        if own == max(shares.values()) and own >= 0.5 * saturated.sum() and own >= 0.08 * h.size:
            good += 1
    assert good >= 0.95 * count, f"{name}: class colour dominant in only {good}/{count} images"


def test_textures_are_balanced_and_independent_of_the_class():
    count = 90
    for name in ("fire", "water", "grass"):
        generated = generator.generate("class", name, count, 32, 3, with_meta=True)
        textures = Counter(meta["texture"] for _, _, meta in generated)
        assert set(textures) == {"striped", "dotted", "plain"}
        for texture in ("striped", "dotted", "plain"):
            assert 18 <= textures[texture] <= 42, (name, textures)


def body_edge_density(image: Image.Image, colour: str) -> float:
    """Sharp colour changes touching body-coloured pixels, per body-coloured pixel.

    A plain body has edges only along its outline; stripes and dots add many inside it.
    """
    rgb = np.asarray(image, dtype=float)
    h, s, v = hsv(image)
    body = near_hue(h, HUE_CENTRES[colour]) & (s >= 0.4) & (v >= 0.3)
    dx = (np.abs(rgb[:, 1:] - rgb[:, :-1]).max(-1) > 40) & (body[:, 1:] | body[:, :-1])
    dy = (np.abs(rgb[1:] - rgb[:-1]).max(-1) > 40) & (body[1:] | body[:-1])
    return (dx.sum() + dy.sum()) / max(body.sum(), 1)


@pytest.mark.parametrize("name", ["fire", "water", "grass"])
def test_textured_bodies_are_visibly_striped_or_dotted(name):
    density = {"striped": [], "dotted": [], "plain": []}
    for _, image, meta in generator.generate("class", name, 45, SIZE, 4, with_meta=True):
        density[meta["texture"]].append(body_edge_density(image, CLASS_COLOUR[name]))
    plain = np.mean(density["plain"])
    assert np.mean(density["striped"]) > 2 * plain
    assert np.mean(density["dotted"]) > 2 * plain


@pytest.mark.parametrize("name", ["red", "blue", "green", "yellow", "white", "black"])
def test_colour_concepts_cover_at_least_30_percent(name):
    shares = [colour_share(image, name) for _, image in generator.generate("concept", name, 25, SIZE, 2)]
    assert min(shares) >= 0.30, (name, min(shares))


def test_class_images_hold_far_less_of_their_colour_than_colour_concepts():
    # The classes show their colour on a body of 15-40% of the image; the concepts in washes,
    # scatters and regions: the two must not be the same kind of picture.
    class_share = np.mean([colour_share(im, "red") for _, im in generator.generate("class", "fire", 30, SIZE, 1)])
    concept_share = np.mean([colour_share(im, "red") for _, im in generator.generate("concept", "red", 30, SIZE, 1)])
    assert class_share < 0.4 < concept_share


def test_texture_concepts_have_no_colour_bias():
    hues = []
    for name in ("striped", "dotted"):
        for _, image in generator.generate("concept", name, 60, 32, 8):
            h, s, v = hsv(image)
            saturated = (s >= 0.4) & (v >= 0.3)
            hues.append(h[saturated])
    hues = np.concatenate(hues)
    shares = [near_hue(hues, HUE_CENTRES[c], 30).mean() for c in ("red", "green", "blue")]
    # Uniform hues would give 1/6 each; no colour takes a large share.
    assert all(0.05 < share < 0.35 for share in shares), shares


def test_random_sets_differ_from_each_other_and_have_no_duplicates():
    sets = [digests("random", f"random500_{i}", 20, seed=42, size=32) for i in range(3)]
    everything = [d for s in sets for d in s]
    assert len(set(everything)) == len(everything)


def test_random_images_are_varied():
    generated = generator.generate("random", "random500_0", 40, 32, 0)
    means = [np.asarray(im, float).mean(axis=(0, 1)) for _, im in generated]
    # Mean colours spread over the colour cube, not one kind of picture.
    assert np.std(means, axis=0).min() > 0.08 * 255


def test_unknown_class_is_a_pipeline_error_naming_the_known_classes():
    with pytest.raises(PipelineError) as info:
        list(generator.generate("class", "electric", 2, SIZE, 0))
    message = str(info.value)
    assert "'electric'" in message
    for known in ("fire", "water", "grass"):
        assert known in message


def test_unknown_concept_is_a_pipeline_error_listing_concepts_and_alternatives():
    with pytest.raises(PipelineError) as info:
        list(generator.generate("concept", "zigzag", 2, SIZE, 0))
    message = str(info.value)
    assert "'zigzag'" in message
    for known in colour.CONCEPTS:
        assert known in message
    assert "local" in message and "concepts/zigzag" in message


def test_public_single_image_functions():
    rng = np.random.default_rng(0)
    assert colour.class_image("fire", rng, 32).size == (32, 32)
    assert colour.concept_image("dotted", rng, 32).mode == "RGB"
    assert colour.random_image(rng, 32).size == (32, 32)
    with pytest.raises(PipelineError):
        colour.class_image("cat", rng, 32)
