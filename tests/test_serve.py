"""`digest serve`: one-click unsubscribe, archive and health pages over real HTTP on loopback."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from waitress import wasyncore

from digest.config import Config
from digest.errors import ConfigError
from digest.serve import create_app, make_server
from digest.subscribers import read_subscribers
from digest.tokens import make_token
from tests.support.cli import SECRET, invoke, load_test_config, start_digest, store_edition, write_config

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


@contextmanager
def serve_in_thread(config: Config, *, clock: float) -> Iterator[str]:
    """waitress serving create_app(config) on a free loopback port, until the test ends."""
    server = make_server(create_app(config, clock=lambda: clock), "127.0.0.1", 0, config.newsletter.base_url)
    thread = threading.Thread(target=server.run, name="digest-serve", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        server.task_dispatcher.shutdown()
        # Closing everything from inside the loop's own thread wakes it and ends it at once.
        server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))
        thread.join(timeout=10)
        assert not thread.is_alive()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    config = load_test_config(write_config(tmp_path))
    config.subscribers.file.write_text(LIST, encoding="utf-8")
    with serve_in_thread(config, clock=SENT_AT + 3 * DAY) as url:
        yield Site(url, config, config.subscribers.file)


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
    assert "stranger@example.org</strong> is not on the list" in response.text
    assert site.list_bytes() == before


def test_pages_escape_what_the_token_carries(site: Site) -> None:
    response = httpx.get(f"{site.url}/unsubscribe/{token_for('<script>alert(1)</script>@example.org')}")
    assert response.status_code == 200
    assert "&lt;script&gt;alert(1)&lt;/script&gt;@example.org" in response.text
    assert "<script>" not in response.text


def test_unwritable_list_answers_503_not_200(site: Site) -> None:
    site.list_path.write_text(LIST + "eve@example.org,Eve,paused,,,cli\n", encoding="utf-8")
    response = httpx.post(f"{site.url}/unsubscribe/{token_for('ann@example.org')}", data=ONE_CLICK)
    assert response.status_code == 503
    assert "could not be recorded" in response.text


def test_healthz(site: Site) -> None:
    response = httpx.get(f"{site.url}/healthz")
    assert (response.status_code, response.text) == (200, "ok\n")


def test_archive_lists_editions_newest_first_and_shows_one(site: Site) -> None:
    store_edition(site.config, edition_id="2026-11-25")
    store_edition(site.config, edition_id="2026-11-26")

    index = httpx.get(f"{site.url}/")
    assert index.status_code == 200
    assert index.text.index('href="/editions/2026-11-26"') < index.text.index('href="/editions/2026-11-25"')

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
    with serve_in_thread(config, clock=SENT_AT) as url:
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


def test_digest_serve_process_unsubscribes_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    config_path = write_config(tmp_path)
    (tmp_path / "subscribers.csv").write_text(LIST, encoding="utf-8")
    server = start_digest(config_path, "serve", "--port", "0")
    try:
        assert server.stderr is not None
        line = server.stderr.readline()
        assert line.startswith("serving on http://127.0.0.1:"), line
        url = line.split()[2]
        assert httpx.get(f"{url}/healthz").text == "ok\n"
        token = make_token("ann@example.org", SECRET)
        assert httpx.post(f"{url}/unsubscribe/{token}", data=ONE_CLICK).status_code == 200
        assert read_subscribers(tmp_path / "subscribers.csv")[0].status == "unsubscribed"
    finally:
        server.send_signal(signal.SIGINT)
        _, stderr = server.communicate(timeout=30)
    assert server.returncode == 0
    assert stderr.strip().endswith("stopped")
