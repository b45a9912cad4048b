"""Running a crawl: which folders a command fills, from which source, screened against which
earlier folders, and the summary of what each kept (the ``crawl`` stage's work).

Cross-set leakage is prevented by the order: class folders first (one command, so an image
can be in one class only), random sets next (no class image in them, none in two sets),
concept folders last (no class or random image in them).
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from tqdm import tqdm

from collection.collector import Collector, Dealer, FolderReport, Rules
from collection.dedup import DuplicateIndex
from collection.exclude import read_exclude_list
from collection.manifest import index_folder
from collection.sources import WEB_SOURCES, Request, get_source
from collection.summary import summary_table
from common.errors import PipelineError
from common.params import RANDOM_KEY, Params, random_set_names

log = logging.getLogger(__name__)

MIN_IMAGES = 2


def plan(command: str, params: Params, out: Path, concept: str | None = None) -> list[Request]:
    """The folders a command fills, with ``out_dir`` inside the output folder ``out``.

    ``classes`` fills ``out/<class>``; ``concept`` fills ``out`` itself; ``random`` fills
    ``out/random500_<i>``.
    """
    crawl = params.crawl
    if command == "classes":
        return [
            Request("class", name, crawl.queries.get(name, name), crawl.images_per_class, out / name, crawl.source_for(name))
            for name in params.classes
        ]
    if command == "concept":
        if concept not in crawl.concepts:
            listed = ", ".join(crawl.concepts) if crawl.concepts else "(none)"
            raise PipelineError(
                f"concept {concept!r} is not listed in crawl.concepts of the params file; listed: {listed}"
            )
        return [
            Request(
                "concept", concept, crawl.queries.get(concept, concept), crawl.images_per_concept, out, crawl.source_for(concept)
            )
        ]
    if command == "random":
        source = crawl.source_for(RANDOM_KEY)
        return [
            Request("random", name, name, crawl.images_per_concept, out / name, source)
            for name in random_set_names(crawl.num_random_sets)
        ]
    raise ValueError(command)


def pool_request(params: Params, requests: list[Request], out: Path) -> Request:
    """The one request random sets are dealt from when their source pools them."""
    query = params.crawl.queries.get(RANDOM_KEY, RANDOM_KEY)
    return Request("random", RANDOM_KEY, query, sum(r.count for r in requests), out, requests[0].source)


def earlier_folders(command: str, params: Params, classes_dir: Path | None,
                    random_dir: Path | None) -> list[tuple[str, Path]]:
    """Folders filled before this command's, whose images its folders must not repeat.

    ``random`` needs ``classes_dir``; ``concept`` needs both ``classes_dir`` and ``random_dir``.
    """
    needed = {"classes": (), "random": ("classes_dir",), "concept": ("classes_dir", "random_dir")}[command]
    given = {"classes_dir": classes_dir, "random_dir": random_dir}
    missing = [name for name in needed if given[name] is None]
    if missing:
        raise ValueError(f"crawl {command}: {' and '.join(missing)} must be given (the folders it must not repeat)")
    classes = [(name, Path(classes_dir) / name) for name in params.classes] if classes_dir is not None else []
    randoms = ([(name, Path(random_dir) / name) for name in random_set_names(params.crawl.num_random_sets)]
               if random_dir is not None else [])
    return {"classes": [], "random": classes, "concept": classes + randoms}[command]


def rules_for(source_name: str, params: Params) -> Rules:
    curation = params.crawl.curation
    return Rules(
        crop=curation.crop,
        max_side=curation.max_side,
        # Web images are screened for size; images a user chose (local) or generated are not.
        min_size=params.crawl.web.min_size if source_name in WEB_SOURCES else 1,
        max_pixels=curation.max_pixels,
        near_duplicate_distance=curation.near_duplicate_distance,
    )


def open_collector(request: Request, params: Params, index: DuplicateIndex) -> Collector:
    source = get_source(request.source)
    origin = {"source": request.source, "query": request.query}
    if hasattr(source, "origin"):
        origin.update(source.origin(request, params))
    return Collector(
        request.out_dir,
        name=request.name,
        kind=request.kind,
        count=request.count,
        origin=origin,
        rules=rules_for(request.source, params),
        index=index,
        exclude=read_exclude_list(params.crawl.exclude_dir, request.name),
        timestamps=getattr(source, "TIMESTAMPS", True),
        regenerable=getattr(source, "REGENERABLE", False),
    ).open()


def run(
    command: str,
    params: Params,
    out: Path,
    concept: str | None = None,
    *,
    classes_dir: Path | None = None,
    random_dir: Path | None = None,
) -> list[FolderReport]:
    """Fill the folders of ``command`` in ``out``; return one report per folder.

    ``classes_dir`` and ``random_dir``: the folders filled before, which this command's must
    not repeat (see :func:`earlier_folders`).
    """
    out = Path(out)
    requests = plan(command, params, out, concept)
    pooled = False
    if command == "random":
        module = get_source(requests[0].source)
        pooled = getattr(module, "pooled_random", lambda p: False)(params)
    to_check = [pool_request(params, requests, out)] if pooled else requests
    for source_name in dict.fromkeys(r.source for r in to_check):
        get_source(source_name).check([r for r in to_check if r.source == source_name], params)

    index = DuplicateIndex(params.crawl.curation.near_duplicate_distance)
    for label, folder in earlier_folders(command, params, classes_dir, random_dir):
        if folder.resolve() != out.resolve():
            index_folder(index, folder, label)
    log.info(
        "crawl %s: %s -> %s",
        command,
        ", ".join(f"{r.name} ({r.source}, {r.count} image(s))" for r in requests),
        out,
    )

    reports: list[FolderReport] = []
    try:
        if pooled:
            reports = _fill_pooled(requests, params, index, out)
        else:
            for request in requests:
                reports.append(_fill_one(request, params, index))
    finally:
        if reports:
            log.info("crawl %s summary:\n%s", command, summary_table(reports))
    for request, report in zip(requests, reports):
        if report.kept < MIN_IMAGES:
            raise PipelineError(_too_few_message(request, report))
        if report.kept < request.count:
            log.warning("%s %r: got %d of the %d image(s) asked for", request.kind, request.name, report.kept, request.count)
        log.info("%s: %d image(s), %d new this run", request.out_dir, report.kept, report.new)
    return reports


def _fill_one(request: Request, params: Params, index: DuplicateIndex) -> FolderReport:
    source = get_source(request.source)
    collector = open_collector(request, params, index)
    bar = tqdm(total=request.count, initial=collector.kept, desc=request.name, unit="img", file=sys.stderr)
    collector.on_keep = lambda _: bar.update(1)
    try:
        if not collector.done:
            source.fill(request, params, collector)
    finally:
        bar.close()
        report = collector.close()
    return report


def _fill_pooled(requests: list[Request], params: Params, index: DuplicateIndex, out: Path) -> list[FolderReport]:
    pool = pool_request(params, requests, out)
    collectors = [open_collector(r, params, index) for r in requests]
    initial = sum(c.kept for c in collectors)
    bar = tqdm(total=pool.count, initial=initial, desc="random sets", unit="img", file=sys.stderr)
    for collector in collectors:
        collector.on_keep = lambda _: bar.update(1)
    dealer = Dealer(collectors)
    try:
        if not dealer.done:
            get_source(pool.source).fill(pool, params, dealer)
    finally:
        bar.close()
        reports = [c.close() for c in collectors]
    return reports


def _too_few_message(request: Request, report: FolderReport) -> str:
    screened = []
    if report.rejected:
        screened.append("rejected: " + ", ".join(f"{code} {n}" for code, n in sorted(report.rejected.items())))
    if report.failed:
        screened.append(f"{report.failed} download(s) failed")
    if report.duplicates:
        screened.append(f"{sum(report.duplicates.values())} duplicate(s)")
    if report.excluded:
        screened.append(f"{report.excluded} excluded")
    detail = f" ({'; '.join(screened)}; see {request.out_dir / 'manifest.json'})" if screened else ""
    return (
        f"source {request.source!r} gave {report.kept} image(s) for {request.kind} {request.name!r} "
        f"(query {request.query!r}){detail}; at least {MIN_IMAGES} are needed"
    )
