"""Fetch the configured sources: web pages, local files and RSS/Atom feeds, plus one hop of related links.

The I/O edge of the pipeline. Pages are untrusted: bodies are streamed and capped at
`max_bytes`, redirects are counted, nothing is executed, and a related page's own related
links are never followed. A web page may not lead to a local file, nor (through a link or a
redirect) to a loopback, private or link-local address such as a cloud metadata service,
unless the configured source is itself on such a network or `allow_private_links` is set.
A failing source is logged and returned as a SourceFailure; only when every configured source
fails does gather raise.
"""

from __future__ import annotations

import html
import ipaddress
import logging
import re
import socket
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urldefrag, urljoin, urlsplit
from urllib.request import url2pathname

import feedparser
import httpx

from digest.config import GatherConfig
from digest.errors import NoSourcesError, SourceError
from digest.extract import decode_html, find_related
from digest.models import Gathered, Page, Source, SourceFailure, SourceStatus

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]
Progress = Callable[[str], None]
# Which hops of a fetch may not reach a non-public address: none (a URL the operator gave, to a
# network the operator trusts), redirects only (a URL the operator gave), or all (a URL a page gave).
RefusePrivate = Literal["never", "redirects", "always"]

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
_FEED_START = re.compile(rb"^\s*(<\?xml[^>]*>\s*)?(<!--.*?-->\s*)*<(rss|feed|rdf:RDF)\b", re.DOTALL)
_HTML_START = re.compile(rb"^\s*(<\?xml[^>]*>\s*)?(<!--.*?-->\s*)*<(!doctype html|html|head|body)\b", re.IGNORECASE | re.DOTALL)
_CHUNK = 64 * 1024


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class SourceCheck:
    """One line of `digest sources check`: a configured source, or a related link of one (via)."""

    url: str
    status: SourceStatus
    http_status: int | None
    bytes: int
    seconds: float
    related_found: int
    reason: str | None = None
    via: str | None = None


def gather(
    sources: Sequence[Source],
    config: GatherConfig,
    *,
    clock: Clock = utc_now,
    on_progress: Progress | None = None,
    seen: frozenset[str] = frozenset(),
) -> Gathered:
    """Fetch every source and one hop of its related links (or feed entries). Raises NoSourcesError.

    `seen`: links or ids of feed entries already sent, which are not fetched again.
    """
    report = on_progress or (lambda line: None)
    with _client(config) as client:
        trusted = {source.url: _may_reach_private(source.url, config) for source in sources}
        refuse: dict[str, RefusePrivate] = {url: "never" if ok else "redirects" for url, ok in trusted.items()}
        fetched = _fetch_all([source.url for source in sources], config, client, clock, report, refuse=refuse)
        claimed = {url for source in sources for url in (source.url, *_page_urls(fetched[source.url]))}
        plans = [_plan(source, fetched[source.url], config, claimed, clock(), sent=seen) for source in sources]
        failed = [plan.failure for plan in plans if plan.failure is not None]
        if len(failed) == len(sources):
            detail = "; ".join(f"{failure.url}: {failure.reason}" for failure in failed) or "no sources configured"
            raise NoSourcesError(f"no source could be fetched: {detail}")
        via_of = {link: plan.parent_url for plan in plans for link in plan.links}
        refuse = {
            link: "never" if trusted[source.url] else "always"
            for source, plan in zip(sources, plans, strict=True)
            for link in plan.links
        }
        to_fetch = [link for plan in plans for link in plan.links if link not in plan.unfetchable]
        followed = _fetch_all(to_fetch, config, client, clock, report, via_of, refuse=refuse)

    pages: list[Page] = []
    failures: list[SourceFailure] = []
    for plan in plans:
        if plan.failure is not None:
            failures.append(plan.failure)
        outcomes: list[Page | SourceFailure] = [plan.page] if plan.page is not None else []
        outcomes += [plan.follow_outcome(link, followed.get(link)) for link in plan.links]
        for outcome in outcomes:
            if isinstance(outcome, SourceFailure):
                failures.append(outcome)
            elif all(outcome.url != page.url for page in pages):  # two links may lead to one page
                pages.append(outcome)
    return Gathered(pages=tuple(pages), failures=tuple(failures))


@dataclass(frozen=True, slots=True)
class _Plan:
    """What became of one configured source, and which links to fetch one hop from it."""

    parent_url: str  # the source's final URL: the `via` of the pages it leads to
    page: Page | None = None  # the source itself, when it is a page to extract
    links: tuple[str, ...] = ()
    feed: _FeedPlan | None = None
    failure: SourceFailure | None = None

    @property
    def unfetchable(self) -> frozenset[str]:
        return self.feed.unfetchable if self.feed is not None else frozenset()

    def follow_outcome(self, link: str, outcome: Page | SourceError | None) -> Page | SourceFailure:
        """The page a link led to, the feed's own text for an entry that failed, or the failure."""
        summary = self.feed.summaries.get(link) if self.feed is not None else None
        if outcome is None or isinstance(outcome, SourceError):
            if summary is not None:
                if outcome is not None:
                    logger.warning("%s: %s; using the feed's summary instead", link, outcome.reason)
                return summary
            reason = outcome.reason if outcome is not None else "the feed entry has no link or text"
            return SourceFailure(link, reason, via=self.parent_url)
        if outcome.content_type not in HTML_TYPES:
            _warn(SourceError(link, f"not an HTML page ({outcome.content_type})"))
            return SourceFailure(link, f"not an HTML page ({outcome.content_type})", via=self.parent_url)
        return outcome


def _plan(
    source: Source, outcome: Page | SourceError, config: GatherConfig, seen: set[str], now: datetime, *, sent: frozenset[str]
) -> _Plan:
    """Decide what a fetched source yields; adds the links it will follow to `seen`."""
    if isinstance(outcome, SourceError):
        return _Plan(source.url, failure=SourceFailure(source.url, outcome.reason))
    try:
        feed = _read_feed(outcome, config, now=now, sent=sent)
    except SourceError as exc:
        _warn(SourceError(source.url, exc.reason))
        return _Plan(outcome.url, failure=SourceFailure(source.url, exc.reason))
    if feed is not None:
        links = [link for link in feed.links if link not in seen]
    elif source.follow_related:
        links = _related_to_follow(outcome, config, seen)
    else:
        links = []
    seen.update(links)
    return _Plan(outcome.url, page=None if feed is not None else outcome, links=tuple(links), feed=feed)


def check_sources(sources: Sequence[Source], config: GatherConfig, *, clock: Clock = utc_now) -> tuple[SourceCheck, ...]:
    """Fetch every source and its related links (or feed entries) and report status, size and time."""
    with _client(config) as client:
        trusted = {source.url: _may_reach_private(source.url, config) for source in sources}
        refuse: dict[str, RefusePrivate] = {url: "never" if ok else "redirects" for url, ok in trusted.items()}
        checks = _check_all([source.url for source in sources], config, client, clock, {}, refuse)
        to_follow: dict[str, list[str]] = {}
        seen = {source.url for source in sources}
        for source in sources:
            check, found = checks[source.url]
            follow = source.follow_related or check.is_feed
            to_follow[source.url] = [link for link in found if link not in seen][: config.max_related] if follow else []
            seen.update(to_follow[source.url])
        via_of = {link: url for url, links in to_follow.items() for link in links}
        refuse = {link: "never" if trusted[url] else "always" for url, links in to_follow.items() for link in links}
        related_checks = _check_all(list(via_of), config, client, clock, via_of, refuse)
    result: list[SourceCheck] = []
    for source in sources:
        result.append(checks[source.url][0].line)
        result.extend(related_checks[link][0].line for link in to_follow[source.url])
    return tuple(result)


def fetch_page(
    url: str,
    config: GatherConfig,
    client: httpx.Client | None = None,
    *,
    via: str | None = None,
    clock: Clock = utc_now,
    refuse_private: RefusePrivate = "never",
) -> Page:
    """Fetch one http(s) URL or read one local file (absolute path or file:// URI). Raises SourceError.

    `refuse_private` says which hops may not reach a loopback, private or link-local address.
    """
    page = _fetch(url, config, client, via=via, clock=clock, refuse_private=refuse_private)
    if not 200 <= page.status < 300:
        raise SourceError(url, f"HTTP {page.status}")
    if page.content_type not in HTML_TYPES and page.content_type not in FEED_TYPES:
        raise SourceError(url, f"not an HTML page or feed ({page.content_type})")
    return page


def _fetch(
    url: str,
    config: GatherConfig,
    client: httpx.Client | None,
    *,
    via: str | None,
    clock: Clock,
    refuse_private: RefusePrivate = "never",
) -> Page:
    """Like fetch_page, but an HTTP error status comes back as a Page (with an empty body)."""
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError as exc:
        raise SourceError(url, f"invalid URL: {exc}") from exc
    if scheme in ("http", "https"):
        if client is not None:
            return _fetch_http(url, config, client, via, clock, refuse_private)
        with _client(config) as own_client:
            return _fetch_http(url, config, own_client, via, clock, refuse_private)
    if scheme == "file" or (not scheme and Path(url).is_absolute()):
        return _read_file(url, config, via, clock)
    if scheme:
        raise SourceError(url, f"unsupported URL scheme '{scheme}' (use http, https or a file path)")
    raise SourceError(url, "not an http(s) URL or an absolute file path")


def _client(config: GatherConfig) -> httpx.Client:
    return httpx.Client(
        headers={"User-Agent": config.user_agent},
        timeout=_timeout(config),
        follow_redirects=False,  # followed one by one in _fetch_http, to count them and name loops
        limits=httpx.Limits(max_connections=config.concurrency, max_keepalive_connections=config.concurrency),
    )


def _timeout(config: GatherConfig) -> httpx.Timeout:
    return httpx.Timeout(
        connect=config.connect_timeout, read=config.read_timeout, write=config.read_timeout, pool=config.connect_timeout
    )


def _fetch_http(
    url: str, config: GatherConfig, client: httpx.Client, via: str | None, clock: Clock, refuse_private: RefusePrivate
) -> Page:
    started = time.monotonic()
    deadline = started + _total_budget(config)
    visited = {url}
    try:
        request = client.build_request("GET", url, headers={"User-Agent": config.user_agent}, timeout=_timeout(config))
        for hop in range(config.max_redirects + 1):
            if refuse_private == "always" or (refuse_private == "redirects" and hop > 0):
                _refuse_private_address(url, str(request.url))
            response = client.send(request, stream=True, follow_redirects=False)
            try:
                if response.next_request is not None:
                    request = response.next_request
                    target = str(request.url)
                    if target in visited:
                        raise SourceError(url, f"too many redirects (redirect loop at {target})")
                    visited.add(target)
                    continue
                status = response.status_code
                body = _read_body(response, url, config, deadline) if 200 <= status < 300 else b""
                content_type, charset = _content_type(response.headers.get("content-type"), str(response.url), body)
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
        raise SourceError(url, _http_reason(exc, config)) from exc
    raise SourceError(url, f"too many redirects (more than {config.max_redirects})")


def _total_budget(config: GatherConfig) -> float:
    # read_timeout bounds each wait for data; this bounds a server that trickles bytes forever.
    return config.connect_timeout + 2 * config.read_timeout


def _read_body(response: httpx.Response, url: str, config: GatherConfig, deadline: float) -> bytes:
    too_large = f"page larger than {config.max_bytes} bytes"
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > config.max_bytes:
        raise SourceError(url, too_large)
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes(_CHUNK):
        size += len(chunk)
        if size > config.max_bytes:
            raise SourceError(url, too_large)
        if time.monotonic() > deadline:
            raise SourceError(url, f"timed out after {_total_budget(config):g}s reading the page")
        chunks.append(chunk)
    return b"".join(chunks)


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
    content_type, charset = _content_type(None, final_url, body)
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


def _content_type(header: str | None, url: str, body: bytes) -> tuple[str, str | None]:
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
        elif _FEED_START.match(body[:1024]):
            media_type = "application/xml"
        elif _HTML_START.match(body[:1024]) or not media_type:
            media_type = "text/html"
    return media_type, charset


@dataclass(frozen=True, slots=True)
class _FeedPlan:
    """A parsed feed: entry links to fetch (newest first), and a page made of each entry's own text."""

    links: tuple[str, ...]
    summaries: dict[str, Page]
    unfetchable: frozenset[str]  # entries without a page of their own: only their summary counts

    @property
    def to_fetch(self) -> tuple[str, ...]:
        return tuple(link for link in self.links if link not in self.unfetchable)


def _read_feed(
    page: Page, config: GatherConfig, *, now: datetime | None = None, sent: frozenset[str] = frozenset()
) -> _FeedPlan | None:
    """The feed's newest entries not in `sent` (links or ids) and, given `now`, not older than
    feed_max_age_days; None when the page is not a feed. Raises SourceError for a broken feed."""
    declared_feed = page.content_type in FEED_TYPES
    if not declared_feed and not _FEED_START.match(page.body[:1024]):
        return None
    # Entry links are resolved here: feedparser's own resolution mangles file:/// base URLs.
    parsed = feedparser.parse(page.body)
    if not parsed.get("version"):
        if _HTML_START.match(page.body[:1024]):
            return None
        problem = parsed.get("bozo_exception")
        raise SourceError(page.url, f"not a readable RSS/Atom feed{f': {problem}' if problem else ''}")
    entries = sorted(parsed.entries, key=_entry_time, reverse=True)  # stable: undated keep feed order
    links: list[str] = []
    summaries: dict[str, Page] = {}
    unfetchable: set[str] = set()
    allow_files = urlsplit(page.url).scheme == "file"
    for index, entry in enumerate(entries):
        if len(links) >= config.max_related:
            break
        link = urldefrag(urljoin(page.url, str(entry.get("link") or ""))).url if entry.get("link") else ""
        if (link and link in sent) or (entry.get("id") and str(entry.get("id")) in sent) or _too_old(entry, now, config):
            continue
        if not _followable(link, allow_files):
            link = f"{page.url}#entry-{index + 1}"
            unfetchable.add(link)
        if link in links:
            continue
        summary = _summary_page(entry, link, page)
        if summary is not None:
            summaries[link] = summary
        elif link in unfetchable:
            continue
        links.append(link)
    return _FeedPlan(tuple(links), summaries, frozenset(unfetchable))


def _too_old(entry: Any, now: datetime | None, config: GatherConfig) -> bool:
    stamp = entry.get("published_parsed") or entry.get("updated_parsed")
    if now is None or not stamp:
        return False
    try:
        published = datetime(*tuple(stamp)[:6]).replace(tzinfo=UTC)
    except (TypeError, ValueError):
        return False
    return published < now - timedelta(days=config.feed_max_age_days)


def _entry_time(entry: Any) -> tuple[int, ...]:
    stamp = entry.get("published_parsed") or entry.get("updated_parsed")
    return tuple(stamp[:6]) if stamp else (0,)


def _summary_page(entry: Any, link: str, feed: Page) -> Page | None:
    """A small HTML page from the entry's title and (feedparser-sanitised) content or summary."""
    title = str(entry.get("title") or "").strip()
    contents = entry.get("content") or []
    detail = contents[0] if contents else entry.get("summary_detail") or {}
    text = str(detail.get("value") or "")
    if detail.get("type") == "text/plain":
        text = f"<p>{html.escape(text)}</p>"
    if not title and not text.strip():
        return None
    body = (
        f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title></head>"
        f"<body><article><h1>{html.escape(title)}</h1>{text}</article></body></html>"
    ).encode()
    return Page(
        url=link,
        body=body,
        content_type="text/html",
        status=200,
        elapsed=0.0,
        fetched_at=feed.fetched_at,
        charset="utf-8",
        via=feed.url,
        requested_url=link,
    )


def _related_to_follow(page: Page, config: GatherConfig, seen: set[str]) -> list[str]:
    """The page's related links that may be followed and are not fetched yet, at most max_related."""
    return [link for link in _followable_related(page) if link not in seen][: config.max_related]


def _followable_related(page: Page) -> list[str]:
    if page.content_type not in HTML_TYPES:
        return []
    allow_files = urlsplit(page.url).scheme == "file"
    return [link for link in find_related(decode_html(page), page.url) if _followable(link, allow_files)]


def _followable(link: str, allow_files: bool) -> bool:
    """http(s) links always; file links only from a local page (a web page may not read our disk)."""
    scheme = urlsplit(link).scheme.lower()
    return scheme in ("http", "https") or (scheme == "file" and allow_files)


def _page_urls(outcome: Page | SourceError) -> tuple[str, ...]:
    return (outcome.url,) if isinstance(outcome, Page) else ()


def _fetch_all(
    urls: Iterable[str],
    config: GatherConfig,
    client: httpx.Client,
    clock: Clock,
    report: Progress,
    via_of: dict[str, str] | None = None,
    *,
    refuse: dict[str, RefusePrivate],
) -> dict[str, Page | SourceError]:
    """Fetch URLs concurrently; each maps to its Page or its SourceError (already logged)."""
    via_of = via_of or {}
    unique = list(dict.fromkeys(urls))
    results: dict[str, Page | SourceError] = {}
    if not unique:
        return results
    with ThreadPoolExecutor(max_workers=max(1, min(config.concurrency, len(unique)))) as pool:
        futures = {
            url: pool.submit(
                fetch_page, url, config, client, via=via_of.get(url), clock=clock, refuse_private=refuse[url]
            )
            for url in unique
        }
        for url, future in futures.items():
            try:
                page = future.result()
            except SourceError as exc:
                _warn(exc)
                report(f"failed  {url}: {exc.reason}")
                results[url] = exc
            else:
                report(f"fetched {url} ({page.status}, {len(page.body):,} bytes, {page.elapsed:.2f}s)")
                results[url] = page
    return results


@dataclass(frozen=True, slots=True)
class _Checked:
    line: SourceCheck
    is_feed: bool = False


def _check_all(
    urls: Sequence[str],
    config: GatherConfig,
    client: httpx.Client,
    clock: Clock,
    via_of: dict[str, str],
    refuse: dict[str, RefusePrivate],
) -> dict[str, tuple[_Checked, list[str]]]:
    """Fetch URLs concurrently for `sources check`; each maps to its report and the links it leads to."""

    def fetch(url: str) -> tuple[Page | SourceError, float]:
        started = time.monotonic()
        try:
            page = _fetch(url, config, client, via=via_of.get(url), clock=clock, refuse_private=refuse[url])
            return page, time.monotonic() - started
        except SourceError as exc:
            return exc, time.monotonic() - started

    unique = list(dict.fromkeys(urls))
    if not unique:
        return {}
    with ThreadPoolExecutor(max_workers=max(1, min(config.concurrency, len(unique)))) as pool:
        outcomes = dict(zip(unique, pool.map(fetch, unique), strict=True))
    # Reading links happens here, in this thread: the HTML parsing is not shared with the workers.
    return {url: _check(url, outcome, seconds, config, via_of.get(url)) for url, (outcome, seconds) in outcomes.items()}


def _check(
    url: str, outcome: Page | SourceError, seconds: float, config: GatherConfig, via: str | None
) -> tuple[_Checked, list[str]]:
    if isinstance(outcome, SourceError):
        return _Checked(SourceCheck(url, "error", None, 0, seconds, 0, outcome.reason, via)), []
    page = outcome
    if not 200 <= page.status < 300:
        return _Checked(SourceCheck(url, "error", page.status, 0, page.elapsed, 0, f"HTTP {page.status}", via)), []
    try:
        feed = _read_feed(page, config)
    except SourceError as exc:
        return _Checked(SourceCheck(url, "error", page.status, len(page.body), page.elapsed, 0, exc.reason, via)), []
    found = list(feed.to_fetch) if feed is not None else _followable_related(page)
    line = SourceCheck(url, "ok", page.status, len(page.body), page.elapsed, len(found), None, via)
    return _Checked(line, is_feed=feed is not None), found


def _warn(error: SourceError) -> None:
    logger.warning("%s: %s", error.url, error.reason)


def _may_reach_private(source_url: str, config: GatherConfig) -> bool:
    """Whether what a configured source leads to may reach local networks: the operator chose one."""
    return config.allow_private_links or non_public_address(source_url) is not None


def non_public_address(url: str) -> str | None:
    """The first loopback, private, link-local or reserved address the URL's host is or resolves to."""
    host = urlsplit(url).hostname
    if not host:
        return None
    try:
        addresses = {str(info[4][0]) for info in socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)}
    except (OSError, UnicodeError):
        return None  # unresolvable: the fetch itself fails with its own reason
    for address in sorted(addresses):
        if not ipaddress.ip_address(address.split("%", 1)[0]).is_global:
            return address
    return None


def _refuse_private_address(url: str, target: str) -> None:
    address = non_public_address(target)
    if address is not None:
        raise SourceError(
            url,
            f"refused: {urlsplit(target).hostname} is a local or private address ({address}); a page may not "
            "lead there (set [gather] allow_private_links = true to allow it)",
        )
