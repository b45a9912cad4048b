"""The ``urls`` source: download the images of a text file of URLs (icrawler's ``UrlListCrawler``).

The query (``crawl.queries[name]``) is the path of the file: one image URL per line, blank
lines and ``#`` comments allowed. URLs kept, rejected or excluded in an earlier run are not
downloaded again.
"""

from __future__ import annotations

from pathlib import Path

from icrawler.builtin import UrlListCrawler

from common.errors import PipelineError
from collection.sources.web import crawl_folder


def read_url_list(path: str | Path) -> list[str]:
    """The URLs of a URL-list file; :class:`PipelineError` naming the file and line if one is not http(s)."""
    path = Path(path)
    urls = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if not line.startswith(("http://", "https://")):
            raise PipelineError(f"{path}, line {number}: {line[:80]!r} is not an http(s) URL")
        urls.append(line)
    return urls


def pooled_random(params) -> bool:
    """Random sets are dealt from one URL list (``crawl.queries.random``)."""
    return True


def check(requests, params) -> None:
    for request in requests:
        path = Path(request.query)
        if not path.is_file():
            raise PipelineError(
                f"crawl.queries.{request.name}: the urls source needs the path of a text file of image URLs "
                f"(one per line); {str(path)!r} is not a file"
            )
        if not read_url_list(path):
            raise PipelineError(f"{path}: no URL in it (one image URL per line)")


def fill(request, params, collector) -> None:
    """Download the listed URLs not yet seen, and offer each one."""
    urls = [url for url in dict.fromkeys(read_url_list(request.query)) if not collector.seen(url)]
    if not urls:
        return
    crawl_folder(
        UrlListCrawler,
        source="urls",
        request=request,
        params=params,
        collector=collector,
        feeder_kwargs={"url_list": urls},
    )
