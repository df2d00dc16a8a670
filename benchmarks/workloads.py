"""Generated data the benchmarks share: an edition, a config file, a subscriber list of any size."""

from __future__ import annotations

import csv
import random
from pathlib import Path
from typing import Any

from digest.config import NewsletterConfig
from digest.models import Bullet, Digest, Edition, Section, SourceRef, SourceReport, Subscriber
from digest.render import render_email
from digest.subscribers import HEADER, row_cells

SECRET = "bench-secret-that-signs-unsubscribe-links"
EDITION_ID = "2026-11-26"
NEWSLETTER = NewsletterConfig(
    name="The Transatlantic Brief",
    from_email="brief@example.org",
    from_name="The Transatlantic Brief",
    reply_to="editor@example.org",
    postal_address="1 Example Street, London EC1A 1AA",
    base_url="https://news.example.org",
)
_SENTENCES = (
    "The Prime Minister told the President that any ceasefire in Ukraine must come with security guarantees "
    "that Kyiv and its European partners can rely on.",
    "European officials said a coalition of countries was ready to send peacekeepers once a settlement had been signed.",
    "Britain will raise defence spending to 2.5% of GDP by 2027, paid for by cutting the overseas aid budget.",
    "The two leaders agreed a technology partnership covering artificial intelligence, quantum computing and chips.",
)


def sample_edition() -> Edition:
    """A full edition: three sections of four bullets, each from its own source."""
    from datetime import UTC, datetime

    now = datetime(2026, 11, 26, 7, tzinfo=UTC)
    sections = []
    sources = []
    for s, title in enumerate(("Ukraine peace", "Defence spending", "AI/tech partnership")):
        bullets = []
        for b in range(4):
            source = SourceRef(f"https://news.example.org/2026/11/26/story-{s}-{b}?ref=brief&lang=en", f"Story {s}.{b}")
            bullets.append(Bullet(_SENTENCES[(s + b) % len(_SENTENCES)], source))
            sources.append(SourceReport(source.url, source.title, "ok"))
        sections.append(Section(title, tuple(bullets)))
    digest = Digest(EDITION_ID, NEWSLETTER.name, now, tuple(sections), tuple(sources))
    return Edition(digest.edition, digest, render_email(digest, NEWSLETTER), now)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_config(home: Path, *, delivery: dict[str, Any]) -> Path:
    """`home/digest.toml` for NEWSLETTER, with this [delivery] table; list and state dir in `home`."""
    newsletter = {
        "name": NEWSLETTER.name, "from_email": NEWSLETTER.from_email, "from_name": NEWSLETTER.from_name,
        "reply_to": NEWSLETTER.reply_to, "postal_address": NEWSLETTER.postal_address,
        "base_url": NEWSLETTER.base_url, "timezone": "UTC",
    }
    lines = ["[newsletter]", *(f"{k} = {_toml_value(v)}" for k, v in newsletter.items() if v)]
    lines += ["", "[[sources]]", 'url = "page.html"', "", "[delivery]"]
    lines += [f"{k} = {_toml_value(v)}" for k, v in delivery.items()]
    lines += ["", "[subscribers]", 'file = "subscribers.csv"', "", "[state]", 'dir = "state"', ""]
    path = home / "digest.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def subscriber_email(number: int) -> str:
    return f"reader{number:07d}@example.com"


def write_subscribers(path: Path, count: int, *, seed: int = 1) -> None:
    """subscribers.csv with `count` active subscribers, in a shuffled order as a real list grows."""
    order = list(range(count))
    random.Random(seed).shuffle(order)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(HEADER)
        for number in order:
            writer.writerow(
                row_cells(Subscriber(subscriber_email(number), f"Reader {number}", "active", "2026-01-05T09:30:00+00:00", source="import"))
            )
