"""The insertion stage's two tests on a toy model: names never change an answer, and the tables
carry what the report reads."""

import numpy as np

from pipeline.insertion import OBJECT_CARRIER, SCENE_CARRIER, SCENE_CONTROL, run_insertion, run_random_insertion, \
    run_scene
from tcavcore.insertion import InsertionConfig
from tcavcore.scene import OBJECT, SceneConfig

SIZE = 16


def redness_logits(images: np.ndarray) -> np.ndarray:
    red = (images[..., 0] - 0.5 * (images[..., 1] + images[..., 2])).mean(axis=(1, 2)) * 10
    return np.stack([red, -red], axis=1)


def label_to_id(name: str) -> int:
    return {"fire": 0, "water": 1}[name]


def noise(n, seed):
    return (np.random.default_rng(seed).random((n, SIZE, SIZE, 3)) * 0.4 + 0.3).astype(np.float32)


def sets(concept_name="red", reverse=False):
    order = slice(None, None, -1) if reverse else slice(None)
    red = noise(6, 1)
    red[..., 0] = 0.95
    classes = {"fire": noise(5, 2)[order], "water": noise(5, 3)[order]}
    concepts = {concept_name: red[order], "grey": noise(6, 4)[order]}
    randoms = {f"random500_{i}": noise(6, 10 + i)[order] for i in range(4)}
    return classes, concepts, randoms


def effects(rows):
    return {(r["target"], r["concept"]): (r["effect"], r["p"]) for r in rows}


def test_a_renamed_and_reordered_concept_gets_the_same_answer_from_both_tests():
    insertion = InsertionConfig(control="elsewhere", carrier="random", fraction=0.3, fit="crop", draws=2)
    scene = SceneConfig(fraction=0.4, draws=2)
    first = sets("red")
    second = sets("crimson", reverse=True)
    a = effects(run_insertion(redness_logits, label_to_id, *first, insertion, seed=5))
    b = effects(run_insertion(redness_logits, label_to_id, *second, insertion, seed=5))
    assert a[("fire", "red")] == b[("fire", "crimson")] and a[("water", "grey")] == b[("water", "grey")]
    scene_a, random_a = run_scene(redness_logits, label_to_id, *first, scene, seed=5)
    scene_b, random_b = run_scene(redness_logits, label_to_id, *second, scene, seed=5)
    assert effects(scene_a)[("fire", "red")] == effects(scene_b)[("fire", "crimson")]
    assert effects(random_a) == effects(random_b)
    # and the red concept does what the toy model says: up for fire, down for water, in both tests
    assert a[("fire", "red")][0] > 0 > a[("water", "red")][0]
    assert effects(scene_a)[("fire", "red")][0] > 0 > effects(scene_a)[("water", "red")][0]
    assert run_random_insertion(redness_logits, label_to_id, first[0], first[2], insertion, seed=5)
    # the object test too
    on_object = SceneConfig(fraction=0.7, draws=2, where=OBJECT)
    object_a, object_random_a = run_scene(redness_logits, label_to_id, *first, on_object, seed=5)
    object_b, object_random_b = run_scene(redness_logits, label_to_id, *second, on_object, seed=5)
    assert effects(object_a)[("fire", "red")] == effects(object_b)[("fire", "crimson")]
    assert effects(object_random_a) == effects(object_random_b)
    assert effects(object_a)[("fire", "red")][0] > 0 > effects(object_a)[("water", "red")][0]
    assert all(r["carrier"] == OBJECT_CARRIER for r in object_a + object_random_a)
    # its own draws: not the scene test's rows under another name
    assert effects(object_a)[("fire", "red")] != effects(scene_a)[("fire", "red")]


def test_scene_rows_name_their_comparison_and_cover_every_random_set():
    classes, concepts, randoms = sets()
    rows, random_rows = run_scene(redness_logits, label_to_id, classes, concepts, randoms, SceneConfig(draws=3), seed=1)
    assert {(r["target"], r["concept"]) for r in rows} == {(c, k) for c in classes for k in concepts}
    assert {(r["target"], r["concept"]) for r in random_rows} == {(c, k) for c in classes for k in randoms}
    assert all(r["control"] == SCENE_CONTROL and r["carrier"] == SCENE_CARRIER and r["draws"] == 3
               and r["n_images"] == 5 for r in rows + random_rows)
    # a random set against the others moves fire far less than the red concept against them all
    red = next(r["effect"] for r in rows if (r["target"], r["concept"]) == ("fire", "red"))
    assert all(abs(r["effect"]) < red / 4 for r in random_rows if r["target"] == "fire")


def test_the_log_gives_each_class_the_interval_a_concept_must_clear(caplog):
    import logging

    from pipeline.insertion import log_random_intervals
    from tcavcore.confirmation import random_interval

    classes, concepts, randoms = sets()
    _, random_rows = run_scene(redness_logits, label_to_id, classes, concepts, randoms, SceneConfig(draws=2), seed=1)
    with caplog.at_level(logging.INFO, logger="pipeline.insertion"):
        log_random_intervals(random_rows, 0.95, "scene ", "random sets")
    low, high = random_interval([r["effect"] for r in random_rows if r["target"] == "water"], 0.95)
    line = next(m for m in caplog.messages if "scene water" in m)
    assert f"{low:+.3f} to {high:+.3f}" in line and "over 4 random sets" in line
    assert sum("a random set's effect" in m for m in caplog.messages) == len(classes)
