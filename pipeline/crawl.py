"""Crawl stage: fill the class, concept and random-set image folders from their sources.

    python -m pipeline.crawl classes      --params P --out DIR
    python -m pipeline.crawl random       --params P --out DIR --classes-dir DIR
    python -m pipeline.crawl concept NAME --params P --out DIR --classes-dir DIR --random-dir DIR

(``dvc.yaml`` gives the paths.)
Each folder's source is ``crawl.sources[name]`` (``random`` for the random sets), else
``crawl.source``. Every image goes through :mod:`collection`: fully decoded, rejected with
a reason or normalised (RGB, upright, first frame, centre-cropped), excluded if listed in
``<crawl.exclude_dir>/<folder name>.txt``, dropped if it duplicates an image kept before, and
recorded in the folder's ``manifest.json`` (source, query, URL, hashes, size, time).

Resumable: folders are filled in place, one complete file at a time, so a rerun (after a
crash, Ctrl-C, a network failure or an edited exclude list) keeps every image still valid
and fetches only what is missing. Cross-set leakage: class folders are filled first (one
command, so an image can be in one class only), random sets next (no class image in them,
none in two sets), concept folders last (no class or random image in them).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from collection.crawl import run
from common.errors import stage_main
from common.params import load_params


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--params", required=True, help="parameters file")
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.crawl",
        description="Fill class, concept or random-set image folders from their sources (crawl.source, crawl.sources).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("classes", parents=[common], help="one folder per class in params `classes`")
    p.add_argument("--out", required=True, help="output folder")
    p = sub.add_parser("concept", parents=[common], help="one concept folder (NAME in crawl.concepts)")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--random-dir", required=True, help="random sets it must not repeat")
    p = sub.add_parser("random", parents=[common], help="random sets random500_0 .. random500_{N-1}")
    p.add_argument("--out", required=True, help="output folder")
    for p in sub.choices.values():
        if p.prog.split()[-1] in ("concept", "random"):
            p.add_argument("--classes-dir", required=True, help="class folders it must not repeat")
    return parser


@stage_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    params = load_params(args.params)
    def folder(name: str) -> Path | None:
        value = getattr(args, name, None)
        return Path(value) if value is not None else None

    run(args.command, params, Path(args.out), getattr(args, "name", None),
        classes_dir=folder("classes_dir"), random_dir=folder("random_dir"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
