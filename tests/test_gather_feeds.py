"""gather.feeds: feed entries already sent, or too old, are not fetched again."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from digest.config import GatherConfig
from digest.gather import gather
from digest.models import Source

if TYPE_CHECKING:
    from tests.support.http import HTTPSite

NOW = datetime(2025, 2, 27, 7, 0, tzinfo=UTC)  # the fixture feed's entries: 27 Feb (later today), 26 Feb, 25 Feb
CONFIG = GatherConfig(connect_timeout=2, read_timeout=5, page_timeout=10, total_timeout=20, max_related=10)


def clock() -> datetime:
    return NOW


def test_entries_already_sent_are_skipped_without_fetching(http_site: HTTPSite) -> None:
    feed = http_site.url("/gather/feeds/news.rss")
    first, second = http_site.url("/gather/articles/first.html"), http_site.url("/gather/articles/second.html")

    result = gather([Source(feed)], CONFIG, clock=clock, seen=frozenset({first}))

    assert [page.url for page in result.pages] == [second, http_site.url("/gather/articles/missing.html")]
    assert http_site.requests_to("/gather/articles/first.html") == []


def test_entries_already_sent_are_recognised_by_their_id(http_site: HTTPSite) -> None:
    entry = '<entry><id>urn:uuid:{id}</id><title>{id}</title><link href="/gather/articles/{id}.html"/><updated>2025-02-26T09:00:00Z</updated></entry>'
    feed = http_site.page(
        "/ids.atom",
        '<feed xmlns="http://www.w3.org/2005/Atom"><title>T</title><id>urn:feed</id><updated>2025-02-26T09:00:00Z</updated>'
        + entry.format(id="first") + entry.format(id="second") + "</feed>",
        content_type="application/atom+xml",
    )

    result = gather([Source(feed)], CONFIG, clock=clock, seen=frozenset({"urn:uuid:second"}))

    assert [page.url for page in result.pages] == [http_site.url("/gather/articles/first.html")]
    assert http_site.requests_to("/gather/articles/second.html") == []


def test_entries_older_than_feed_max_age_days_are_skipped(http_site: HTTPSite) -> None:
    feed = http_site.url("/gather/feeds/news.rss")

    result = gather([Source(feed)], replace(CONFIG, feed_max_age_days=1), clock=clock)

    # 25 Feb 09:00 is more than a day before 27 Feb 07:00; 26 Feb 09:00 is not
    assert [page.url for page in result.pages] == [
        http_site.url("/gather/articles/first.html"),
        http_site.url("/gather/articles/second.html"),
    ]
    assert http_site.requests_to("/gather/articles/missing.html") == []


def test_undated_entries_are_kept_whatever_their_age(http_site: HTTPSite) -> None:
    feed = http_site.page(
        "/undated.rss",
        "<rss version='2.0'><channel><title>T</title>"
        "<item><title>Undated</title><link>/gather/articles/first.html</link></item></channel></rss>",
        content_type="application/rss+xml",
    )

    result = gather([Source(feed)], replace(CONFIG, feed_max_age_days=1), clock=clock)

    assert [page.url for page in result.pages] == [http_site.url("/gather/articles/first.html")]
