"""Stage ``concept_maps``: where each concept is in the images the report shows feature maps of.

``python -m pipeline.concept_maps --model-dir DIR --cavs CAVS --views DIR --out FILE`` (``dvc.yaml``
gives the paths).

Reads the exported model, the tcav stage's concept CAVs (``cavs.npz``) and the views stage's
images (``feature_maps.npz``: a few of the target split per class), and writes ``--out``
(``concept_maps.npz``, atomically): those ``images``, their ``labels`` and ``predicted`` class and, per bottleneck and
concept, the calibrated concept maps and presences of :func:`tcavcore.concept_maps.image_concept_maps`.
The report draws the significant ones; keeping the arrays here keeps TensorFlow out of the report.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np

from common.errors import PipelineError, stage_main
from common.files import atomic_write_bytes, npz_bytes

log = logging.getLogger(__name__)


@stage_main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.concept_maps", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", required=True, help="the exported frozen model")
    parser.add_argument("--cavs", required=True, help="the tcav stage's cavs.npz")
    parser.add_argument("--views", required=True, help="the views stage's folder (feature_maps.npz)")
    parser.add_argument("--out", required=True, help="concept_maps.npz to write")
    args = parser.parse_args(argv)

    from common.determinism import make_deterministic
    from tcavcore.cav_store import CavStoreError, read_cav_store
    from tcavcore.concept_maps import image_concept_maps
    from wrappers import FrozenGraphWrapper, ModelLoadError

    try:
        store = read_cav_store(args.cavs)
    except CavStoreError as error:
        raise PipelineError(str(error)) from None
    views = Path(args.views) / "feature_maps.npz"
    try:
        with np.load(views, allow_pickle=False) as data:
            images, labels = data["images"], data["labels"]
    except (OSError, KeyError, ValueError) as error:
        raise PipelineError(f"{views}: not readable ({error}); the views stage writes it: run `dvc repro`") from None
    make_deterministic(0)  # forward passes only, but with deterministic kernels: a rerun gives the same bytes
    try:
        model = FrozenGraphWrapper(args.model_dir, store.bottlenecks)
    except ModelLoadError as error:
        raise PipelineError(f"{error} (the CAVs in {args.cavs} are from another model: rerun `dvc repro`)") from None
    inputs = images.astype(np.float32) / 255.0
    arrays = image_concept_maps(model, inputs, store)
    predicted = np.array([model.labels[i] for i in np.argmax(model.logits(inputs), axis=1)]) if len(inputs) \
        else np.zeros(0, "<U1")
    atomic_write_bytes(args.out, npz_bytes({"images": images, "labels": labels, "predicted": predicted, **arrays}))
    log.info("concept_maps: %d images, %d concepts at %s (%s pooling) written to %s", len(images), len(store.concepts),
             ", ".join(store.bottlenecks), store.pooling, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
