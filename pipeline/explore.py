"""The explorer: a local web page on the current run's model and CAVs (not a DVC stage).

``python -m pipeline.explore [--port 8765] [--host 127.0.0.1]`` after ``make run``. Drop, draw or
pick an image; see the class probabilities, every conv/pool layer's feature maps and, for each
concept and bottleneck, the image's presence and concept map (:mod:`explorer`).
"""

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
    parser = argparse.ArgumentParser(prog="python -m pipeline.explore", description=__doc__.split("\n\n")[0])
    parser.add_argument("--params", default="params.yaml", help="parameters file")
    parser.add_argument("--model-dir", default="models/frozen", help="the exported frozen model")
    parser.add_argument("--cavs", default="results/cavs.npz", help="the tcav stage's concept CAVs")
    parser.add_argument("--processed", default="datasets/processed", help="preprocessed images (the gallery)")
    parser.add_argument("--scores", default="results/scores.csv", help="the report's scores (marks significant ones)")
    parser.add_argument("--layers", default=None,
                        help="comma-separated layers whose feature maps to show (default: every conv/pool layer)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: this machine only)")
    parser.add_argument("--port", type=int, default=8765, help="port (0: any free one)")
    args = parser.parse_args(argv)

    params = load_params(args.params)
    from explorer.server import serve
    from explorer.session import ExplorerSession

    layers = [name.strip() for name in args.layers.split(",") if name.strip()] if args.layers else None
    session = ExplorerSession(params, Path(args.model_dir), Path(args.cavs), Path(args.processed), Path(args.scores),
                              layers)
    if session.cav_problem:
        log.warning("explore: %s", session.cav_problem)
    serve(session, args.host, args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
