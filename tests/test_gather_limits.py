"""gather.limits: a wall-clock limit per page and for the whole gather, whatever the server does.

Against the hostile loopback site: a server that trickles, one that never answers, a TLS
handshake that never ends, redirects without end. Limits are small (seconds) so the suite
stays fast; every slow server here would hold a fetch far longer (forever) without them.
"""

from __future__ import annotations

import re
import socket
import threading
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from digest.config import GatherConfig
from digest.errors import SourceError
from digest.gather import check_sources, gather
from digest.gather.limits import Deadline, Limits, fetch_within
from digest.models import Page, Source
from tests.support.fetch import clock
from tests.support.fetch import fetch_error as support_fetch_error
from tests.support.hostile import HostileSite, hostile_site_fixture  # noqa: F401

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "gather"
# Per-read timeouts far above the wall-clock limits: only the wall clock can end these fetches.
CONFIG = GatherConfig(connect_timeout=30, read_timeout=30, page_timeout=0.5, total_timeout=30, max_redirects=100_000)
HANG_UP_WAIT = 15  # seconds to wait for the server to see the connection end (it takes well under one)


def fetch_error(url: str, config: GatherConfig = CONFIG) -> str:
    return support_fetch_error(url, config)


def test_a_trickling_page_is_cut_off_at_its_page_timeout(hostile_site: HostileSite) -> None:
    reason = fetch_error(hostile_site.url("/trickle"))

    assert re.fullmatch(r"timed out after 0\.5s \(\[gather\] page_timeout\) reading the page \([\d,]+ bytes so far\)", reason)
    assert hostile_site.hung_up["trickle"].wait(HANG_UP_WAIT)


def test_a_server_that_never_answers_is_cut_off_and_its_connection_ended(hostile_site: HostileSite) -> None:
    reason = fetch_error(hostile_site.url("/silence"))

    assert reason == "timed out after 0.5s ([gather] page_timeout) waiting for the response"
    # Ended from outside, not left to the 30 s read timeout: the server sees the hang-up.
    assert hostile_site.hung_up["silence"].wait(HANG_UP_WAIT)


def test_a_tls_handshake_that_never_ends_is_cut_off(hostile_site: HostileSite) -> None:
    reason = fetch_error(hostile_site.slow_tls_url)

    assert reason == "timed out after 0.5s ([gather] page_timeout) in the TLS handshake"
    assert hostile_site.hung_up["slow-tls"].wait(HANG_UP_WAIT)


def test_redirects_without_end_are_cut_off_by_the_page_timeout(hostile_site: HostileSite) -> None:
    reason = fetch_error(hostile_site.url("/endless/0"))

    assert reason.startswith("timed out after 0.5s ([gather] page_timeout) ")


def test_a_slow_related_page_is_a_warning_and_the_run_goes_on(hostile_site: HostileSite, caplog: pytest.LogCaptureFixture) -> None:
    links = "".join(f'<li><a href="{path}">{path}</a></li>' for path in ("/related/european-defence-budgets.html", "/trickle", "/silence"))
    source = hostile_site.page("/three", f"<html><body><p>Defence budgets.</p><h2>Related</h2><ul>{links}</ul></body></html>")

    result = gather([Source(source)], CONFIG, clock=clock)

    assert [page.url for page in result.pages] == [source, hostile_site.url("/related/european-defence-budgets.html")]
    assert [(failure.url, failure.via) for failure in result.failures] == [
        (hostile_site.url("/trickle"), source),
        (hostile_site.url("/silence"), source),
    ]
    assert all(failure.reason.startswith("timed out after 0.5s ([gather] page_timeout)") for failure in result.failures)
    assert f"{hostile_site.url('/silence')}: timed out after 0.5s" in caplog.text


def test_the_whole_gather_stops_at_total_timeout_with_what_it_has(hostile_site: HostileSite) -> None:
    good = FIXTURES / "related" / "two.html"
    trickle, silence = hostile_site.url("/trickle"), hostile_site.url("/silence")
    config = replace(CONFIG, page_timeout=60, total_timeout=1, concurrency=1)

    result = gather([Source(str(good)), Source(trickle), Source(silence)], config, clock=clock)

    assert [page.url for page in result.pages] == [good.as_uri()]
    stopped, not_started = result.failures
    assert stopped.url == trickle
    assert re.fullmatch(
        r"stopped when the whole gather reached 1s \(\[gather\] total_timeout\) reading the page \([\d,]+ bytes so far\)",
        stopped.reason,
    )
    assert (not_started.url, not_started.reason) == (silence, "not fetched: the whole gather reached 1s ([gather] total_timeout)")


def test_sources_check_reports_a_timed_out_source(hostile_site: HostileSite) -> None:
    good = hostile_site.url("/related/uk-us-tech-partnership.html")

    checks = check_sources([Source(good, follow_related=False), Source(hostile_site.url("/silence"))], CONFIG, clock=clock)

    assert [(check.status, check.reason) for check in checks] == [
        ("ok", None),
        ("error", "timed out after 0.5s ([gather] page_timeout) waiting for the response"),
    ]
    assert checks[1].seconds >= 0.5


def test_a_fetch_past_its_deadline_has_its_connection_shut_down_under_it(hostile_site: HostileSite) -> None:
    # Whatever read the fetch is blocked in (here one without any timeout) returns at once, so no
    # thread is left waiting on a server that never answers.
    woke = threading.Event()

    def fetch(url: str, deadline: Deadline) -> Page:
        with socket.create_connection(("127.0.0.1", urlsplit(url).port or 80)) as sock:
            sock.sendall(b"GET /silence HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            deadline.adopt(sock)
            deadline.doing = "waiting"
            sock.recv(1)
            woke.set()
        raise SourceError(url, "connection ended")

    url = hostile_site.url("/silence")
    [(_, fetched)] = fetch_within([url], fetch, Limits.start(CONFIG), lambda url, fetched: None).items()

    assert isinstance(fetched.outcome, SourceError)
    assert fetched.outcome.reason == "timed out after 0.5s ([gather] page_timeout) waiting"
    assert woke.wait(HANG_UP_WAIT)
