"""The ``greedy`` source: every image linked from some web pages (icrawler's ``GreedyImageCrawler``).

The query (``crawl.queries[name]``) is one or more page URLs (or domains) separated by
spaces; the crawler follows links within them. It never ends by itself when it runs out of
images, so the crawl stops after ``crawl.web.idle_timeout`` seconds without a download.
"""

from __future__ import annotations

from icrawler.builtin import GreedyImageCrawler

from common.errors import PipelineError
from collection.sources.web import crawl_folder


def pages(query: str) -> list[str]:
    """The page URLs of a query, as GreedyImageCrawler normalises them (http:// added, no trailing /)."""
    return [(p if p.startswith("http") else f"http://{p}").rstrip("/") for p in query.split()]


def pooled_random(params) -> bool:
    return True


def check(requests, params) -> None:
    for request in requests:
        if not pages(request.query) or request.query == request.name:
            raise PipelineError(
                f"crawl.queries.{request.name}: the greedy source needs the web pages to scan "
                f"(URLs separated by spaces), e.g. 'https://example.org/gallery'"
            )


def fill(request, params, collector) -> None:
    domains = pages(request.query)
    crawl_folder(
        GreedyImageCrawler,
        source="greedy",
        request=request,
        params=params,
        collector=collector,
        feeder_kwargs={"domains": domains},
        parser_kwargs={"domains": domains},
    )
