"""Preprocess stage: decode, resize and split the class images (:mod:`images.preprocessing`).

    python -m pipeline.preprocess --params P --raw DIR --out DIR   (``dvc.yaml`` gives the paths)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from common.errors import stage_main
from common.params import load_params
from images.preprocessing import run


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.preprocess",
        description="Decode, resize and split the class images into train/val/test.",
    )
    parser.add_argument("--params", required=True, help="parameters file")
    parser.add_argument("--raw", required=True, help="crawled class images")
    parser.add_argument("--out", required=True, help="output folder")
    return parser


@stage_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    run(load_params(args.params), Path(args.raw), Path(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
