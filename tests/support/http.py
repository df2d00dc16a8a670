"""A real HTTP server on 127.0.0.1 for tests that fetch pages: static fixtures plus scripted routes.

Use the `http_site` fixture: list this module in `pytest_plugins` (once in tests/conftest.py, or in
the test module; in the latter case import `HTTPSite` for annotations under TYPE_CHECKING only,
since importing the module before pytest registers it defeats assertion rewriting):

    def test_something(http_site: HTTPSite) -> None:
        http_site.redirect("/old", "/gather/article.html")    # 302 (or status=301)
        http_site.page("/feed", "<rss ...>", content_type="application/rss+xml")
        http_site.status("/gone", 410)
        http_site.stall("/slow")              # headers, then nothing until the test ends
        http_site.stream("/huge", 2_000_000)  # a streamed body of that many bytes
        http_site.hold("/queued")             # answered only when the test lets one held request go
        http_site.wait_for_held(2); http_site.let_one_go()   # `max_held`: most held at once
        fetch(http_site.url("/old"))
        assert http_site.requests[0].headers["User-Agent"] == ...

Any path without a route is served from tests/fixtures/ (e.g. `/gather/article.html`); a missing
file answers 404. In served text fixtures, the marker `{{BASE_URL}}` becomes the server's base
URL (e.g. `http://127.0.0.1:41234`), for feeds and pages that need absolute links back to it.
Stalled handlers are released when the fixture ends, so no thread outlives the test.
"""

from __future__ import annotations

import mimetypes
import sys
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
BASE_URL_MARKER = b"{{BASE_URL}}"
_TEXT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".xml": "application/xml",
    ".rss": "application/rss+xml",
    ".atom": "application/atom+xml",
    ".txt": "text/plain; charset=utf-8",
    ".json": "application/json",
}
_STALL_LIMIT_SECONDS = 60  # a safety net only: the fixture releases stalled handlers at teardown


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: Mapping[str, str]


@dataclass(frozen=True)
class _Route:
    status: int = 200
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    stall: bool = False
    stream_bytes: int = 0  # > 0: send this many bytes in chunks, without Content-Length
    hold: bool = False  # wait for `let_one_go()` before answering


@dataclass
class HTTPSite:
    """The running server: register routes, build URLs, inspect the requests it received."""

    root: Path = FIXTURES
    base_url: str = ""
    requests: list[RecordedRequest] = field(default_factory=list)
    _routes: dict[str, _Route] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _release: threading.Event = field(default_factory=threading.Event)
    _held_changed: threading.Condition = field(default_factory=threading.Condition)
    held: int = 0  # requests to held routes waiting right now
    max_held: int = 0
    _let_go: int = 0

    def url(self, path: str) -> str:
        """Absolute URL of a path on this server ("/gather/a.html" or "gather/a.html")."""
        return f"{self.base_url}/{path.lstrip('/')}"

    def page(
        self,
        path: str,
        body: str | bytes,
        *,
        content_type: str = "text/html; charset=utf-8",
        status: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> str:
        """Serve a fixed body at path; returns its URL."""
        data = body.encode() if isinstance(body, str) else body
        all_headers = {"Content-Type": content_type, **(headers or {})}
        return self._add(path, _Route(status, data, tuple(all_headers.items())))

    def redirect(self, path: str, to: str, *, status: int = 302) -> str:
        """Redirect path to `to` (a path on this server or an absolute URL); returns its URL."""
        return self._add(path, _Route(status, b"", (("Location", to),)))

    def status(self, path: str, code: int, body: str = "") -> str:
        """Answer path with an HTTP status (404, 500...) and a short body; returns its URL."""
        return self._add(path, _Route(code, body.encode(), (("Content-Type", "text/plain; charset=utf-8"),)))

    def stall(self, path: str) -> str:
        """Send 200 and headers, then no body until the test ends; the client's timeout must end it."""
        return self._add(path, _Route(200, b"", (("Content-Type", "text/html; charset=utf-8"),), stall=True))

    def stream(self, path: str, size: int, *, content_type: str = "text/html; charset=utf-8") -> str:
        """Stream `size` bytes of HTML-ish filler without a Content-Length; returns its URL."""
        return self._add(path, _Route(200, b"", (("Content-Type", content_type),), stream_bytes=size))

    def hold(self, path: str, body: str = "<html><body><p>Held, then answered.</p></body></html>") -> str:
        """Serve `body` at path, but only once the test calls `let_one_go()` for this request."""
        return self._add(path, _Route(200, body.encode(), (("Content-Type", "text/html; charset=utf-8"),), hold=True))

    def wait_for_held(self, count: int, timeout: float = 30) -> None:
        """Until exactly `count` requests are held. Fails after `timeout` s."""
        with self._held_changed:
            assert self._held_changed.wait_for(lambda: self.held == count, timeout), f"{self.held} held, not {count}"

    def more_held_within(self, count: int, seconds: float) -> bool:
        """Whether more than `count` requests are held at once within `seconds`. Only for proving a
        limit: code that keeps it always gets False, whatever the machine's speed."""
        with self._held_changed:
            return self._held_changed.wait_for(lambda: self.max_held > count, seconds)

    def let_one_go(self) -> None:
        """Answer one held request."""
        with self._held_changed:
            self._let_go += 1
            self._held_changed.notify_all()

    def _wait_to_be_let_go(self) -> None:
        with self._held_changed:
            self.held += 1
            self.max_held = max(self.max_held, self.held)
            self._held_changed.notify_all()
            self._held_changed.wait_for(lambda: self._let_go > 0 or self._release.is_set(), _STALL_LIMIT_SECONDS)
            self._let_go = max(0, self._let_go - 1)
            self.held -= 1
            self._held_changed.notify_all()

    def requests_to(self, path: str) -> list[RecordedRequest]:
        with self._lock:
            return [request for request in self.requests if request.path == "/" + path.lstrip("/")]

    def _add(self, path: str, route: _Route) -> str:
        with self._lock:
            self._routes["/" + path.lstrip("/")] = route
        return self.url(path)

    def _route(self, path: str) -> _Route | None:
        with self._lock:
            return self._routes.get(path)

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _fixture(self, path: str) -> _Route:
        target = (self.root / path.lstrip("/")).resolve()
        if not target.is_relative_to(self.root.resolve()) or not target.is_file():
            return _Route(404, b"not found", (("Content-Type", "text/plain; charset=utf-8"),))
        suffix = target.suffix.lower()
        content_type = _TEXT_TYPES.get(suffix) or mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        body = target.read_bytes()
        if suffix in _TEXT_TYPES:
            body = body.replace(BASE_URL_MARKER, self.base_url.encode())
        return _Route(200, body, (("Content-Type", content_type),))


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        site = self.server.site
        path = urlsplit(self.path).path
        site._record(RecordedRequest("GET", path, dict(self.headers.items())))
        route = site._route(path) or site._fixture(path)
        if route.hold:
            site._wait_to_be_let_go()
        self.send_response(route.status)
        for name, value in route.headers:
            self.send_header(name, value)
        if route.stall:
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self.wfile.write(b"<html><body><p>")
            self.wfile.flush()
            site._release.wait(_STALL_LIMIT_SECONDS)
            return
        if route.stream_bytes:
            self.end_headers()  # HTTP/1.0 without Content-Length: the body runs until the connection closes
            chunk = b"<p>" + b"filler " * 9000 + b"</p>\n"
            sent = 0
            while sent < route.stream_bytes and not site._release.is_set():
                self.wfile.write(chunk[: route.stream_bytes - sent])
                sent += len(chunk)
            return
        self.send_header("Content-Length", str(len(route.body)))
        self.end_headers()
        self.wfile.write(route.body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read `HTTPSite.requests` instead."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, site: HTTPSite) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.site = site

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up early (timeouts, size limits) is what these tests provoke: not an error."""
        error = sys.exc_info()[1]
        if not isinstance(error, (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


@pytest.fixture
def http_site() -> Iterator[HTTPSite]:
    """A running HTTPSite on 127.0.0.1 (random port), stopped and released after the test."""
    site = HTTPSite()
    server = _Server(site)
    site.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="http_site", daemon=True)
    thread.start()
    try:
        yield site
    finally:
        site._release.set()
        with site._held_changed:
            site._held_changed.notify_all()
        server.shutdown()
        server.server_close()
        thread.join()
