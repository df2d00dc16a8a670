"""Frozen values passed between the pipeline stages.

gather -> Page, extract -> Article, condense -> Digest, render -> Email,
editions -> Edition, subscribers -> Subscriber, ledger -> Delivery.
Datetimes are aware and in UTC; collections are tuples.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlsplit

# Per-recipient parts of a rendered edition. Rendering writes these markers once; delivery
# replaces them for each recipient (str.replace), so MJML never runs per recipient.
# Untrusted text has the markers stripped before rendering (see render.neutralise_placeholders).
UNSUBSCRIBE_URL_PLACEHOLDER = "%%unsubscribe_url%%"
NAME_PLACEHOLDER = "%%name%%"
PLACEHOLDERS = (UNSUBSCRIBE_URL_PLACEHOLDER, NAME_PLACEHOLDER)

# Characters no text passed between stages may hold: C0 and C1 controls other than tab, line feed
# and carriage return (MJML's XML parser refuses them, terminals obey them), bidi embeddings,
# overrides and isolates (they turn the rest of a line around: "\u202egnp.exe"), surrogates and
# Unicode non-characters (U+FFFE also stops the XML parser).
UNSAFE_CHARACTERS = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufdd0-\ufdef"
    + "".join(f"{chr(plane << 16 | 0xFFFE)}{chr(plane << 16 | 0xFFFF)}" for plane in range(17))
    + "]"
)


def safe_text(text: str) -> str:
    """Untrusted text (a page, a feed, a subscriber's name) without UNSAFE_CHARACTERS."""
    return UNSAFE_CHARACTERS.sub("", text)


SourceStatus = Literal["ok", "error"]
SubscriberStatus = Literal["active", "unsubscribed", "bounced", "pending"]
# pending: signed up on the form, not yet confirmed; never mailed an edition.
SUBSCRIBER_STATUSES: tuple[SubscriberStatus, ...] = ("active", "unsubscribed", "bounced", "pending")
DeliveryStatus = Literal["pending", "in_flight", "sent", "failed", "unknown"]


@dataclass(frozen=True, slots=True)
class Source:
    """A configured source: an http(s) URL, a feed URL, or a local file path."""

    url: str
    follow_related: bool = True


@dataclass(frozen=True, slots=True)
class Page:
    """One fetched document, before extraction."""

    url: str  # final URL after redirects; file:// URI for local files
    body: bytes
    content_type: str  # media type without parameters, e.g. "text/html"
    status: int  # HTTP status; 200 for local files
    elapsed: float  # seconds spent fetching
    fetched_at: datetime
    charset: str | None = None  # from the Content-Type header, when given
    via: str | None = None  # URL of the page whose related link led here
    requested_url: str = ""  # the URL as asked for, before redirects


@dataclass(frozen=True, slots=True)
class SourceFailure:
    """A source or related link that could not be fetched or read."""

    url: str
    reason: str
    via: str | None = None


@dataclass(frozen=True, slots=True)
class Gathered:
    """What gather returns: the pages it got, and what failed (the run goes on)."""

    pages: tuple[Page, ...]
    failures: tuple[SourceFailure, ...] = ()


@dataclass(frozen=True, slots=True)
class Article:
    """The readable part of a page: main text and metadata, boilerplate removed."""

    url: str
    title: str
    text: str  # paragraphs separated by a blank line
    date: str | None = None  # ISO date, YYYY-MM-DD
    author: str | None = None
    sitename: str | None = None
    related: tuple[str, ...] = ()  # absolute URLs of the page's related-source links
    via: str | None = None

    @property
    def paragraphs(self) -> tuple[str, ...]:
        return tuple(p.strip() for p in self.text.split("\n\n") if p.strip())


def host_label(url: str) -> str:
    """A web page's host without "www.", how a source is named when it gives no publisher; "" for any other URL."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        return ""
    return (parts.hostname or "").removeprefix("www.")


@dataclass(frozen=True, slots=True)
class SourceRef:
    """Where a bullet's text comes from."""

    url: str
    title: str
    site: str = ""  # the publisher's name (og:site_name, JSON-LD publisher, or the host without www.)

    def to_json(self) -> dict[str, str]:
        return {"url": self.url, "title": self.title} | ({"site": self.site} if self.site else {})

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SourceRef:
        return cls(data["url"], data["title"], data.get("site", ""))


@dataclass(frozen=True, slots=True)
class Bullet:
    """One line of a section: text taken from its source, never written by us."""

    text: str
    source: SourceRef
    also: tuple[SourceRef, ...] = ()  # other sources reporting the same statement

@dataclass(frozen=True, slots=True)
class Section:
    title: str
    bullets: tuple[Bullet, ...]


@dataclass(frozen=True, slots=True)
class SourceReport:
    """A source as listed in an edition: fetched and used (ok) or not (error, with reason)."""

    url: str
    title: str
    status: SourceStatus
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Digest:
    """The condensed content of one edition."""

    edition: str  # edition id: its date in the newsletter's time zone, YYYY-MM-DD
    title: str
    generated_at: datetime
    sections: tuple[Section, ...]
    sources: tuple[SourceReport, ...]

    def to_json(self) -> dict[str, Any]:
        """The shape of `digest preview --format json` (INTERFACE.md)."""
        return {
            "edition": self.edition,
            "title": self.title,
            "generated_at": self.generated_at.isoformat(),
            "sections": [
                {
                    "title": section.title,
                    "items": [
                        {"text": b.text, "source": b.source.to_json(), "also": [ref.to_json() for ref in b.also]}
                        for b in section.bullets
                    ],
                }
                for section in self.sections
            ],
            "sources": [
                {"url": s.url, "title": s.title, "status": s.status}
                | ({"reason": s.reason} if s.reason else {})
                for s in self.sources
            ],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Digest:
        return cls(
            edition=data["edition"],
            title=data["title"],
            generated_at=datetime.fromisoformat(data["generated_at"]),
            sections=tuple(
                Section(
                    title=s["title"],
                    bullets=tuple(
                        Bullet(
                            i["text"],
                            SourceRef.from_json(i["source"]),
                            tuple(SourceRef.from_json(ref) for ref in i.get("also", ())),
                        )
                        for i in s["items"]
                    ),
                )
                for s in data["sections"]
            ),
            sources=tuple(
                SourceReport(s["url"], s["title"], s["status"], s.get("reason"))
                for s in data["sources"]
            ),
        )

    @property
    def is_empty(self) -> bool:
        """Whether no section holds a bullet: nothing new to tell readers."""
        return not any(section.bullets for section in self.sections)

    @property
    def content_hash(self) -> str:
        """Identifies the content a reader sees, so an unchanged digest can be skipped."""
        sections = [[s.title, [[b.text, b.source.url] for b in s.bullets]] for s in self.sections]
        return hashlib.sha256(json.dumps(sections, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Email:
    """A rendered edition, still holding the per-recipient placeholders."""

    edition: str
    subject: str
    preheader: str
    html: str
    text: str


@dataclass(frozen=True, slots=True)
class Edition:
    """A built and stored edition: what preview shows is what send sends."""

    id: str
    digest: Digest
    email: Email
    built_at: datetime
    article_hashes: tuple[str, ...] = ()  # one per article it was built from (see history.article_hash)
    feed_entries: tuple[str, ...] = ()  # links of the feed entries its articles came from


@dataclass(frozen=True, slots=True)
class Subscriber:
    """One row of subscribers.csv."""

    email: str
    name: str = ""
    status: SubscriberStatus = "active"
    subscribed_at: str = ""  # ISO 8601 datetime, UTC
    unsubscribed_at: str = ""
    source: str = ""
    confirmed_at: str = ""  # when the reader confirmed a sign-up (double opt-in)


@dataclass(frozen=True, slots=True)
class Batch:
    """The next run of a send's audience, as the ledger found it: its recipients (email, name), in
    no particular order; the first and last of them in address order (the next batch starts
    after `last`); and how many of them have no delivery row yet."""

    recipients: list[tuple[str, str]]
    first: str
    last: str
    new: int


@dataclass(frozen=True, slots=True)
class Delivery:
    """The ledger's record of one edition sent (or not yet) to one address."""

    edition: str
    email: str
    status: DeliveryStatus
    batch: str | None = None
    provider_id: str | None = None
    reason: str | None = None
    updated_at: datetime | None = None
    attempts: int = 0
