"""Stage ``insertion``: the concept insertion test of every (class, concept) of the run.

For each class image of ``tcav.target_split`` and each seeded draw, a concept image is
scaled into a region and the class logit is compared with the same image with the control
(``insertion.control``) in the same region (``tcavcore/insertion.py``). One row per
(class, concept) to ``results/tcav/insertion.csv``: the mean paired difference, its
interval and its p-value. The report stage adjusts the p-values over the run's (class,
concept) family with ``tcav.correction`` and marks each TCAV finding confirmed, not
confirmed or contradicted (so a change of correction or level recomputes nothing here).
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
    from tcavcore.insertion import insertion_test

    random_pool, carriers = split_random_sets(randoms, config.carrier, max(len(v) for v in classes.values()))
    rows = []
    for class_name, class_images in classes.items():
        for concept, concept_images in concepts.items():
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
    atomic_write_text(args.out, insertion_csv(rows))
    for row in rows:
        log.info("  %-10s %-10s effect %+.3f [%+.3f, %+.3f]  p %.3g", row["target"], row["concept"],
                 row["effect"], row["ci_low"], row["ci_high"], row["p"])
    log.info("insertion: %d tests written to %s", len(rows), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
