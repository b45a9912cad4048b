"""Crawl stage: fill the class, concept and random-set image folders from ``crawl.source``.

    python -m pipeline.crawl classes       [--params params.yaml] [--out datasets/raw]
    python -m pipeline.crawl concept NAME  [--params params.yaml] [--out concepts/NAME]
    python -m pipeline.crawl random        [--params params.yaml] [--out concepts/random]

Each command replaces its whole output folder atomically: a failed or interrupted run leaves
the previous output as it was.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from tqdm import tqdm

from pipeline.errors import PipelineError, stage_main
from pipeline.fsutil import atomic_directory
from pipeline.params import Params, load_params, random_set_names
from pipeline.sources import Request, get_source

log = logging.getLogger(__name__)


def plan(command: str, params: Params, out: Path, concept: str | None = None) -> list[Request]:
    """The folders a command fills, with ``out_dir`` relative to the output folder ``out``.

    ``classes`` fills ``out/<class>``; ``concept`` fills ``out`` itself; ``random`` fills
    ``out/random500_<i>``.
    """
    crawl = params.crawl
    if command == "classes":
        return [
            Request("class", name, crawl.queries.get(name, name), crawl.images_per_class, out / name)
            for name in params.classes
        ]
    if command == "concept":
        if concept not in crawl.concepts:
            listed = ", ".join(crawl.concepts) if crawl.concepts else "(none)"
            raise PipelineError(
                f"concept {concept!r} is not listed in crawl.concepts of the params file; listed: {listed}"
            )
        return [Request("concept", concept, crawl.queries.get(concept, concept), crawl.images_per_concept, out)]
    if command == "random":
        return [
            Request("random", name, crawl.queries.get(name, name), crawl.images_per_concept, out / name)
            for name in random_set_names(crawl.num_random_sets)
        ]
    raise ValueError(command)


def run(command: str, params: Params, out: Path, concept: str | None = None) -> dict[str, int]:
    """Fill the folders of ``command`` into ``out`` atomically; return images written per name."""
    requests = plan(command, params, Path(out), concept)
    source_name = params.crawl.source
    source = get_source(source_name)
    source.check(requests, params)
    total = sum(r.count for r in requests)
    log.info(
        "crawl %s: source %s, %d image(s) each for %s -> %s",
        command,
        source_name,
        requests[0].count,
        ", ".join(r.name for r in requests),
        out,
    )
    written: dict[str, int] = {}
    with atomic_directory(out) as tmp:
        with tqdm(total=total, desc=f"crawl {command}", unit="img", file=sys.stderr) as bar:
            for request in requests:
                rel = request.out_dir.relative_to(out)
                target = Request(request.kind, request.name, request.query, request.count, tmp / rel)
                target.out_dir.mkdir(parents=True, exist_ok=True)
                count = 0
                for _ in source.fill(target, params):
                    count += 1
                    bar.update(1)
                if count < 2:
                    raise PipelineError(
                        f"source {source_name!r} gave {count} image(s) for {request.kind} {request.name!r} "
                        f"(query {request.query!r}); at least 2 are needed"
                    )
                if count < request.count:
                    bar.total -= request.count - count
                    bar.refresh()
                    log.warning(
                        "%s %r: got %d of the %d image(s) asked for", request.kind, request.name, count, request.count
                    )
                written[request.name] = count
    for name, count in written.items():
        log.info("wrote %d image(s) to %s", count, Path(out) / name if command != "concept" else out)
    return written


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--params", default="params.yaml", help="parameters file (default: params.yaml)")
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.crawl",
        description="Fill class, concept or random-set image folders from the source named in crawl.source.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("classes", parents=[common], help="one folder per class in params `classes`")
    p.add_argument("--out", default="datasets/raw", help="output folder (default: datasets/raw)")
    p = sub.add_parser("concept", parents=[common], help="one concept folder (NAME in crawl.concepts)")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--out", default=None, help="output folder (default: concepts/NAME)")
    p = sub.add_parser("random", parents=[common], help="random sets random500_0 .. random500_{N-1}")
    p.add_argument("--out", default="concepts/random", help="output folder (default: concepts/random)")
    return parser


@stage_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    params = load_params(args.params)
    concept = getattr(args, "name", None)
    out = Path(args.out if args.out is not None else f"concepts/{concept}")
    run(args.command, params, out, concept)
    return 0


if __name__ == "__main__":
    sys.exit(main())
