"""`digest serve`: one-click unsubscribe, archive, feed and health pages, and serving in public
(proxy headers, size and rate limits, security headers), over real HTTP on loopback."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import httpx
import pytest

from digest.config import Config
from digest.errors import ConfigError
from digest.ledger import Ledger
from digest.serve import create_app
from digest.subscribers import read_subscribers
from digest.tokens import make_token
from tests.support.cli import SECRET, invoke, load_test_config, start_digest, store_edition, write_config
from tests.support.serve import Lines, serve_in_thread
from tests.test_tokens import MAILED_BEFORE_IDS

SENT_AT = datetime(2026, 11, 26, 7, 0, tzinfo=UTC).timestamp()
DAY = 24 * 3600
ONE_CLICK = {"List-Unsubscribe": "One-Click"}
LIST = (
    "email,name,status,subscribed_at,unsubscribed_at,source\n"
    "ann@example.org,Ann,active,2026-01-01T00:00:00+00:00,,cli\n"
    "Bob@example.org,Bob,active,2026-01-01T00:00:00+00:00,,cli\n"
)


def token_for(email: str, *, at: float = SENT_AT, secret: str = SECRET) -> str:
    return make_token(email, secret, clock=lambda: at)


@dataclass
class Site:
    url: str
    config: Config
    list_path: Path

    def list_bytes(self) -> bytes:
        return self.list_path.read_bytes()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    config = load_test_config(write_config(tmp_path))
    config.subscribers.file.write_text(LIST, encoding="utf-8")
    with serve_in_thread(config, clock=SENT_AT + 3 * DAY) as served:
        yield Site(served.url, config, config.subscribers.file)


def test_one_click_post_unsubscribes_before_answering(site: Site) -> None:
    response = httpx.post(f"{site.url}/unsubscribe/{token_for('ann@example.org')}", data=ONE_CLICK)

    assert response.status_code == 200
    assert "ann@example.org</strong> is unsubscribed" in response.text
    ann, bob = read_subscribers(site.list_path)  # read right after the answer: already written
    assert (ann.status, ann.unsubscribed_at) == ("unsubscribed", "2026-11-29T07:00:00+00:00")
    assert bob.status == "active"
    assert "set-cookie" not in response.headers


def test_token_matches_the_stored_address_case_insensitively(site: Site) -> None:
    response = httpx.post(f"{site.url}/unsubscribe/{token_for('Bob@example.org')}", data=ONE_CLICK)
    assert response.status_code == 200
    assert read_subscribers(site.list_path)[1].status == "unsubscribed"
    again = httpx.post(f"{site.url}/unsubscribe/{token_for('Bob@example.org')}", data=ONE_CLICK)
    assert again.status_code == 200
    assert "was already unsubscribed" in again.text


def test_get_shows_a_form_and_changes_nothing(site: Site) -> None:
    before = site.list_bytes()
    token = token_for("ann@example.org")

    response = httpx.get(f"{site.url}/unsubscribe/{token}")

    assert response.status_code == 200
    assert f'<form method="post" action="/unsubscribe/{token}">' in response.text
    assert '<input type="hidden" name="List-Unsubscribe" value="One-Click">' in response.text
    assert site.list_bytes() == before
    assert "<script" not in response.text
    assert "script-src" not in response.headers["content-security-policy"]
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "set-cookie" not in response.headers


def test_submitting_the_form_unsubscribes(site: Site) -> None:
    token = token_for("ann@example.org")
    page = httpx.get(f"{site.url}/unsubscribe/{token}").text
    action = page.split('action="', 1)[1].split('"', 1)[0]
    response = httpx.post(site.url + action, data=ONE_CLICK)
    assert response.status_code == 200
    assert read_subscribers(site.list_path)[0].status == "unsubscribed"


@pytest.mark.parametrize(
    "token",
    [
        token_for("ann@example.org")[:-2] + "xx",  # tampered signature
        token_for("ann@example.org", secret="another-secret"),
        "not-a-token",
    ],
)
def test_bad_token_answers_400_and_changes_nothing(site: Site, token: str) -> None:
    before = site.list_bytes()
    assert httpx.post(f"{site.url}/unsubscribe/{token}", data=ONE_CLICK).status_code == 400
    assert httpx.get(f"{site.url}/unsubscribe/{token}").status_code == 400
    assert site.list_bytes() == before


def test_unknown_address_with_valid_token_is_told_so(site: Site) -> None:
    before = site.list_bytes()
    response = httpx.post(f"{site.url}/unsubscribe/{token_for('stranger@example.org')}", data=ONE_CLICK)
    assert response.status_code == 200
    assert "This address is not on the list of The Transatlantic Brief" in response.text
    assert site.list_bytes() == before


def test_pages_escape_the_address_they_show(site: Site) -> None:
    site.list_path.write_text(LIST + "<script>alert(1)</script>@example.org,,active,,,cli\n", encoding="utf-8")
    response = httpx.get(f"{site.url}/unsubscribe/{token_for('<script>alert(1)</script>@example.org')}")
    assert response.status_code == 200
    assert "<strong>&lt;script&gt;alert(1)&lt;/script&gt;@example.org</strong>" in response.text
    assert "<script>" not in response.text


def test_a_link_mailed_before_opaque_tokens_still_unsubscribes(site: Site) -> None:
    response = httpx.post(f"{site.url}/unsubscribe/{MAILED_BEFORE_IDS}", data=ONE_CLICK)
    assert response.status_code == 200
    assert read_subscribers(site.list_path)[0].status == "unsubscribed"


def test_an_address_added_after_the_server_started_is_found(site: Site) -> None:
    assert httpx.get(f"{site.url}/unsubscribe/{token_for('ann@example.org')}").status_code == 200  # the index is built
    site.list_path.write_text(LIST + "cy@example.org,Cy,active,2026-01-01T00:00:00+00:00,,cli\n", encoding="utf-8")
    response = httpx.post(f"{site.url}/unsubscribe/{token_for('cy@example.org')}", data=ONE_CLICK)
    assert "<strong>cy@example.org</strong> is unsubscribed" in response.text
    assert read_subscribers(site.list_path)[2].status == "unsubscribed"


def test_unwritable_list_answers_503_not_200(site: Site) -> None:
    site.list_path.write_text(LIST + "eve@example.org,Eve,paused,,,cli\n", encoding="utf-8")
    response = httpx.post(f"{site.url}/unsubscribe/{token_for('ann@example.org')}", data=ONE_CLICK)
    assert response.status_code == 503
    assert "could not be recorded" in response.text


def test_healthz(site: Site) -> None:
    response = httpx.get(f"{site.url}/healthz")
    assert (response.status_code, response.text) == (200, "ok\n")


def test_every_answer_carries_the_whole_security_policy(site: Site) -> None:
    for response in (httpx.get(f"{site.url}/"), httpx.get(f"{site.url}/subscribe"), httpx.post(f"{site.url}/unsubscribe/x")):
        assert response.headers["content-security-policy"] == (
            "default-src 'none'; style-src 'unsafe-inline'; img-src * data:; "
            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        )
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["x-content-type-options"] == "nosniff"


def publish(config: Config, *edition_ids: str) -> None:
    """Record a delivery of each edition, as a send does: it is then published."""
    with Ledger.open(config.state.dir) as ledger:
        for edition_id in edition_ids:
            ledger.add_pending(edition_id, ["ann@example.org"], datetime(2026, 11, 26, 7, tzinfo=UTC))
            ledger.record_outcomes(edition_id, [("ann@example.org", "sent", "id", None, False)], datetime(2026, 11, 26, 7, tzinfo=UTC))


def test_archive_lists_published_editions_newest_first_and_shows_one(site: Site) -> None:
    store_edition(site.config, edition_id="2026-11-24")
    store_edition(site.config, edition_id="2026-11-25")
    store_edition(site.config, edition_id="2026-11-26")
    publish(site.config, "2026-11-25", "2026-11-26")

    index = httpx.get(f"{site.url}/")
    assert index.status_code == 200
    assert index.text.index('href="/editions/2026-11-26"') < index.text.index('href="/editions/2026-11-25"')
    assert "2026-11-24" not in index.text  # built but not sent: a draft is not listed
    assert '<a href="/subscribe">Subscribe</a>' in index.text
    assert '<link rel="alternate" type="application/atom+xml" title="The Transatlantic Brief" href="/feed.xml">' in index.text
    assert httpx.get(f"{site.url}/editions/2026-11-24").status_code == 200  # "view in browser" of a test copy

    edition = httpx.get(f"{site.url}/editions/2026-11-26")
    assert edition.status_code == 200
    assert "Hello reader," in edition.text
    assert '<a href="#"' in edition.text
    assert "%%" not in edition.text
    assert httpx.get(f"{site.url}/editions/2026-01-01").status_code == 404
    assert httpx.get(f"{site.url}/editions/..%2F..%2Fsubscribers.csv").status_code == 404


def test_archive_page_is_the_readers_email_without_tokens_or_fetch_errors(site: Site) -> None:
    stored = store_edition(site.config, edition_id="2026-11-26")
    failed = [s for s in stored.digest.sources if s.status == "error"]
    assert failed  # the fixture has a source that could not be fetched

    page = httpx.get(f"{site.url}/editions/2026-11-26").text
    assert f'href="{site.config.newsletter.base_url.rstrip("/")}/editions/2026-11-26"' in page
    assert "/unsubscribe/" not in page
    for source in failed:
        assert source.url not in page and str(source.reason) not in page


def test_links_keep_working_for_60_days_and_expire_after_400(tmp_path: Path) -> None:
    config = load_test_config(write_config(tmp_path))
    config.subscribers.file.write_text(LIST, encoding="utf-8")
    token = token_for("ann@example.org")

    late = create_app(config, clock=lambda: SENT_AT + 401 * DAY).test_client()
    assert late.post(f"/unsubscribe/{token}", data=ONE_CLICK).status_code == 400
    assert read_subscribers(config.subscribers.file)[0].status == "active"

    client = create_app(config, clock=lambda: SENT_AT + 60 * DAY).test_client()
    assert client.get(f"/unsubscribe/{token}").status_code == 200
    assert read_subscribers(config.subscribers.file)[0].status == "active"
    assert client.post(f"/unsubscribe/{token}", data=ONE_CLICK).status_code == 200
    ann = read_subscribers(config.subscribers.file)[0]
    assert (ann.status, ann.unsubscribed_at) == ("unsubscribed", "2027-01-25T07:00:00+00:00")


def test_base_url_path_is_served_as_prefix(tmp_path: Path) -> None:
    config = load_test_config(write_config(tmp_path, newsletter={"base_url": "https://example.org/brief/"}))
    config.subscribers.file.write_text(LIST, encoding="utf-8")
    with serve_in_thread(config, clock=SENT_AT) as served:
        url = served.url
        token = token_for("ann@example.org")
        page = httpx.get(f"{url}/brief/unsubscribe/{token}")
        assert f'action="/brief/unsubscribe/{token}"' in page.text
        assert httpx.get(f"{url}/brief/healthz").text == "ok\n"


def test_missing_secret_refuses_to_start(tmp_path: Path) -> None:
    config_path = write_config(tmp_path)
    with pytest.raises(ConfigError, match=r"^DIGEST_SECRET is not set"):
        create_app(load_test_config(config_path, DIGEST_SECRET=""))
    result = invoke(config_path, "serve", "--port", "0", env={})
    assert result.exit_code == 1
    assert result.stderr == (
        "error: DIGEST_SECRET is not set: export the secret that signed the unsubscribe links (digest serve needs it)\n"
    )


@pytest.mark.parametrize(
    ("stop", "proxy_fix"), [(signal.SIGINT, False), (signal.SIGTERM, True)], ids=["ctrl-c", "sigterm-proxy-fix"]
)
def test_digest_serve_process_unsubscribes_and_stops_on_a_signal(tmp_path: Path, stop: signal.Signals, proxy_fix: bool) -> None:
    config_path = write_config(tmp_path)
    (tmp_path / "subscribers.csv").write_text(LIST, encoding="utf-8")
    lines = Lines(start_digest(config_path, "serve", "--port", "0", *(["--proxy-fix"] if proxy_fix else [])))
    try:
        url = lines.wait_for("serving on http://127.0.0.1:").split()[2]
        assert httpx.get(f"{url}/healthz").text == "ok\n"
        token = make_token("ann@example.org", SECRET)
        assert httpx.post(f"{url}/unsubscribe/{token}", data=ONE_CLICK).status_code == 200
        assert read_subscribers(tmp_path / "subscribers.csv")[0].status == "unsubscribed"
        # With --proxy-fix each X-Forwarded-For is its own client; without, they are all one.
        statuses = [
            httpx.post(f"{url}/unsubscribe/forged", headers={"X-Forwarded-For": f"203.0.113.{i}"}).status_code
            for i in range(11)
        ]
        assert statuses == ([400] * 11 if proxy_fix else [400] * 10 + [429])
    finally:
        returncode = lines.stop(stop)
    assert returncode == 0
    assert lines.wait_for("stopped").strip() == "stopped"


ATOM = "{http://www.w3.org/2005/Atom}"


def test_feed_is_valid_atom_of_the_latest_30_published_editions(site: Site) -> None:
    import shutil
    from xml.etree import ElementTree

    store_edition(site.config, edition_id="2026-10-01")
    editions = site.config.state.dir / "editions"
    ids = [f"2026-10-{day:02d}" for day in range(2, 32)] + ["2026-11-01"]
    for edition_id in ids:
        shutil.copytree(editions / "2026-10-01", editions / edition_id)
    store_edition(site.config, edition_id="2026-11-02")  # stored, never sent: not in the feed
    publish(site.config, "2026-10-01", *ids)

    response = httpx.get(f"{site.url}/feed.xml")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/atom+xml; charset=utf-8"
    parsed = feedparser.parse(response.content)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    assert parsed.feed.title == "The Transatlantic Brief"
    assert [entry.link for entry in parsed.entries][:2] == [
        "https://news.example.org/editions/2026-11-01", "https://news.example.org/editions/2026-10-31",
    ]
    assert len(parsed.entries) == 30  # the oldest published (2026-10-01) is left out
    content = parsed.entries[0].content[0]
    assert content.type == "text/html"
    assert "Hello reader," in content.value
    assert "/unsubscribe/" not in response.text and "%%" not in response.text

    # RFC 4287's required elements, checked on the document itself
    feed = ElementTree.fromstring(response.content)
    assert feed.tag == f"{ATOM}feed"
    for tag in ("id", "title", "updated"):
        assert (feed.findtext(f"{ATOM}{tag}") or "").strip(), tag
    assert (feed.findtext(f"{ATOM}author/{ATOM}name") or "").strip()
    assert feed.find(f"{ATOM}link[@rel='self']") is not None
    for entry in feed.findall(f"{ATOM}entry"):
        for tag in ("id", "title", "updated"):
            assert (entry.findtext(f"{ATOM}{tag}") or "").strip(), tag
        datetime.fromisoformat(entry.findtext(f"{ATOM}updated") or "")
        assert entry.find(f"{ATOM}content[@type='html']") is not None
        assert entry.find(f"{ATOM}link[@rel='alternate']") is not None
    assert len({entry.findtext(f"{ATOM}id") for entry in feed.findall(f"{ATOM}entry")}) == 30


def test_feed_without_editions_is_still_valid(site: Site) -> None:
    parsed = feedparser.parse(httpx.get(f"{site.url}/feed.xml").content)
    assert not parsed.bozo and parsed.version == "atom10" and parsed.entries == []


def posts_until_refused(url: str, count: int, **request: object) -> list[int]:
    return [httpx.post(url, **request).status_code for _ in range(count)]  # type: ignore[arg-type]


def test_bad_unsubscribe_tokens_are_rate_limited_per_client(site: Site) -> None:
    statuses = posts_until_refused(f"{site.url}/unsubscribe/forged-token", 11, data=ONE_CLICK)
    assert statuses == [400] * 10 + [429]
    refused = httpx.post(f"{site.url}/unsubscribe/forged-token", data=ONE_CLICK)
    assert refused.headers["retry-after"] == "60"
    assert "Too many requests" in refused.text


def test_one_click_unsubscribes_of_many_readers_from_one_provider_are_never_refused(tmp_path: Path) -> None:
    config = load_test_config(write_config(tmp_path))
    readers = [f"reader{i}@example.org" for i in range(12)]
    config.subscribers.file.write_text(
        LIST + "".join(f"{r},,active,2026-01-01T00:00:00+00:00,,cli\n" for r in readers), encoding="utf-8"
    )
    with serve_in_thread(config, clock=SENT_AT) as served:
        url = served.url
        statuses = [httpx.post(f"{url}/unsubscribe/{token_for(r)}", data=ONE_CLICK).status_code for r in readers]
        assert statuses == [200] * 12
        assert {s.status for s in read_subscribers(config.subscribers.file)[2:]} == {"unsubscribed"}
        # ... but one reader's link cannot be hammered
        again = posts_until_refused(f"{url}/unsubscribe/{token_for(readers[0])}", 10, data=ONE_CLICK)
        assert again == [200] * 9 + [429]


def test_forwarded_for_counts_only_with_trust_proxy(tmp_path: Path) -> None:
    config = load_test_config(write_config(tmp_path))
    for trusted in (False, True):
        with serve_in_thread(config, clock=SENT_AT, trust_proxy=trusted) as served:
            statuses = [
                httpx.post(f"{served.url}/subscribe", data={}, headers={"X-Forwarded-For": f"198.51.100.7, 203.0.113.{i}"}).status_code
                for i in range(11)
            ]
        # Trusted: each request is its own client (the last hop's value); else all are 127.0.0.1.
        assert statuses == ([400] * 11 if trusted else [400] * 10 + [429])


def test_a_request_body_over_the_limit_is_refused(tmp_path: Path) -> None:
    config = load_test_config(write_config(tmp_path))
    with serve_in_thread(config, clock=SENT_AT) as served:
        url = served.url
        big = httpx.post(f"{url}/subscribe", data={"email": "a@example.org", "name": "x" * 20_000})
        assert big.status_code == 413
        assert httpx.post(f"{url}/unsubscribe/x", content=b"x" * 17_000).status_code == 413
        assert httpx.post(f"{url}/unsubscribe/x", data=ONE_CLICK).status_code == 400
