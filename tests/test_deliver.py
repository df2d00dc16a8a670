"""Messages, the outbox transport and the send loop: what a subscriber gets, and that nobody gets it twice."""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any, cast

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from digest.config import Config
from digest.deliver import BatchReport, SendReport, send_edition, send_test, transport_for
from digest.deliver.base import Recipient
from digest.deliver.message import (
    MAX_DISPLAY_NAME_LENGTH,
    MAX_SUBJECT_LENGTH,
    build_message,
    display_name,
    message_bytes,
    personalise,
)
from digest.deliver.outbox import OutboxTransport, outbox_path
from digest.deliver.sendgrid import SendGridTransport
from digest.errors import ConfigError, EditionError, ProviderRejectedError
from digest.ledger import Ledger
from digest.models import UNSAFE_CHARACTERS, Edition, Email, Subscriber
from digest.subscribers import read_subscribers
from digest.subscribers import write_subscribers as write_subscribers_file
from digest.tokens import read_token, subscriber_id
from tests.support.cli import NOW, SECRET, load_test_config, store_edition, write_config, write_subscribers
from tests.support.sendgrid_server import SendGridServer

POSTAL = "The Transatlantic Brief, 1 Example Street, London EC1A 1AA"
SUBSCRIBERS = [
    ("alice@example.org", "Alice"),
    ("bob@example.org", "Bob & <Co>"),
    ("carol@example.org", "", "unsubscribed"),
    ("dave@example.org", "Dave", "bounced"),
    ("erin@example.org", ""),
    ("ALICE@example.org", "Alice again"),  # the same mailbox: sent once
]


def setup(tmp_path: Path, rows: list[Any] | None = None, **config_options: Any) -> tuple[Config, Edition]:
    env = config_options.pop("env", {})
    path = write_config(tmp_path, **config_options)
    write_subscribers(tmp_path, rows if rows is not None else SUBSCRIBERS)
    config = load_test_config(path, **env)
    return config, store_edition(config)


def send(config: Config, edition: Edition, transport: Any = None, **options: Any) -> Any:
    now = datetime.fromisoformat(NOW)
    with Ledger.open(config.state.dir) as ledger:
        return send_edition(
            config, edition, ledger, transport or transport_for(config, clock=lambda: now),
            read_subscribers(config.subscribers.file), now=now, **options,
        )


def parse(data: bytes) -> EmailMessage:
    return cast(EmailMessage, message_from_bytes(data, policy=default))


def parts(message: EmailMessage) -> tuple[str, str]:
    plain, html = list(message.iter_parts())
    assert (plain.get_content_type(), html.get_content_type()) == ("text/plain", "text/html")
    assert plain.get_content_charset() == html.get_content_charset() == "utf-8"
    return plain.get_content(), html.get_content()


def token_of(url: str) -> str:
    return url.rsplit("/unsubscribe/", 1)[1]


def test_outbox_files_parse_back_with_every_header_and_the_recipients_own_parts(tmp_path: Path) -> None:
    config, edition = setup(tmp_path)
    report = send(config, edition)
    assert (report.sent, report.exit_code) == (3, 0)
    files = sorted((config.delivery.outbox_dir / edition.id).glob("*.eml"))
    assert [f.name for f in files] == ["alice_at_example.org.eml", "bob_at_example.org.eml", "erin_at_example.org.eml"]
    message_ids = set()
    for path, (address, name) in zip(files, [("alice@example.org", "Alice"), ("bob@example.org", "Bob & <Co>"), ("erin@example.org", "")], strict=True):
        raw = path.read_bytes()
        message = parse(raw)
        assert message["From"] == "The Transatlantic Brief <brief@example.org>"
        assert message["Reply-To"] == "editor@example.org"
        assert message["To"].addresses[0].addr_spec == address
        assert message["To"].addresses[0].display_name == name
        assert message["Subject"] == "The Transatlantic Brief: 26 November 2026"
        assert message["Date"].datetime.isoformat() == NOW
        assert message["List-Id"] == "The Transatlantic Brief <the-transatlantic-brief.example.org>"
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        message_ids.add(message["Message-ID"])
        assert message["Message-ID"].endswith("@example.org>")
        url = message["List-Unsubscribe"].strip("<>")
        assert url.startswith("https://news.example.org/unsubscribe/")
        assert read_token(token_of(url), SECRET).subscriber_id == subscriber_id(address, SECRET)
        assert f"\r\nList-Unsubscribe: <{url}>\r\n".encode() in raw  # one plain line a mail client can read
        assert max(len(line) for line in raw.split(b"\r\n")) <= 998
        assert message.get_content_type() == "multipart/alternative"
        text, html = parts(message)
        assert POSTAL in text and POSTAL in html
        assert f"Unsubscribe: {url}" in text
        assert f'href="{url}"' in html
        assert "%%" not in text + html
    assert len(message_ids) == 3


@pytest.mark.parametrize(
    "name",
    ["Alice", 'Bob "The Builder" & <Co>', "Chloé Ünïcode", "", "Dr. " + "Longname " * 130],
    ids=["plain", "specials", "not-ascii", "no-name", "longer-than-a-header-line"],
)
def test_every_recipient_gets_their_own_name_and_parts_back_whatever_the_name(tmp_path: Path, name: str) -> None:
    config, edition = setup(tmp_path, rows=[("reader@example.org", name)])
    report = send(config, edition)
    assert report.sent == 1
    raw = outbox_path(config.delivery.outbox_dir, edition.id, "reader@example.org").read_bytes()
    message = parse(raw)
    assert message["To"].addresses[0].display_name == display_name(name)  # one line, at most 100 characters
    url = message["List-Unsubscribe"].strip("<>")
    text, html = (part.replace("\r\n", "\n").rstrip("\n") for part in parts(message))
    assert (html, text) == tuple(part.rstrip("\n") for part in personalise(edition.email, Recipient("reader@example.org", name, url)))
    assert all(line.isascii() for line in raw.split(b"\r\n"))  # 7-bit: any server on the way takes it


def test_names_are_html_escaped_and_cannot_smuggle_in_a_placeholder() -> None:
    email = Email("e", "s", "p", html="<p>Hello %%name%%</p><a href=\"%%unsubscribe_url%%\">x</a>", text="Hello %%name%%\n%%unsubscribe_url%%")
    html, text = personalise(email, Recipient("a@example.org", "Tom & <b>Jerry</b> %%unsubscribe_url%%", "https://x.example/unsubscribe/t?a=1&b=2"))
    assert html == '<p>Hello Tom &amp; &lt;b&gt;Jerry&lt;/b&gt; %unsubscribe_url%</p><a href="https://x.example/unsubscribe/t?a=1&amp;b=2">x</a>'
    assert text == "Hello Tom & <b>Jerry</b> %unsubscribe_url%\nhttps://x.example/unsubscribe/t?a=1&b=2"
    html, text = personalise(email, Recipient("a@example.org", "", "u"))
    assert text.startswith("Hello reader")


def test_sending_without_a_postal_address_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    config, edition = setup(tmp_path, postal_address=None)
    with pytest.raises(ConfigError, match=r"postal_address is not set in .*digest\.toml"):
        send(config, edition)
    assert not config.delivery.outbox_dir.exists()
    with Ledger.open(config.state.dir) as ledger:
        assert ledger.counts(edition.id)["subscribers"] == 0


def test_sending_without_digest_secret_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    config, edition = setup(tmp_path)
    from dataclasses import replace

    config = replace(config, secrets=replace(config.secrets, digest_secret=None))
    with pytest.raises(ConfigError, match="DIGEST_SECRET is not set"):
        send(config, edition)
    with pytest.raises(ConfigError, match="DIGEST_SECRET is not set"):
        send_test(config, edition, "me@example.org", transport_for(config), now=edition.built_at)
    assert not config.delivery.outbox_dir.exists()


def test_an_edition_built_before_the_postal_address_was_set_is_refused(tmp_path: Path) -> None:
    config, _ = setup(tmp_path, postal_address=None)
    edition = store_edition(config)  # rendered without an address
    config = load_test_config(write_config(tmp_path, postal_address="1 New Street, Leeds"))
    with pytest.raises(EditionError, match=r"built without the postal address.*digest preview --rebuild"):
        send(config, edition)


def _dkim_key() -> tuple[str, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return pem.decode(), b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)


def test_messages_carry_a_dkim_signature_that_verifies(tmp_path: Path) -> None:
    private, record = _dkim_key()
    config, edition = setup(tmp_path, delivery={"dkim_domain": "example.org", "dkim_selector": "brief"}, env={"DKIM_PRIVATE_KEY": private})
    asked: list[bytes] = []

    def dns(name: bytes, timeout: int = 5) -> bytes:
        asked.append(name)
        return record

    send(config, edition)
    data = outbox_path(config.delivery.outbox_dir, edition.id, "bob@example.org").read_bytes()
    assert dkim.verify(data, dnsfunc=dns)
    assert asked == [b"brief._domainkey.example.org."]
    signature = parse(data)["DKIM-Signature"].replace(" ", "").replace("\r\n", "")
    assert "h=from:reply-to:to:subject:date:message-id:list-id:list-unsubscribe:list-unsubscribe-post" in signature
    tampered = data.replace(b"List-Unsubscribe: <https://", b"List-Unsubscribe: <http://")
    assert not dkim.verify(tampered, dnsfunc=dns)


def test_dkim_configured_without_a_key_is_refused(tmp_path: Path) -> None:
    config, edition = setup(tmp_path, delivery={"dkim_domain": "example.org", "dkim_selector": "brief"})
    with pytest.raises(ConfigError, match="DKIM_PRIVATE_KEY is not set"):
        send(config, edition)
    config, edition = setup(tmp_path, delivery={"dkim_domain": "example.org", "dkim_selector": "brief"}, env={"DKIM_PRIVATE_KEY": "not a key"})
    with pytest.raises(ConfigError, match="DKIM_PRIVATE_KEY cannot sign"):
        send(config, edition)


def test_a_second_send_sends_nothing_new_and_the_counts_add_up(tmp_path: Path) -> None:
    config, edition = setup(tmp_path)
    first = send(config, edition)
    assert (first.planned, first.sent) == (3, 3)
    written = {p: p.stat().st_mtime_ns for p in (config.delivery.outbox_dir / edition.id).glob("*.eml")}
    second = send(config, edition)
    assert (second.planned, second.sent, second.nothing_to_send, second.exit_code) == (0, 0, True, 0)
    assert second.counts == {"subscribers": 3, "sent": 3, "pending": 0, "failed": 0, "unknown": 0}
    assert {p: p.stat().st_mtime_ns for p in (config.delivery.outbox_dir / edition.id).glob("*.eml")} == written
    # A new subscriber joins: only they get it.
    write_subscribers(tmp_path, [*SUBSCRIBERS, ("frank@example.org", "Frank")])
    third = send(config, edition)
    assert (third.planned, third.sent) == (1, 1)
    assert third.counts["sent"] == third.counts["subscribers"] == 4


def test_batches_follow_the_smaller_batch_size_and_stop_ends_after_the_batches_in_flight(tmp_path: Path) -> None:
    rows = [(f"reader{i:02}@example.org", f"Reader {i}") for i in range(15)]
    config, edition = setup(tmp_path, rows, delivery={"batch_size": 2})
    transport = transport_for(config)
    stop = threading.Event()
    batches: list[BatchReport] = []

    def on_batch(batch: BatchReport) -> None:
        batches.append(batch)
        stop.set()

    report = send(config, edition, transport, stop=stop, on_batch=on_batch)
    # The batches already in flight finish and are recorded; no other starts. (Workers freed with
    # the first batch were given their next ones before it was recorded and the stop was set.)
    numbers = sorted(b.number for b in batches)
    assert numbers == list(range(1, len(numbers) + 1))
    assert transport.concurrency < len(numbers) <= 2 * transport.concurrency
    sent = 2 * len(numbers)
    assert {(b.batches, b.size, b.sent) for b in batches} == {(8, 2, 2)}
    assert report.stopped and "signal" in report.stopped
    assert report.counts == {"subscribers": 15, "sent": sent, "pending": 15 - sent, "failed": 0, "unknown": 0}
    assert report.exit_code == 3
    assert len(list((config.delivery.outbox_dir / edition.id).glob("*.eml"))) == sent
    rest = send(config, edition)
    assert (rest.sent, rest.exit_code) == (15 - sent, 0)


def test_a_test_send_is_marked_not_counted_and_freezes_nothing(tmp_path: Path) -> None:
    config, edition = setup(tmp_path)
    with Ledger.open(config.state.dir) as ledger:
        outcome = send_test(config, edition, "me@example.org", OutboxTransport(config), now=edition.built_at, ledger=ledger)
        assert outcome.status == "sent"
        assert not ledger.has_sent(edition.id)
        assert ledger.counts(edition.id)["subscribers"] == 0
    message = parse(outbox_path(config.delivery.outbox_dir, edition.id, "me@example.org", test=True).read_bytes())
    assert message["Subject"] == "[TEST] The Transatlantic Brief: 26 November 2026"
    assert read_token(token_of(message["List-Unsubscribe"].strip("<>")), SECRET).subscriber_id == subscriber_id("me@example.org", SECRET)
    assert "Hello reader," in parts(message)[0]  # no name given: the greeting every reader without one gets
    assert not list((config.delivery.outbox_dir / edition.id).glob("*.eml"))
    assert send(config, edition).sent == 3


def test_outbox_names_are_readable_and_distinct() -> None:
    folder = Path("/o")
    assert outbox_path(folder, "e", "Alice@Example.org") == Path("/o/e/alice_at_example.org.eml")
    odd = [outbox_path(folder, "e", a).name for a in ("a/b@example.org", "a_b@example.org", "../x@example.org")]
    assert len(set(odd)) == 3 and all("/" not in n and not n.startswith(".") for n in odd)


# -- the send loop over the real SendGrid client and a local stand-in --------------------------

def sendgrid_setup(tmp_path: Path, server: SendGridServer, count: int, batch_size: int) -> tuple[Config, Edition, SendGridTransport]:
    rows = [(f"reader{i:03}@example.org", "") for i in range(count)]
    config, edition = setup(
        tmp_path, rows, delivery={"transport": "sendgrid", "sendgrid_api_url": server.url, "batch_size": batch_size},
        env={"SENDGRID_API_KEY": server.api_key},
    )
    return config, edition, SendGridTransport(config, sleep=lambda _: None)


def release_once_refused(release: threading.Event) -> Callable[[BatchReport], None]:
    """An on_batch that lets a held request go once a failed batch has been recorded: without it,
    the other batch in flight could finish first and a third start before the failure is known."""

    def on_batch(batch: BatchReport) -> None:
        if batch.error:
            release.set()

    return on_batch


def test_a_refused_request_stops_the_send_and_leaves_the_rest_pending(tmp_path: Path) -> None:
    with SendGridServer() as server:
        config, edition, transport = sendgrid_setup(tmp_path, server, 10, 2)
        server.reject_next("The from address does not match a verified Sender Identity.", status=403)
        release = server.hold_next(count=transport.concurrency - 1)  # the others in flight wait until it is recorded
        with pytest.raises(ProviderRejectedError, match="does not match a verified Sender Identity"):
            send(config, edition, transport, on_batch=release_once_refused(release))
        accepted = set(server.accepted_recipients)
    with Ledger.open(config.state.dir) as ledger:
        counts = ledger.counts(edition.id)
        sent = {d.email for d in ledger.deliveries(edition.id, statuses=("sent",))}
    # The batches in flight together: one refused, the others accepted and recorded; no other went out.
    taken = 2 * (transport.concurrency - 1)
    assert sent == accepted and len(sent) == taken
    assert counts == {"subscribers": 10, "sent": taken, "pending": 10 - taken, "failed": 0, "unknown": 0}
    with Ledger.open(config.state.dir) as ledger:  # the refused batch, back in the queue with its reason
        reasons = {d.email: d.reason for d in ledger.deliveries(edition.id, statuses=("pending",))}
    assert set(reasons.values()) == {
        "SendGrid refused the request (403): The from address does not match a verified Sender Identity. (check SENDGRID_API_KEY)"
    }
    assert len(reasons) == 2


def test_a_lost_answer_leaves_its_batch_unknown_until_resend_unknown(tmp_path: Path) -> None:
    with SendGridServer() as server:
        config, edition, transport = sendgrid_setup(tmp_path, server, 6, 2)
        server.drop_next()
        first = send(config, edition, transport)
        assert first.counts == {"subscribers": 6, "sent": 4, "pending": 0, "failed": 0, "unknown": 2}
        assert first.exit_code == 3
        assert server.received == 3
        again = send(config, edition, transport)
        assert (again.nothing_to_send, again.exit_code, server.received) == (True, 3, 3)
        resent = send(config, edition, transport, resend_unknown=True)
        assert (resent.sent, resent.exit_code) == (2, 0)
        assert resent.counts == {"subscribers": 6, "sent": 6, "pending": 0, "failed": 0, "unknown": 0}


def test_batches_are_in_flight_together_up_to_the_transport_concurrency(tmp_path: Path) -> None:
    with SendGridServer() as server:
        config, edition, transport = sendgrid_setup(tmp_path, server, 6, 2)
        assert transport.concurrency >= 2
        release = server.hold_next()
        result: list[Any] = []
        sender = threading.Thread(target=lambda: result.append(send(config, edition, transport)))
        sender.start()
        server.wait_for_held()
        server.wait_for_requests(2)  # the second batch went out while the first waits for its answer
        release.set()
        sender.join(30)
        assert result[0].counts["sent"] == 6
        assert server.received == 3


# -- found by `make mutation`: the send loop's bookkeeping -----------------------------------------


def send_losing_one_answer_then_refused_503(tmp_path: Path) -> tuple[Config, Edition, SendReport]:
    """Four recipients in two batches through SendGrid, with no retries: the answer to one batch is
    lost, the other is refused with a 503."""
    with SendGridServer() as server:
        config, edition, _ = sendgrid_setup(tmp_path, server, 4, 2)
        transport = SendGridTransport(config, sleep=lambda _: None, max_attempts=1)
        server.drop_next()
        server.respond_next(503, body=b'{"errors": [{"message": "try later"}]}')
        return config, edition, send(config, edition, transport)


def test_a_lost_answer_and_an_unreachable_provider_leave_their_reasons_in_the_ledger(tmp_path: Path) -> None:
    config, edition, report = send_losing_one_answer_then_refused_503(tmp_path)
    with Ledger.open(config.state.dir) as ledger:
        reasons = {d.status: d.reason or "" for d in ledger.deliveries(edition.id)}
    assert report.counts["unknown"] == 2 and report.counts["pending"] == 2
    assert reasons["unknown"].startswith("SendGrid's answer was lost after the request went out")
    assert reasons["pending"].startswith("SendGrid did not take edition 2026-11-26")


def test_once_the_provider_cannot_be_reached_no_further_batch_is_started(tmp_path: Path) -> None:
    with SendGridServer() as server:
        config, edition, _ = sendgrid_setup(tmp_path, server, 10, 2)
        transport = SendGridTransport(config, sleep=lambda _: None, max_attempts=1)
        server.respond_next(503, body=b'{"errors": [{"message": "try later"}]}')  # whichever batch comes first
        release = server.hold_next(count=transport.concurrency - 1)  # the others wait until the failure is recorded
        report = send(config, edition, transport, on_batch=release_once_refused(release))
        received = server.received
    # The batches in flight at once: one failed, the others were taken; the rest never started.
    taken = 2 * (transport.concurrency - 1)
    assert received == transport.concurrency
    assert report.counts == {"subscribers": 10, "sent": taken, "pending": 10 - taken, "failed": 0, "unknown": 0}
    assert report.exit_code == 1 and report.error and "503" in report.error


def test_a_batch_starts_as_soon_as_any_one_in_flight_finishes(tmp_path: Path) -> None:
    with SendGridServer() as server:
        readers = 2 * (SendGridTransport.concurrency + 1)  # one batch more than run at once
        config, edition, transport = sendgrid_setup(tmp_path, server, readers, 2)
        release = server.hold_next()
        result: list[Any] = []
        sender = threading.Thread(target=lambda: result.append(send(config, edition, transport)))
        sender.start()
        try:
            server.wait_for_held()
            # one more batch than run at once goes out while the first is still held
            server.wait_for_requests(transport.concurrency + 1)
        finally:
            release.set()
            sender.join(30)
        assert result[0].counts["sent"] == readers


class _FaultyTransport:
    """A transport with a bug: it forgets an address, or fails with an error that is not ours."""

    name = "faulty"
    batch_size = 2
    concurrency = 1

    def __init__(self, fault: str) -> None:
        self.fault = fault

    def send_batch(self, edition: Edition, recipients: Any, *, test: bool = False) -> tuple[Any, ...]:
        from digest.deliver.base import Outcome

        if self.fault == "crash":
            raise KeyError("a bug in the transport")
        return tuple(Outcome(r.email, "sent", provider_id="id") for r in recipients[1:])  # forgets the first

    def close(self) -> None:
        pass


def test_an_address_the_transport_did_not_report_is_unknown_not_sent(tmp_path: Path) -> None:
    config, edition = setup(tmp_path, [("a@example.org", "A"), ("b@example.org", "B")])
    report = send(config, edition, _FaultyTransport("forget"))
    with Ledger.open(config.state.dir) as ledger:
        rows = {d.email: (d.status, d.reason) for d in ledger.deliveries(edition.id)}
    assert rows == {"a@example.org": ("unknown", "the transport reported no outcome"), "b@example.org": ("sent", None)}
    assert report.exit_code == 3


def test_a_bug_in_a_transport_stops_the_send_and_leaves_its_batch_unknown(tmp_path: Path) -> None:
    config, edition = setup(tmp_path, [(f"r{i}@example.org", "") for i in range(4)])
    with pytest.raises(KeyError, match="a bug in the transport"):
        send(config, edition, _FaultyTransport("crash"))
    with Ledger.open(config.state.dir) as ledger:
        rows = {d.email: (d.status, d.reason) for d in ledger.deliveries(edition.id)}
        counts = ledger.counts(edition.id)
    crashed = ("unknown", "KeyError: 'a bug in the transport'")
    assert rows == {"r0@example.org": crashed, "r1@example.org": crashed}  # r2 and r3 were never claimed: pending
    assert counts == {"subscribers": 4, "sent": 0, "pending": 2, "failed": 0, "unknown": 2}


class _LedgerWatchingTransport:
    """Sends nothing; notes, through a connection of its own (as a process started after a crash
    would), what the ledger says of each recipient when their batch is handed over."""

    name = "watching"
    batch_size = 2
    concurrency = 2

    def __init__(self, state_dir: Path, edition: str) -> None:
        self.state_dir, self.edition = state_dir, edition
        self.seen: dict[str, str] = {}
        self._lock = threading.Lock()

    def send_batch(self, edition: Edition, recipients: Any, *, test: bool = False) -> tuple[Any, ...]:
        from digest.deliver.base import Outcome

        with Ledger.open(self.state_dir) as other:
            committed = {d.email: d.status for d in other.deliveries(self.edition)}
        with self._lock:
            self.seen.update({r.email: committed.get(r.email, "no row") for r in recipients})
        return tuple(Outcome(r.email, "sent", provider_id="id") for r in recipients)

    def close(self) -> None:
        pass


def test_each_batch_is_committed_in_flight_before_the_transport_gets_it(tmp_path: Path) -> None:
    readers = [(f"r{i}@example.org", "") for i in range(9)]
    config, edition = setup(tmp_path, readers)
    transport = _LedgerWatchingTransport(config.state.dir, edition.id)
    report = send(config, edition, transport)
    assert transport.seen == {email: "in_flight" for email, _ in readers}
    assert report.counts["sent"] == 9


def test_batch_reports_carry_each_count_and_the_error(tmp_path: Path) -> None:
    with SendGridServer() as server:
        config, edition, transport = sendgrid_setup(tmp_path, server, 4, 2)
        server.drop_next()
        batches: list[BatchReport] = []
        send(config, edition, transport, on_batch=batches.append)
    lost = next(b for b in batches if b.unknown)
    kept = next(b for b in batches if b.sent)
    assert (lost.size, lost.sent, lost.failed, lost.unknown, lost.not_sent) == (2, 0, 0, 2, 0)
    assert lost.error and lost.error.startswith("SendGrid's answer was lost")
    assert (kept.sent, kept.failed, kept.unknown, kept.not_sent, kept.error) == (2, 0, 0, 0, None)
    assert {b.number for b in batches} == {1, 2} and {b.batches for b in batches} == {2}


def test_a_batch_size_of_one_sends_one_recipient_per_batch(tmp_path: Path) -> None:
    config, edition = setup(tmp_path, [(f"r{i}@example.org", "") for i in range(3)], delivery={"batch_size": 1})
    batches: list[BatchReport] = []
    report = send(config, edition, on_batch=batches.append)
    assert report.sent == 3
    assert sorted((b.number, b.batches, b.size) for b in batches) == [(1, 3, 1), (2, 3, 1), (3, 3, 1)]


def test_who_unsubscribed_since_the_last_send_is_dropped_not_left_pending(tmp_path: Path) -> None:
    config, edition = setup(tmp_path, [("a@example.org", "A"), ("b@example.org", "B"), ("c@example.org", "C")])
    with Ledger.open(config.state.dir) as ledger:  # an earlier send planned all three, then stopped
        ledger.add_pending(edition.id, ["a@example.org", "b@example.org", "c@example.org"], edition.built_at)
    write_subscribers(tmp_path, [("a@example.org", "A"), ("b@example.org", "B", "unsubscribed"), ("c@example.org", "C")])
    report = send(config, edition)
    assert report.counts == {"subscribers": 2, "sent": 2, "pending": 0, "failed": 0, "unknown": 0}
    assert report.exit_code == 0


def test_rows_left_in_flight_by_a_dead_send_are_recovered_as_unknown_and_counted(tmp_path: Path) -> None:
    config, edition = setup(tmp_path, [("a@example.org", "A"), ("b@example.org", "B"), ("c@example.org", "C")])
    with Ledger.open(config.state.dir) as ledger:  # a send that died with its first batch in flight
        ledger.add_pending(edition.id, ["a@example.org", "b@example.org", "c@example.org"], edition.built_at)
        ledger.load_audience([("a@example.org", "A"), ("b@example.org", "B"), ("c@example.org", "C")])
        ledger.claim_next(edition.id, "dead-1", edition.built_at, size=2)
    report = send(config, edition)
    assert (report.recovered, report.sent, report.unknown, report.not_sent) == (2, 1, 0, 0)
    assert report.counts == {"subscribers": 3, "sent": 1, "pending": 0, "failed": 0, "unknown": 2}


def test_the_send_report_counts_what_this_send_left_unknown_and_unsent(tmp_path: Path) -> None:
    *_, report = send_losing_one_answer_then_refused_503(tmp_path)
    assert (report.planned, report.sent, report.unknown, report.not_sent, report.failed) == (4, 0, 2, 2, 0)


# -- header injection ------------------------------------------------------------------------------

HOSTILE_TEXT = (
    "Eve\r\nBcc: evil@example.com",
    "Eve\x00\nX-Injected: yes",
    "\u202emoc.elpmaxe@eve",
    "Éva " + "A" * 10_240,
)
MESSAGE_HEADERS = sorted((
    "From", "Reply-To", "To", "Subject", "Date", "Message-ID", "List-Id", "List-Unsubscribe",
    "List-Unsubscribe-Post", "MIME-Version", "Content-Type",
))


def assert_safe_headers(raw: bytes, address: str) -> EmailMessage:
    """No header added or broken: exactly the expected headers, each within its line, all ASCII (RFC 2047)."""
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert head.isascii(), "a header holds raw non-ASCII instead of an RFC 2047 encoded word"
    lines = head.split(b"\r\n")
    assert not any(b"\r" in line or b"\n" in line or b"\0" in line for line in lines)
    assert max(len(line) for line in lines) <= 998
    assert sorted(line.split(b":", 1)[0].decode() for line in lines if not line[:1].isspace()) == MESSAGE_HEADERS
    message = parse(raw)
    assert [a.addr_spec for a in message["To"].addresses] == [address]
    assert [a.addr_spec for a in message["From"].addresses] == ["brief@example.org"]
    shown = [message["Subject"], message["From"].addresses[0].display_name, message["To"].addresses[0].display_name]
    for text in shown:
        assert not UNSAFE_CHARACTERS.search(text) and "\r" not in text and "\n" not in text, repr(text)
    assert len(shown[0]) <= MAX_SUBJECT_LENGTH and max(len(shown[1]), len(shown[2])) <= MAX_DISPLAY_NAME_LENGTH
    return message


def test_hostile_names_and_subjects_cannot_add_break_or_bloat_a_header(tmp_path: Path) -> None:
    config, edition = setup(tmp_path, rows=[])
    rows = [Subscriber(f"reader{i}@example.org", name, "active") for i, name in enumerate(HOSTILE_TEXT)]
    write_subscribers_file(config.subscribers.file, rows)
    for hostile in HOSTILE_TEXT:
        # The config refuses such values at load; the message builder must hold even without that.
        newsletter = replace(config.newsletter, name=hostile, from_name=hostile)
        unchecked = replace(config, newsletter=newsletter)
        tampered = replace(edition, email=replace(edition.email, subject=hostile))
        message = build_message(tampered, Recipient("reader0@example.org", hostile, "https://x.example/u/t"), unchecked, now=datetime.fromisoformat(NOW))
        assert_safe_headers(message_bytes(message), "reader0@example.org")

    report = send(config, edition)
    assert report.sent == len(HOSTILE_TEXT)
    for i in range(len(HOSTILE_TEXT)):
        address = f"reader{i}@example.org"
        message = assert_safe_headers(outbox_path(config.delivery.outbox_dir, edition.id, address).read_bytes(), address)
        text, html = parts(message)
        assert not UNSAFE_CHARACTERS.search(text + html)
    raw = outbox_path(config.delivery.outbox_dir, edition.id, "reader3@example.org").read_bytes()
    assert b"To: =?utf-8?" in raw  # encoded per RFC 2047, cut at a word boundary
    assert parse(raw)["To"].addresses[0].display_name == "Éva…"
