"""gather: fetching pages, files and feeds from a real loopback server, with one hop of related links."""

from __future__ import annotations

import logging
import threading
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from digest.config import GatherConfig
from digest.errors import NoSourcesError
from digest.extract import extract_article
from digest.gather import SourceCheck, check_sources, fetch_page, gather
from digest.models import Source
from tests.support.fetch import NOW, clock
from tests.support.fetch import fetch_error as support_fetch_error
from tests.support.loopback import refused_port, unanswered_port

if TYPE_CHECKING:
    from tests.support.http import HTTPSite


FIXTURES = Path(__file__).resolve().parent / "fixtures" / "gather"
SAMPLE_PAGES = Path(__file__).resolve().parent.parent / "samples" / "pages"
CONFIG = GatherConfig(
    connect_timeout=2.0,
    read_timeout=5.0,
    max_bytes=200_000,
    max_redirects=3,
    max_related=10,
    concurrency=4,
    user_agent="digest-tests/1.0 (+https://example.org/bot)",
)


def fetch_error(url: str, config: GatherConfig = CONFIG) -> str:
    return support_fetch_error(url, config)


def test_redirects_are_followed_and_the_final_url_recorded(http_site: HTTPSite) -> None:
    http_site.redirect("/old", "/moved", status=301)
    http_site.redirect("/moved", "/gather/related/two.html")

    page = fetch_page(http_site.url("/old"), CONFIG, clock=clock)

    assert page.url == http_site.url("/gather/related/two.html")
    assert page.requested_url == http_site.url("/old")
    assert page.status == 200
    assert page.content_type == "text/html"
    assert page.charset == "utf-8"
    assert page.fetched_at == NOW
    assert b"Passenger groups asked for fares" in page.body


def test_a_redirect_loop_is_reported(http_site: HTTPSite) -> None:
    http_site.redirect("/a", "/b")
    http_site.redirect("/b", "/a")

    reason = fetch_error(http_site.url("/a"))

    assert reason == f"too many redirects (redirect loop at {http_site.url('/a')})"


def test_a_redirect_chain_longer_than_the_limit_is_reported(http_site: HTTPSite) -> None:
    for hop in range(5):
        http_site.redirect(f"/hop{hop}", f"/hop{hop + 1}")
    http_site.redirect("/hop5", "/gather/article.html")

    assert fetch_error(http_site.url("/hop0")) == "too many redirects (more than 3)"
    assert len(http_site.requests_to("/gather/article.html")) == 0


def test_a_missing_page_is_reported_with_a_warning_and_the_run_goes_on(
    http_site: HTTPSite, caplog: pytest.LogCaptureFixture
) -> None:
    missing = http_site.url("/gather/no-such-page.html")
    present = http_site.url("/gather/related/two.html")

    lines: list[str] = []
    with caplog.at_level(logging.WARNING, logger="digest.gather"):
        result = gather([Source(missing), Source(present)], CONFIG, clock=clock, on_progress=lines.append)

    assert [page.url for page in result.pages] == [present]
    assert [(f.url, f.reason, f.via) for f in result.failures] == [(missing, "HTTP 404", None)]
    assert f"{missing}: HTTP 404" in caplog.text
    # one line per page, as each one ends
    [failed] = [line for line in lines if line.startswith("failed ")]
    [fetched] = [line for line in lines if line.startswith("fetched ")]
    assert failed == f"failed  {missing}: HTTP 404"
    assert fetched.startswith(f"fetched {present} (200, ")
    assert len(lines) == 2


def test_a_page_that_stalls_times_out_with_a_clear_reason(http_site: HTTPSite) -> None:
    url = http_site.stall("/slow")

    reason = fetch_error(url, replace(CONFIG, read_timeout=0.3))

    assert reason == "timed out after 0.3s"


def test_an_oversized_streamed_page_is_aborted(http_site: HTTPSite) -> None:
    url = http_site.stream("/huge", 2_000_000)

    assert fetch_error(url) == "page larger than 200000 bytes"


def test_an_oversized_page_is_refused_from_its_content_length(http_site: HTTPSite) -> None:
    url = http_site.page("/big", "<p>" + "x" * 300_000 + "</p>")

    assert fetch_error(url) == "page larger than 200000 bytes"


def test_a_refused_connection_is_reported() -> None:
    with refused_port() as port:
        assert fetch_error(f"http://127.0.0.1:{port}/") == "connection refused"


def test_connect_timeout_takes_effect() -> None:
    with unanswered_port() as port:
        assert fetch_error(f"http://127.0.0.1:{port}/", replace(CONFIG, connect_timeout=0.3)) == "timed out after 0.3s connecting"


def test_other_content_than_html_or_feeds_is_refused(http_site: HTTPSite) -> None:
    url = http_site.page("/photo.png", b"\x89PNG\r\n", content_type="image/png")

    assert fetch_error(url) == "not an HTML page or feed (image/png)"


def test_the_user_agent_header_is_sent(http_site: HTTPSite) -> None:
    fetch_page(http_site.url("/gather/article.html"), CONFIG, clock=clock)

    [request] = http_site.requests_to("/gather/article.html")
    assert request.headers["User-Agent"] == CONFIG.user_agent


def test_related_links_are_followed_exactly_one_hop(http_site: HTTPSite) -> None:
    article = http_site.url("/gather/article.html")
    lines: list[str] = []

    result = gather([Source(article)], CONFIG, clock=clock, on_progress=lines.append)

    one, two = http_site.url("/gather/related/one.html"), http_site.url("/gather/related/two.html")
    assert [(page.url, page.via) for page in result.pages] == [(article, None), (one, article), (two, article)]
    assert result.failures == ()
    assert http_site.requests_to("/gather/related/deeper.html") == []  # one.html's own related link
    assert len(http_site.requests_to("/gather/related/one.html")) == 1  # listed twice, fetched once
    assert len(lines) == 3 and all(line.startswith("fetched ") for line in lines)
    assert any(article in line for line in lines)


def test_related_links_are_not_followed_when_the_source_says_so(http_site: HTTPSite) -> None:
    article = http_site.url("/gather/article.html")

    result = gather([Source(article, follow_related=False)], CONFIG, clock=clock)

    assert [page.url for page in result.pages] == [article]
    assert http_site.requests_to("/gather/related/one.html") == []


def test_related_links_are_capped_and_a_failing_one_is_listed_with_its_parent(http_site: HTTPSite) -> None:
    links = "".join(f'<li><a href="/r/{n}.html">Story {n}</a></li>' for n in range(4))
    parent = http_site.page("/parent", f"<html><body><p>Parent text.</p><h2>Related</h2><ul>{links}</ul></body></html>")
    http_site.page("/r/0.html", "<html><body><p>Zero.</p></body></html>")

    result = gather([Source(parent)], replace(CONFIG, max_related=2), clock=clock)

    assert [page.url for page in result.pages] == [parent, http_site.url("/r/0.html")]
    assert [(f.url, f.reason, f.via) for f in result.failures] == [(http_site.url("/r/1.html"), "HTTP 404", parent)]
    assert http_site.requests_to("/r/2.html") == []


def test_a_web_page_cannot_make_gather_read_local_files(http_site: HTTPSite) -> None:
    secret = FIXTURES / "related" / "two.html"
    parent = http_site.page(
        "/sneaky", f'<html><body><p>Text.</p><h2>Related</h2><ul><li><a href="{secret.as_uri()}">x</a></li></ul></body></html>'
    )

    result = gather([Source(parent)], CONFIG, clock=clock)

    assert [page.url for page in result.pages] == [parent]
    assert result.failures == ()


def test_configured_pages_come_in_config_order_each_followed_by_its_related_pages(http_site: HTTPSite) -> None:
    first = http_site.url("/gather/articles/first.html")
    article = http_site.url("/gather/article.html")
    one = http_site.url("/gather/related/one.html")

    result = gather([Source(first), Source(article), Source(one)], CONFIG, clock=clock)

    two, deeper = http_site.url("/gather/related/two.html"), http_site.url("/gather/related/deeper.html")
    # one.html is configured itself, so it is not fetched again as article's related page
    assert [page.url for page in result.pages] == [first, article, two, one, deeper]
    assert [page.via for page in result.pages] == [None, None, article, None, one]


def test_every_source_failing_raises_no_sources_error(http_site: HTTPSite) -> None:
    missing = http_site.url("/nothing-here")
    absent_file = str(FIXTURES / "absent.html")

    with pytest.raises(NoSourcesError) as caught:
        gather([Source(missing), Source(absent_file)], CONFIG, clock=clock)

    assert str(caught.value) == f"no source could be fetched: {missing}: HTTP 404; {absent_file}: file not found"


def test_local_files_and_relative_related_links_between_them() -> None:
    article = FIXTURES / "article.html"

    result = gather([Source(str(article))], CONFIG, clock=clock)

    related = FIXTURES / "related"
    assert [page.url for page in result.pages] == [
        article.as_uri(),
        (related / "one.html").as_uri(),
        (related / "two.html").as_uri(),
    ]
    assert result.pages[0].requested_url == str(article)
    assert result.pages[0].status == 200
    assert result.pages[0].content_type == "text/html"
    assert result.pages[1].via == article.as_uri()


def test_the_bundled_sample_gathers_its_two_related_pages() -> None:
    article = SAMPLE_PAGES / "starmer-white-house.html"

    result = gather([Source(str(article))], CONFIG, clock=clock)

    assert [(page.url, page.via) for page in result.pages] == [
        (article.as_uri(), None),
        ((SAMPLE_PAGES / "related" / "european-defence-budgets.html").as_uri(), article.as_uri()),
        ((SAMPLE_PAGES / "related" / "uk-us-tech-partnership.html").as_uri(), article.as_uri()),
    ]
    assert result.failures == ()


def test_a_file_uri_source_is_read() -> None:
    uri = (FIXTURES / "related" / "two.html").as_uri()

    page = fetch_page(uri, CONFIG, clock=clock)

    assert page.url == uri
    assert b"Passenger groups react" in page.body


def test_a_missing_local_file_is_reported() -> None:
    assert fetch_error(str(FIXTURES / "absent.html")) == "file not found"
    assert fetch_error((FIXTURES / "absent.html").as_uri()) == "file not found"


def test_an_oversized_local_file_is_refused() -> None:
    assert fetch_error(str(FIXTURES / "article.html"), replace(CONFIG, max_bytes=100)) == "page larger than 100 bytes"


def test_a_relative_path_or_unknown_scheme_is_refused() -> None:
    assert fetch_error("pages/article.html") == "not an http(s) URL or an absolute file path"
    assert fetch_error("ftp://example.org/a.html") == "unsupported URL scheme 'ftp' (use http, https or a file path)"


def test_rss_entries_are_gathered_newest_first_and_a_dead_link_falls_back_to_the_summary(
    http_site: HTTPSite, caplog: pytest.LogCaptureFixture
) -> None:
    feed = http_site.url("/gather/feeds/news.rss")

    with caplog.at_level(logging.WARNING, logger="digest.gather"):
        result = gather([Source(feed, follow_related=False)], CONFIG, clock=clock)

    missing = http_site.url("/gather/articles/missing.html")
    assert [(page.url, page.via) for page in result.pages] == [
        (http_site.url("/gather/articles/first.html"), feed),
        (http_site.url("/gather/articles/second.html"), feed),
        (missing, feed),
    ]
    summary = extract_article(result.pages[2])
    assert summary.title == "Market square & fountain restored"
    assert summary.text == "The fountain in the market square runs again after a <50,000 restoration."
    assert b"alert" not in result.pages[2].body
    assert result.failures == ()
    assert f"{missing}: HTTP 404; using the feed's summary instead" in caplog.text


def test_only_the_newest_feed_entries_are_fetched(http_site: HTTPSite) -> None:
    feed = http_site.url("/gather/feeds/news.rss")

    result = gather([Source(feed)], replace(CONFIG, max_related=1), clock=clock)

    assert [page.url for page in result.pages] == [http_site.url("/gather/articles/first.html")]
    assert http_site.requests_to("/gather/articles/second.html") == []


def test_atom_entries_with_relative_links_are_gathered_over_http_and_from_files(http_site: HTTPSite) -> None:
    feed = http_site.url("/gather/feeds/news.atom")
    over_http = gather([Source(feed)], CONFIG, clock=clock)
    from_file = gather([Source(str(FIXTURES / "feeds" / "news.atom"))], CONFIG, clock=clock)

    assert [page.url for page in over_http.pages] == [
        http_site.url("/gather/articles/first.html"),
        http_site.url("/gather/articles/second.html"),
        f"{feed}#entry-3",  # no link: the entry's own text
    ]
    assert [page.url for page in from_file.pages] == [
        (FIXTURES / "articles" / "first.html").as_uri(),
        (FIXTURES / "articles" / "second.html").as_uri(),
        f"{(FIXTURES / 'feeds' / 'news.atom').as_uri()}#entry-3",
    ]
    assert extract_article(over_http.pages[2]).text == "Mill Lane narrows to < 2 lanes & buses divert until Friday."


def test_a_feed_without_entries_is_a_working_source(http_site: HTTPSite) -> None:
    feed = http_site.page(
        "/empty.rss", "<rss version='2.0'><channel><title>Quiet</title></channel></rss>", content_type="application/rss+xml"
    )

    result = gather([Source(feed)], CONFIG, clock=clock)

    assert result.pages == ()
    assert result.failures == ()


def test_a_broken_feed_is_a_failing_source(http_site: HTTPSite) -> None:
    broken = http_site.page("/broken.xml", "<?xml version='1.0'?><nonsense>", content_type="application/xml")
    article = http_site.url("/gather/related/two.html")

    result = gather([Source(broken), Source(article)], CONFIG, clock=clock)

    [failure] = result.failures
    assert failure.url == broken
    assert failure.reason.startswith("not a readable RSS/Atom feed")


def test_sources_check_reports_each_source_and_its_related_links(http_site: HTTPSite) -> None:
    article = http_site.url("/gather/article.html")
    missing = http_site.url("/gone")
    http_site.status("/gone", 410)

    checks = check_sources([Source(article), Source(missing)], CONFIG, clock=clock)

    assert [(c.url, c.status, c.http_status, c.related_found, c.reason, c.via) for c in checks] == [
        (article, "ok", 200, 2, None, None),
        (http_site.url("/gather/related/one.html"), "ok", 200, 1, None, article),
        (http_site.url("/gather/related/two.html"), "ok", 200, 0, None, article),
        (missing, "error", 410, 0, "HTTP 410", None),
    ]
    assert checks[0].bytes == (FIXTURES / "article.html").stat().st_size
    assert all(isinstance(c, SourceCheck) and c.seconds >= 0 for c in checks)
    assert http_site.requests_to("/gather/related/deeper.html") == []


def test_sources_check_counts_feed_entries_and_reports_unreachable_hosts(http_site: HTTPSite) -> None:
    feed = http_site.url("/gather/feeds/news.atom")
    with refused_port() as port:
        dead = f"http://127.0.0.1:{port}/"
        checks = check_sources([Source(feed), Source(dead)], CONFIG, clock=clock)

    assert [(c.url, c.status, c.related_found, c.reason) for c in checks] == [
        (feed, "ok", 2, None),
        (http_site.url("/gather/articles/first.html"), "ok", 0, None),
        (http_site.url("/gather/articles/second.html"), "ok", 0, None),
        (dead, "error", 0, "connection refused"),
    ]


def saved_page_linking_to(tmp_path: Path, link: str) -> Path:
    page = tmp_path / "saved.html"
    paragraphs = "".join(f"<p>Paragraph {i} of a saved article about the harbour works and the ferry timetable.</p>" for i in range(6))
    page.write_text(
        f"<!doctype html><html><head><title>Saved</title></head><body><article><h1>Saved</h1>{paragraphs}</article>"
        f'<h2>Related</h2><ul><li><a href="{link}">Inside</a></li></ul></body></html>',
        encoding="utf-8",
    )
    return page


def test_a_page_cannot_lead_gather_to_a_local_network(tmp_path: Path, http_site: HTTPSite) -> None:
    # A saved page (not itself on a local network) links to a loopback address, as a hostile page
    # would link to a cloud metadata service: the link is refused and never requested.
    inside = http_site.url("/gather/related/one.html")
    page = saved_page_linking_to(tmp_path, inside)

    gathered = gather([Source(str(page))], CONFIG, clock=clock)

    assert [p.url for p in gathered.pages] == [page.as_uri()]
    (failure,) = gathered.failures
    assert failure.url == inside and failure.via == page.as_uri()
    assert failure.reason.startswith("refused: 127.0.0.1 is a local or private address (127.0.0.1)")
    assert http_site.requests_to("/gather/related/one.html") == []


def test_allow_private_links_lets_pages_lead_to_local_networks(tmp_path: Path, http_site: HTTPSite) -> None:
    inside = http_site.url("/gather/related/one.html")
    page = saved_page_linking_to(tmp_path, inside)

    gathered = gather([Source(str(page))], replace(CONFIG, allow_private_links=True), clock=clock)

    assert [p.url for p in gathered.pages] == [page.as_uri(), inside]


def test_concurrency_is_how_many_pages_are_fetched_at_once(http_site: HTTPSite) -> None:
    sources = [Source(http_site.hold(f"/held/{i}.html"), follow_related=False) for i in range(5)]
    results: list[object] = []
    gathering = threading.Thread(target=lambda: results.append(gather(sources, replace(CONFIG, concurrency=2), clock=clock)))
    gathering.start()
    try:
        http_site.wait_for_held(2)  # two at once: the pages are fetched in parallel...
        # ...and no third while both wait: with a larger pool it would start at once, not after these.
        assert not http_site.more_held_within(2, seconds=1.0)
        for _ in range(5):
            http_site.let_one_go()
    finally:
        gathering.join(30)
    assert results, "gather did not finish"
    assert http_site.max_held == 2
