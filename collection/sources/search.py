"""Image search engines through icrawler: ``bing``, ``google``, ``baidu``.

The query is the search text (``crawl.queries[name]``, default the name). Result pages are
requested from :data:`BASE_URLS` (tests point them at a loopback server) and parsed by
icrawler's own parsers; each image found is downloaded and screened by the collector. Search
engines change their pages often and icrawler's parsers lag behind (Google's especially): a
crawl that finds nothing says so in the summary table; try another engine.
"""

from __future__ import annotations

import copy
import queue
from urllib.parse import quote_plus, urlencode

from bs4 import BeautifulSoup
from icrawler import Crawler, Feeder
from icrawler.builtin.baidu import BaiduParser
from icrawler.builtin.bing import BingParser
from icrawler.builtin.google import GoogleParser

from common.errors import PipelineError
from collection.sources.web import crawl_folder

#: Result-page endpoints, as icrawler 0.6.10's feeders build them.
BASE_URLS = {
    "bing": "https://www.bing.com/images/async",
    "google": "https://www.google.com/search",
    "baidu": "https://image.baidu.com/search/acjson",
}
#: Results per page, as icrawler's feeders step through them.
PAGE_SIZES = {"bing": 20, "google": 100, "baidu": 30}


def page_urls(engine: str, keyword: str, max_num: int) -> list[str]:
    """The result pages to request for ``max_num`` results of ``keyword``."""
    base = BASE_URLS[engine]
    urls = []
    for start in range(0, max(1, min(max_num, 1000)), PAGE_SIZES[engine]):
        if engine == "bing":
            urls.append(f"{base}?q={quote_plus(keyword)}&first={start}")
        elif engine == "google":
            urls.append(f"{base}?{urlencode({'q': keyword, 'ijn': start // 100, 'start': start, 'tbs': '', 'tbm': 'isch'})}")
        else:
            urls.append(f"{base}?{urlencode({'tn': 'resultjson_com', 'ipn': 'rj', 'word': keyword, 'pn': start, 'rn': 30})}")
    return urls


class PageListFeeder(Feeder):
    """Feeds a list of result-page URLs, giving up when the crawl is stopped."""

    def feed(self, page_urls):
        for url in page_urls:
            while not self.signal.get("reach_max_num"):
                try:
                    self.output(url, block=True, timeout=1)
                    break
                except queue.Full:
                    continue


class ListGoogleParser(GoogleParser):
    """icrawler's GoogleParser returns None for a page without image URLs, which kills its
    parser thread (``for task in None``); an empty list ends the page instead."""

    def parse(self, response):
        return super().parse(response) or []


class LinkedBingParser(BingParser):
    """icrawler's BingParser fails (TypeError) on a result tile without a link (ads, related
    searches), which kills its parser thread and ends the crawl; such tiles are dropped first."""

    def parse(self, response):
        soup = BeautifulSoup(response.content.decode("utf-8", "ignore"), "lxml")
        for tile in soup.find_all("div", class_="imgpt"):
            if tile.a is None or not tile.a.has_attr("m"):
                tile.decompose()
        cleaned = copy.copy(response)
        cleaned._content = str(soup).encode("utf-8")
        yield from super().parse(cleaned)


PARSERS = {"bing": LinkedBingParser, "google": ListGoogleParser, "baidu": BaiduParser}


def pooled_random(params) -> bool:
    """Random sets are dealt from one search (``crawl.queries.random``)."""
    return True


def check(requests, params) -> None:
    for request in requests:
        if not request.query.strip():
            raise PipelineError(f"crawl.queries.{request.name}: the {request.source} source needs search text")


def fill(request, params, collector) -> None:
    """Search ``request.query`` and offer every image found."""
    max_num = params.crawl.web.max_num or 3 * collector.needed
    crawl_folder(
        Crawler,
        source=request.source,
        request=request,
        params=params,
        collector=collector,
        feeder_kwargs={"page_urls": page_urls(request.source, request.query, max_num)},
        crawler_kwargs={"feeder_cls": PageListFeeder, "parser_cls": PARSERS[request.source]},
    )
