"""A loopback HTTP server for crawl tests: fixed routes, a request log, slow answers."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


@dataclass
class Route:
    body: bytes
    status: int = 200
    content_type: str = "image/jpeg"
    delay: float = 0.0  # seconds before answering (a slow server)


class ImageServer:
    """Serves ``routes`` (path -> :class:`Route`, query strings ignored) on 127.0.0.1.

    ``templates``: placeholders substituted in bodies when served (``{base}``: this server's URL).
    ``requested`` lists the paths asked for, in order. Unknown paths get a 404 page.
    """

    def __init__(self, routes: dict[str, Route] | None = None):
        self.routes: dict[str, Route] = dict(routes or {})
        #: path -> function of the query string returning the Route (an API answering by query)
        self.dynamic: dict = {}
        self.requested: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                path, query = urlsplit(self.path).path, urlsplit(self.path).query
                server.requested.append(path)
                if path in server.dynamic:
                    route = server.dynamic[path](query)
                else:
                    route = server.routes.get(path, Route(b"<html><body>404 Not Found</body></html>", 404, "text/html"))
                if route.delay:
                    time.sleep(route.delay)
                body = route.body
                for placeholder, value in server.templates.items():
                    body = body.replace(placeholder.encode(), value.encode())
                try:
                    self.send_response(route.status)
                    self.send_header("Content-Type", route.content_type)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout)
                    pass

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.templates = {"{base}": self.base}
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    def __enter__(self) -> "ImageServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def refused_url(path: str = "/image.jpg") -> str:
    """A URL on a loopback port nothing listens on (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"
