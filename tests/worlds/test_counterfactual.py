"""Counterfactual pairs differ only where the concept is, on pixels, and are reproducible."""

import numpy as np
import pytest

from worlds import colour, generate
from worlds.palette import colour_fraction
from worlds import counterfactual as cf

SIZE = 64


def changed(pair: cf.Pair) -> np.ndarray:
    return np.any(np.abs(pair.with_concept - pair.without) > 0, axis=-1)


def body(world: str, class_name: str, index: int, seed: int) -> np.ndarray:
    return cf._scene(class_name, seed, index, SIZE)[1]["body_mask"]


@pytest.mark.parametrize("index", range(6))
def test_own_colour_pair_differs_on_the_body_only_and_only_in_saturation(index):
    pair = cf.render_pair("colour", "fire", "red", index, SIZE, 3)
    assert pair.intervention == cf.BODY_COLOUR
    diff = changed(pair)
    mask = body("colour", "fire", index, 3)
    assert diff.any() and not (diff & ~mask).any()
    # the grey body is grey: no saturation left where the pair differs
    grey = pair.without[diff]
    assert np.allclose(grey.max(axis=1), grey.min(axis=1), atol=1e-9)
    assert colour_fraction(pair.with_concept, "red") > colour_fraction(pair.without, "red") + 0.05


@pytest.mark.parametrize("world,class_name,concept", [("colour", "water", "striped"), ("colour", "grass", "dotted"),
                                                      ("texture", "tiger", "striped"), ("texture", "giraffe", "checkered")])
def test_texture_pair_differs_inside_the_body_only(world, class_name, concept):
    for index in range(4):
        pair = cf.render_pair(world, class_name, concept, index, SIZE, 5)
        assert pair.intervention == cf.BODY_TEXTURE
        diff = changed(pair)
        mask = cf._scene(class_name, 5, index, SIZE, texture_as=concept)[1]["body_mask"]
        assert diff.sum() > 0.1 * mask.sum(), "the texture covers a good part of the body"
        assert not (diff & ~mask).any(), "nothing outside the body changes"


@pytest.mark.parametrize("world,class_name,concept", [("colour", "fire", "blue"), ("colour", "water", "white"),
                                                      ("texture", "leopard", "red"), ("texture", "tiger", "dotted")])
def test_distractor_pair_adds_the_concept_off_the_body_and_changes_nothing_else(world, class_name, concept):
    for index in range(4):
        pair = cf.render_pair(world, class_name, concept, index, SIZE, 9)
        assert pair.intervention == cf.DISTRACTOR
        diff = changed(pair)
        assert diff.sum() >= 0.02 * SIZE * SIZE
        assert not (diff & body(world, class_name, index, 9)).any()
        if concept in colour.COLOUR_CONCEPTS:
            patch = pair.with_concept[diff]
            assert colour_fraction(patch[None], concept) > 0.9


def test_the_scene_without_a_distractor_is_the_scene_of_every_distractor_concept():
    a = cf.render_pair("colour", "grass", "yellow", 2, SIZE, 1).without
    b = cf.render_pair("colour", "grass", "black", 2, SIZE, 1).without
    assert np.array_equal(a, b)


def test_pairs_are_reproducible_and_depend_on_the_seed():
    a = cf.render_pair("colour", "fire", "red", 0, SIZE, 42)
    b = cf.render_pair("colour", "fire", "red", 0, SIZE, 42)
    c = cf.render_pair("colour", "fire", "red", 0, SIZE, 43)
    assert np.array_equal(a.with_concept, b.with_concept) and np.array_equal(a.without, b.without)
    assert not np.array_equal(a.with_concept, c.with_concept)


def test_which_intervention_each_concept_gets():
    assert cf.intervention_for("colour", "water", "blue") == cf.BODY_COLOUR
    assert cf.intervention_for("colour", "water", "red") == cf.DISTRACTOR
    assert cf.intervention_for("colour", "water", "dotted") == cf.BODY_TEXTURE
    assert cf.intervention_for("texture", "leopard", "dotted") == cf.BODY_TEXTURE
    assert cf.intervention_for("texture", "leopard", "striped") == cf.DISTRACTOR
    with pytest.raises(ValueError, match="not a class"):
        cf.intervention_for("texture", "fire", "red")
    with pytest.raises(ValueError, match="cannot be drawn"):
        cf.intervention_for("colour", "fire", "spiky")


def test_default_class_images_are_unchanged_by_the_switches():
    """The switches at their defaults draw exactly the generator's images (same stream, same pixels)."""
    for name in colour.CLASSES:
        rng_a, rng_b = generate.image_rng(42, "class", name, 3), generate.image_rng(42, "class", name, 3)
        plain = colour.draw_class(name, rng_a, SIZE)[0]
        switched = colour.draw_class(name, rng_b, SIZE, grey_body=False, texture_as=None, show_texture=True,
                                         keep_mask=True)[0]
        assert np.array_equal(plain, switched)


def test_texture_world_classes_carry_their_texture_and_random_hues():
    hues = []
    for _, _, meta in generate.generate("class", "leopard", 12, SIZE, 2, with_meta=True, world="texture"):
        assert meta["texture"] == "dotted"
        hues.append(meta["hue"])
    assert np.ptp(hues) > 120  # hues spread over the circle
    with pytest.raises(Exception, match="texture world"):
        list(generate.generate("class", "fire", 1, SIZE, 0, world="texture"))
