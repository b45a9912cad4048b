"""Stage ``train``: fit the small CNN on the preprocessed class images.

Writes the Keras model, the same network untrained (its initial weights, for the report's
before/after feature maps), ``results/metrics.json`` (accuracy and loss per split) and a
per-epoch history CSV that ``dvc plots`` draws.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from common.errors import stage_main
from common.files import atomic_write_bytes, atomic_write_json
from common.params import load_params
from model.training import history_csv, save_model, train_model

log = logging.getLogger(__name__)


@stage_main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.train", description=__doc__)
    parser.add_argument("--params", required=True, help="parameters file")
    parser.add_argument("--processed", required=True, help="preprocessed class images")
    parser.add_argument("--model", required=True, help="the trained Keras model to write")
    parser.add_argument("--init-model", required=True, help="the untrained network to write")
    parser.add_argument("--metrics", required=True, help="metrics.json to write")
    parser.add_argument("--history", required=True, help="per-epoch history CSV to write")
    args = parser.parse_args(argv)

    params = load_params(args.params)
    model, history, metrics = train_model(params, Path(args.processed), args.init_model)
    model_path = save_model(model, args.model)
    atomic_write_json(args.metrics, metrics)
    atomic_write_bytes(args.history, history_csv(history).encode())
    log.info("train: accuracy %s", ", ".join(f"{s} {m['accuracy']:.3f}" for s, m in metrics.items()))
    log.info("train: model %s, metrics %s, history %s", model_path, args.metrics, args.history)
    return 0


if __name__ == "__main__":
    sys.exit(main())
