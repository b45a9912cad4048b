"""Crawling with icrawler: run one engine for one folder and hand every download to the collector.

icrawler's own downloader writes each response straight to disk (not atomically, under a
counter whose value depends on thread timing) and only logs failures. Here a downloader
subclass (:class:`CollectingDownloader`) hands every response instead to the main thread,
where the folder's collector validates, deduplicates and stores it (atomically, under a
content-hash name) and records failures; the downloader threads wait for its verdict so that
icrawler's count of kept images stays right.

Every crawl is guarded by ``crawl.web.idle_timeout`` (nothing downloaded for that long) and
``crawl.web.time_limit``: icrawler's ``GreedyImageCrawler`` never returns when it finds no image,
and its downloaders wait for work as long as a parser is alive. On a stop (enough images,
a limit, Ctrl-C) icrawler's ``reach_max_num`` signal tells its threads to finish; they are
daemon threads, so a stuck request cannot keep the stage alive.

If no request of a crawl reached its host, :func:`crawl_folder` raises a
:class:`PipelineError` naming the source and suggesting ``synthetic`` or ``local``; images
kept so far stay in the folder.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from urllib.parse import urlsplit

import requests
from icrawler import Crawler, ImageDownloader
from icrawler.storage import BaseStorage
from icrawler.utils import ProxyPool, Session

from common.errors import PipelineError

log = logging.getLogger(__name__)

#: Largest download accepted, in bytes (a bigger response is cut off and recorded as failed).
MAX_DOWNLOAD_BYTES = 50 * 1024 * 1024
#: icrawler's component loggers; their messages (which may carry an API key in a page URL)
#: are replaced by this module's own.
ICRAWLER_LOGGERS = ("feeder", "parser", "downloader", "icrawler", "icrawler.crawler")


class RecordingSession(Session):
    """icrawler's HTTP session, remembering which hosts answered and which could not be reached."""

    def __init__(self):
        super().__init__(ProxyPool())
        self.lock = threading.Lock()
        self.answered: dict[str, int] = {}
        self.unreachable: dict[str, str] = {}
        self.statuses: dict[tuple[str, int], int] = {}

    def get(self, url, **kwargs):
        host = urlsplit(url).netloc
        try:
            response = super().get(url, **kwargs)
        except (requests.ConnectionError, requests.Timeout) as error:
            with self.lock:
                self.unreachable.setdefault(host, describe(error))
            raise
        with self.lock:
            self.answered[host] = self.answered.get(host, 0) + 1
            key = (host, response.status_code)
            self.statuses[key] = self.statuses.get(key, 0) + 1
        return response


def describe(error: BaseException) -> str:
    """A short, key-free description of a request error."""
    text = str(error)
    for marker in ("Connection refused", "Name or service not known", "Temporary failure in name resolution",
                   "No route to host", "Network is unreachable", "timed out", "Read timed out"):
        if marker in text:
            return f"{type(error).__name__}: {marker.lower()}"
    return type(error).__name__


class NullStorage(BaseStorage):
    """icrawler's storage is not used: the collector stores what it keeps."""

    def write(self, id, data):  # noqa: A002 - icrawler's signature
        pass

    def exists(self, id):  # noqa: A002
        return False

    def max_file_idx(self):
        return 0


class Handoff:
    """Carries downloads from icrawler's threads to the collector in the main thread."""

    def __init__(self, collector):
        self.collector = collector
        self.queue: queue.Queue = queue.Queue()
        self.stopped = threading.Event()

    def seen(self, url: str) -> bool:
        return self.collector.seen(url)

    def offer(self, url: str, data: bytes) -> bool:
        """Hand over a download and wait for the verdict (False once the crawl is stopping)."""
        if self.stopped.is_set():
            return False
        reply = {"done": threading.Event(), "kept": False}
        self.queue.put(("offer", url, data, reply))
        while not reply["done"].wait(0.2):
            if self.stopped.is_set():
                return False
        return reply["kept"]

    def fail(self, url: str, reason: str) -> None:
        self.queue.put(("fail", url, reason, None))


class CollectingDownloader(ImageDownloader):
    """An icrawler downloader that gives every response to a :class:`Handoff`."""

    handoff: Handoff
    request_timeout: float = 10.0
    attempts: int = 2

    def download(self, task, default_ext, timeout=5, max_retry=3, overwrite=False, **kwargs):
        url = task["file_url"]
        task["success"], task["filename"] = False, None
        if self.handoff.seen(url):
            return False
        reason = "not attempted"
        for _ in range(self.attempts):
            if self.signal.get("reach_max_num") or self.handoff.stopped.is_set():
                return False
            try:
                response = self.session.get(url, timeout=self.request_timeout, stream=True)
                if response.status_code != 200:
                    response.close()
                    reason = f"HTTP {response.status_code}"
                    if response.status_code < 500:  # 404 and the like: asking again will not help
                        break
                    continue
                data = _read_limited(response)
            except requests.RequestException as error:
                reason = describe(error)
                continue
            except ValueError as error:
                reason = str(error)
                break
            kept = self.handoff.offer(url, data)
            if kept:
                with self.lock:
                    self.fetched_num += 1
            task["success"] = kept
            return kept
        self.handoff.fail(url, reason)
        return False

    def process_meta(self, task):
        pass


def _read_limited(response) -> bytes:
    chunks, size = [], 0
    for chunk in response.iter_content(65536):
        size += len(chunk)
        if size > MAX_DOWNLOAD_BYTES:
            response.close()
            raise ValueError(f"larger than {MAX_DOWNLOAD_BYTES // (1024 * 1024)} MB")
        chunks.append(chunk)
    return b"".join(chunks)


def crawl_folder(
    crawler_cls,
    *,
    source: str,
    request,
    params,
    collector,
    feeder_kwargs: dict,
    parser_kwargs: dict | None = None,
    crawler_kwargs: dict | None = None,
) -> None:
    """Run ``crawler_cls`` (an icrawler crawler) until ``collector`` is full or a limit is hit."""
    web = params.crawl.web
    for name in ICRAWLER_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL)
    session = RecordingSession()
    handoff = Handoff(collector)
    crawler = crawler_cls(
        downloader_cls=CollectingDownloader,
        downloader_threads=web.threads,
        storage=NullStorage(),
        log_level=logging.CRITICAL,
        **(crawler_kwargs or {}),
    )
    # icrawler's components got the crawler's session when constructed; swap in ours.
    for part in (crawler, crawler.feeder, crawler.parser, crawler.downloader):
        part.session = session
    crawler.downloader.handoff = handoff
    crawler.downloader.request_timeout = web.timeout
    max_num = web.max_num or 3 * collector.needed
    crashed: list[BaseException] = []

    def run_crawler() -> None:
        # The base class's crawl: the engine subclasses' crawl() wrappers do not pass timeouts.
        try:
            Crawler.crawl(
                crawler,
                feeder_kwargs=feeder_kwargs,
                parser_kwargs={"req_timeout": web.timeout, "queue_timeout": 1, **(parser_kwargs or {})},
                downloader_kwargs={"max_num": max_num, "queue_timeout": 1},
            )
        except BaseException as error:  # re-raised in the main thread
            crashed.append(error)

    thread = threading.Thread(target=run_crawler, name=f"crawl-{request.name}", daemon=True)
    started = last_activity = time.monotonic()
    finished = False
    thread.start()
    try:
        while not collector.done:
            if time.monotonic() - started > web.time_limit:
                log.warning("%s %r: stopped at crawl.web.time_limit (%gs)", request.kind, request.name, web.time_limit)
                break
            try:
                kind, url, payload, reply = handoff.queue.get(timeout=0.1)
            except queue.Empty:
                if not thread.is_alive():
                    break
                if time.monotonic() - last_activity > web.idle_timeout:
                    log.info("%s %r: nothing downloaded for %gs, crawl ended", request.kind, request.name, web.idle_timeout)
                    break
                continue
            last_activity = time.monotonic()
            _handle(collector, kind, url, payload, reply)
        finished = True
    finally:
        handoff.stopped.set()
        crawler.signal.set(reach_max_num=True)
        if finished:  # after Ctrl-C or an error, do not wait for requests in flight
            thread.join(timeout=2 * web.timeout + 2)
        while not handoff.queue.empty():  # downloads that arrived after the stop: failures still count
            kind, url, payload, reply = handoff.queue.get_nowait()
            if kind == "fail":
                _handle(collector, kind, url, payload, reply)
            else:
                reply["done"].set()
    if crashed:
        raise crashed[0]
    _report_hosts(session, source, request, collector)


def _handle(collector, kind, url, payload, reply) -> None:
    if kind == "offer":
        reply["kept"] = collector.offer(url, payload, url=url)
        reply["done"].set()
    else:
        collector.fail(url, payload, url=url)


def _report_hosts(session: RecordingSession, source: str, request, collector) -> None:
    refused = sorted((host, status, n) for (host, status), n in session.statuses.items() if status != 200)
    for host, status, n in refused:
        log.warning("%s: %s answered HTTP %d to %d request(s)", source, host, status, n)
    if session.unreachable and not session.answered:
        hosts = "; ".join(f"{host} ({error})" for host, error in sorted(session.unreachable.items()))
        raise PipelineError(
            f"source {source!r} cannot reach {hosts} for {request.kind} {request.name!r}: is this machine "
            f"offline? Set crawl.source (or crawl.sources.{request.name if request.kind != 'random' else 'random'}) "
            f"to 'synthetic' (built-in images) or 'local' (a folder of images, crawl.local_dir); the "
            f"{collector.kept} image(s) already in {collector.folder} were kept"
        )
