"""What earlier editions already told readers, so that a new edition does not tell it again.

An edition counts once the ledger says anyone was sent it (an unknown outcome counts too: they may
have got it); a test send (`send --to`) never counts. Read at build time from the edition store:

- statements: the bullet texts of the editions sent in the `[novelty] window_days` days before the
  edition being built (by edition date). condense leaves out a sentence that says the same again,
  and learns each section's words from what was sent under its title.
- feed entries: the links of the feed entries whose articles went into any stored edition that was
  sent (stored editions are kept `[state] keep_days`). gather does not fetch them again.
- article hashes: the articles (URL, title and text) that went into the editions sent in the same
  window. An article found again unchanged is stale: its statements are yesterday's story, and
  condense uses them only to credit a new statement saying the same.

An edition records what it was built from (`Edition.feed_entries`, `Edition.article_hashes`) when
it is built; nothing is written at send time, so a send that dies half-way loses nothing.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from digest.errors import EditionError
from digest.models import Article, Page

if TYPE_CHECKING:
    from digest.editions import EditionStore

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class History:
    """What recent sent editions said (statements) and used (feed entry links, article hashes)."""

    by_section: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (section title, its statements), newest first
    feed_entries: frozenset[str] = frozenset()
    article_hashes: frozenset[str] = frozenset()

    @property
    def statements(self) -> tuple[str, ...]:
        """Every statement sent, each once."""
        return tuple(dict.fromkeys(text for _, said in self.by_section for text in said))


NO_HISTORY = History()


def read_history(store: EditionStore, was_sent: Callable[[str], bool], edition_id: str, window_days: int) -> History:
    """The history an edition `edition_id` is built against. Unreadable stored editions are skipped with a warning."""
    start, end = _window(edition_id, window_days)
    by_section: dict[str, list[str]] = {}
    entries: set[str] = set()
    hashes: set[str] = set()
    for other in store.ids():
        if other == edition_id or not was_sent(other):
            continue
        try:
            if not start <= other < end:  # outside the window only its feed entries count
                entries.update(str(link) for link in store.read_meta(other).get("feed_entries", ()))
                continue
            edition = store.load(other)
            entries.update(edition.feed_entries)
            hashes.update(edition.article_hashes)
            for section in edition.digest.sections:
                by_section.setdefault(section.title, []).extend(bullet.text for bullet in section.bullets)
        except EditionError as exc:
            log.warning("history: %s", exc)
    return History(
        tuple((title, tuple(dict.fromkeys(said))) for title, said in by_section.items()),
        frozenset(entries),
        frozenset(hashes),
    )


def _window(edition_id: str, window_days: int) -> tuple[str, str]:
    """The ids [start, end) of the editions whose statements count: the window_days dates before this one."""
    try:
        day = date.fromisoformat(edition_id)
    except ValueError:
        return "", ""  # not a dated edition: no window of days to look back over
    return (day - timedelta(days=window_days)).isoformat(), day.isoformat()


def article_hash(article: Article) -> str:
    """Identifies an article's content: the same page with the same text gives the same hash."""
    return hashlib.sha256("\0".join((article.url, article.title, article.text)).encode()).hexdigest()[:32]


def feed_entries_of(pages: Sequence[Page], articles: Iterable[Article]) -> tuple[str, ...]:
    """The links of the feed entries among `pages` that became one of `articles`.

    A feed entry is a page reached from a document gather did not return as a page: a feed yields
    its entries, never a page of its own, while a related page's parent is always among the pages.
    An entry without a link of its own (gather names it `FEED#entry-N`) is not remembered: that
    name moves when the feed changes.
    """
    page_urls = {page.url for page in pages}
    used = {article.url for article in articles}
    return tuple(
        dict.fromkeys(
            page.requested_url or page.url
            for page in pages
            if page.via is not None and page.via not in page_urls and page.url in used
            and not urlsplit(page.requested_url or page.url).fragment
        )
    )


__all__ = ["NO_HISTORY", "History", "article_hash", "feed_entries_of", "read_history"]
