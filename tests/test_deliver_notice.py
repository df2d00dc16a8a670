"""Sending one message (a sign-up confirmation) through each transport: the outbox, a real SMTP
server (aiosmtpd) and the real sendgrid client against the schema-checking SendGrid stand-in."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import cast

import pytest

from digest.config import Config
from digest.deliver.base import Notice, NotSentError, Outcome
from digest.deliver.outbox import OutboxTransport
from digest.deliver.sendgrid import SendGridTransport
from digest.deliver.smtp import SmtpTransport
from digest.errors import ProviderRejectedError
from tests.support.cli import load_test_config, write_config
from tests.support.sendgrid_server import SendGridServer
from tests.support.smtp import SmtpServer, free_port

NOW = datetime(2026, 11, 26, 7, 0, tzinfo=UTC)
NOTICE = Notice(
    kind="signup",
    to="new@example.org",
    subject="Confirm your subscription to The Transatlantic Brief",
    text="Open https://news.example.org/confirm/TOKEN and press Confirm.\n",
    html='<p><a href="https://news.example.org/confirm/TOKEN">Confirm</a></p>',
)


def read_eml(path: Path) -> EmailMessage:
    return cast(EmailMessage, message_from_bytes(path.read_bytes(), policy=default))


def config_for(tmp_path: Path, **delivery: object) -> Config:
    return load_test_config(write_config(tmp_path, delivery=delivery or None), SENDGRID_API_KEY="SG.test-key")


def test_outbox_writes_one_complete_message_under_its_kind(tmp_path: Path) -> None:
    config = config_for(tmp_path)
    outcome = OutboxTransport(config, clock=lambda: NOW).send_notice(NOTICE)
    message = read_eml(tmp_path / "outbox" / "signup" / "new_at_example.org.eml")
    assert (outcome.status, outcome.provider_id) == ("sent", message["Message-ID"])
    assert message["From"] == "The Transatlantic Brief <brief@example.org>"
    assert (message["To"], message["Subject"], message["Reply-To"]) == ("new@example.org", NOTICE.subject, "editor@example.org")
    assert message["Date"] == "Thu, 26 Nov 2026 07:00:00 +0000"
    assert message["Auto-Submitted"] == "auto-generated"
    assert "List-Unsubscribe" not in message
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]
    assert message.get_body(("plain",)).get_content().replace("\r\n", "\n") == NOTICE.text  # type: ignore[union-attr]


def test_outbox_that_cannot_write_is_not_sent(tmp_path: Path) -> None:
    config = config_for(tmp_path)
    (tmp_path / "outbox").write_text("a file where the folder should be", encoding="utf-8")
    with pytest.raises(NotSentError, match=r"^outbox: "):
        OutboxTransport(config, clock=lambda: NOW).send_notice(NOTICE)


def send_over_smtp(tmp_path: Path, port: int) -> Outcome:
    config = config_for(tmp_path, transport="smtp", smtp_host="127.0.0.1", smtp_port=port, smtp_security="none")
    transport = SmtpTransport(config, clock=lambda: NOW)
    try:
        return transport.send_notice(NOTICE)
    finally:
        transport.close()


def test_smtp_delivers_it_to_the_address_alone(tmp_path: Path) -> None:
    with SmtpServer() as server:
        outcome = send_over_smtp(tmp_path, server.port)
    [received] = server.messages
    assert (received.mail_from, received.rcpt_tos) == ("brief@example.org", ("new@example.org",))
    assert received.message["Subject"] == NOTICE.subject
    assert (outcome.status, outcome.provider_id) == ("sent", received.message["Message-ID"])


def test_smtp_refusing_the_address_is_a_failed_outcome_and_no_server_is_not_sent(tmp_path: Path) -> None:
    with SmtpServer() as server:
        server.refuse("new@example.org", "550 5.1.1 no such user")
        outcome = send_over_smtp(tmp_path, server.port)
    assert (outcome.status, outcome.permanent) == ("failed", True)
    assert "550 5.1.1 no such user" in (outcome.reason or "")
    with pytest.raises(NotSentError, match="cannot connect"):
        send_over_smtp(tmp_path, free_port())


def test_sendgrid_gets_one_schema_valid_request_without_tracking(tmp_path: Path, sendgrid_server: SendGridServer) -> None:
    config = config_for(tmp_path, transport="sendgrid", sendgrid_api_url=sendgrid_server.url)
    outcome = SendGridTransport(config).send_notice(NOTICE)
    [request] = sendgrid_server.accepted
    assert request.recipients == ("new@example.org",)
    assert request.body["subject"] == NOTICE.subject
    assert [c["type"] for c in request.body["content"]] == ["text/plain", "text/html"]
    assert request.body["tracking_settings"]["click_tracking"] == {"enable": False, "enable_text": False}
    assert (outcome.status, outcome.provider_id) == ("sent", request.message_id)


def test_sendgrid_refusal_and_outage_are_reported_once(tmp_path: Path, sendgrid_server: SendGridServer) -> None:
    config = config_for(tmp_path, transport="sendgrid", sendgrid_api_url=sendgrid_server.url)
    sendgrid_server.reject_next("The from address does not match a verified Sender Identity.", status=403)
    with pytest.raises(ProviderRejectedError, match="does not match a verified Sender Identity"):
        SendGridTransport(config).send_notice(NOTICE)
    sendgrid_server.fail_next(status=503)
    with pytest.raises(NotSentError, match=r"SendGrid did not take the signup message to new@example\.org"):
        SendGridTransport(config).send_notice(NOTICE)
    assert sendgrid_server.statuses == [403, 503]  # one attempt each: the reader can ask again
