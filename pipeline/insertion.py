"""Stage ``insertion``: the concept insertion test of every (class, concept) of the run.

For each class image of ``tcav.target_split`` and each seeded draw, a concept image is
scaled into a region and the class logit is compared with the same image with the control
(``insertion.control``) in the same region (``tcavcore/insertion.py``). One row per
(class, concept) to ``results/tcav/insertion.csv``: the mean paired difference, its
interval and its p-value. The report stage adjusts the p-values over the run's (class,
concept) family with ``tcav.correction`` and marks each TCAV finding confirmed, not
confirmed or contradicted (so a change of correction or level recomputes nothing here).
The same test with each held-out random set (those not used as carriers) as the concept
goes to ``results/tcav/insertion_random.csv``: what random content does, which a
confirmation must exceed (``insertion.random_check``).

The **scene test** (``tcavcore/scene.py``, ``insertion.scene``): a blob of each concept on the
background of the class's own images against blobs of the random sets in the same places, to
``results/tcav/scene.csv``; each random set against the others to ``scene_random.csv``.
The **object test** (``insertion.object``): the same with a larger blob on the most salient
places of each class image (on the object), to ``object.csv`` and ``object_random.csv``.
Forward passes only: a separate stage so that changing its params refits no CAV.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np

from common.errors import PipelineError, stage_main
from common.files import atomic_write_text
from common.params import Params, load_params
from tcavcore.insertion_records import insertion_csv

log = logging.getLogger(__name__)

#: How the scene and object tests' rows name their comparison and where the blobs go (insertion.csv's columns).
SCENE_CONTROL, SCENE_CARRIER, OBJECT_CARRIER = "random sets", "class background", "class object"


def insertion_config(params: Params):
    """The test's settings from ``params.insertion`` (and the report's confidence level)."""
    from tcavcore.insertion import InsertionConfig

    p = params.insertion
    return InsertionConfig(control=p.control, fraction=p.region, placement=p.placement, draws=p.draws,
                           confidence=params.tcav.confidence, carrier=p.carrier, fit=p.fit)


def split_random_sets(randoms: dict[str, np.ndarray], carrier: str, count: int):
    """Random images for the controls and, for the ``random``/``both`` carriers, ``count`` carrier images.

    Carriers come from the first half of the random sets (name order), controls from the
    rest, so that no image is pasted onto itself; with the ``class`` carrier every set is a
    control.
    """
    names = sorted(randoms)
    if carrier == "class" or len(names) < 2:
        return (np.concatenate([randoms[n] for n in names]) if names else None), None
    half = len(names) // 2
    carriers = np.concatenate([randoms[n] for n in names[:half]])[:count]
    return np.concatenate([randoms[n] for n in names[half:]]), carriers


def run_insertion(logits, label_to_id, classes: dict[str, np.ndarray], concepts: dict[str, np.ndarray],
                  randoms: dict[str, np.ndarray], config, *, seed: int) -> list[dict]:
    """Every (class, concept) test of the run (p-values as tested; the report adjusts them)."""
    return _insertion_rows(logits, label_to_id, classes, concepts, randoms, config, seed)


def held_out_random_sets(randoms: dict[str, np.ndarray], carrier: str) -> dict[str, np.ndarray]:
    """The random sets tested as concepts, for :func:`run_random_insertion`: those not used as carriers."""
    names = sorted(randoms)
    if carrier == "class" or len(names) < 2:
        return {name: randoms[name] for name in names}
    return {name: randoms[name] for name in names[len(names) // 2:]}


def run_random_insertion(logits, label_to_id, classes: dict[str, np.ndarray], randoms: dict[str, np.ndarray],
                         config, *, seed: int) -> list[dict]:
    """The same test with each held-out random set as the concept: what random content does to each class.

    Its column ``concept`` names the random set. The report compares each concept's effect
    with these (:func:`tcavcore.confirmation.random_interval`).
    """
    return _insertion_rows(logits, label_to_id, classes, held_out_random_sets(randoms, config.carrier), randoms,
                           config, seed)


def _insertion_rows(logits, label_to_id, classes, tested, randoms, config, seed) -> list[dict]:
    from tcavcore.insertion import content_name, in_content_order, insertion_test

    # every set in content order and every draw seeded by content: the same answer whatever the
    # folders and files are called
    classes, tested, randoms = ({name: in_content_order(images) for name, images in sets.items()}
                                for sets in (classes, tested, randoms))
    random_pool, carriers = split_random_sets(randoms, config.carrier, max(len(v) for v in classes.values()))
    rows = []
    for class_name, class_images in classes.items():
        for concept, concept_images in tested.items():
            result = insertion_test(logits, class_images, label_to_id(class_name), concept_images, config,
                                    seed=seed, class_name=content_name(class_images), concept=content_name(concept_images),
                                    random_images=random_pool, carrier_images=carriers)
            rows.append({"target": class_name, "concept": concept, "control": config.control,
                         "carrier": config.carrier,
                         "effect": result.effect, "ci_low": result.ci_low, "ci_high": result.ci_high,
                         "p": result.p_value, "n_images": result.n_images, "draws": result.draws})
    return rows


def scene_config(params: Params, on_object: bool = False):
    """The scene test's settings (``on_object``: the object test's) from ``params.insertion`` (and the report's
    confidence level)."""
    from tcavcore.scene import BACKGROUND, OBJECT, SceneConfig

    p = params.insertion
    return SceneConfig(fraction=p.object_region if on_object else p.scene_region, draws=p.scene_draws,
                       confidence=params.tcav.confidence, where=OBJECT if on_object else BACKGROUND)


def run_scene(logits, label_to_id, classes: dict[str, np.ndarray], concepts: dict[str, np.ndarray],
              randoms: dict[str, np.ndarray], config, *, seed: int) -> tuple[list[dict], list[dict]]:
    """The scene (or object, as ``config.where`` says) test of every (class, concept), and of every random set
    against the others.

    Two lists of rows in ``insertion.csv``'s columns (p-values as tested; the report adjusts
    the concepts' over the run's family). No random-set rows with fewer than two random sets.
    """
    from tcavcore.scene import BACKGROUND, scene_logits, scene_results

    carrier = SCENE_CARRIER if config.where == BACKGROUND else OBJECT_CARRIER

    concept_rows, random_rows = [], []
    for class_name, class_images in classes.items():
        per_image = scene_logits(logits, class_images, label_to_id(class_name), {**concepts, **randoms}, config,
                                 seed=seed)
        tested, held = scene_results(per_image, list(concepts), sorted(randoms), config.confidence)
        for rows, results in ((concept_rows, tested), (random_rows, held)):
            rows.extend({"target": class_name, "concept": name, "control": SCENE_CONTROL, "carrier": carrier,
                         "effect": r.effect, "ci_low": r.ci_low, "ci_high": r.ci_high, "p": r.p_value,
                         "n_images": r.n_images, "draws": config.draws} for name, r in results.items())
    return concept_rows, random_rows


def log_random_intervals(random_rows: list[dict], confidence: float, prefix: str, what: str) -> None:
    """Log, per class, the prediction interval of a random set's effect (:func:`tcavcore.confirmation.random_intervals`)."""
    from tcavcore.confirmation import random_intervals

    tests = {(row["target"], row["concept"]): row for row in random_rows}
    for target, (low, high) in random_intervals(tests, confidence).items():
        log.info("  %s%-10s a random set's effect: %+.3f to %+.3f (%g%% prediction interval over %d %s)", prefix,
                 target, low, high, 100 * confidence, sum(1 for key in tests if key[0] == target), what)


@stage_main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.insertion", description=__doc__.split("\n\n")[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--model-dir", default="models/frozen")
    parser.add_argument("--processed", default="datasets/processed")
    parser.add_argument("--concepts", default="concepts")
    parser.add_argument("--out", default="results/tcav/insertion.csv")
    parser.add_argument("--random-out", default="results/tcav/insertion_random.csv",
                        help="the same test with each held-out random set as the concept")
    parser.add_argument("--scene-out", default="results/tcav/scene.csv", help="the scene test of every (class, concept)")
    parser.add_argument("--scene-random-out", default="results/tcav/scene_random.csv",
                        help="the scene test of each random set against the others")
    parser.add_argument("--object-out", default="results/tcav/object.csv", help="the object test of every (class, concept)")
    parser.add_argument("--object-random-out", default="results/tcav/object_random.csv",
                        help="the object test of each random set against the others")
    args = parser.parse_args(argv)

    params = load_params(args.params)
    from images.overlap import check_image_sets
    from images.sets import load_image_sets_with_files

    (classes, concepts, randoms), files = load_image_sets_with_files(params, Path(args.processed), Path(args.concepts))
    check_image_sets(params, files, args.params)  # the same leakage check as the tcav stage, before any work
    from wrappers import FrozenGraphWrapper, ModelLoadError

    try:
        model = FrozenGraphWrapper(args.model_dir, [])
    except ModelLoadError as error:
        raise PipelineError(str(error)) from None
    config = insertion_config(params)
    log.info("insertion: %d classes x %d concepts, %d draws per image, region %.2f of the side (%s, %s), control %s",
             len(classes), len(concepts), config.draws, config.fraction, config.placement, config.fit, config.control)
    rows = run_insertion(model.logits_batched, model.label_to_id, classes, concepts, randoms, config,
                         seed=params.seed)
    random_rows = run_random_insertion(model.logits_batched, model.label_to_id, classes, randoms, config,
                                       seed=params.seed)
    scene_rows, scene_random_rows = [], []
    if params.insertion.scene:
        scene = scene_config(params)
        log.info("scene test: a blob of %.2f of the side on the background of each class image, %d draws, against "
                 "the %d random sets", scene.fraction, scene.draws, len(randoms))
        scene_rows, scene_random_rows = run_scene(model.logits_batched, model.label_to_id, classes, concepts, randoms,
                                                  scene, seed=params.seed)
    else:
        log.info("insertion.scene is off: %s and %s hold no tests", args.scene_out, args.scene_random_out)
    object_rows, object_random_rows = [], []
    if params.insertion.scene and params.insertion.object:
        on_object = scene_config(params, on_object=True)
        log.info("object test: a blob of %.2f of the side on the most salient places of each class image, %d draws, "
                 "against the %d random sets", on_object.fraction, on_object.draws, len(randoms))
        object_rows, object_random_rows = run_scene(model.logits_batched, model.label_to_id, classes, concepts,
                                                    randoms, on_object, seed=params.seed)
    else:
        log.info("insertion.object (or insertion.scene) is off: %s and %s hold no tests", args.object_out,
                 args.object_random_out)
    atomic_write_text(args.out, insertion_csv(rows))
    atomic_write_text(args.random_out, insertion_csv(random_rows))
    atomic_write_text(args.scene_out, insertion_csv(scene_rows))
    atomic_write_text(args.scene_random_out, insertion_csv(scene_random_rows))
    atomic_write_text(args.object_out, insertion_csv(object_rows))
    atomic_write_text(args.object_random_out, insertion_csv(object_random_rows))
    for row in rows:
        log.info("  %-10s %-10s effect %+.3f [%+.3f, %+.3f]  p %.3g", row["target"], row["concept"],
                 row["effect"], row["ci_low"], row["ci_high"], row["p"])
    log_random_intervals(random_rows, params.tcav.confidence, "", "held-out sets")
    for row in scene_rows:
        log.info("  scene %-10s %-10s effect %+.3f [%+.3f, %+.3f]  p %.3g", row["target"], row["concept"],
                 row["effect"], row["ci_low"], row["ci_high"], row["p"])
    # what a concept must clear to confirm: the scene test's own random-set interval per class
    log_random_intervals(scene_random_rows, params.tcav.confidence, "scene ", "random sets, each against the others")
    for row in object_rows:
        log.info("  object %-10s %-10s effect %+.3f [%+.3f, %+.3f]  p %.3g", row["target"], row["concept"],
                 row["effect"], row["ci_low"], row["ci_high"], row["p"])
    log_random_intervals(object_random_rows, params.tcav.confidence, "object ", "random sets, each against the others")
    log.info("insertion: %d tests written to %s, %d random-set tests to %s; scene test: %d to %s, %d to %s; object "
             "test: %d to %s, %d to %s", len(rows), args.out, len(random_rows), args.random_out, len(scene_rows),
             args.scene_out, len(scene_random_rows), args.scene_random_out, len(object_rows), args.object_out,
             len(object_random_rows), args.object_random_out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
