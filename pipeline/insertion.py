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
confirmation must exceed (``insertion.random_check``). Forward passes only: a separate
stage so that changing its params refits no CAV.
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
    from tcavcore.insertion import insertion_test

    random_pool, carriers = split_random_sets(randoms, config.carrier, max(len(v) for v in classes.values()))
    rows = []
    for class_name, class_images in classes.items():
        for concept, concept_images in tested.items():
            result = insertion_test(logits, class_images, label_to_id(class_name), concept_images, config,
                                    seed=seed, class_name=class_name, concept=concept, random_images=random_pool,
                                    carrier_images=carriers)
            rows.append({"target": class_name, "concept": concept, "control": config.control,
                         "carrier": config.carrier,
                         "effect": result.effect, "ci_low": result.ci_low, "ci_high": result.ci_high,
                         "p": result.p_value, "n_images": result.n_images, "draws": result.draws})
    return rows


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
    atomic_write_text(args.out, insertion_csv(rows))
    atomic_write_text(args.random_out, insertion_csv(random_rows))
    for row in rows:
        log.info("  %-10s %-10s effect %+.3f [%+.3f, %+.3f]  p %.3g", row["target"], row["concept"],
                 row["effect"], row["ci_low"], row["ci_high"], row["p"])
    from tcavcore.confirmation import random_intervals

    tests = {(row["target"], row["concept"]): row for row in random_rows}
    for target, (low, high) in random_intervals(tests, params.tcav.confidence).items():
        log.info("  %-10s a random set's effect: %+.3f to %+.3f (%g%% prediction interval over %d held-out sets)",
                 target, low, high, 100 * params.tcav.confidence, sum(1 for key in tests if key[0] == target))
    log.info("insertion: %d tests written to %s, %d random-set tests to %s", len(rows), args.out, len(random_rows),
             args.random_out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
