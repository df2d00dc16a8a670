"""RSS/Atom feeds: which entries to fetch (new, recent, not sent before), and each entry's own text."""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urldefrag, urljoin, urlsplit

import feedparser

from digest.config import GatherConfig
from digest.errors import SourceError
from digest.gather.fetch import FEED_START, FEED_TYPES, HTML_START
from digest.models import Page

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FeedPlan:
    """A parsed feed: entry links to fetch (newest first), and a page made of each entry's own text."""

    links: tuple[str, ...]
    summaries: dict[str, Page]
    unfetchable: frozenset[str]  # entries without a page of their own: only their summary counts

    @property
    def to_fetch(self) -> tuple[str, ...]:
        return tuple(link for link in self.links if link not in self.unfetchable)


def read_feed(page: Page, config: GatherConfig, *, now: datetime, seen: frozenset[str] = frozenset()) -> FeedPlan | None:
    """The feed's newest entries not in `seen` (links or ids) and not older than feed_max_age_days,
    or None when the page is not a feed. Raises SourceError for a broken feed."""
    declared_feed = page.content_type in FEED_TYPES
    if not declared_feed and not FEED_START.match(page.body[:1024]):
        return None
    # Entry links are resolved here: feedparser's own resolution mangles file:/// base URLs.
    parsed = feedparser.parse(page.body)
    if not parsed.get("version"):
        if HTML_START.match(page.body[:1024]):
            return None
        problem = parsed.get("bozo_exception")
        raise SourceError(page.url, f"not a readable RSS/Atom feed{f': {problem}' if problem else ''}")
    entries = sorted(parsed.entries, key=_entry_sort_key, reverse=True)  # stable: undated keep feed order
    oldest = now - timedelta(days=config.feed_max_age_days)
    links: list[str] = []
    summaries: dict[str, Page] = {}
    unfetchable: set[str] = set()
    skipped_seen = skipped_old = 0
    allow_files = urlsplit(page.url).scheme == "file"
    for index, entry in enumerate(entries):
        if len(links) >= config.max_related:
            break
        link = urldefrag(urljoin(page.url, str(entry.get("link") or ""))).url if entry.get("link") else ""
        entry_id = str(entry.get("id") or "")
        if (link and link in seen) or (entry_id and entry_id in seen):
            skipped_seen += 1
            continue
        published = _entry_time(entry)
        if published is not None and published < oldest:
            skipped_old += 1
            continue
        if not followable(link, allow_files):
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
    if skipped_seen or skipped_old:
        logger.info(
            "%s: skipped %d entries already sent and %d older than %g days",
            page.url, skipped_seen, skipped_old, config.feed_max_age_days,
        )
    return FeedPlan(tuple(links), summaries, frozenset(unfetchable))


def followable(link: str, allow_files: bool) -> bool:
    """http(s) links always; file links only from a local page (a web page may not read our disk)."""
    scheme = urlsplit(link).scheme.lower()
    return scheme in ("http", "https") or (scheme == "file" and allow_files)


def _entry_time(entry: Any) -> datetime | None:
    stamp = entry.get("published_parsed") or entry.get("updated_parsed")
    try:
        return datetime(*tuple(stamp)[:6]).replace(tzinfo=UTC) if stamp else None
    except (TypeError, ValueError):
        return None  # a date no calendar has: treated as undated


def _entry_sort_key(entry: Any) -> tuple[int, ...]:
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
