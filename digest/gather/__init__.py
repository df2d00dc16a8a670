"""Fetch the configured sources: web pages, local files and RSS/Atom feeds, plus one hop of related links.

The I/O edge of the pipeline. Pages are untrusted input:

- `limits`: every page has a wall-clock limit (`page_timeout`) and the whole gather one more
  (`total_timeout`), enforced from outside the fetch whatever the server does.
- `fetch`: bodies are streamed, decoded in bounded steps and capped at `max_bytes`; redirects are
  counted and loops named; nothing is executed; a web page may not lead to a local file.
- `trust`: a link or redirect found on a page may reach a non-public address only within the
  origin of the configured source it came from (or `allow_hosts`), checked on the connected peer.
- `feeds`: feed entries already sent (`seen`) or older than `feed_max_age_days` are not fetched.

A related page's own related links are never followed. A failing source or link is logged and
returned as a SourceFailure, and the run goes on; only when every configured source fails does
gather raise.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

import httpx

from digest.config import GatherConfig
from digest.errors import NoSourcesError, SourceError
from digest.extract import decode_html, find_related
from digest.gather.feeds import FeedPlan, followable, read_feed
from digest.gather.fetch import FEED_TYPES, HTML_TYPES, Clock, fetch, open_client, require_document, utc_now
from digest.gather.limits import Deadline, Fetched, Limits, fetch_within
from digest.gather.trust import Trust, non_public_address
from digest.models import Gathered, Page, Source, SourceFailure, SourceStatus

__all__ = [
    "FEED_TYPES",
    "HTML_TYPES",
    "SourceCheck",
    "Trust",
    "check_sources",
    "fetch_page",
    "gather",
    "non_public_address",
    "utc_now",
]

logger = logging.getLogger(__name__)

Progress = Callable[[str], None]


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
    """Fetch every source and one hop of its related links (or feed entries), within the [gather]
    time limits. `seen`: links or ids of feed entries already sent, which are not fetched again.
    Raises NoSourcesError."""
    on_fetched = _reporter(on_progress or (lambda line: None))
    limits = Limits.start(config)
    now = clock()
    with open_client(config) as client:
        session = _Session(config, client, clock)

        def fetch_source(url: str, deadline: Deadline) -> Page:
            return require_document(session.fetch_source(url, deadline), url)

        fetched = _outcomes(fetch_within([source.url for source in sources], fetch_source, limits, on_fetched))
        claimed = {url for source in sources for url in (source.url, *_page_urls(fetched[source.url]))}
        plans = [_plan(source, fetched[source.url], config, claimed, now, seen) for source in sources]
        failed = [plan.failure for plan in plans if plan.failure is not None]
        if len(failed) == len(sources):
            detail = "; ".join(f"{failure.url}: {failure.reason}" for failure in failed) or "no sources configured"
            raise NoSourcesError(f"no source could be fetched: {detail}")
        for source, plan in zip(sources, plans, strict=True):
            session.lead(plan.links, source.url, via=plan.parent_url)

        def fetch_link(url: str, deadline: Deadline) -> Page:
            return require_document(session.fetch_link(url, deadline), url)

        to_fetch = [link for plan in plans for link in plan.links if link not in plan.unfetchable]
        followed = _outcomes(fetch_within(to_fetch, fetch_link, limits, on_fetched))

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


def fetch_page(
    url: str,
    config: GatherConfig,
    client: httpx.Client | None = None,
    *,
    via: str | None = None,
    clock: Clock = utc_now,
    trust: Trust | None = None,
) -> Page:
    """Fetch one http(s) URL or read one local file (absolute path or file:// URI), within
    [gather] page_timeout. Raises SourceError.

    `trust` says which non-public addresses it and its redirects may reach; by default, what a
    configured source at `url` may.
    """
    with nullcontext(client) if client is not None else open_client(config) as active:

        def fetch_one(target: str, deadline: Deadline) -> Page:
            chosen = trust if trust is not None else Trust.of_source(target, config)
            return require_document(fetch(target, config, active, deadline, chosen, via=via, clock=clock), target)

        outcome = fetch_within([url], fetch_one, Limits.start(config), lambda url, fetched: None)[url].outcome
    if isinstance(outcome, SourceError):
        raise outcome
    return outcome


def check_sources(sources: Sequence[Source], config: GatherConfig, *, clock: Clock = utc_now) -> tuple[SourceCheck, ...]:
    """Fetch every source and its related links (or feed entries) and report status, size and time."""
    limits = Limits.start(config)
    now = clock()
    with open_client(config) as client:
        session = _Session(config, client, clock)
        fetched = fetch_within([source.url for source in sources], session.fetch_source, limits, lambda url, fetched: None)
        checks = {url: _check(url, result, config, None, now) for url, result in fetched.items()}
        to_follow: dict[str, list[str]] = {}
        claimed = {source.url for source in sources}
        for source in sources:
            check, found = checks[source.url]
            follow = source.follow_related or check.is_feed
            to_follow[source.url] = [link for link in found if link not in claimed][: config.max_related] if follow else []
            claimed.update(to_follow[source.url])
            session.lead(to_follow[source.url], source.url, via=source.url)
        links = [link for source in sources for link in to_follow[source.url]]
        followed = fetch_within(links, session.fetch_link, limits, lambda url, fetched: None)
        related_checks = {url: _check(url, result, config, session.via(url), now) for url, result in followed.items()}
    result: list[SourceCheck] = []
    for source in sources:
        result.append(checks[source.url][0].line)
        result.extend(related_checks[link][0].line for link in to_follow[source.url])
    return tuple(result)


class _Session:
    """One gather's fetching: the shared client, and what each configured source lets its links reach."""

    def __init__(self, config: GatherConfig, client: httpx.Client, clock: Clock) -> None:
        self.config = config
        self.client = client
        self.clock = clock
        self._trusts: dict[str, Trust] = {}  # by configured source URL
        self._leads: dict[str, tuple[str, str]] = {}  # link -> (configured source URL, via)

    def fetch_source(self, url: str, deadline: Deadline) -> Page:
        """Fetch a configured source (in a worker thread: its name lookup counts against its time)."""
        deadline.doing = "resolving the host name"
        self._trusts[url] = Trust.of_source(url, self.config)
        return fetch(url, self.config, self.client, deadline, self._trusts[url], clock=self.clock)

    def lead(self, links: Iterable[str], source_url: str, *, via: str) -> None:
        """Record that `links` were found through the configured source at `source_url`, on page `via`."""
        self._leads.update((link, (source_url, via)) for link in links)

    def via(self, link: str) -> str:
        return self._leads[link][1]

    def fetch_link(self, url: str, deadline: Deadline) -> Page:
        """Fetch a link found on a page, within the trust of the configured source it came from."""
        source_url, via = self._leads[url]
        return fetch(url, self.config, self.client, deadline, self._trusts[source_url], via=via, clock=self.clock)


@dataclass(frozen=True, slots=True)
class _Plan:
    """What became of one configured source, and which links to fetch one hop from it."""

    parent_url: str  # the source's final URL: the `via` of the pages it leads to
    page: Page | None = None  # the source itself, when it is a page to extract
    links: tuple[str, ...] = ()
    feed: FeedPlan | None = None
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
    source: Source, outcome: Page | SourceError, config: GatherConfig, claimed: set[str], now: datetime, seen: frozenset[str]
) -> _Plan:
    """Decide what a fetched source yields; adds the links it will follow to `claimed`."""
    if isinstance(outcome, SourceError):
        return _Plan(source.url, failure=SourceFailure(source.url, outcome.reason))
    try:
        feed = read_feed(outcome, config, now=now, seen=seen)
    except SourceError as exc:
        _warn(SourceError(source.url, exc.reason))
        return _Plan(outcome.url, failure=SourceFailure(source.url, exc.reason))
    if feed is not None:
        links = [link for link in feed.links if link not in claimed]
    elif source.follow_related:
        links = [link for link in _followable_related(outcome) if link not in claimed][: config.max_related]
    else:
        links = []
    claimed.update(links)
    return _Plan(outcome.url, page=None if feed is not None else outcome, links=tuple(links), feed=feed)


def _followable_related(page: Page) -> list[str]:
    if page.content_type not in HTML_TYPES:
        return []
    allow_files = urlsplit(page.url).scheme == "file"
    return [link for link in find_related(decode_html(page), page.url) if followable(link, allow_files)]


def _page_urls(outcome: Page | SourceError) -> tuple[str, ...]:
    return (outcome.url,) if isinstance(outcome, Page) else ()


def _outcomes(fetched: dict[str, Fetched]) -> dict[str, Page | SourceError]:
    return {url: result.outcome for url, result in fetched.items()}


def _reporter(report: Progress) -> Callable[[str, Fetched], None]:
    """Warn about each failure and report each page as it ends."""

    def on_fetched(url: str, fetched: Fetched) -> None:
        if isinstance(fetched.outcome, SourceError):
            _warn(fetched.outcome)
            report(f"failed  {url}: {fetched.outcome.reason}")
        else:
            page = fetched.outcome
            report(f"fetched {url} ({page.status}, {len(page.body):,} bytes, {page.elapsed:.2f}s)")

    return on_fetched


@dataclass(frozen=True, slots=True)
class _Checked:
    line: SourceCheck
    is_feed: bool = False


def _check(url: str, fetched: Fetched, config: GatherConfig, via: str | None, now: datetime) -> tuple[_Checked, list[str]]:
    outcome = fetched.outcome
    if isinstance(outcome, SourceError):
        return _Checked(SourceCheck(url, "error", None, 0, fetched.seconds, 0, outcome.reason, via)), []
    page = outcome
    if not 200 <= page.status < 300:
        return _Checked(SourceCheck(url, "error", page.status, 0, page.elapsed, 0, f"HTTP {page.status}", via)), []
    try:
        feed = read_feed(page, config, now=now)
    except SourceError as exc:
        return _Checked(SourceCheck(url, "error", page.status, len(page.body), page.elapsed, 0, exc.reason, via)), []
    found = list(feed.to_fetch) if feed is not None else _followable_related(page)
    line = SourceCheck(url, "ok", page.status, len(page.body), page.elapsed, len(found), None, via)
    return _Checked(line, is_feed=feed is not None), found


def _warn(error: SourceError) -> None:
    logger.warning("%s: %s", error.url, error.reason)
