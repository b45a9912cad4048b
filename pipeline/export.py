"""Stage ``export``: freeze the trained Keras model into ``model.pb`` for tcav (:mod:`model.freeze`),
checked against Keras on the test split; also ``labels.txt`` and ``manifest.json``.

With ``model.source`` keras, savedmodel or frozen, the user's model at ``model.path`` is
converted instead (:mod:`model.convert`): every layer that can be a bottleneck gets its in-line
identity, logits are recovered from a final softmax, and the graph is checked against the
original on the scoring images (``tcav.target_split``)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from common.errors import stage_main
from common.params import load_params

log = logging.getLogger(__name__)


@stage_main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.export", description=__doc__)
    parser.add_argument("--params", required=True, help="parameters file")
    parser.add_argument("--model", default=None, help="the trained Keras model (default: model.path)")
    parser.add_argument("--processed", required=True, help="preprocessed class images (the test split checks the export)")
    parser.add_argument("--out", required=True, help="output folder for model.pb, labels.txt, manifest.json")
    args = parser.parse_args(argv)

    params = load_params(args.params)
    if params.model.source != "train":
        from model.convert import export_outside

        export_outside(params, args.processed, args.out)
        return 0
    from images.splits import load_split
    from model.cnn import bottleneck_layer_names, load_model
    from model.freeze import export_model

    model = load_model(args.model or params.model.path)
    # The frozen graph must compute what the Keras model computes, checked on the test split.
    x_test, _ = load_split(args.processed, "test", params.classes, params.preprocess.image_size)
    bottlenecks = bottleneck_layer_names(params.train.conv_filters, params.train.dense_units)
    manifest = export_model(model, params.classes, bottlenecks, args.out, x_test)
    log.info("export: %s (bottlenecks %s), max |logit diff| vs Keras on %d test images: %.2g",
             Path(args.out) / "model.pb", ", ".join(manifest["bottlenecks"]), len(x_test),
             manifest["check"]["max_abs_logit_diff"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
