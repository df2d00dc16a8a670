"""SendGrid suppression sync against a local stand-in that follows SendGrid's API description."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from digest.config import Config, load_config
from digest.errors import ConfigError, DeliveryError
from digest.models import Subscriber
from digest.subscribers import read_subscribers, write_subscribers
from digest.suppressions import sync_suppressions
from tests.support.suppressions_server import SuppressionsServer, suppressions_server_fixture  # noqa: F401

NOW = datetime(2026, 11, 26, 7, 0, tzinfo=UTC)
UNSUBSCRIBES = "/v3/suppression/unsubscribes"
BOUNCES = "/v3/suppression/bounces"
SPAM = "/v3/suppression/spam_reports"
INVALID = "/v3/suppression/invalid_emails"


def make_config(tmp_path: Path, server: SuppressionsServer, *, api_key: str | None = None) -> Config:
    config_file = tmp_path / "digest.toml"
    config_file.write_text(
        '[newsletter]\nname = "Brief"\nfrom_email = "brief@example.org"\n'
        f'[[sources]]\nurl = "page.html"\n[delivery]\nsendgrid_api_url = "{server.url}"\n',
        encoding="utf-8",
    )
    env = {"SENDGRID_API_KEY": server.api_key if api_key is None else api_key}
    return load_config(config_file, env=env, cwd=tmp_path)


def active(email: str) -> Subscriber:
    return Subscriber(email, "", "active", "2026-01-01T00:00:00+00:00", "", "cli")


def test_sync_pages_through_every_list_and_marks_subscribers(
    tmp_path: Path, suppressions_server: SuppressionsServer
) -> None:
    config = make_config(tmp_path, suppressions_server)
    # 1,203 global unsubscribes: three pages of at most 500; our subscriber is on the last one.
    suppressions_server.records[UNSUBSCRIBES] = [
        {"created": 1443651141 + i, "email": f"someone{i}@elsewhere.example"} for i in range(1202)
    ] + [{"created": 1443651141, "email": "Last.Page@Example.com"}]
    suppressions_server.records[SPAM] = [{"created": 1443651154, "email": "spam@example.com", "ip": "10.63.202.100"}]
    suppressions_server.records[BOUNCES] = [
        {"created": 1250337600, "email": "gone@example.com", "reason": "550 5.1.1 user unknown", "status": "5.1.1"},
        # unsubscribed already: a bounce does not replace the consent record
        {"created": 1250337600, "email": "left@example.com", "reason": "550 5.1.1 user unknown", "status": "5.1.1"},
    ]
    suppressions_server.records[INVALID] = [
        {"created": 1449953655, "email": "typo@exmaple.com", "reason": "Mail domain mentioned in email address is unknown"}
    ]
    left = Subscriber("left@example.com", "", "unsubscribed", "2026-01-01T00:00:00+00:00", "2026-02-01T00:00:00+00:00", "cli")
    write_subscribers(
        config.subscribers.file,
        [active("Last.Page@example.com"), active("spam@example.com"), active("gone@example.com"),
         left, active("typo@exmaple.com"), active("stays@example.com")],
    )

    report = sync_suppressions(config, NOW)

    assert [(c.email, c.before, c.after, c.reason) for c in report.changes] == [
        ("Last.Page@example.com", "active", "unsubscribed", "global unsubscribe"),
        ("spam@example.com", "active", "unsubscribed", "spam report"),
        ("gone@example.com", "active", "bounced", "bounce: 550 5.1.1 user unknown"),
        ("typo@exmaple.com", "active", "bounced", "invalid email: Mail domain mentioned in email address is unknown"),
    ]
    assert report.summary == (
        "sync: 4 changed (2 unsubscribed, 2 bounced); SendGrid lists 1203 global unsubscribes, "
        "1 spam report, 2 bounces, 1 invalid email; 1202 not on the list"
    )
    rows = {s.email: s for s in read_subscribers(config.subscribers.file)}
    assert rows["Last.Page@example.com"].unsubscribed_at == "2026-11-26T07:00:00+00:00"
    assert rows["left@example.com"] == left
    assert rows["stays@example.com"].status == "active"
    assert [(path, query) for path, query in suppressions_server.requests if path == UNSUBSCRIBES] == [
        (UNSUBSCRIBES, {"limit": "500", "offset": "0"}),
        (UNSUBSCRIBES, {"limit": "500", "offset": "500"}),
        (UNSUBSCRIBES, {"limit": "500", "offset": "1000"}),
    ]
    assert {path for path, _ in suppressions_server.requests} == {UNSUBSCRIBES, SPAM, BOUNCES, INVALID}


def test_a_second_sync_changes_nothing(tmp_path: Path, suppressions_server: SuppressionsServer) -> None:
    config = make_config(tmp_path, suppressions_server)
    suppressions_server.records[SPAM] = [{"created": 1, "email": "spam@example.com", "ip": "10.0.0.1"}]
    write_subscribers(config.subscribers.file, [active("spam@example.com")])
    assert len(sync_suppressions(config, NOW).changes) == 1
    before = config.subscribers.file.read_bytes()

    report = sync_suppressions(config, datetime(2026, 12, 1, tzinfo=UTC))

    assert report.changes == ()
    assert config.subscribers.file.read_bytes() == before


def test_sendgrid_refusal_is_one_line_with_its_message(tmp_path: Path, suppressions_server: SuppressionsServer) -> None:
    config = make_config(tmp_path, suppressions_server)
    write_subscribers(config.subscribers.file, [active("a@example.com")])
    before = config.subscribers.file.read_bytes()
    suppressions_server.reject_next(403, "access forbidden: the API key lacks suppression.read")

    with pytest.raises(DeliveryError) as caught:
        sync_suppressions(config, NOW)

    assert str(caught.value) == (
        "SendGrid GET /v3/suppression/unsubscribes answered 403: access forbidden: the API key lacks suppression.read"
    )
    assert config.subscribers.file.read_bytes() == before


def test_wrong_api_key_reports_sendgrid_message(tmp_path: Path, suppressions_server: SuppressionsServer) -> None:
    config = make_config(tmp_path, suppressions_server, api_key="SG.wrong")
    with pytest.raises(DeliveryError, match=r"answered 401: authorization required$"):
        sync_suppressions(config, NOW)


def test_missing_api_key_is_a_config_error(tmp_path: Path, suppressions_server: SuppressionsServer) -> None:
    config = make_config(tmp_path, suppressions_server, api_key="")
    with pytest.raises(ConfigError, match=r"^SENDGRID_API_KEY is not set"):
        sync_suppressions(config, NOW)
    assert suppressions_server.requests == []


def test_unreachable_sendgrid_is_a_delivery_error(tmp_path: Path) -> None:
    server = SuppressionsServer().start()
    server.stop()  # the port is now closed: connection refused
    config = make_config(tmp_path, server)
    with pytest.raises(DeliveryError, match=r"^SendGrid GET /v3/suppression/unsubscribes: .*check \[delivery\] sendgrid_api_url"):
        sync_suppressions(config, NOW)
