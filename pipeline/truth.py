"""Stage ``truth``: the known truth of a synthetic run, written to ``results/truth.csv``.

When the run's classes come from the synthetic source, every (class, concept) of
``tcav.concepts`` that the generator can draw into a scene (a concept folder it filled
itself) is measured on ``truth.pairs`` counterfactual pairs (``worlds/counterfactual.py``):
the mean change of the class logit when the concept is put into the scene, with a t
interval (``worlds/truth.py``). Otherwise the run has no known truth: the file holds the
header only and the log and the report say so.
"""

from __future__ import annotations

import argparse
import csv
import io
import logging
import sys

import numpy as np

from common.errors import PipelineError, stage_main
from common.files import atomic_write_text
from common.params import Params, load_params

log = logging.getLogger(__name__)


def truth_plan(params: Params) -> tuple[list[str], str]:
    """The concepts with a known truth in this run, and why the others have none ('' if all do)."""
    from worlds.truth import measurable

    crawl = params.crawl
    not_synthetic = [c for c in params.classes if crawl.source_for(c) != "synthetic"]
    if not_synthetic:
        return [], f"classes {', '.join(not_synthetic)} do not come from the synthetic source"
    # A concept folder of the generator's own drawing: listed in crawl.concepts, synthetic source.
    own = [c for c in params.tcav.concepts if c in crawl.concepts and crawl.source_for(c) == "synthetic"]
    known, unknown = measurable(crawl.synthetic_task, params.classes, own)
    others = [c for c in params.tcav.concepts if c not in known]
    reason = f"concepts {', '.join(others)} are not drawn by the synthetic source" if others else ""
    return known, reason


def truth_csv(rows: list[dict]) -> str:
    """``truth.csv`` text (floats in ``repr`` form, byte-identical on reruns)."""
    from worlds.truth import TRUTH_KEYS

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(TRUTH_KEYS)
    for row in rows:
        writer.writerow([repr(row[k]) if isinstance(row[k], float) else row[k] for k in TRUTH_KEYS])
    return out.getvalue()


@stage_main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.truth", description=__doc__.split("\n\n")[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--model-dir", default="models/frozen")
    parser.add_argument("--out", default="results/truth.csv")
    args = parser.parse_args(argv)
    params = load_params(args.params)
    concepts, reason = truth_plan(params)
    if not concepts:
        log.warning("truth: this run has no known truth (%s): %s holds no effects, and its findings cannot be "
                    "scored against one", reason, args.out)
        atomic_write_text(args.out, truth_csv([]))
        return 0
    if reason:
        log.warning("truth: no known truth for some concepts: %s", reason)

    from images.loading import to_model_input
    from worlds.counterfactual import to_image
    from worlds.truth import measure
    from wrappers import FrozenGraphWrapper, ModelLoadError

    try:
        model = FrozenGraphWrapper(args.model_dir, [])
    except ModelLoadError as error:
        raise PipelineError(str(error)) from None
    size = params.preprocess.image_size

    def to_input(array: np.ndarray) -> np.ndarray:  # stored as 8-bit PNG, then resized, like the class images
        return to_model_input(to_image(array), size)

    rows = []
    world = params.crawl.synthetic_task
    for class_name in params.classes:
        for concept in concepts:
            truth = measure(model.logits_batched, to_input, world, class_name, model.label_to_id(class_name), concept,
                            count=params.truth.pairs, size=params.crawl.synthetic_size, seed=params.seed,
                            confidence=params.tcav.confidence)
            rows.append(truth.row())
            log.info("truth: %-10s %-10s %-13s effect %+.3f [%+.3f, %+.3f] (n %d)", class_name, concept,
                     truth.intervention, truth.effect, truth.ci_low, truth.ci_high, truth.n)
    atomic_write_text(args.out, truth_csv(rows))
    log.info("truth: %d (class, concept) effects measured on counterfactual pairs, written to %s", len(rows), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
