"""collection.dedup: exact and near duplicates by SHA-256 and perceptual hash."""


from __future__ import annotations


import io


import json


import numpy as np


from PIL import Image


from collection.dedup import DuplicateIndex, hash_image


from tests.image_fixtures import encode, scene


def hashes_of(image: Image.Image, data: bytes | None = None):
    data = data if data is not None else encode(image)
    return hash_image(image, data, data)


def test_index_finds_exact_and_near_duplicates_but_not_other_pictures():
    index = DuplicateIndex(max_distance=6)
    original = scene(12, 96)
    index.add("fire/a.png", hashes_of(original))
    copy = hashes_of(original)
    assert index.find(copy).kind == "exact" and index.find(copy).label == "fire/a.png"
    recompressed = Image.open(io.BytesIO(encode(original.resize((70, 70)), "JPEG", quality=80))).convert("RGB")
    match = index.find(hashes_of(recompressed))
    assert match.kind == "near" and match.label == "fire/a.png" and 0 <= match.distance <= 6
    assert index.find(hashes_of(scene(13, 96))) is None


def test_same_drawing_in_another_colour_is_not_a_duplicate():
    index = DuplicateIndex(max_distance=6)
    red = scene(14, 64)
    blue = Image.fromarray(np.asarray(red)[..., ::-1].copy())  # same shapes, other hues
    index.add("red/a.png", hashes_of(red))
    assert hashes_of(blue).phash == hashes_of(red).phash or index.find(hashes_of(blue)) is None
    assert index.find(hashes_of(blue)) is None


def test_removed_images_are_forgotten():
    index = DuplicateIndex(max_distance=6)
    h = hashes_of(scene(15, 64))
    index.add("a/x.png", h)
    assert index.find(h) is not None
    index.remove("a/x.png")
    assert index.find(h) is None and len(index) == 0


def test_hashes_round_trip_through_json():
    h = hashes_of(scene(16, 64))
    assert type(h).from_json(json.loads(json.dumps(h.to_json()))) == h
