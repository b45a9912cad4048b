"""Stage ``tcav``: learn CAVs and score every class against every concept.

Reads the exported model, the target split's class images, the concept folders named in
``tcav.concepts`` and the random sets; writes one row per (class, CAV) to
``results/tcav/runs.csv``, which the report stage turns into statistics and charts.
CAVs are fitted where ``tcav.backend`` says; activations and CAVs are reused from
``tcav.cache_dir`` when their content (model files, image pixels, hyper-parameters, seed)
is unchanged.
"""

from __future__ import annotations

import argparse
import csv
import io
import logging
import sys
from pathlib import Path

from pipeline.errors import PipelineError, stage_main
from pipeline.fsutil import atomic_write_text, list_subfolders
from pipeline.params import Params, load_params

log = logging.getLogger(__name__)


def _folder(root: Path, name: str, what: str) -> Path:
    folder = root / name
    if not folder.is_dir():
        existing = list_subfolders(root)
        raise PipelineError(
            f"{folder}: {what} folder not found; {root} holds: {', '.join(existing) or 'nothing'}"
        )
    return folder


def load_image_sets(params: Params, processed: Path, concepts_dir: Path):
    """Class, concept and random-set images as model inputs, each set first ``max_examples`` by name."""
    from pipeline.images import load_folder

    size, limit = params.preprocess.image_size, params.tcav.max_examples
    split_dir = processed / params.tcav.target_split
    classes = {c: load_folder(_folder(split_dir, c, "class"), size, limit)[0] for c in params.classes}
    concepts = {c: load_folder(_folder(concepts_dir, c, "concept"), size, limit)[0] for c in params.tcav.concepts}
    random_root = concepts_dir / "random"
    randoms = {r: load_folder(_folder(random_root, r, "random set"), size, limit)[0] for r in params.random_sets}
    return classes, concepts, randoms


def runs_csv(rows: list[dict]) -> str:
    """Rows as CSV with the engine's columns; floats in ``repr`` form so reruns are byte-identical."""
    from method.stats import RUN_KEYS

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(RUN_KEYS)
    for row in rows:
        writer.writerow([repr(row[c]) if isinstance(row[c], float) else row[c] for c in RUN_KEYS])
    return out.getvalue()


@stage_main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.tcav", description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--model-dir", default="models/frozen")
    parser.add_argument("--processed", default="datasets/processed")
    parser.add_argument("--concepts", default="concepts")
    parser.add_argument("--out", default="results/tcav/runs.csv")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    args = parser.parse_args(argv)

    params = load_params(args.params)
    classes, concepts, randoms = load_image_sets(params, Path(args.processed), Path(args.concepts))

    from method.cache import ContentCache, model_fingerprint
    from method.cav_fitting import ParallelConfig, SchedulerUnreachableError
    from method.engine import run_tcav
    from pipeline.train import make_deterministic
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

    p = params.tcav
    cache = ContentCache(p.cache_dir) if p.cache_dir else None
    parallel = ParallelConfig(backend=p.backend, n_jobs=p.n_jobs, scheduler=p.scheduler)
    try:
        rows = run_tcav(model, classes, concepts, randoms, p.bottlenecks, p.alphas, model_type=p.cav_model,
                        definition=p.score, seed=params.seed, progress=not args.no_progress, parallel=parallel,
                        cache=cache, model_key=model_fingerprint(args.model_dir) if cache else None,
                        pooling=p.pooling)
    except SchedulerUnreachableError as error:
        raise PipelineError(f"{args.params}: tcav.scheduler: {error}; start one (`dask scheduler`) or set "
                            f"tcav.backend: threads") from None
    atomic_write_text(args.out, runs_csv(rows))
    log.info("tcav: %d runs written to %s", len(rows), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
