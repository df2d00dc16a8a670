"""Editions: built once (gather -> extract -> condense -> render), stored under the state dir, reused.

An edition's id is its date in the newsletter's time zone. What `preview` shows is what `send`
sends: every command reads the stored files. Layout: `<state>/editions/<id>/` holding
`digest.json`, `email.html`, `email.txt` and `meta.json` (subject, preheader, built time, and
what it was built from: a hash per article and the feed entries used, which history.py reads).
"""

from __future__ import annotations

import json
import logging
import re
import shutil
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from digest.atomic import fsync_dir, write_atomic
from digest.config import Config
from digest.errors import EditionError, ExtractError, NoSourcesError, StateError
from digest.history import NO_HISTORY, History, article_hash, feed_entries_of
from digest.models import Article, Digest, Edition, Email, SourceFailure

log = logging.getLogger(__name__)

EDITION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def edition_id_for(moment: datetime, timezone: str) -> str:
    """The id of the edition for `moment`: its date in the newsletter's time zone."""
    return moment.astimezone(ZoneInfo(timezone)).date().isoformat()


def build_edition(
    config: Config,
    edition_id: str,
    now: datetime,
    *,
    on_progress: Callable[[str], None] | None = None,
    history: History = NO_HISTORY,
) -> Edition:
    """Gather, extract, condense and render one edition, leaving out what `history` says readers had.

    Raises NoSourcesError when nothing could be read. Sources that all worked but held nothing
    new (every feed entry already sent or too old) give an edition with empty sections.
    """
    # Loaded here, not at import: commands that only read stored editions start in a fraction of the time.
    from digest.condense import condense
    from digest.extract import extract_article
    from digest.gather import gather
    from digest.render import render_email

    gathered = gather(config.sources, config.gather, clock=lambda: now, on_progress=on_progress, seen=history.feed_entries)
    articles: list[Article] = []
    failures: list[SourceFailure] = list(gathered.failures)
    for page in gathered.pages:
        try:
            articles.append(extract_article(page))
        except ExtractError as exc:
            log.warning("skipping %s: %s", page.url, exc)
            failures.append(SourceFailure(page.url, "no readable article text", page.via))
    if not articles and failures:
        reasons = "; ".join(f"{f.url}: {f.reason}" for f in failures)
        raise NoSourcesError(f"no source could be read: {reasons}")
    digest = condense(
        articles,
        config.sections,
        edition=edition_id,
        title=config.newsletter.name,
        now=now,
        failures=failures,
        history=history.statements,
        past_sections=dict(history.by_section),
        stale_urls=frozenset(a.url for a in articles if article_hash(a) in history.article_hashes),
    )
    return Edition(
        id=edition_id,
        digest=digest,
        email=render_email(digest, config.newsletter, config.email),
        built_at=now,
        article_hashes=tuple(article_hash(article) for article in articles),
        feed_entries=feed_entries_of(gathered.pages, articles),
    )


class EditionStore:
    """Stored editions under `<state>/editions/`."""

    def __init__(self, state_dir: Path) -> None:
        self.root = state_dir / "editions"

    def folder(self, edition_id: str) -> Path:
        if not EDITION_ID.match(edition_id):
            raise EditionError(f"{edition_id!r} is not a valid edition id (use letters, digits, '.', '_', '-', e.g. 2026-11-26)")
        return self.root / edition_id

    def exists(self, edition_id: str) -> bool:
        return (self.folder(edition_id) / "meta.json").is_file()

    def ids(self) -> list[str]:
        """Stored edition ids, newest first."""
        if not self.root.is_dir():
            return []
        return sorted(
            (p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".") and (p / "meta.json").is_file()),
            reverse=True,
        )

    def save(self, edition: Edition) -> Path:
        """Store an edition, replacing a stored one of the same id as one step. Raises StateError."""
        target = self.folder(edition.id)
        staging = self.root / f".{edition.id}.new"
        try:
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir(parents=True)
            write_atomic(staging / "digest.json", json.dumps(edition.digest.to_json(), indent=2, ensure_ascii=False) + "\n")
            write_atomic(staging / "email.html", edition.email.html)
            write_atomic(staging / "email.txt", edition.email.text)
            meta = {
                "edition": edition.id,
                "subject": edition.email.subject,
                "preheader": edition.email.preheader,
                "built_at": edition.built_at.isoformat(),
                "content_hash": edition.digest.content_hash,
                "article_hashes": list(edition.article_hashes),
                "feed_entries": list(edition.feed_entries),
            }
            write_atomic(staging / "meta.json", json.dumps(meta, indent=2) + "\n")
            old = self.root / f".{edition.id}.old"
            shutil.rmtree(old, ignore_errors=True)
            if target.exists():
                target.rename(old)
            staging.rename(target)
            fsync_dir(self.root)
            shutil.rmtree(old, ignore_errors=True)
        except OSError as exc:
            raise StateError(f"{target}: cannot store edition: {exc.strerror or exc}") from exc
        return target

    def read_meta(self, edition_id: str) -> dict[str, Any]:
        """A stored edition's meta.json. Raises EditionError when it is missing or unreadable."""
        folder = self.folder(edition_id)
        if not (folder / "meta.json").is_file():
            raise EditionError(f"edition {edition_id} is not stored in {self.root} (build it with `digest preview`)")
        try:
            meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise EditionError(f"{folder}: stored edition is unreadable ({exc}); rebuild it with `digest preview --rebuild`") from exc
        if not isinstance(meta, dict):
            raise EditionError(f"{folder / 'meta.json'}: not a JSON object; rebuild it with `digest preview --rebuild`")
        return meta

    def load(self, edition_id: str) -> Edition:
        """Read a stored edition. Raises EditionError when it is missing or unreadable."""
        folder = self.folder(edition_id)
        meta = self.read_meta(edition_id)
        try:
            digest = Digest.from_json(json.loads((folder / "digest.json").read_text(encoding="utf-8")))
            email = Email(
                edition=edition_id,
                subject=meta["subject"],
                preheader=meta["preheader"],
                html=(folder / "email.html").read_text(encoding="utf-8"),
                text=(folder / "email.txt").read_text(encoding="utf-8"),
            )
            built_at = datetime.fromisoformat(meta["built_at"])
            # Editions stored before these were recorded have neither: nothing to compare or skip.
            article_hashes = tuple(str(h) for h in meta.get("article_hashes", ()))
            feed_entries = tuple(str(link) for link in meta.get("feed_entries", ()))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise EditionError(f"{folder}: stored edition is unreadable ({exc}); rebuild it with `digest preview --rebuild`") from exc
        return Edition(edition_id, digest, email, built_at, article_hashes, feed_entries)

    def remove_older_than(self, cutoff_id: str) -> list[str]:
        """Delete stored editions whose id sorts before `cutoff_id` (a date); returns what was removed."""
        removed = [i for i in self.ids() if i < cutoff_id]
        for edition_id in removed:
            shutil.rmtree(self.root / edition_id, ignore_errors=True)
        return removed


def get_edition(
    config: Config,
    store: EditionStore,
    now: datetime,
    *,
    edition_id: str | None = None,
    rebuild: bool = False,
    must_exist: bool = False,
    is_frozen: Callable[[str], bool] = lambda _id: False,
    on_progress: Callable[[str], None] | None = None,
    history_of: Callable[[str], History] = lambda _id: NO_HISTORY,
) -> tuple[Edition, bool]:
    """The stored edition (today's by default), building and storing it first when needed,
    against `history_of(edition_id)` (see history.read_history).

    Returns (edition, built_now). Raises EditionError when a frozen edition would be rebuilt,
    or when `must_exist` and it is not stored; NoSourcesError when nothing could be fetched.
    """
    edition_id = edition_id or edition_id_for(now, config.newsletter.timezone)
    if rebuild and is_frozen(edition_id):
        raise EditionError(f"edition {edition_id} has been sent to subscribers and is frozen; --rebuild refused")
    if store.exists(edition_id) and not rebuild:
        return store.load(edition_id), False
    if must_exist and not rebuild:
        raise EditionError(f"edition {edition_id} is not stored in {store.root} (stored: {', '.join(store.ids()[:5]) or 'none'})")
    edition = build_edition(config, edition_id, now, on_progress=on_progress, history=history_of(edition_id))
    store.save(edition)
    return edition, True


__all__ = ["EditionStore", "NoSourcesError", "build_edition", "edition_id_for", "get_edition"]
