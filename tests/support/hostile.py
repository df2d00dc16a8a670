"""A hostile web site on loopback, for the tests of gather's time limits and origin-scoped trust.

`HostileSite` runs three servers on 127.0.0.1, each on its own free port:

- `url(path)`: the site. `/article` is the bundled sample article, with script/iframe payloads
  and a Related Sources list linking to every trap below (and to the sample's two related pages,
  served at `/related/...`). The traps:
    /trickle         200 and headers, then 35 bytes every half second, forever
    /silence         reads the request and never answers
    /loop/a          redirects to /loop/b, which redirects back
    /endless/N       redirects to /endless/N+1, without end
    /huge            200 MiB streamed without a Content-Length (never held by the server either)
    /bomb            100 MiB of zeros gzip-compressed to ~100 KB, sent with Content-Encoding: gzip
    /to-admin        redirects to the admin service (another port)
    /to-file         redirects to file:///etc/passwd
  and links straight to the admin service as 127.0.0.1, localhost and 127.1, and to file:///etc/passwd.
- `admin_url`: another loopback service (think Redis, a Docker socket proxy, a cloud metadata
  endpoint) that records every request in `admin_requests`: a page may never reach it.
- `slow_tls_url`: an https:// URL whose server trickles a TLS record one byte every half second,
  so the handshake never ends.

`page(path, html)` serves more pages; `hung_up[name]` ("trickle", "silence", "slow-tls") is set
when a client ends that connection, so a test can see that a timed-out request was really ended.
`release()` (called by the fixture at teardown) ends every trickle and silence at once. Use the
`hostile_site` fixture: import `hostile_site_fixture` into the test module (`# noqa: F401`).
"""

from __future__ import annotations

import contextlib
import functools
import re
import socket
import socketserver
import threading
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

SAMPLE_PAGES = Path(__file__).resolve().parents[2] / "samples" / "pages"
PAYLOAD_MARKER = "HOSTILE-PAYLOAD"
PAYLOADS = (
    f"<script>document.title = '{PAYLOAD_MARKER}'; alert('{PAYLOAD_MARKER}')</script>"
    f'<iframe src="{{admin}}/iframe" title="{PAYLOAD_MARKER}"></iframe>'
    f'<p><img src="x" onerror="alert(\'{PAYLOAD_MARKER}\')">'
    f'<a href="javascript:alert(\'{PAYLOAD_MARKER}\')">Read more</a></p>'
)
TRICKLE = b"<p>drip, drip, drip, drip, drip.</p>"  # 35 bytes
TRICKLE_EVERY = 0.5
HUGE_BYTES = 200 * 1024 * 1024
BOMB_BYTES = 100 * 1024 * 1024
_HOLD_LIMIT = 120  # a safety net only: release() ends every hold when the test ends


@functools.cache
def gzip_bomb() -> bytes:
    """BOMB_BYTES of zeros, gzip-compressed (made once per test session)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(1024 * 1024)
    parts = [compressor.compress(block) for _ in range(BOMB_BYTES // len(block))]
    return b"".join([*parts, compressor.flush()])


class HostileSite:
    """The three servers; see the module docstring."""

    def __init__(self) -> None:
        self.released = threading.Event()
        self.admin_requests: list[str] = []
        self.hung_up = {name: threading.Event() for name in ("trickle", "silence", "slow-tls")}
        self._pages: dict[str, str] = {}
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._site = _Server(self, _SiteHandler)
        self._admin = _Server(self, _AdminHandler)
        self._slow_tls = _SlowTLSServer(self)
        self._threads: list[threading.Thread] = []

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._site.server_address[1]}"

    @property
    def admin_port(self) -> int:
        return int(self._admin.server_address[1])

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.admin_port}"

    @property
    def slow_tls_url(self) -> str:
        return f"https://127.0.0.1:{self._slow_tls.server_address[1]}/"

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def page(self, path: str, html: str) -> str:
        """Serve `html` at `path`; returns its URL."""
        with self._lock:
            self._pages[path] = html
        return self.url(path)

    def related_traps(self) -> dict[str, str]:
        """Each trap linked from /article, by name: its URL."""
        port = self.admin_port
        return {
            "trickle": self.url("/trickle"),
            "silence": self.url("/silence"),
            "loop": self.url("/loop/a"),
            "endless": self.url("/endless/0"),
            "huge": self.url("/huge"),
            "bomb": self.url("/bomb"),
            "to-admin": self.url("/to-admin"),
            "to-file": self.url("/to-file"),
            "admin": f"http://127.0.0.1:{port}/admin?from=ip",
            "admin-localhost": f"http://localhost:{port}/admin?from=localhost",
            "admin-127.1": f"http://127.1:{port}/admin?from=127.1",
        }

    def article(self) -> str:
        """The sample article, with payloads, linking to the sample's related pages and every trap."""
        html = (SAMPLE_PAGES / "starmer-white-house.html").read_text(encoding="utf-8")
        links = "".join(f'<li><a href="{url}">Background: {name}</a></li>' for name, url in self.related_traps().items())
        links += '<li><a href="file:///etc/passwd">Background: passwords</a></li>'
        html = html.replace("</ul>\n        </section>", f"{links}</ul>\n        </section>", 1)
        return _with_payloads(html, self.admin_url)

    def start(self) -> HostileSite:
        for name, server in (("hostile-site", self._site), ("hostile-admin", self._admin), ("hostile-tls", self._slow_tls)):
            thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def release(self) -> None:
        """End every trickle and silence, and stop the servers."""
        self.released.set()
        with self._lock:
            for connection in self._open:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
        for server in (self._site, self._admin, self._slow_tls):
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=10)

    def _record_admin(self, line: str) -> None:
        with self._lock:
            self.admin_requests.append(line)

    def _served_page(self, path: str) -> str | None:
        with self._lock:
            return self._pages.get(path)

    def _hold(self, connection: socket.socket, name: str) -> None:
        """Wait until the client hangs up (then say so) or the site is released."""
        with self._lock:
            self._open.add(connection)
        try:
            connection.settimeout(_HOLD_LIMIT)
            if connection.recv(1) == b"" and not self.released.is_set():
                self.hung_up[name].set()
        except OSError:
            if not self.released.is_set():
                self.hung_up[name].set()
        finally:
            with self._lock:
                self._open.discard(connection)


def _with_payloads(html: str, admin_url: str) -> str:
    payloads = PAYLOADS.replace("{admin}", admin_url)
    html = html.replace("</head>", f"{payloads}</head>", 1)
    return re.sub(r"(<p[ >])", lambda match: payloads + match.group(1), html, count=3)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, site: HostileSite, handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.site = site

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client hanging up mid-answer is what these tests provoke: not an error."""


class _SiteHandler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        site = self.server.site
        path = self.path.split("?", 1)[0]
        if path == "/article":
            self._send(200, site.article().encode())
        elif path.startswith("/related/") and (SAMPLE_PAGES / path.lstrip("/")).is_file():
            self._send(200, _with_payloads((SAMPLE_PAGES / path.lstrip("/")).read_text(encoding="utf-8"), site.admin_url).encode())
        elif site._served_page(path) is not None:
            self._send(200, str(site._served_page(path)).encode())
        elif path == "/trickle":
            self.close_connection = True
            self._headers(200, {"Content-Length": "100000"})
            try:
                while not site.released.wait(TRICKLE_EVERY):
                    self.wfile.write(TRICKLE)
                    self.wfile.flush()
            except OSError:
                site.hung_up["trickle"].set()
        elif path == "/silence":
            self.close_connection = True
            site._hold(self.connection, "silence")
        elif path == "/loop/a":
            self._redirect("/loop/b")
        elif path == "/loop/b":
            self._redirect("/loop/a")
        elif path.startswith("/endless/"):
            self._redirect(f"/endless/{int(path.rsplit('/', 1)[1]) + 1}")
        elif path == "/huge":
            self._headers(200, {"Connection": "close"})  # no Content-Length: the body runs until the connection closes
            self.close_connection = True
            chunk = b"<p>" + b"x" * (64 * 1024 - 8) + b"</p>\n"
            for _ in range(HUGE_BYTES // len(chunk)):
                if site.released.is_set():
                    break
                self.wfile.write(chunk)
        elif path == "/bomb":
            self._send(200, gzip_bomb(), {"Content-Encoding": "gzip"})
        elif path == "/to-admin":
            self._redirect(f"{site.admin_url}/admin?from=redirect")
        elif path == "/to-file":
            self._redirect("file:///etc/passwd")
        else:
            self._send(404, b"not found")

    def _headers(self, status: int, headers: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.flush()

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self._headers(status, {"Content-Length": str(len(body)), **(headers or {})})
        self.wfile.write(body)

    def _redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


class _AdminHandler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        self.server.site._record_admin(f"GET {self.path}")
        body = b"<html><body><h1>Admin console</h1><p>ADMIN-SECRET</p></body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        self.server.site._record_admin(f"POST {self.path}")
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test reads `admin_requests`."""


class _SlowTLSServer(socketserver.ThreadingTCPServer):
    """Accepts, reads the client's hello, then sends a TLS record header and its body one byte at a time."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, site: HostileSite) -> None:
        super().__init__(("127.0.0.1", 0), _SlowTLSHandler)
        self.site = site

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client hanging up mid-handshake is what these tests provoke: not an error."""


class _SlowTLSHandler(socketserver.BaseRequestHandler):
    server: _SlowTLSServer
    request: socket.socket

    def handle(self) -> None:
        site = self.server.site
        self.request.recv(4096)  # the ClientHello
        record = b"\x16\x03\x03\x40\x00" + b"\x02" * 0x4000  # a 16 KiB handshake record, never completed
        try:
            for byte in record:
                if site.released.wait(TRICKLE_EVERY):
                    return
                self.request.sendall(bytes([byte]))
        except OSError:
            site.hung_up["slow-tls"].set()


@pytest.fixture(name="hostile_site")
def hostile_site_fixture() -> Iterator[HostileSite]:
    """A running HostileSite, released and stopped after the test."""
    site = HostileSite().start()
    try:
        yield site
    finally:
        site.release()
