"""Stage ``tcav``: learn CAVs and score every class against every concept.

Reads the exported model, the target split's class images, the concept folders named in
``tcav.concepts`` and the random sets; stops if a concept shares images with the class images
or a random set (``tcav.allow_overlap``) and warns about sets under ``tcav.min_concept_images``; writes one row per (class, CAV) to
``results/tcav/runs.csv``, which the report stage turns into statistics and charts, and with
``--cavs`` every concept CAV with the projections of its two image sets (``results/cavs.npz``,
:mod:`tcavcore.cav_store`: what the explorer and the report's concept maps read).
CAVs are fitted where ``tcav.backend`` says; activations and CAVs are reused from
``tcav.cache_dir`` when their content (model files, image pixels, hyper-parameters, seed)
is unchanged.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from common.errors import PipelineError, stage_main
from common.files import atomic_write_text
from common.params import load_params
from images.overlap import check_image_sets
from images.sets import load_image_sets_with_files, warn_small_sets

log = logging.getLogger(__name__)


@stage_main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.tcav", description=__doc__)
    parser.add_argument("--params", required=True, help="parameters file")
    parser.add_argument("--model-dir", required=True, help="the exported frozen model")
    parser.add_argument("--processed", required=True, help="preprocessed class images")
    parser.add_argument("--concepts", required=True, help="concept folders (and random/)")
    parser.add_argument("--out", required=True, help="runs.csv to write")
    parser.add_argument("--cavs", default=None, help="cavs.npz to write (the concept CAVs; default: not kept)")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    args = parser.parse_args(argv)

    params = load_params(args.params)
    (classes, concepts, randoms), files = load_image_sets_with_files(params, Path(args.processed), Path(args.concepts))
    check_image_sets(params, files, args.params)  # leakage stops the stage before any work
    warn_small_sets(params, concepts, randoms)

    from tcavcore.cache import ContentCache, model_fingerprint
    from tcavcore.cav_fitting import ParallelConfig, SchedulerUnreachableError
    from tcavcore.engine import run_tcav
    from tcavcore.records import runs_csv
    from common.determinism import make_deterministic
    from wrappers import FrozenGraphWrapper, ModelLoadError, UnknownBottleneckError

    make_deterministic(params.seed)
    try:
        model = FrozenGraphWrapper(args.model_dir, params.tcav.bottlenecks)
    except UnknownBottleneckError as error:
        raise PipelineError(f"{args.params}: tcav.bottlenecks: {error}") from None
    except ModelLoadError as error:
        raise PipelineError(str(error)) from None
    unknown = [c for c in params.classes if c not in model.labels]
    if unknown:
        raise PipelineError(f"classes {unknown} are not labels of the model {args.model_dir}: {model.labels}")

    from tcavcore.cav_store import CavStore, sort_cavs, stored_cav, write_cav_store

    p = params.tcav
    kept = []
    cache = ContentCache(p.cache_dir) if p.cache_dir else None
    parallel = ParallelConfig(backend=p.backend, n_jobs=p.n_jobs, scheduler=p.scheduler)
    try:
        rows = run_tcav(model, classes, concepts, randoms, p.bottlenecks, p.alphas, model_type=p.cav_model,
                        definition=p.score, seed=params.seed, progress=not args.no_progress, parallel=parallel,
                        cache=cache, model_key=model_fingerprint(args.model_dir) if cache else None,
                        pooling=p.pooling,
                        on_concept_cav=(lambda cav, c, r: kept.append(stored_cav(cav, c, r))) if args.cavs else None)
    except SchedulerUnreachableError as error:
        raise PipelineError(f"{args.params}: tcav.scheduler: {error}; start one (`dask scheduler`) or set "
                            f"tcav.backend: threads") from None
    atomic_write_text(args.out, runs_csv(rows))
    log.info("tcav: %d runs written to %s", len(rows), args.out)
    if args.cavs:
        # from one image's activations: a converted graph's tensors may not know their static shape
        probe = model.activations_at(next(iter(classes.values()))[:1], list(p.bottlenecks))
        shapes = {b: tuple(int(d) for d in probe[b].shape[1:]) for b in p.bottlenecks}
        cavs = sort_cavs(kept, p.concepts, params.random_sets, p.bottlenecks, p.alphas)
        write_cav_store(args.cavs, CavStore(p.pooling, shapes, cavs))
        log.info("tcav: %d concept CAVs written to %s", len(cavs), args.cavs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
