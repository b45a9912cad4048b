"""Stage ``train``: fit the small CNN on the preprocessed class images.

Writes the Keras model, the same network untrained (its initial weights, for the report's
before/after feature maps) into ``--out`` (``model.keras``, ``model_init.keras``),
``results/metrics.json`` (accuracy and loss per split), a per-epoch history CSV that
``dvc plots`` draws, and ``--epoch-activations``: ``views.epoch_layer``'s activations for a
seeded sample of training images before training and after every epoch (the views stage's
training-time projection; :mod:`model.epoch_recorder`).

With an outside model (``model.source`` keras, savedmodel or frozen) nothing is trained: the
stage records why in ``<out>/NOT_TRAINED.txt`` and the metrics, and writes a history and an
activations file with no epochs, so DVC's graph of stages stays the same whichever model is analysed.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from common.errors import stage_main
from common.files import atomic_directory, atomic_write_bytes, atomic_write_json
from common.params import load_params
from model.training import history_csv, save_model, train_model

log = logging.getLogger(__name__)

#: What the train stage writes instead of a model when an outside model is analysed.
NOT_TRAINED = "NOT_TRAINED.txt"


@stage_main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.train", description=__doc__)
    parser.add_argument("--params", required=True, help="parameters file")
    parser.add_argument("--processed", required=True, help="preprocessed class images")
    parser.add_argument("--out", required=True, help="folder for model.keras and model_init.keras (the untrained network)")
    parser.add_argument("--metrics", required=True, help="metrics.json to write")
    parser.add_argument("--history", required=True, help="per-epoch history CSV to write")
    parser.add_argument("--epoch-activations", required=True,
                        help=".npz of views.epoch_layer's activations per epoch to write")
    args = parser.parse_args(argv)

    params = load_params(args.params)
    if params.model.source != "train":
        reason = (f"not trained: model.source is {params.model.source!r}, the model at {params.model.path} "
                  "is analysed as it is")
        with atomic_directory(args.out) as folder:
            (folder / NOT_TRAINED).write_text(reason + "\n", encoding="utf-8")
        atomic_write_json(args.metrics, {"trained": False, "source": params.model.source, "path": params.model.path})
        atomic_write_bytes(args.history, history_csv([]).encode())
        from model.epoch_recorder import not_recorded_bytes  # imports Keras: only when needed

        atomic_write_bytes(args.epoch_activations, not_recorded_bytes(reason))
        log.info("train: %s", reason)
        return 0
    with atomic_directory(args.out) as folder:
        model, history, metrics, recording = train_model(params, Path(args.processed), folder / "model_init.keras",
                                                         record_epochs=True)
        save_model(model, folder / "model.keras")
    atomic_write_json(args.metrics, metrics)
    atomic_write_bytes(args.history, history_csv(history).encode())
    atomic_write_bytes(args.epoch_activations, recording)
    log.info("train: accuracy %s", ", ".join(f"{s} {m['accuracy']:.3f}" for s, m in metrics.items()))
    log.info("train: model %s, metrics %s, history %s, %s activations per epoch %s", Path(args.out) / "model.keras",
             args.metrics, args.history, params.views.epoch_layer, args.epoch_activations)
    return 0


if __name__ == "__main__":
    sys.exit(main())
