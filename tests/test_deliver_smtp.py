"""The SMTP transport against a real aiosmtpd server on loopback: plain, STARTTLS and implicit TLS with
AUTH, a connection dropped mid-list, refused recipients, DKIM."""

from __future__ import annotations

import base64
import ssl
from datetime import datetime
from pathlib import Path
from typing import Any

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from digest.config import Config
from digest.deliver import send_edition, send_test
from digest.deliver.smtp import SmtpTransport
from digest.errors import ConfigError, DeliveryError
from digest.ledger import Ledger
from digest.models import Edition
from digest.subscribers import read_subscribers
from digest.tokens import read_token, subscriber_id
from tests.support.cli import NOW, SECRET, load_test_config, store_edition, write_config, write_subscribers
from tests.support.smtp import SmtpServer, free_port

POSTAL = "The Transatlantic Brief, 1 Example Street, London EC1A 1AA"
READERS = [(f"reader{i}@example.org", f"Reader {i}") for i in range(5)]


def setup(tmp_path: Path, server: SmtpServer | None, security: str = "none", rows: list[Any] | None = None, **env: str) -> tuple[Config, Edition]:
    port = server.port if server else free_port()
    path = write_config(tmp_path, delivery={"transport": "smtp", "smtp_host": "127.0.0.1", "smtp_port": port, "smtp_security": security})
    write_subscribers(tmp_path, rows or READERS)
    config = load_test_config(path, **env)
    return config, store_edition(config)


def send(config: Config, edition: Edition, server: SmtpServer | None = None, context: ssl.SSLContext | None = None, **options: Any) -> Any:
    now = datetime.fromisoformat(NOW)
    transport = SmtpTransport(config, ssl_context=context or (server.client_context() if server else None), clock=lambda: now)
    try:
        with Ledger.open(config.state.dir) as ledger:
            return send_edition(config, edition, ledger, transport, read_subscribers(config.subscribers.file), now=now, **options)
    finally:
        transport.close()


def statuses(config: Config, edition: Edition) -> dict[str, str]:
    with Ledger.open(config.state.dir) as ledger:
        return {d.email: d.status for d in ledger.deliveries(edition.id)}


def test_each_recipient_gets_their_own_complete_message(tmp_path: Path) -> None:
    with SmtpServer() as server:
        config, edition = setup(tmp_path, server)
        report = send(config, edition, server)
    assert (report.sent, report.exit_code) == (5, 0)
    assert [m.rcpt_tos for m in server.messages] == [(address,) for address, _ in READERS]
    for received, (address, name) in zip(server.messages, READERS, strict=True):
        assert received.mail_from == "brief@example.org"
        message = received.message
        assert message["To"].addresses[0].addr_spec == address and message["To"].addresses[0].display_name == name
        assert message["Subject"] == "The Transatlantic Brief: 26 November 2026"
        for header in ("Date", "Message-ID", "List-Id", "Reply-To"):
            assert message[header]
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        url = message["List-Unsubscribe"].strip("<>")
        assert read_token(url.rsplit("/", 1)[1], SECRET).subscriber_id == subscriber_id(address, SECRET)
        plain, html = message.iter_parts()
        assert (plain.get_content_type(), html.get_content_type()) == ("text/plain", "text/html")
        assert f"Hello {name}," in plain.get_content()
        for part in (plain.get_content(), html.get_content()):
            assert POSTAL in part and url in part
    assert len({m.message["Message-ID"] for m in server.messages}) == 5


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_tls_with_login(tmp_path: Path, security: str) -> None:
    with SmtpServer(tls="starttls" if security == "starttls" else "implicit", users={"brief": "s3cret"}) as server:
        config, edition = setup(tmp_path, server, security, SMTP_USERNAME="brief", SMTP_PASSWORD="s3cret")
        report = send(config, edition, server)
    assert report.sent == 5
    assert {m.login for m in server.messages} == {"brief"}


def test_a_wrong_password_stops_before_anything_is_sent(tmp_path: Path) -> None:
    with SmtpServer(tls="starttls", users={"brief": "s3cret"}) as server:
        config, edition = setup(tmp_path, server, "starttls", SMTP_USERNAME="brief", SMTP_PASSWORD="wrong")
        with pytest.raises(DeliveryError, match=r"refused the login of SMTP_USERNAME='brief': 535"):
            send(config, edition, server)
    assert server.messages == []
    assert set(statuses(config, edition).values()) == {"pending"}


def test_a_certificate_the_client_does_not_trust_sends_nothing(tmp_path: Path) -> None:
    with SmtpServer(tls="implicit") as server:
        config, edition = setup(tmp_path, server, "tls")
        report = send(config, edition, server, context=ssl.create_default_context())
    assert "CERTIFICATE_VERIFY_FAILED" in (report.error or "")
    assert report.counts["pending"] == 5 and report.exit_code == 1
    assert server.messages == []


def test_no_server_leaves_everyone_pending(tmp_path: Path) -> None:
    config, edition = setup(tmp_path, None)
    report = send(config, edition)
    assert report.error and "cannot connect to 127.0.0.1" in report.error
    assert report.exit_code == 1
    assert report.counts == {"subscribers": 5, "sent": 0, "pending": 5, "failed": 0, "unknown": 0}


def test_plain_smtp_is_refused_to_a_host_that_is_not_loopback(tmp_path: Path) -> None:
    path = write_config(tmp_path, delivery={"transport": "smtp", "smtp_host": "mail.example.org", "smtp_security": "none"})
    with pytest.raises(ConfigError, match=r"only allowed to a loopback host, not 'mail.example.org'"):
        SmtpTransport(load_test_config(path))


def test_a_connection_dropped_mid_list_is_resumed_without_duplicates(tmp_path: Path) -> None:
    with SmtpServer() as server:
        config, edition = setup(tmp_path, server)
        server.drop_after(2)
        report = send(config, edition, server)
    assert server.drops == 1
    assert server.recipients() == [address for address, _ in READERS]
    assert report.counts == {"subscribers": 5, "sent": 5, "pending": 0, "failed": 0, "unknown": 0}


def test_a_permanently_refused_address_becomes_bounced_and_is_not_retried(tmp_path: Path) -> None:
    with SmtpServer() as server:
        config, edition = setup(tmp_path, server)
        server.refuse("reader1@example.org", "550 5.1.1 no such user")
        server.refuse("reader3@example.org", "451 4.3.0 try again later")
        first = send(config, edition, server)
        assert (first.sent, first.failed, first.bounced, first.exit_code) == (3, 2, 1, 3)
        assert {s.email: s.status for s in read_subscribers(config.subscribers.file)}["reader1@example.org"] == "bounced"
        server.accept("reader1@example.org")  # both would be accepted now
        server.accept("reader3@example.org")
        second = send(config, edition, server)
    assert second.sent == 1  # the temporary failure is retried; the bounced address is not
    assert server.recipients() == ["reader0@example.org", "reader2@example.org", "reader4@example.org", "reader3@example.org"]
    assert statuses(config, edition)["reader1@example.org"] == "failed"
    assert second.counts == {"subscribers": 5, "sent": 4, "pending": 0, "failed": 1, "unknown": 0}
    with Ledger.open(config.state.dir) as ledger:
        [refused] = ledger.deliveries(edition.id, statuses=("failed",))
    assert refused.reason == "RCPT TO: 550 5.1.1 no such user"


def test_smtp_messages_are_dkim_signed(tmp_path: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    with SmtpServer() as server:
        path = write_config(tmp_path, delivery={
            "transport": "smtp", "smtp_host": "127.0.0.1", "smtp_port": server.port, "smtp_security": "none",
            "dkim_domain": "example.org", "dkim_selector": "brief",
        })
        write_subscribers(tmp_path, READERS[:1])
        config = load_test_config(path, DKIM_PRIVATE_KEY=pem.decode())
        send(config, store_edition(config), server)
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)
    assert dkim.verify(server.messages[0].data, dnsfunc=lambda name, timeout=5: record)


def test_a_test_send_over_smtp_is_marked_and_not_counted(tmp_path: Path) -> None:
    with SmtpServer() as server:
        config, edition = setup(tmp_path, server)
        transport = SmtpTransport(config)
        with Ledger.open(config.state.dir) as ledger:
            send_test(config, edition, "me@example.org", transport, now=datetime.fromisoformat(NOW), ledger=ledger)
            assert ledger.counts(edition.id)["subscribers"] == 0
        transport.close()
    assert server.recipients() == ["me@example.org"]
    assert server.messages[0].message["Subject"].startswith("[TEST] ")
