"""Never the same news twice: statements and feed entries of sent editions are not sent again.

End to end through the CLI with DIGEST_NOW and a real state dir (stored editions, the SQLite
ledger, the outbox), local pages and a loopback HTTP server for feeds.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from digest.config import GatherConfig
from digest.editions import EditionStore
from digest.extract import extract_article
from digest.gather import fetch_page
from digest.history import read_history
from digest.ledger import Ledger
from digest.models import Bullet, Digest, Edition, Email, Section, SourceRef
from tests.support.cli import REPO, SECRET, invoke, write_config, write_subscribers

if TYPE_CHECKING:
    from tests.support.http import HTTPSite

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "history"
NEW_STORY = FIXTURES / "quantum-chips-deal.html"
DAY_0 = "2026-11-25T08:00:00+00:00"
DAY_1 = "2026-11-26T08:00:00+00:00"
DAY_2 = "2026-11-27T08:00:00+00:00"
NOTHING_NEW = "nothing new: every section of edition 2026-11-27 is empty once what the editions sent in the last 7 days said is left out"


def env_at(now: str) -> dict[str, str]:
    return {"DIGEST_NOW": now, "DIGEST_SECRET": SECRET}


def make_config(folder: Path, source: Path | str, sections: str = "") -> Path:
    path = write_config(folder)
    text = path.read_text(encoding="utf-8").replace(f'url = "{REPO / "samples" / "pages" / "starmer-white-house.html"}"', f'url = "{source}"')
    path.write_text(text + sections, encoding="utf-8")
    write_subscribers(folder, [("reader1@example.org", "Reader 1"), ("reader2@example.org", "Reader 2")])
    return path


def items(config: Path, edition: str) -> list[dict[str, Any]]:
    """The bullets of a stored edition as `preview --format json` shows them."""
    result = invoke(config, "preview", "--edition", edition, "--format", "json", "--out", "-", env=env_at(DAY_2))
    assert result.exit_code == 0, result.output
    return [item for section in json.loads(result.stdout)["sections"] for item in section["items"]]


def outbox(config: Path, edition: str) -> list[str]:
    folder = config.parent / "outbox" / edition
    return sorted(p.name for p in folder.glob("*.eml")) if folder.is_dir() else []


def last_run(config: Path, now: str) -> dict[str, Any]:
    result = invoke(config, "status", "--format", "json", env=env_at(now))
    assert result.exit_code == 0, result.output
    run: dict[str, Any] = json.loads(result.stdout)["last_run"]
    return run


def test_day_two_repeats_nothing_from_day_one_and_brings_the_new_story(tmp_path: Path) -> None:
    pages = tmp_path / "pages"
    shutil.copytree(REPO / "samples" / "pages", pages)
    config = make_config(tmp_path, pages / "starmer-white-house.html")
    assert invoke(config, "run", env=env_at(DAY_1)).exit_code == 0
    # Day 2: one related page now holds a new story; the lead article and the other page are unchanged.
    replaced = pages / "related" / "uk-us-tech-partnership.html"
    shutil.copyfile(NEW_STORY, replaced)

    result = invoke(config, "run", env=env_at(DAY_2))

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("sent: edition 2026-11-27 via outbox: sent 2,")
    day_1 = {item["text"] for item in items(config, "2026-11-26")}
    day_2 = items(config, "2026-11-27")
    assert len(day_1) >= 6
    assert [item["text"] for item in day_2 if item["text"] in day_1] == []
    new_story = extract_article(fetch_page(str(NEW_STORY), GatherConfig())).text
    from_new_story = [item["text"] for item in day_2 if item["source"]["url"] == replaced.as_uri()]
    assert from_new_story and all(text in new_story for text in from_new_story)
    assert outbox(config, "2026-11-27") == ["reader1_at_example.org.eml", "reader2_at_example.org.eml"]
    # What is new leads: a section the new story speaks to opens with it, ahead of the unchanged pages.
    result = invoke(config, "preview", "--edition", "2026-11-27", "--format", "json", "--out", "-", env=env_at(DAY_2))
    sections = [s["items"] for s in json.loads(result.stdout)["sections"]]
    speaking = [s for s in sections if any(item["source"]["url"] == replaced.as_uri() for item in s)]
    assert speaking and all(s[0]["source"]["url"] == replaced.as_uri() for s in speaking)


STORY = """<!doctype html><html><head><meta charset="utf-8"><title>Harbour bridge reopens</title></head><body><article>
<h1>Harbour bridge reopens</h1>
<p>The harbour bridge in Porthaven reopened to traffic on Wednesday after repairs costing £4.2m, the city council said.</p>
<p>Council leader Mara Quint said the bridge would carry 18,000 vehicles a day once the ferry terminal reopens in March.</p>
{extra}</article></body></html>
"""
HARBOUR = '\n[[sections]]\ntitle = "Harbour"\nkeywords = ["harbour", "bridge", "ferry"]\n'


def test_an_edition_with_nothing_new_is_not_sent_and_a_send_by_hand_needs_allow_empty(tmp_path: Path) -> None:
    story = tmp_path / "story.html"
    story.write_text(STORY.format(extra=""), encoding="utf-8")
    config = make_config(tmp_path, story, HARBOUR)
    assert invoke(config, "run", env=env_at(DAY_1)).exit_code == 0
    assert len(items(config, "2026-11-26")) == 2
    # Day 2: the page changed, but only by a paragraph no section is about; both statements were sent.
    story.write_text(STORY.format(extra="<p>Tickets for the summer festival go on sale next week at the town hall box office.</p>"), encoding="utf-8")

    result = invoke(config, "run", env=env_at(DAY_2))

    assert result.exit_code == 0, result.output
    assert result.stdout == f"skipped: {NOTHING_NEW}\n"
    assert (last_run(config, DAY_2)["outcome"], last_run(config, DAY_2)["reason"]) == ("skipped", NOTHING_NEW)
    assert outbox(config, "2026-11-27") == []

    refused = invoke(config, "send", "--yes", env=env_at(DAY_2))
    assert refused.exit_code == 1
    assert refused.stderr == (
        "error: edition 2026-11-27 has nothing new (every section is empty); not sent: pass --allow-empty to send it anyway\n"
    )
    assert outbox(config, "2026-11-27") == []
    dry_run = invoke(config, "send", "--dry-run", env=env_at(DAY_2))
    assert "would refuse: edition 2026-11-27 has nothing new" in dry_run.stderr

    sent = invoke(config, "send", "--yes", "--allow-empty", env=env_at(DAY_2))
    assert sent.exit_code == 0, sent.output
    assert outbox(config, "2026-11-27") == ["reader1_at_example.org.eml", "reader2_at_example.org.eml"]


def test_a_day_two_tells_the_new_page_not_what_an_unchanged_page_still_holds(tmp_path: Path) -> None:
    bridge, pilots = tmp_path / "bridge.html", tmp_path / "pilots.html"
    bridge.write_text(article(
        "Harbour bridge reopens",
        "The harbour bridge in Porthaven reopened to traffic on Wednesday after repairs costing £4.2m, the city council said.",
        "Council leader Mara Quint said the bridge would carry 18,000 vehicles a day once the ferry terminal reopens in March.",
        "Harbour tolls will rise to £2.50 in April, raising £1.1m a year for bridge maintenance, the council confirmed.",
        "The ferry operator Tidewater said it would add 12 crossings a day to the harbour timetable from May.",
    ), encoding="utf-8")
    config = make_config(tmp_path, bridge, HARBOUR + "max_items = 2\n")
    assert invoke(config, "run", env=env_at(DAY_1)).exit_code == 0
    # Day 2: the bridge page is unchanged (two of its statements were not sent: yesterday's story all the same); a new page has a modest one.
    pilots.write_text(article(
        "Harbour pilots end dispute",
        "Gulls wheeled over the quay as the pilots gathered in the rain.",
        "Most of them had worked through the night.",
        "Harbour pilots voted to accept a new pay deal, ending a dispute.",
    ), encoding="utf-8")
    config.write_text(config.read_text(encoding="utf-8") + f'\n[[sources]]\nurl = "{pilots}"\n', encoding="utf-8")

    assert invoke(config, "run", env=env_at(DAY_2)).exit_code == 0

    day_2 = items(config, "2026-11-27")
    assert [(item["source"]["url"], item["text"]) for item in day_2] == [
        (pilots.as_uri(), "Harbour pilots voted to accept a new pay deal, ending a dispute.")
    ]


def rss(base_url: str, *entries: tuple[str, str, str]) -> str:
    """An RSS feed of (path, title, RFC 822 date) entries."""
    body = "".join(
        f"<item><title>{title}</title><link>{base_url}{path}</link><guid>{base_url}{path}</guid><pubDate>{date}</pubDate></item>"
        for path, title, date in entries
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>Porthaven News</title>{body}</channel></rss>'


def article(title: str, *sentences: str) -> str:
    paragraphs = "".join(f"<p>{sentence}</p>" for sentence in sentences)
    return f'<!doctype html><html><head><meta charset="utf-8"><title>{title}</title></head><body><article><h1>{title}</h1>{paragraphs}</article></body></html>'


FRESH = ("/news/bridge.html", "Harbour bridge reopens", "Wed, 25 Nov 2026 06:00:00 GMT")
OLD = ("/news/old.html", "Harbour survey begins", "Sun, 15 Nov 2026 06:00:00 GMT")
NEXT = ("/news/ferry.html", "Ferry timetable doubles", "Fri, 27 Nov 2026 06:00:00 GMT")


def test_feed_entries_of_a_sent_edition_are_not_fetched_again_and_old_ones_never(tmp_path: Path, http_site: HTTPSite) -> None:
    http_site.page("/news/bridge.html", article("Harbour bridge reopens",
        "The harbour bridge in Porthaven reopened to traffic on Wednesday after repairs costing £4.2m, the council said."))
    http_site.page("/news/old.html", article("Harbour survey begins",
        "A survey of the harbour walls began on Monday and will take six weeks to complete, the port authority said."))
    http_site.page("/news/ferry.html", article("Ferry timetable doubles",
        "The ferry to Carrick Island will run 24 times a day from December, twice as often as now, the operator said."))
    feed = http_site.page("/news/feed.rss", rss(http_site.base_url, FRESH, OLD), content_type="application/rss+xml")
    config = make_config(tmp_path, feed, HARBOUR)

    # Day 0: built and sent only as a test copy, which does not count as sent.
    test_copy = invoke(config, "send", "--to", "editor@example.org", env=env_at(DAY_0))
    assert test_copy.exit_code == 0, test_copy.output
    assert len(http_site.requests_to("/news/bridge.html")) == 1

    day_1 = invoke(config, "run", env=env_at(DAY_1))
    assert day_1.exit_code == 0, day_1.output
    assert len(http_site.requests_to("/news/bridge.html")) == 2
    assert [item["source"]["url"] for item in items(config, "2026-11-26")] == [http_site.url("/news/bridge.html")]

    http_site.page("/news/feed.rss", rss(http_site.base_url, NEXT, FRESH, OLD), content_type="application/rss+xml")
    day_2 = invoke(config, "run", env=env_at(DAY_2))

    assert day_2.exit_code == 0, day_2.output
    assert len(http_site.requests_to("/news/bridge.html")) == 2  # used on day 1: not fetched again
    assert http_site.requests_to("/news/old.html") == []  # ten days old: never fetched
    assert [item["source"]["url"] for item in items(config, "2026-11-27")] == [http_site.url("/news/ferry.html")]
    assert outbox(config, "2026-11-27") == ["reader1_at_example.org.eml", "reader2_at_example.org.eml"]


def stored(store: EditionStore, edition_id: str) -> None:
    bullet = Bullet(f"Statement of {edition_id}.", SourceRef(f"https://news.example.org/{edition_id}", "Story"))
    digest = Digest(edition_id, "Brief", datetime(2026, 11, 1, tzinfo=UTC), (Section("News", (bullet,)),), ())
    email = Email(edition_id, "Brief", "", "<p>html</p>", "text")
    store.save(Edition(edition_id, digest, email, datetime(2026, 11, 1, tzinfo=UTC), article_hashes=(f"hash-{edition_id}",),
                       feed_entries=(f"https://feed.example.org/{edition_id}",)))


def test_history_holds_the_statements_of_editions_sent_in_the_window_and_every_sent_feed_entry(tmp_path: Path) -> None:
    store = EditionStore(tmp_path)
    for edition_id in ("2026-11-18", "2026-11-19", "2026-11-24", "2026-11-25", "2026-11-26"):
        stored(store, edition_id)
    now = datetime(2026, 11, 26, tzinfo=UTC)
    with Ledger.open(tmp_path) as ledger:
        for edition_id in ("2026-11-18", "2026-11-19", "2026-11-25", "2026-11-26"):
            ledger.add_pending(edition_id, ["reader@example.org"], now)
            ledger.record_outcomes(edition_id, [("reader@example.org", "sent", None, None, False)], now)
        ledger.record_test_send(now, "2026-11-24", "editor@example.org", "sent", None, None)  # a test copy only

        history = read_history(store, ledger.has_sent, "2026-11-26", window_days=7)

    # 2026-11-18 is eight days before: out of the window; 2026-11-24 went out as a test copy only.
    assert history.statements == ("Statement of 2026-11-25.", "Statement of 2026-11-19.")
    assert history.article_hashes == {"hash-2026-11-25", "hash-2026-11-19"}
    assert history.feed_entries == {f"https://feed.example.org/{d}" for d in ("2026-11-18", "2026-11-19", "2026-11-25")}
