"""Fetch one URL (http, https) or read one local file into a Page, within a Deadline.

Bodies are read in raw pieces as they arrive, the deadline checked on every piece, decoded
(gzip, deflate) in bounded steps and capped at `max_bytes`, so neither a trickling server nor a
200 MiB body nor a compression bomb holds the run or its memory. Redirects are followed one at a
time, to count them, name loops and check each hop against the source's Trust.
"""

from __future__ import annotations

import logging
import re
import time
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

import httpx

from digest.config import GatherConfig
from digest.errors import SourceError
from digest.gather.limits import Deadline
from digest.gather.trust import Trust, normal_host
from digest.models import Page

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]

HTML_TYPES = ("text/html", "application/xhtml+xml")
FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/rdf+xml", "application/xml", "text/xml")
_TYPES_BY_SUFFIX = {
    ".html": "text/html",
    ".htm": "text/html",
    ".xhtml": "application/xhtml+xml",
    ".xml": "application/xml",
    ".rss": "application/rss+xml",
    ".atom": "application/atom+xml",
}
FEED_START = re.compile(rb"^\s*(<\?xml[^>]*>\s*)?(<!--.*?-->\s*)*<(rss|feed|rdf:RDF)\b", re.DOTALL)
HTML_START = re.compile(rb"^\s*(<\?xml[^>]*>\s*)?(<!--.*?-->\s*)*<(!doctype html|html|head|body)\b", re.IGNORECASE | re.DOTALL)
_DECODED_STEP = 64 * 1024  # at most this much decompressed output per step
_ACCEPT_ENCODING = "gzip, deflate"  # only what _Decoder reads


def utc_now() -> datetime:
    return datetime.now(UTC)


def open_client(config: GatherConfig) -> httpx.Client:
    """The HTTP client a gather shares between its fetches."""
    return httpx.Client(
        headers={"User-Agent": config.user_agent, "Accept-Encoding": _ACCEPT_ENCODING},
        timeout=_timeout(config, config.page_timeout),
        follow_redirects=False,  # followed one by one in _fetch_http, to count them and check each hop
        # No keep-alive: every request opens its own connection, so every request's peer is checked
        # under the trust of the page that led to it. How many run at once is fetch_within's job.
        limits=httpx.Limits(max_connections=None, max_keepalive_connections=0),
    )


def fetch(
    url: str,
    config: GatherConfig,
    client: httpx.Client,
    deadline: Deadline,
    trust: Trust,
    *,
    via: str | None = None,
    clock: Clock = utc_now,
) -> Page:
    """Fetch an http(s) URL or read a local file (absolute path or file:// URI); an HTTP error
    status comes back as a Page with an empty body. Raises SourceError."""
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError as exc:
        raise SourceError(url, f"invalid URL: {exc}") from exc
    if scheme in ("http", "https"):
        return _fetch_http(url, config, client, deadline, trust, via, clock)
    if scheme == "file" or (not scheme and Path(url).is_absolute()):
        return _read_file(url, config, via, clock)
    if scheme:
        raise SourceError(url, f"unsupported URL scheme '{scheme}' (use http, https or a file path)")
    raise SourceError(url, "not an http(s) URL or an absolute file path")


def require_document(page: Page, url: str) -> Page:
    """The page when it is a 2xx HTML page or feed. Raises SourceError."""
    if not 200 <= page.status < 300:
        raise SourceError(url, f"HTTP {page.status}")
    if page.content_type not in HTML_TYPES and page.content_type not in FEED_TYPES:
        raise SourceError(url, f"not an HTML page or feed ({page.content_type})")
    return page


def _timeout(config: GatherConfig, remaining: float) -> httpx.Timeout:
    connect = min(config.connect_timeout, remaining)
    read = min(config.read_timeout, remaining)
    return httpx.Timeout(connect=connect, read=read, write=read, pool=connect)


def _fetch_http(
    url: str, config: GatherConfig, client: httpx.Client, deadline: Deadline, trust: Trust, via: str | None, clock: Clock
) -> Page:
    started = time.monotonic()
    visited = {url}
    try:
        request = client.build_request("GET", url)
        for _hop in range(config.max_redirects + 1):
            target = str(request.url)
            deadline.doing = "resolving the host name"
            trust.check_name(url, target)
            request.extensions = {
                **request.extensions,
                "timeout": _timeout(config, deadline.remaining()).as_dict(),
                "trace": _Tracer(url, target, trust, deadline),
            }
            response = client.send(request, stream=True, follow_redirects=False)
            try:
                if response.next_request is not None:
                    request = response.next_request
                    _check_redirect(url, str(request.url), visited)
                    continue
                status = response.status_code
                body = _read_body(response, url, config, deadline) if 200 <= status < 300 else b""
                content_type, charset = content_type_of(response.headers.get("content-type"), str(response.url), body)
                return Page(
                    url=str(response.url),
                    body=body,
                    content_type=content_type,
                    status=status,
                    elapsed=time.monotonic() - started,
                    fetched_at=clock(),
                    charset=charset,
                    via=via,
                    requested_url=url,
                )
            finally:
                response.close()
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        deadline.check(url)  # a connection ended by the deadline: say so, not "connection reset"
        raise SourceError(url, _http_reason(exc, config)) from exc
    raise SourceError(url, f"too many redirects (more than {config.max_redirects})")


def _check_redirect(url: str, target: str, visited: set[str]) -> None:
    scheme = urlsplit(target).scheme.lower()
    if scheme not in ("http", "https"):
        raise SourceError(url, f"refused: a redirect to a {scheme}: URL")
    if target in visited:
        raise SourceError(url, f"too many redirects (redirect loop at {target})")
    visited.add(target)


class _Tracer:
    """httpcore's trace hook for one request: says what the fetch is doing, hands each new
    connection to the deadline, and checks the peer address before the request is sent."""

    def __init__(self, url: str, target: str, trust: Trust, deadline: Deadline) -> None:
        self.url = url
        self.target = target
        self.trust = trust
        self.deadline = deadline
        self.connecting_to = ""

    def __call__(self, event: str, info: dict[str, Any]) -> None:
        if event == "connection.connect_tcp.started":
            self.deadline.doing = "connecting"
            self.connecting_to = str(info.get("host", ""))
        elif event == "connection.connect_tcp.complete":
            self._connected(info["return_value"])
        elif event == "connection.start_tls.started":
            self.deadline.doing = "in the TLS handshake"
        elif event == "http11.send_request_headers.started":
            self.deadline.doing = "sending the request"
        elif event == "http11.receive_response_headers.started":
            self.deadline.doing = "waiting for the response"

    def _connected(self, stream: Any) -> None:
        sock = stream.get_extra_info("socket")
        try:
            self.deadline.adopt(sock)
            if normal_host(self.connecting_to) != normal_host(urlsplit(self.target).hostname or ""):
                return  # connected to a proxy from the environment: it connects onwards, the name check stands
            self.trust.check_peer(self.url, self.target, str(sock.getpeername()[0]))
        except OSError as exc:  # out of file descriptors, or the peer already gone
            stream.close()
            raise SourceError(self.url, f"cannot connect: {exc.strerror or exc}") from exc
        except SourceError:
            stream.close()
            raise


def _read_body(response: httpx.Response, url: str, config: GatherConfig, deadline: Deadline) -> bytes:
    too_large = SourceError(url, f"page larger than {config.max_bytes} bytes")
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > config.max_bytes:
        raise too_large
    decoder = _Decoder(url, response.headers.get("content-encoding", ""))
    body = bytearray()
    received = 0
    deadline.doing = "reading the page (0 bytes so far)"
    for piece in response.iter_raw():
        received += len(piece)
        deadline.doing = f"reading the page ({received:,} bytes so far)"
        deadline.check(url)
        for data in decoder.decode(piece):
            if len(body) + len(data) > config.max_bytes:
                raise too_large
            body += data
    return bytes(body)


class _Decoder:
    """Undoes a gzip or deflate Content-Encoding a bounded step at a time, so a small compressed
    body cannot balloon in memory before the size cap sees it."""

    def __init__(self, url: str, encoding: str) -> None:
        self.url = url
        self.encoding = encoding.strip().lower()
        self._zlib: Any = None
        self._may_be_raw = False  # deflate only: some servers send it raw, without the zlib header
        if self.encoding in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif self.encoding == "deflate":
            self._zlib = zlib.decompressobj(zlib.MAX_WBITS)
            self._may_be_raw = True
        elif self.encoding not in ("", "identity"):
            raise SourceError(url, f"unsupported Content-Encoding {encoding!r}")

    def decode(self, data: bytes) -> Iterator[bytes]:
        if self._zlib is None:
            yield data
            return
        try:
            while data and not self._zlib.eof:
                yield self._zlib.decompress(data, _DECODED_STEP)
                data = self._zlib.unconsumed_tail
        except zlib.error as exc:
            if self._may_be_raw:
                self._may_be_raw = False
                self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
                yield from self.decode(data)
                return
            raise SourceError(self.url, f"cannot decode the {self.encoding} body: {exc}") from exc
        self._may_be_raw = False


def _http_reason(exc: httpx.HTTPError | httpx.InvalidURL, config: GatherConfig) -> str:
    message = " ".join(str(exc).split())
    if isinstance(exc, httpx.ConnectTimeout):
        return f"timed out after {config.connect_timeout:g}s connecting"
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out after {config.read_timeout:g}s"
    if isinstance(exc, httpx.ConnectError):
        if "refused" in message.lower():
            return "connection refused"
        if "name or service not known" in message.lower() or "nodename nor servname" in message.lower():
            return "host not found"
        return f"cannot connect: {message or type(exc).__name__}"
    if isinstance(exc, (httpx.UnsupportedProtocol, httpx.InvalidURL)):
        return f"invalid URL: {message}"
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def _read_file(url: str, config: GatherConfig, via: str | None, clock: Clock) -> Page:
    started = time.monotonic()
    if urlsplit(url).scheme.lower() == "file":
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost"):
            raise SourceError(url, f"file URL names another host ({parts.netloc})")
        path = Path(url2pathname(parts.path))
    else:
        path = Path(url)
    if path.exists() and not path.is_file() and not path.is_dir():
        raise SourceError(url, "not a regular file")  # a FIFO or device would block or never end
    try:
        with path.open("rb") as file:
            body = file.read(config.max_bytes + 1)
    except FileNotFoundError as exc:
        raise SourceError(url, "file not found") from exc
    except IsADirectoryError as exc:
        raise SourceError(url, "is a folder, not a file") from exc
    except OSError as exc:
        raise SourceError(url, f"cannot read file: {exc.strerror or exc}") from exc
    if len(body) > config.max_bytes:
        raise SourceError(url, f"page larger than {config.max_bytes} bytes")
    final_url = path.resolve().as_uri()
    content_type, charset = content_type_of(None, final_url, body)
    return Page(
        url=final_url,
        body=body,
        content_type=content_type,
        status=200,
        elapsed=time.monotonic() - started,
        fetched_at=clock(),
        charset=charset,
        via=via,
        requested_url=url,
    )


def content_type_of(header: str | None, url: str, body: bytes) -> tuple[str, str | None]:
    """Media type (from the header, else the file suffix, else the body) and the header's charset."""
    media_type, charset = "", None
    if header:
        media_type, _, parameters = header.partition(";")
        match = re.search(r"charset\s*=\s*[\"']?([^\"';\s]+)", parameters, re.IGNORECASE)
        charset = match.group(1) if match else None
    media_type = media_type.strip().lower()
    if media_type in ("", "application/octet-stream", "text/plain"):
        guessed = _TYPES_BY_SUFFIX.get(Path(urlsplit(url).path).suffix.lower())
        if guessed:
            media_type = guessed
        elif FEED_START.match(body[:1024]):
            media_type = "application/xml"
        elif HTML_START.match(body[:1024]) or not media_type:
            media_type = "text/html"
    return media_type, charset
