"""The ``flickr`` source: photos matching a text search, through the Flickr API (icrawler).

The API key is read from the environment variable :data:`KEY_VARIABLE`, never from params
(params.yaml is committed). The query is the search text. :data:`API_URL` is where the API
is asked (tests point it at a loopback server).
"""

from __future__ import annotations

import json
import os
from urllib.parse import urlencode

from icrawler import Crawler, Parser

from common.errors import PipelineError
from collection.sources.search import PageListFeeder
from collection.sources.web import crawl_folder

KEY_VARIABLE = "FLICKR_APIKEY"
API_URL = "https://api.flickr.com/services/rest/"
PER_PAGE = 100
#: Preferred sizes, largest first (labels of flickr.photos.getSizes).
SIZES = ("large", "medium 800", "medium 640", "medium", "small 320", "small")


def api_key() -> str:
    key = os.environ.get(KEY_VARIABLE, "").strip()
    if not key:
        raise PipelineError(
            f"source 'flickr' needs a Flickr API key in the environment variable {KEY_VARIABLE} "
            "(never in params.yaml, which is committed): export FLICKR_APIKEY=... and run again"
        )
    return key


def search_pages(key: str, text: str, max_num: int) -> list[str]:
    pages = range(1, max(1, -(-min(max_num, 4000) // PER_PAGE)) + 1)
    return [
        f"{API_URL}?"
        + urlencode(
            {"method": "flickr.photos.search", "api_key": key, "text": text, "sort": "relevance",
             "content_type": 1, "media": "photos", "per_page": PER_PAGE, "page": page,
             "format": "json", "nojsoncallback": 1}
        )
        for page in pages
    ]


class SizesParser(Parser):
    """For each photo of a search page, ask flickr.photos.getSizes and take the largest preferred size."""

    def parse(self, response, apikey):
        content = json.loads(response.content.decode("utf-8", "ignore"))
        if content.get("stat") != "ok":
            return
        for photo in content["photos"]["photo"]:
            query = {"method": "flickr.photos.getSizes", "api_key": apikey, "photo_id": photo["id"],
                     "format": "json", "nojsoncallback": 1}
            try:
                info = json.loads(self.session.get(f"{API_URL}?{urlencode(query)}", timeout=10).content.decode())
            except Exception:
                continue
            if info.get("stat") != "ok":
                continue
            urls = {str(size["label"]).lower(): size["source"] for size in info["sizes"]["size"]}
            for label in SIZES:
                if label in urls:
                    yield {"file_url": urls[label]}
                    break


def pooled_random(params) -> bool:
    return True


def check(requests, params) -> None:
    api_key()


def fill(request, params, collector) -> None:
    key = api_key()
    max_num = params.crawl.web.max_num or 3 * collector.needed
    crawl_folder(
        Crawler,
        source="flickr",
        request=request,
        params=params,
        collector=collector,
        feeder_kwargs={"page_urls": search_pages(key, request.query, max_num)},
        parser_kwargs={"apikey": key},
        crawler_kwargs={"feeder_cls": PageListFeeder, "parser_cls": SizesParser},
    )
