"""The explorer's local web server (standard library ``http.server``), on 127.0.0.1 by default.

Routes: ``GET /`` (the page) and its two files under ``/static/``; ``GET /api/status`` and
``GET /api/gallery`` (JSON); ``POST /api/analyse`` (the body is an image file, as uploaded or
drawn) and ``POST /api/gallery/<id>`` (a gallery image): the analysis as JSON. A request that
cannot be served gets ``{"error": "..."}`` with a message for the page and a 4xx status; an
unexpected failure is logged and answered with a 500; in every case the server goes on.

The page is served with a Content-Security-Policy that allows only this server and ``data:``
images: even a bug in the page could not fetch anything from elsewhere. Requests whose Host
header is not a loopback name are refused while bound to loopback (a web page elsewhere
cannot reach the explorer through DNS rebinding). Nothing is written to disk.
"""

from __future__ import annotations

import json
import logging
import re
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote

from common.errors import PipelineError
from explorer.session import ExplorerSession, ImageRefused

log = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("static")
#: The only files served: the page and its script and style (no directory listing, no other path).
FILES = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/static/explorer.js": ("explorer.js", "text/javascript; charset=utf-8"),
    "/static/explorer.css": ("explorer.css", "text/css; charset=utf-8"),
}
#: Largest upload accepted, in bytes (a photo is a few MB; the pixel limit is crawl.curation.max_pixels).
MAX_UPLOAD = 32 * 1024 * 1024
LOOPBACK_NAMES = {"127.0.0.1", "localhost", "::1", "[::1]"}
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
GALLERY_ROUTE = re.compile(r"/api/gallery/(\d+)")


def host_name(header: str) -> str:
    """The name part of a Host header (``127.0.0.1:8765`` -> ``127.0.0.1``, ``[::1]:80`` -> ``[::1]``)."""
    if header.startswith("["):
        return header.split("]", 1)[0] + "]"
    return header.rsplit(":", 1)[0]


def size_text(n_bytes: int) -> str:
    """A size in words: ``32 MB``, ``48.8 KB``."""
    if n_bytes >= 2**20:
        return f"{n_bytes / 2**20:.1f}".removesuffix(".0") + " MB"
    return f"{n_bytes / 2**10:.1f}".removesuffix(".0") + " KB"


class ExplorerServer(ThreadingHTTPServer):
    """An HTTP server holding the :class:`ExplorerSession` its handlers answer from."""

    daemon_threads = True

    def __init__(self, session: ExplorerSession, host: str = "127.0.0.1", port: int = 0,
                 max_upload: int = MAX_UPLOAD):
        self.session = session
        self.max_upload = max_upload
        self.loopback = host in LOOPBACK_NAMES
        super().__init__((host, port), ExplorerHandler)

    @property
    def url(self) -> str:
        """The page's address."""
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/"


class RequestProblem(Exception):
    """A request that cannot be served: HTTP status and a message for the page."""

    def __init__(self, status: HTTPStatus, message: str):
        super().__init__(message)
        self.status = status


class ExplorerHandler(BaseHTTPRequestHandler):
    """One request: a fixed file, a JSON answer, or ``{"error": ...}`` (see the module docstring)."""

    server: ExplorerServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (the base class's name)
        log.debug("explore: %s %s", self.address_string(), format % args)

    # --- plumbing
    def _send(self, status: HTTPStatus, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Content-Security-Policy", CSP)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: HTTPStatus, value) -> None:
        self._send(status, json.dumps(value, allow_nan=False).encode("utf-8"), "application/json")

    def _check_host(self) -> None:
        host = host_name(self.headers.get("Host") or "")
        if self.server.loopback and host not in LOOPBACK_NAMES:
            raise RequestProblem(HTTPStatus.FORBIDDEN, f"Host {host!r} refused: the explorer answers local pages only.")

    def _answer(self, work) -> None:
        try:
            self._check_host()
            work()
        except RequestProblem as problem:
            self._json(problem.status, {"error": str(problem)})
        except (ImageRefused, PipelineError) as error:
            self._json(HTTPStatus.BAD_REQUEST, {"error": str(error)})
        except Exception as error:  # a bug: say so on the page and keep serving
            log.exception("explore: %s %s failed", self.command, self.path)
            self._json(HTTPStatus.INTERNAL_SERVER_ERROR,
                       {"error": f"The explorer failed on this request ({type(error).__name__}: {error}); "
                                 "the server keeps running."})

    def _body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            self.close_connection = True
            raise RequestProblem(HTTPStatus.LENGTH_REQUIRED, "The upload has no length; send the file itself.")
        length = int(length)
        if length > self.server.max_upload:
            self._drain(length)
            raise RequestProblem(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                                 f"This file is too large: {size_text(length)}; the explorer takes files up to "
                                 f"{size_text(self.server.max_upload)}.")
        if length == 0:
            raise RequestProblem(HTTPStatus.BAD_REQUEST, "The file is empty (0 bytes).")
        return self.rfile.read(length)

    def _drain(self, length: int) -> None:
        # Read what the client sends (up to a bound) so that it sees the answer, not a reset connection.
        if length > 8 * self.server.max_upload:
            self.close_connection = True
            return
        while length > 0:
            chunk = self.rfile.read(min(length, 1 << 20))
            if not chunk:
                break
            length -= len(chunk)

    # --- routes
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self._answer(self._get)

    def do_HEAD(self) -> None:  # noqa: N802
        self._answer(self._get)

    def do_POST(self) -> None:  # noqa: N802
        self._answer(self._post)

    def _get(self) -> None:
        path = self.path.split("?", 1)[0]
        session = self.server.session
        if path in FILES:
            name, content_type = FILES[path]
            self._send(HTTPStatus.OK, (STATIC / name).read_bytes(), content_type)
        elif path == "/api/status":
            self._json(HTTPStatus.OK, session.status())
        elif path == "/api/gallery":
            self._json(HTTPStatus.OK, session.gallery_json())
        else:
            raise RequestProblem(HTTPStatus.NOT_FOUND, f"Nothing here: {path}")

    def _post(self) -> None:
        path = self.path.split("?", 1)[0]
        session = self.server.session
        gallery = GALLERY_ROUTE.fullmatch(path)
        if path == "/api/analyse":
            data = self._body()
            name = unquote(self.headers.get("X-File-Name") or "upload")[:200]
            self._json(HTTPStatus.OK, session.analyse_bytes(data, name))
        elif gallery:
            self._discard_body()
            self._json(HTTPStatus.OK, session.analyse_gallery(int(gallery.group(1))))
        else:
            self._discard_body()
            raise RequestProblem(HTTPStatus.NOT_FOUND, f"Nothing here: {path}")

    def _discard_body(self) -> None:
        length = self.headers.get("Content-Length")
        if length and length.isdigit():
            self._drain(int(length))


def serve(session: ExplorerSession, host: str = "127.0.0.1", port: int = 8765) -> None:
    """Serve the explorer until interrupted (Ctrl-C)."""
    server = ExplorerServer(session, host, port)
    if not server.loopback:
        log.warning("explore: listening on %s, not on loopback: anyone who can reach this machine can use it", host)
    log.info("explorer: %s (Ctrl-C to stop)", server.url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
