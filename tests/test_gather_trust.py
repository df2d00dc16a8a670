"""gather.trust: a page may lead to a local network only within its configured source's own origin.

The hostile site runs on loopback beside another loopback service (the "admin console", on
another port), which must never receive a request unless the operator allows its host.
"""

from __future__ import annotations

import socket
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from digest.config import GatherConfig
from digest.gather import Trust, gather, non_public_address
from digest.models import Source
from tests.support.fetch import clock
from tests.support.fetch import fetch_error as support_fetch_error
from tests.support.hostile import HostileSite, hostile_site_fixture  # noqa: F401

CONFIG = GatherConfig(connect_timeout=5, read_timeout=5, page_timeout=5, total_timeout=30, max_related=20)
GOOD = "/related/european-defence-budgets.html"


def fetch_error(url: str, config: GatherConfig = CONFIG) -> str:
    return support_fetch_error(url, config)


def page_linking_to(site: HostileSite, *links: str) -> str:
    items = "".join(f'<li><a href="{link}">Background</a></li>' for link in links)
    return site.page("/links", f"<html><body><p>Defence budgets rise.</p><h2>Related</h2><ul>{items}</ul></body></html>")


def admin_links(site: HostileSite) -> list[str]:
    port = site.admin_port
    return [
        f"http://127.0.0.1:{port}/admin?from=ip",
        f"http://localhost:{port}/admin?from=localhost",
        f"http://127.1:{port}/admin?from=127.1",
        site.url("/to-admin"),  # same origin, then a redirect to the other port
    ]


def test_a_local_source_leads_to_its_own_origin_but_never_to_another_local_service(hostile_site: HostileSite) -> None:
    source = page_linking_to(hostile_site, GOOD, *admin_links(hostile_site))

    result = gather([Source(source)], CONFIG, clock=clock)

    assert [page.url for page in result.pages] == [source, hostile_site.url(GOOD)]
    assert [failure.url for failure in result.failures] == admin_links(hostile_site)
    assert [failure.reason.split(" outside ")[0] for failure in result.failures] == [
        "refused: 127.0.0.1 is a local or private address (127.0.0.1)",
        "refused: localhost is a local or private address (127.0.0.1)",
        "refused: 127.1 is a local or private address (127.0.0.1)",
        "refused: 127.0.0.1 is a local or private address (127.0.0.1)",
    ]
    assert result.failures[0].reason.endswith("(list the host in [gather] allow_hosts to allow it)")
    assert hostile_site.admin_requests == []


def test_a_local_source_that_redirects_to_another_local_service_is_refused(hostile_site: HostileSite) -> None:
    reason = fetch_error(hostile_site.url("/to-admin"))

    assert reason.startswith("refused: 127.0.0.1 is a local or private address (127.0.0.1) outside the source's own origin")
    assert hostile_site.admin_requests == []


def test_a_redirect_to_a_local_file_is_refused(hostile_site: HostileSite) -> None:
    assert fetch_error(hostile_site.url("/to-file")) == "refused: a redirect to a file: URL"


def test_allow_hosts_lets_pages_reach_the_hosts_listed_and_no_others(hostile_site: HostileSite) -> None:
    source = page_linking_to(hostile_site, *admin_links(hostile_site))

    result = gather([Source(source)], replace(CONFIG, allow_hosts=("LOCALHOST",)), clock=clock)

    assert [page.url for page in result.pages] == [source, admin_links(hostile_site)[1]]
    assert hostile_site.admin_requests == ["GET /admin?from=localhost"]


def test_allow_private_links_lets_pages_reach_every_local_service(hostile_site: HostileSite) -> None:
    source = page_linking_to(hostile_site, *admin_links(hostile_site))

    result = gather([Source(source)], replace(CONFIG, allow_private_links=True), clock=clock)

    assert result.failures == ()
    assert Counter(hostile_site.admin_requests) == Counter(
        ["GET /admin?from=ip", "GET /admin?from=localhost", "GET /admin?from=127.1", "GET /admin?from=redirect"]
    )


def rebinding_resolver(monkeypatch: pytest.MonkeyPatch, name: str, first: str, then: str) -> list[str]:
    """Make `name` resolve to `first` on the first lookup and to `then` on every later one (DNS
    rebinding); returns the log of lookups of that name."""
    real = socket.getaddrinfo
    lookups: list[str] = []

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != name:
            return real(host, port, *args, **kwargs)
        lookups.append(first if not lookups else then)
        return real(lookups[-1], port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return lookups


def test_a_name_that_turns_local_between_check_and_connect_gets_nothing(
    hostile_site: HostileSite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The first lookup (the check before connecting) says public; the connection's own lookup
    # says loopback. The address actually connected to is checked before a byte is sent.
    lookups = rebinding_resolver(monkeypatch, "rebind.test", first="93.184.215.14", then="127.0.0.1")
    link = f"http://rebind.test:{hostile_site.admin_port}/admin?from=rebind"
    saved = tmp_path / "saved.html"
    saved.write_text(f'<html><body><p>Text.</p><h2>Related</h2><ul><li><a href="{link}">x</a></li></ul></body></html>')

    result = gather([Source(str(saved))], CONFIG, clock=clock)

    [failure] = result.failures
    assert failure.url == link
    assert failure.reason.startswith("refused: rebind.test connected to a local or private address (127.0.0.1) outside")
    assert lookups == ["93.184.215.14", "127.0.0.1"]
    assert hostile_site.admin_requests == []


def test_the_origin_is_trusted_only_when_the_source_itself_is_local(monkeypatch: pytest.MonkeyPatch) -> None:
    rebinding_resolver(monkeypatch, "news.example.org", first="93.184.215.14", then="93.184.215.14")
    public = Trust.of_source("https://news.example.org/a", CONFIG)

    # A public source's own origin gains nothing: were it to resolve to loopback later, it is refused.
    assert not public.may_reach_private("https://news.example.org/b")
    local = Trust.of_source("http://127.0.0.1:8080/a", CONFIG)
    assert local.may_reach_private("http://127.0.0.1:8080/b")
    assert not local.may_reach_private("http://127.0.0.1:8081/b")
    assert not local.may_reach_private("https://127.0.0.1:8080/b")
    assert not local.may_reach_private("http://localhost:8080/b")


@pytest.mark.parametrize(
    ("url", "address"),
    [
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254"),
        ("http://10.0.0.7/", "10.0.0.7"),
        ("http://192.168.1.1:8080/admin", "192.168.1.1"),
        ("http://[::1]/", "::1"),
        ("http://[::ffff:127.0.0.1]/", "::ffff:127.0.0.1"),
        ("http://224.0.0.251/", "224.0.0.251"),
        ("http://240.0.0.1/", "240.0.0.1"),
        ("http://0.0.0.0/", "0.0.0.0"),
        ("http://[::ffff:93.184.215.14]/", None),
        ("http://93.184.215.14/", None),
        ("file:///etc/passwd", None),
    ],
)
def test_non_public_addresses_are_recognised(url: str, address: str | None) -> None:
    assert non_public_address(url) == address


def test_localhost_is_non_public() -> None:
    assert non_public_address("http://localhost/") in ("127.0.0.1", "::1")
