"""The insertion test on a toy model whose class logit is known in closed form."""

import math

import numpy as np
import pytest

from tcavcore import insertion as ins
from tcavcore.confirmation import CONTRADICTED, LOWERS_CONFIRMED, LOWERS_UNCONFIRMED, RAISES_CONFIRMED, \
    RAISES_UNCONFIRMED, Checks, Reading, apply_checks, beyond_random, checked_verdict, random_interval, random_intervals


def verdict(tcav, effect, p_adjusted, bounds=None):
    """The checked verdict with the insertion test alone."""
    return checked_verdict(tcav, 0.05, Reading(effect, p_adjusted, bounds))

SIZE = 16


def redness_logits(images: np.ndarray) -> np.ndarray:
    """Class 0's logit is the mean redness (R - (G+B)/2); class 1's its negative."""
    red = (images[..., 0] - 0.5 * (images[..., 1] + images[..., 2])).mean(axis=(1, 2))
    return np.stack([red, -red], axis=1) * 10


def solid(colour, n=6):
    return np.broadcast_to(np.asarray(colour, np.float32), (n, SIZE, SIZE, 3)).copy()


@pytest.fixture
def class_images():
    rng = np.random.default_rng(0)
    return (rng.random((12, SIZE, SIZE, 3)) * 0.6 + 0.2).astype(np.float32)


@pytest.mark.parametrize("control", ins.CONTROLS)
def test_a_red_concept_raises_the_red_class_and_lowers_the_other(class_images, control):
    config = ins.InsertionConfig(control=control, fraction=0.5, draws=3)
    randoms = np.random.default_rng(1).random((10, SIZE, SIZE, 3)).astype(np.float32)
    up = ins.insertion_test(redness_logits, class_images, 0, solid([1, 0, 0]), config, seed=1, class_name="a",
                            concept="red", random_images=randoms)
    down = ins.insertion_test(redness_logits, class_images, 1, solid([1, 0, 0]), config, seed=1, class_name="b",
                              concept="red", random_images=randoms)
    assert up.effect > 0.5 and up.ci_low > 0 and up.p_value < 1e-3
    assert down.effect < -0.5 and down.ci_high < 0
    assert up.n_images == 12 and up.draws == 3


def test_a_concept_like_the_control_has_no_effect(class_images):
    """Pasting a neutral grey against a mean-colour fill of grey-ish regions: close to nothing."""
    grey = solid([0.5, 0.5, 0.5])
    config = ins.InsertionConfig(control="mean", fraction=0.5, draws=4)
    result = ins.insertion_test(redness_logits, class_images, 0, grey, config, seed=3, class_name="a", concept="grey")
    assert abs(result.effect) < 0.05
    assert result.ci_low < 0 < result.ci_high or result.p_value > 0.01


def test_concept_and_control_share_the_region_and_the_rest_of_the_image(class_images):
    config = ins.InsertionConfig(control="blur", fraction=0.25, draws=2)
    rng, control_rng = ins.draw_rng(0, "x"), ins.draw_rng(0, "y")
    with_concept, with_control = ins.insertion_batches(class_images, solid([1, 0, 0]), config, rng, control_rng)
    assert with_concept.shape == (24, SIZE, SIZE, 3)
    side = round(0.25 * SIZE)
    for a, b, original in zip(with_concept, with_control, np.repeat(class_images, 2, axis=0)):
        changed = np.any(a != original, axis=-1) | np.any(b != original, axis=-1)
        rows, cols = np.nonzero(changed)
        assert len(rows) > 0
        # everything either image changed lies in one side x side square: the shared region
        assert rows.max() - rows.min() < side and cols.max() - cols.min() < side


def test_draws_are_seeded_and_the_same_for_every_control(class_images):
    boxes = []
    for control in ("blur", "random"):
        config = ins.InsertionConfig(control=control, fraction=0.3, draws=2)
        randoms = np.random.default_rng(1).random((4, SIZE, SIZE, 3)).astype(np.float32)
        concept, _ = ins.insertion_batches(class_images, solid([0, 1, 0]), config, ins.draw_rng(5, "c"),
                                           ins.draw_rng(5, control), randoms)
        boxes.append(concept)
    assert np.array_equal(boxes[0], boxes[1])


def stripes(n=3, period=4):
    """Vertical stripes ``period`` pixels wide (white, black), over the whole image."""
    column = ((np.arange(SIZE) // (period // 2)) % 2).astype(np.float32)
    return np.broadcast_to(column[None, :, None], (n, SIZE, SIZE, 3)).copy()


def test_crop_pastes_a_window_of_the_concept_at_its_own_scale(class_images):
    """The pasted pixels are a window of one concept image, not the image shrunk: stripes keep their width."""
    concept = stripes()
    config = ins.InsertionConfig(control="mean", fraction=0.5, draws=2, fit="crop")
    with_concept, _ = ins.insertion_batches(class_images, concept, config, ins.draw_rng(2, "c"), ins.draw_rng(2, "m"))
    side = SIZE // 2
    windows = {concept[0, t:t + side, l:l + side].tobytes() for t in range(SIZE - side + 1)
               for l in range(SIZE - side + 1)}
    scaled = ins.insertion_batches(class_images, concept, ins.InsertionConfig(control="mean", fraction=0.5, draws=2),
                                   ins.draw_rng(2, "c"), ins.draw_rng(2, "m"))[0]
    for cropped, shrunk, original in zip(with_concept, scaled, np.repeat(class_images, 2, axis=0)):
        rows, cols = np.nonzero(np.any(cropped != original, axis=-1))
        top, left = rows.min(), cols.min()
        region = cropped[top:top + side, left:left + side]
        assert region.tobytes() in windows
        # a stripe is 2 pixels wide in the window; shrunk to half, it is 1
        assert np.abs(np.diff(region[0, :, 0])).sum() in (side // 2 - 1, side // 2)
        assert np.abs(np.diff(shrunk[top, left:left + side, 0])).sum() > side // 2


def test_crop_brings_an_image_of_another_size_to_the_carrier_first():
    """Stripes 4 px wide on a 2x image are 2 px wide at the carrier's size: a window holds 3 or more edges."""
    column = ((np.arange(2 * SIZE) // 4) % 2).astype(np.float32)
    big = np.broadcast_to(column[None, :, None], (2 * SIZE, 2 * SIZE, 3)).copy()
    for seed in range(5):
        window = ins.crop_to(big, SIZE // 2, (SIZE, SIZE), np.random.default_rng(seed))
        assert window.shape == (SIZE // 2, SIZE // 2, 3)
        edges = np.count_nonzero(np.diff(window[0, :, 0] > 0.5))
        assert edges >= 3  # a window of the 2x image itself would hold at most 2


def test_region_boxes_lie_inside_the_image():
    boxes = ins.region_boxes(np.random.default_rng(0), 200, 32, 32, 0.3)
    assert boxes[:, 2].min() == boxes[:, 2].max() == 10
    assert (boxes[:, :2] >= 0).all() and (boxes[:, :2] + 10 <= 32).all()
    centre = ins.region_boxes(np.random.default_rng(0), 3, 32, 32, 0.5, "center")
    assert (centre == [8, 8, 16]).all()


def test_box_blur_keeps_a_constant_region_and_smooths_an_edge():
    flat = np.full((8, 8, 3), 0.3, np.float32)
    assert np.allclose(ins.box_blur(flat, 2), 0.3)
    edge = np.zeros((8, 8, 3), np.float32)
    edge[:, 4:] = 1
    blurred = ins.box_blur(edge, 2)
    assert 0 < blurred[0, 3, 0] < 1 and blurred[0, 0, 0] == 0


def test_paired_effect_counts_images_not_draws():
    differences = np.array([1.0, 3.0, 2.0, 2.0, 1.5, 2.5])  # 3 images x 2 draws: per-image means all 2
    result = ins.paired_effect(differences, 2)
    assert result.n_images == 3 and result.effect == 2.0 and result.p_value == 0.0
    noisy = ins.paired_effect(np.array([1.0, -1.0, 0.5, -0.5]), 1)
    assert noisy.ci_low < 0 < noisy.ci_high and noisy.p_value > 0.5


def test_bad_config_is_refused():
    with pytest.raises(ValueError, match="control"):
        ins.InsertionConfig(control="paint")
    with pytest.raises(ValueError, match="fraction"):
        ins.InsertionConfig(fraction=0)
    with pytest.raises(ValueError, match="fit"):
        ins.InsertionConfig(fit="stretch")


def test_verdicts_follow_both_tests():
    assert verdict("raises class", 0.4, 0.001) == RAISES_CONFIRMED
    assert verdict("raises class", 0.4, 0.2) == RAISES_UNCONFIRMED
    assert verdict("raises class", -0.4, 0.001) == CONTRADICTED
    assert verdict("lowers class", -0.4, 0.001) == LOWERS_CONFIRMED
    assert verdict("not significant", 2.0, 0.0) == "not significant"
    assert checked_verdict("raises class", 0.05) == RAISES_UNCONFIRMED  # no test at all: nothing confirms it
    rows = [{"target": "a", "concept": "red", "verdict": "raises class"},
            {"target": "a", "concept": "own", "verdict": "lowers class"}]
    apply_checks(rows, Checks.of({("a", "red"): {"effect": 0.3, "ci_low": 0.1, "ci_high": 0.5, "p": 0.001}}, "holm"),
                 0.05)
    assert rows[0]["confirmed"] is True and rows[0]["verdict"] == RAISES_CONFIRMED
    assert rows[0]["confirmed_by"] == "insertion" and math.isnan(rows[0]["scene_effect"])
    assert rows[1]["confirmed"] is False and rows[1]["verdict"] == "lowers class" and math.isnan(rows[1]["insertion_p"])
    assert rows[1]["confirmed_by"] == ""


def test_the_random_interval_is_a_t_prediction_interval_of_one_more_set():
    # effects 0.1, 0.2, 0.3: mean 0.2, sd 0.1; t(0.975, 2) = 4.3027; sqrt(1 + 1/3) = 1.1547
    low, high = random_interval([0.1, 0.2, 0.3], 0.95)
    assert math.isclose(high - 0.2, 4.302653 * 0.1 * math.sqrt(4 / 3), rel_tol=1e-5)
    assert math.isclose(0.2 - low, high - 0.2)
    narrower = random_interval([0.1, 0.2, 0.3], 0.8)
    assert low < narrower[0] < narrower[1] < high
    # too few finite effects: no interval, and then no comparison (every effect is beyond it)
    assert all(math.isnan(b) for b in random_interval([0.4, math.nan], 0.95))
    assert beyond_random(0.01, 1, random_interval([0.4], 0.95)) and beyond_random(0.01, 1, None)


def test_random_intervals_are_per_class():
    tests = {("a", "random500_5"): {"effect": 0.1}, ("a", "random500_6"): {"effect": 0.3},
             ("b", "random500_5"): {"effect": -1.0}, ("b", "random500_6"): {"effect": -1.2}}
    bounds = random_intervals(tests, 0.95)
    assert set(bounds) == {"a", "b"}
    assert math.isclose(sum(bounds["a"]) / 2, 0.2) and math.isclose(sum(bounds["b"]) / 2, -1.1)


def test_a_confirmation_needs_the_effect_beyond_what_random_sets_do():
    bounds = (-0.1, 0.5)
    # significant and the right way, but no larger than a random set's effect: not confirmed
    assert verdict("raises class", 0.4, 0.001, bounds) == RAISES_UNCONFIRMED
    assert verdict("raises class", 0.6, 0.001, bounds) == RAISES_CONFIRMED
    # a lowering must lie below the interval's low end
    assert verdict("lowers class", -0.05, 0.001, bounds) == LOWERS_UNCONFIRMED
    assert verdict("lowers class", -0.3, 0.001, bounds) == LOWERS_CONFIRMED
    # the other way round stays contradicted, inside the interval or not
    assert verdict("raises class", -0.05, 0.001, bounds) == CONTRADICTED
    # NaN bounds (too few random sets): the insertion test alone decides
    assert verdict("raises class", 0.4, 0.001, (math.nan, math.nan)) == RAISES_CONFIRMED


def test_apply_checks_writes_the_class_interval_and_uses_it():
    rows = [{"target": "a", "concept": "red", "verdict": "raises class"},
            {"target": "b", "concept": "red", "verdict": "raises class"}]
    test = {"effect": 0.3, "ci_low": 0.1, "ci_high": 0.5, "p": 0.001}
    apply_checks(rows, Checks.of({("a", "red"): test, ("b", "red"): test}, "holm",
                                 insertion_bounds={"a": (-0.2, 0.4)}), 0.05)
    assert (rows[0]["insertion_random_low"], rows[0]["insertion_random_high"]) == (-0.2, 0.4)
    assert rows[0]["verdict"] == RAISES_UNCONFIRMED and rows[0]["confirmed"] is False
    # a class without random-set tests has NaN bounds and is judged on the insertion test alone
    assert math.isnan(rows[1]["insertion_random_low"]) and rows[1]["confirmed"] is True
