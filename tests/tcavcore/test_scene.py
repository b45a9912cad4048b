"""The scene test on toy models whose class logit is known in closed form, and how its reading
combines with the insertion test's into a verdict."""

import math

import numpy as np
import pytest

from tcavcore import scene
from tcavcore.confirmation import CONTRADICTED, LOWERS_CONFIRMED, LOWERS_UNCONFIRMED, RAISES_CONFIRMED, \
    RAISES_UNCONFIRMED, Checks, Reading, apply_checks, checked_verdict, checked_with

SIZE = 20


def redness_logits(images: np.ndarray) -> np.ndarray:
    """Class 0's logit is the image's mean redness (R - (G+B)/2) x 10; class 1's its negative."""
    red = (images[..., 0] - 0.5 * (images[..., 1] + images[..., 2])).mean(axis=(1, 2)) * 10
    return np.stack([red, -red], axis=1)


def object_logits(images: np.ndarray) -> np.ndarray:
    """Class 0 looks only at the top-left quarter (its 'object'): the brightness contrast there."""
    quarter = images[:, : SIZE // 2, : SIZE // 2].mean(axis=-1)
    contrast = quarter.std(axis=(1, 2)) * 10
    return np.stack([contrast, -contrast], axis=1)


def noise(n, seed, low=0.3, high=0.7):
    return (np.random.default_rng(seed).random((n, SIZE, SIZE, 3)) * (high - low) + low).astype(np.float32)


def solid(colour, n=5):
    return np.broadcast_to(np.asarray(colour, np.float32), (n, SIZE, SIZE, 3)).copy()


def test_soft_disc_is_one_at_the_centre_zero_at_the_corners_and_symmetric():
    disc = scene.soft_disc(12)[..., 0]
    assert disc.shape == (12, 12)
    assert disc[5:7, 5:7].min() == 1.0 and disc[0, 0] == 0.0 and disc[-1, -1] == 0.0
    assert np.allclose(disc, disc.T) and np.allclose(disc, disc[::-1]) and np.all((0 <= disc) & (disc <= 1))
    # the weight falls from the centre outwards along a row
    assert np.all(np.diff(disc[6, 6:]) <= 0)


def test_paste_blob_blends_inside_the_box_and_leaves_the_rest():
    image = noise(1, 0)[0]
    content = np.ones((8, 8, 3), np.float32)
    weight = scene.soft_disc(8)
    out = scene.paste_blob(image, content, (3, 5, 8), weight)
    outside = np.ones((SIZE, SIZE), bool)
    outside[3:11, 5:13] = False
    assert np.array_equal(out[outside], image[outside])
    assert np.allclose(out[7, 9], 1.0)            # the disc's centre: all content
    assert np.allclose(out[3, 5], image[3, 5])    # the box's corner: all image
    expected = weight * content + (1 - weight) * image[3:11, 5:13]
    assert np.allclose(out[3:11, 5:13], expected)


def test_grid_boxes_lie_inside_the_image_and_cover_it():
    boxes = scene.grid_boxes(SIZE, SIZE, 8)
    assert np.all(boxes[:, 0] + 8 <= SIZE) and np.all(boxes[:, 1] + 8 <= SIZE) and np.all(boxes[:, 2] == 8)
    assert boxes[:, 0].min() == 0 and boxes[:, 1].min() == 0
    assert boxes[:, 0].max() >= SIZE - 8 - 2 and boxes[:, 1].max() >= SIZE - 8 - 2  # a step of 0.2 x 8 = 2 px


def test_blobs_go_where_blurring_does_not_move_the_class():
    """The class looks at the top-left quarter only: every blob avoids it."""
    images = noise(6, 1, 0.0, 1.0)
    side = scene.region_side(0.3, SIZE, SIZE)
    boxes = scene.grid_boxes(SIZE, SIZE, side)
    changes = scene.blur_changes(object_logits, images, 0, boxes)
    assert changes.shape == (6, len(boxes))
    chosen = scene.blob_places(np.random.default_rng(0), boxes, changes, draws=5)
    assert chosen.shape == (6, 5, 3)
    half = SIZE // 2
    overlaps = (chosen[..., 0] < half) & (chosen[..., 1] < half)
    assert not overlaps.any()
    # blurring inside the quarter does change the logit: the scan sees the object
    inside = (boxes[:, 0] + side <= half) & (boxes[:, 1] + side <= half)
    assert changes[:, inside].min() > changes[:, ~inside & ((boxes[:, 0] >= half) | (boxes[:, 1] >= half))].max()


def test_object_blobs_go_where_blurring_moves_the_class_most():
    """The object test's places: every blob overlaps the quarter the class looks at."""
    images = noise(6, 1, 0.0, 1.0)
    side = scene.region_side(0.7, SIZE, SIZE)
    boxes = scene.grid_boxes(SIZE, SIZE, side)
    changes = scene.blur_changes(object_logits, images, 0, boxes)
    chosen = scene.blob_places(np.random.default_rng(0), boxes, changes, draws=5, where=scene.OBJECT)
    assert chosen.shape == (6, 5, 3)
    half = SIZE // 2
    # the overlap of each chosen box with the quarter is the largest any box has
    overlap = (np.minimum(chosen[..., 0] + side, half) - chosen[..., 0]) * (np.minimum(chosen[..., 1] + side, half) - chosen[..., 1])
    best = max((min(t + side, half) - t) * (min(l + side, half) - l) for t, l, _ in boxes if t < half and l < half)
    assert overlap.min() > 0 and overlap.max() == best
    # and the background boxes of the same scan are others
    background = scene.blob_places(np.random.default_rng(0), boxes, changes, draws=5)
    assert not (background[..., None, :2] == chosen[:, None, :, :2]).all(axis=-1).any()


def striped_quarter(n, seed):
    """Noise images whose top-left quarter (the 'object') carries strong stripes."""
    images = noise(n, seed)
    images[:, : SIZE // 2 : 2, : SIZE // 2] = 0.95
    images[:, 1 : SIZE // 2 : 2, : SIZE // 2] = 0.05
    return images


def saturating_logits(images: np.ndarray) -> np.ndarray:
    """Class 0 reads the contrast of the top-left quarter, saturating at a striped body's."""
    quarter = images[:, : SIZE // 2, : SIZE // 2].mean(axis=-1)
    contrast = np.minimum(quarter.std(axis=(1, 2)), 0.4) * 10
    return np.stack([contrast, -contrast], axis=1)


def test_the_object_test_sees_a_cue_the_object_already_carries_and_the_scene_test_does_not():
    """The class reads only its striped object (and saturates on it): a blob of stripes beside the object
    moves nothing; in place of it, stripes keep the class where random content there takes it away."""
    images = striped_quarter(8, 2)
    stripes = striped_quarter(6, 8)[:, : SIZE // 2, : SIZE // 2].repeat(2, axis=1).repeat(2, axis=2)
    sources = {"striped": stripes, "random_a": noise(6, 3), "random_b": noise(6, 4), "random_c": noise(6, 5)}
    results = {}
    for where, fraction in ((scene.BACKGROUND, 0.4), (scene.OBJECT, 0.7)):
        config = scene.SceneConfig(fraction=fraction, draws=3, where=where)
        per_image = scene.scene_logits(saturating_logits, images, 0, sources, config, seed=1)
        results[where] = scene.scene_results(per_image, ["striped"], ["random_a", "random_b", "random_c"])[0]["striped"]
    assert abs(results[scene.BACKGROUND].effect) < 0.05
    assert results[scene.OBJECT].effect > 0.5 and results[scene.OBJECT].ci_low > 0.3


def test_a_red_concept_raises_the_red_class_against_grey_random_sets():
    images = noise(8, 2)
    sources = {"red": solid([1, 0, 0]), "random_a": noise(6, 3), "random_b": noise(6, 4), "random_c": noise(6, 5)}
    config = scene.SceneConfig(fraction=0.4, draws=3)
    per_image = scene.scene_logits(redness_logits, images, 0, sources, config, seed=1)
    assert set(per_image) == set(sources) and all(v.shape == (8,) for v in per_image.values())
    concepts, randoms = scene.scene_results(per_image, ["red"], ["random_a", "random_b", "random_c"])
    red = concepts["red"]
    assert red.effect > 0.3 and red.ci_low > 0 and red.p_value < 1e-3 and red.n_images == 8
    # each random set against the others: nothing to speak of
    assert set(randoms) == {"random_a", "random_b", "random_c"}
    assert all(abs(r.effect) < red.effect / 5 for r in randoms.values())
    # the same red blob lowers the other class by as much
    down = scene.scene_results(scene.scene_logits(redness_logits, images, 1, sources, config, seed=1), ["red"], ["random_a", "random_b"])[0]["red"]
    assert math.isclose(down.effect, -scene.scene_results(per_image, ["red"], ["random_a", "random_b"])[0]["red"].effect,
                        rel_tol=1e-5)


def test_every_source_is_pasted_in_the_same_places_and_its_windows_depend_on_its_name_only():
    images = noise(5, 6)
    config = scene.SceneConfig(fraction=0.3, draws=2)
    # two constant sources: any window of them is the same, so only the places could differ
    both = scene.scene_logits(redness_logits, images, 0, {"red": solid([1, 0, 0]), "also_red": solid([1, 0, 0])},
                              config, seed=3)
    assert np.array_equal(both["red"], both["also_red"])
    # nor on the order of the class images or of a source's images (content order, content seeds)
    mixed = noise(4, 7)
    shuffled = scene.scene_logits(redness_logits, images[::-1], 0, {"renamed": mixed[::-1]}, config, seed=3)
    plain = scene.scene_logits(redness_logits, images, 0, {"mixed": mixed}, config, seed=3)
    assert np.array_equal(shuffled["renamed"], plain["mixed"])
    # a source's answer does not depend on which other sources are tested alongside
    alone = scene.scene_logits(redness_logits, images, 0, {"mixed": noise(4, 7)}, config, seed=3)
    with_others = scene.scene_logits(redness_logits, images, 0, {"red": solid([1, 0, 0]), "mixed": noise(4, 7)},
                                     config, seed=3)
    assert np.array_equal(alone["mixed"], with_others["mixed"])
    again = scene.scene_logits(redness_logits, images, 0, {"mixed": noise(4, 7)}, config, seed=3)
    assert np.array_equal(alone["mixed"], again["mixed"])


def test_without_random_sets_there_is_nothing_to_compare_with():
    with pytest.raises(ValueError, match="random set"):
        scene.scene_results({"red": np.zeros(3)}, ["red"], [])
    concepts, randoms = scene.scene_results({"red": np.ones(3), "r": np.zeros(3)}, ["red"], ["r"])
    assert concepts["red"].effect == 1.0 and randoms == {}  # one random set: no interval of random effects


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="fraction"):
        scene.SceneConfig(fraction=1.0)
    with pytest.raises(ValueError, match="draws"):
        scene.SceneConfig(draws=0)
    with pytest.raises(ValueError, match="where"):
        scene.SceneConfig(where="beside")


# --------------------------------------------------------------------------- the two tests in one verdict


def scene_reading(effect, p_adjusted=0.001, bounds=None, min_effect=0.5):
    return Reading(effect, p_adjusted, bounds, min_effect)


def test_the_scene_test_confirms_and_either_test_contradicts():
    agrees, silent = Reading(0.4, 0.001), Reading(0.01, 0.6)
    assert checked_verdict("lowers class", 0.05, silent, scene_reading(-0.8)) == LOWERS_CONFIRMED
    assert checked_verdict("lowers class", 0.05, None, scene_reading(-0.8)) == LOWERS_CONFIRMED
    assert checked_verdict("raises class", 0.05, agrees, scene_reading(0.9)) == RAISES_CONFIRMED
    # the insertion test agreeing is not enough while the scene test runs: it only contradicts
    assert checked_verdict("raises class", 0.05, agrees, scene_reading(0.1)) == RAISES_UNCONFIRMED
    assert checked_verdict("raises class", 0.05, Reading(-0.4, 0.001), scene_reading(0.9)) == CONTRADICTED
    # with the scene test off (no reading) the insertion test decides, as before
    assert checked_verdict("raises class", 0.05, agrees, None) == RAISES_CONFIRMED
    # the scene test against the finding, at least min_effect: contradicted
    assert checked_verdict("raises class", 0.05, agrees, scene_reading(-0.7)) == CONTRADICTED
    # under min_effect the scene test says nothing either way
    assert checked_verdict("raises class", 0.05, silent, scene_reading(-0.3)) == RAISES_UNCONFIRMED
    assert checked_verdict("lowers class", 0.05, silent, scene_reading(-0.3)) == LOWERS_UNCONFIRMED
    # not significant, or not beyond its random sets: no confirmation
    assert checked_verdict("lowers class", 0.05, silent, scene_reading(-0.8, 0.2)) == LOWERS_UNCONFIRMED
    assert checked_verdict("lowers class", 0.05, silent, scene_reading(-0.8, bounds=(-0.9, 0.1))) == LOWERS_UNCONFIRMED
    assert checked_verdict("raises class", 0.05, silent, scene_reading(0.1)) == RAISES_UNCONFIRMED


def test_apply_checks_writes_both_tests_and_who_confirmed():
    test = {"effect": -0.9, "ci_low": -1.2, "ci_high": -0.6, "p": 0.0001}
    rows = [{"target": "a", "concept": "blue", "verdict": "lowers class"},
            {"target": "a", "concept": "red", "verdict": "raises class"},
            {"target": "b", "concept": "blue", "verdict": "lowers class"}]
    checks = Checks.of({("a", "blue"): {**test, "effect": -0.3}, ("a", "red"): {**test, "effect": 0.3},
                        ("b", "blue"): {**test, "effect": 0.01, "p": 0.9}}, "holm",
                       scene={("a", "blue"): test, ("a", "red"): {**test, "effect": 0.2},
                              ("b", "blue"): test}, scene_bounds={"a": (-0.2, 0.2)}, min_effect=0.5)
    apply_checks(rows, checks, 0.05)
    assert rows[0]["confirmed_by"] == "scene" and rows[0]["scene_effect"] == -0.9 and rows[0]["insertion_effect"] == -0.3
    assert (rows[0]["scene_random_low"], rows[0]["scene_random_high"]) == (-0.2, 0.2)
    # the insertion test agrees, the scene test's 0.2 is under min_effect: not confirmed
    assert rows[1]["confirmed_by"] == "" and rows[1]["verdict"] == RAISES_UNCONFIRMED
    assert rows[2]["confirmed_by"] == "scene" and math.isnan(rows[2]["scene_random_low"])
    assert [r["confirmed"] for r in rows] == [True, False, True]
    assert math.isclose(rows[0]["scene_p_adjusted"], 0.0003)  # Holm over the three scene tests
    # the scene test's interval [-1.2, -0.6] lies wholly beyond -0.5: the size is certain too
    assert [r["size_certain"] for r in rows] == [True, False, True]


def test_a_confirmed_finding_is_size_certain_only_when_its_whole_interval_clears_the_floor():
    from tcavcore.confirmation import interval_beyond, size_certain

    assert size_certain(RAISES_CONFIRMED, {"ci_low": 0.6, "ci_high": 1.0}, 0.5)
    assert not size_certain(RAISES_CONFIRMED, {"ci_low": 0.4, "ci_high": 1.0}, 0.5)  # estimate may pass, interval not
    assert size_certain(LOWERS_CONFIRMED, {"ci_low": -1.0, "ci_high": -0.55}, 0.5)
    assert not size_certain(LOWERS_CONFIRMED, {"ci_low": -1.0, "ci_high": -0.45}, 0.5)
    assert not size_certain(LOWERS_CONFIRMED, {"ci_low": 0.6, "ci_high": 1.0}, 0.5)  # beyond, but the other way
    assert not size_certain(RAISES_UNCONFIRMED, {"ci_low": 0.6, "ci_high": 1.0}, 0.5)  # only confirmed findings
    assert not size_certain(CONTRADICTED, {"ci_low": 0.6, "ci_high": 1.0}, 0.5)
    assert not size_certain(RAISES_CONFIRMED, None, 0.5)
    assert not interval_beyond({"effect": 0.9}, 1, 0.5)  # no interval: the size is not shown
    assert not interval_beyond({"ci_low": math.nan, "ci_high": 1.0}, 1, 0.5)


def test_a_confirmation_by_the_insertion_test_is_never_size_certain():
    """With the scene test off the insertion test confirms; its effects are not on the truth's scale."""
    test = {"effect": 0.9, "ci_low": 0.7, "ci_high": 1.1, "p": 0.0001}
    rows = [{"target": "a", "concept": "red", "verdict": "raises class"}]
    apply_checks(rows, Checks.of({("a", "red"): test}, "holm"), 0.05)
    assert rows[0]["confirmed_by"] == "insertion" and rows[0]["size_certain"] is False


def object_reading(effect, ci_low, ci_high, p_adjusted=0.001, bounds=None, min_effect=0.5):
    return Reading(effect, p_adjusted, bounds, min_effect, (ci_low, ci_high))


def test_the_object_test_confirms_only_a_raise_whose_whole_interval_clears_the_floor():
    silent = Reading(0.01, 0.6)
    quiet_scene = scene_reading(0.1, p_adjusted=0.5)
    strong = object_reading(1.4, 0.9, 1.9)
    assert checked_with("raises class", 0.05, silent, quiet_scene, strong) == (RAISES_CONFIRMED, "object")
    # its estimate beyond the floor is not enough: its interval must be
    assert checked_verdict("raises class", 0.05, silent, quiet_scene, object_reading(0.8, 0.4, 1.2)) == RAISES_UNCONFIRMED
    # not significant, or within what random sets do there: nothing
    assert checked_verdict("raises class", 0.05, silent, quiet_scene,
                           object_reading(1.4, 0.9, 1.9, p_adjusted=0.2)) == RAISES_UNCONFIRMED
    assert checked_verdict("raises class", 0.05, silent, quiet_scene,
                           object_reading(1.4, 0.9, 1.9, bounds=(-1.0, 1.5))) == RAISES_UNCONFIRMED
    # never a lower, and never a contradiction: any blob on the object takes the object away
    assert checked_verdict("lowers class", 0.05, silent, quiet_scene, object_reading(-1.4, -1.9, -0.9)) \
        == LOWERS_UNCONFIRMED
    assert checked_verdict("raises class", 0.05, silent, quiet_scene, object_reading(-1.4, -1.9, -0.9)) \
        == RAISES_UNCONFIRMED
    # the scene test confirming comes first; the scene or insertion test against it still contradicts
    assert checked_with("raises class", 0.05, silent, scene_reading(0.9), strong) == (RAISES_CONFIRMED, "scene")
    assert checked_verdict("raises class", 0.05, silent, scene_reading(-0.9), strong) == CONTRADICTED
    assert checked_verdict("raises class", 0.05, Reading(-0.4, 0.001), quiet_scene, strong) == CONTRADICTED
    # only beside the scene test (with insertion.scene off the insertion test decides alone)
    assert checked_verdict("raises class", 0.05, silent, None, strong) == RAISES_UNCONFIRMED


def test_apply_checks_writes_the_object_test_and_its_confirmations_are_not_size_certain():
    quiet = {"effect": 0.1, "ci_low": -0.2, "ci_high": 0.4, "p": 0.4}
    strong = {"effect": 1.4, "ci_low": 0.9, "ci_high": 1.9, "p": 0.0001}
    rows = [{"target": "a", "concept": "striped", "verdict": "raises class"},
            {"target": "a", "concept": "dotted", "verdict": "lowers class"}]
    checks = Checks.of({("a", "striped"): quiet, ("a", "dotted"): quiet}, "holm",
                       scene={("a", "striped"): quiet, ("a", "dotted"): quiet}, min_effect=0.5,
                       object={("a", "striped"): strong, ("a", "dotted"): {**strong, "effect": -1.4, "ci_low": -1.9,
                                                                           "ci_high": -0.9}},
                       object_bounds={"a": (-0.3, 0.3)})
    apply_checks(rows, checks, 0.05)
    assert rows[0]["verdict"] == RAISES_CONFIRMED and rows[0]["confirmed_by"] == "object"
    assert rows[0]["size_certain"] is False  # size certain is the scene test's, which did not confirm
    assert (rows[0]["object_effect"], rows[0]["object_ci_low"], rows[0]["object_random_high"]) == (1.4, 0.9, 0.3)
    assert math.isclose(rows[0]["object_p_adjusted"], 0.0002)  # Holm over the object family
    assert rows[1]["verdict"] == LOWERS_UNCONFIRMED and rows[1]["confirmed"] is False
