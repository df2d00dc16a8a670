"""The SendGrid transport against a local stand-in for SendGrid (the real `sendgrid` client, real HTTP)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup
from python_http_client.exceptions import BadRequestsError
from sendgrid import SendGridAPIClient

from digest.config import Config, DeliveryConfig, NewsletterConfig, Secrets, load_config
from digest.deliver import send_edition, transport_for
from digest.deliver.base import NotSentError, OutcomeUnknownError, Recipient
from digest.deliver.message import GREETING_FALLBACK, MAX_DISPLAY_NAME_LENGTH, MAX_SUBJECT_LENGTH, list_id, personalise
from digest.deliver.sendgrid import SendGridTransport, build_request
from digest.editions import EditionStore
from digest.errors import ConfigError, ProviderRejectedError
from digest.ledger import Ledger
from digest.models import PLACEHOLDERS, UNSAFE_CHARACTERS, Bullet, Digest, Edition, Section, SourceRef, SourceReport
from digest.render import render_email
from digest.subscribers import read_subscribers
from digest.tokens import read_token, subscriber_id, unsubscribe_url
from tests.support.cli import StderrLines
from tests.support.loopback import refused_port, unanswered_port
from tests.support.sendgrid_server import SendGridServer, check_body

SECRET = "test-secret-that-signs-unsubscribe-links"
BASE_URL = "https://news.example.org/letters?list=brief&lang=en"  # an '&' that HTML must escape
NEWSLETTER = NewsletterConfig(
    name="The Transatlantic Brief",
    from_email="brief@example.org",
    from_name="The Transatlantic Brief",
    reply_to="editor@example.org",
    postal_address="1 Example Street, London EC1A 1AA",
    base_url=BASE_URL,
)
SOURCE = SourceRef("https://news.example.org/white-house", "Starmer meets Trump")


def make_edition(edition_id: str = "2026-11-26") -> Edition:
    digest = Digest(
        edition_id,
        NEWSLETTER.name,
        datetime(2026, 11, 26, 7, tzinfo=UTC),
        (Section("Ukraine peace", (Bullet("A ceasefire must come with security guarantees for Kyiv.", SOURCE),)),),
        (SourceReport(SOURCE.url, SOURCE.title, "ok"),),
    )
    return Edition(edition_id, digest, render_email(digest, NEWSLETTER), datetime(2026, 11, 26, 7, tzinfo=UTC))


EDITION = make_edition()


def make_config(api_url: str, *, api_key: str | None = "SG.test-key", timeout: float = 5.0) -> Config:
    return Config(
        path=None,
        newsletter=NEWSLETTER,
        sources=(),
        delivery=DeliveryConfig(transport="sendgrid", sendgrid_api_url=api_url, timeout_seconds=timeout),
        secrets=Secrets(sendgrid_api_key=api_key, digest_secret=SECRET),
    )


def no_sleep(seconds: float) -> None:
    raise AssertionError(f"did not expect a wait, got sleep({seconds})")


def recipient(email: str, name: str = "") -> Recipient:
    return Recipient(email, name, unsubscribe_url(BASE_URL, email, SECRET))


def recipients(count: int, start: int = 0) -> list[Recipient]:
    return [recipient(f"reader{i:05d}@example.com", f"Reader {i}") for i in range(start, start + count)]


def sendgrid_transport(server: SendGridServer, sleeps: list[float], **kwargs: Any) -> SendGridTransport:
    return SendGridTransport(make_config(server.url), sleep=sleeps.append, **kwargs)


def as_delivered(body: dict[str, Any], index: int) -> tuple[str, str, str]:
    """Subject, text and HTML of one personalization's message, substituted as SendGrid does."""
    substitutions = body["personalizations"][index].get("substitutions", {})

    def fill(text: str) -> str:
        for key, value in substitutions.items():
            text = text.replace(key, value)
        return text

    parts = {part["type"]: fill(part["value"]) for part in body["content"]}
    return fill(body["personalizations"][index].get("subject", body["subject"])), parts["text/plain"], parts["text/html"]


def send_in_batches(transport: SendGridTransport, batch: Sequence[Recipient]) -> list[str]:
    statuses: list[str] = []
    for start in range(0, len(batch), transport.batch_size):
        outcomes = transport.send_batch(EDITION, batch[start : start + transport.batch_size])
        statuses.extend(o.status for o in outcomes)
    return statuses


def test_2500_recipients_go_out_in_three_valid_requests_each_with_its_own_unsubscribe_link(
    sendgrid_server: SendGridServer,
) -> None:
    everyone = recipients(2500)
    transport = sendgrid_transport(sendgrid_server, [])

    assert send_in_batches(transport, everyone) == ["sent"] * 2500

    accepted = sendgrid_server.accepted
    assert [len(request.recipients) for request in accepted] == [1000, 1000, 500]
    assert sendgrid_server.accepted_recipients == [r.email for r in everyone]
    for request in accepted:
        assert check_body(request.body) is None
        assert [part["type"] for part in request.body["content"]] == ["text/plain", "text/html"]
        assert request.body["from"] == {"email": "brief@example.org", "name": "The Transatlantic Brief"}
        assert request.body["reply_to"] == {"email": "editor@example.org"}
        assert request.body["tracking_settings"]["click_tracking"]["enable"] is False
    by_email = {r.email: r for r in everyone}
    personalizations = [p for request in accepted for p in request.personalizations]
    for personalization in personalizations:
        (to,) = personalization["to"]
        url = by_email[to["email"]].unsubscribe_url
        assert personalization["headers"] == {
            "List-Unsubscribe": f"<{url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }
        assert personalization["custom_args"]["edition"] == "2026-11-26"
    assert len({p["headers"]["List-Unsubscribe"] for p in personalizations}) == 2500


def test_each_reader_sees_their_own_name_and_unsubscribe_link_in_both_parts(sendgrid_server: SendGridServer) -> None:
    tricky = recipient("tom@example.com", "Tom & Jerry <Ltd>")
    plain = recipient("ann@example.com", "Ann")
    nameless = recipient("zed@example.com")
    sendgrid_transport(sendgrid_server, []).send_batch(EDITION, [tricky, plain, nameless])

    (request,) = sendgrid_server.accepted
    assert request.body["headers"] == {"List-Id": list_id(make_config(sendgrid_server.url))}
    for index, reader in enumerate((tricky, plain, nameless)):
        subject, text, html = as_delivered(request.body, index)
        # Exactly what the SMTP and outbox transports put in their messages.
        assert (html, text) == personalise(EDITION.email, reader)
        assert subject == "The Transatlantic Brief: 26 November 2026"
        for part in (subject, text, html):
            assert not any(marker in part for marker in PLACEHOLDERS)
            assert "%%" not in part
        greeting = f"Hello {reader.name or GREETING_FALLBACK},"
        assert greeting in text
        assert f"Unsubscribe: {reader.unsubscribe_url}" in text
        page = BeautifulSoup(html, "html.parser")
        assert greeting in page.get_text()
        assert page.find("a", string="Unsubscribe")["href"] == reader.unsubscribe_url  # type: ignore[index]
        assert "1 Example Street, London EC1A 1AA" in text and "1 Example Street, London EC1A 1AA" in html
    assert "<Ltd>" not in as_delivered(request.body, 0)[2]


HOSTILE_NAMES = (
    "Smith, John; evil@example.com",  # SendGrid would split at ',' and ';' and mail the pieces
    "Eve\r\nBcc: evil@example.com",
    "\u202emoc.elpmaxe@eve",
    "Éva " + "A" * 10_240,  # over SendGrid's 10,000 bytes of substitutions in one personalization
)


def test_hostile_names_and_subjects_reach_sendgrid_on_one_line_short_and_naming_nobody_else(
    sendgrid_server: SendGridServer,
) -> None:
    hostile = NEWSLETTER.name + "\r\nX-Injected: yes \u202e" + "B" * 10_240
    config = make_config(sendgrid_server.url)
    config = replace(config, newsletter=replace(NEWSLETTER, name=hostile, from_name=hostile))
    edition = replace(EDITION, email=replace(EDITION.email, subject=hostile))
    readers = [recipient(f"reader{i}@example.com", name) for i, name in enumerate(HOSTILE_NAMES)]

    outcomes = SendGridTransport(config, sleep=no_sleep).send_batch(edition, readers)

    assert [o.status for o in outcomes] == ["sent"] * len(readers)  # the stand-in's schema and limits held
    (request,) = sendgrid_server.accepted
    names = [request.body["from"]["name"], *(p["to"][0]["name"] for p in request.personalizations)]
    for text in (request.body["subject"], *names, *request.body["headers"].values()):
        assert not UNSAFE_CHARACTERS.search(text) and "\r" not in text and "\n" not in text, repr(text)
    assert len(request.body["subject"]) <= MAX_SUBJECT_LENGTH
    assert max(len(name) for name in names) <= MAX_DISPLAY_NAME_LENGTH
    assert request.recipients == tuple(reader.email for reader in readers)
    assert names[1] == "Smith John evil@example.com"
    assert names[4] == "Éva…"


def test_a_test_send_is_marked_in_the_subject_and_custom_args(sendgrid_server: SendGridServer) -> None:
    outcomes = sendgrid_transport(sendgrid_server, []).send_batch(EDITION, [recipient("me@example.com")], test=True)

    assert [o.status for o in outcomes] == ["sent"]
    (request,) = sendgrid_server.accepted
    assert as_delivered(request.body, 0)[0] == "[TEST] The Transatlantic Brief: 26 November 2026"
    assert request.personalizations[0]["custom_args"] == {"edition": "2026-11-26", "test": "true"}
    assert "name" not in request.personalizations[0]["to"][0]  # no empty display name


def test_addresses_differing_only_in_case_are_mailed_once(sendgrid_server: SendGridServer) -> None:
    batch = [recipient("Ann@Example.com", "Ann"), recipient("bob@example.com"), recipient("ann@example.com", "Ann")]
    outcomes = sendgrid_transport(sendgrid_server, []).send_batch(EDITION, batch)

    assert sendgrid_server.accepted_recipients == ["Ann@Example.com", "bob@example.com"]
    assert [(o.email, o.status) for o in outcomes] == [
        ("Ann@Example.com", "sent"),
        ("bob@example.com", "sent"),
        ("ann@example.com", "sent"),
    ]
    assert outcomes[2].reason == "same mailbox as Ann@Example.com, sent once"
    assert outcomes[0].provider_id == outcomes[2].provider_id == sendgrid_server.accepted[0].message_id


def test_429_waits_as_retry_after_says_then_retries(sendgrid_server: SendGridServer) -> None:
    sendgrid_server.rate_limit_next(retry_after=7)
    sleeps: list[float] = []

    outcomes = sendgrid_transport(sendgrid_server, sleeps).send_batch(EDITION, recipients(3))

    assert sleeps == [7.0]
    assert sendgrid_server.statuses == [429, 202]
    assert {o.status for o in outcomes} == {"sent"}
    assert outcomes[0].provider_id == sendgrid_server.accepted[0].message_id


def test_429_waits_until_x_ratelimit_reset_by_the_injected_clock(sendgrid_server: SendGridServer) -> None:
    now = 1_795_000_000.0
    sendgrid_server.rate_limit_next(reset_at=now + 12)
    sleeps: list[float] = []

    sendgrid_transport(sendgrid_server, sleeps, clock=lambda: now).send_batch(EDITION, recipients(3))

    assert sleeps == [12.0]
    assert sendgrid_server.statuses == [429, 202]


def test_a_rate_limit_longer_than_ten_minutes_leaves_the_batch_pending_without_waiting(
    sendgrid_server: SendGridServer,
) -> None:
    sendgrid_server.rate_limit_next(retry_after=3600)
    sleeps: list[float] = []

    with pytest.raises(NotSentError, match="asks to wait 3600 s"):
        sendgrid_transport(sendgrid_server, sleeps).send_batch(EDITION, recipients(3))
    assert sleeps == []
    assert sendgrid_server.accepted == []


def test_500_twice_is_retried_with_growing_backoff(sendgrid_server: SendGridServer) -> None:
    sendgrid_server.fail_next(count=2, status=500)
    sleeps: list[float] = []

    outcomes = sendgrid_transport(sendgrid_server, sleeps).send_batch(EDITION, recipients(3))

    assert sendgrid_server.statuses == [500, 500, 202]
    assert len(sleeps) == 2 and 0 < sleeps[0] < sleeps[1]
    assert {o.status for o in outcomes} == {"sent"}


def test_500_forever_gives_up_after_the_bounded_attempts(sendgrid_server: SendGridServer) -> None:
    sendgrid_server.fail_next(count=10, status=503)
    sleeps: list[float] = []

    with pytest.raises(NotSentError, match=r"after 4 attempts \(SendGrid answered 503"):
        sendgrid_transport(sendgrid_server, sleeps, max_attempts=4).send_batch(EDITION, recipients(3))
    assert sendgrid_server.statuses == [503] * 4
    assert sleeps == sorted(sleeps) and len(sleeps) == 3
    assert sendgrid_server.accepted == []


def test_400_stops_with_sendgrids_message_on_one_line_and_is_not_retried(sendgrid_server: SendGridServer) -> None:
    sendgrid_server.reject_next("The from address does not match a verified Sender Identity.\nMail cannot be sent",
                                field_name="from")
    sleeps: list[float] = []

    with pytest.raises(ProviderRejectedError) as caught:
        sendgrid_transport(sendgrid_server, sleeps).send_batch(EDITION, recipients(3))
    assert str(caught.value) == (
        "SendGrid refused the request (400): The from address does not match a verified Sender Identity. Mail cannot be sent"
    )
    assert sendgrid_server.statuses == [400]
    assert sleeps == []


def test_a_wrong_api_key_is_refused_with_a_hint(sendgrid_server: SendGridServer) -> None:
    transport = SendGridTransport(make_config(sendgrid_server.url, api_key="SG.wrong"), sleep=no_sleep)
    with pytest.raises(ProviderRejectedError, match=r"^SendGrid refused the request \(401\): .*check SENDGRID_API_KEY"):
        transport.send_batch(EDITION, recipients(1))


def test_a_missing_api_key_fails_before_any_request(sendgrid_server: SendGridServer) -> None:
    with pytest.raises(ConfigError, match=r"^SENDGRID_API_KEY is not set: "):
        SendGridTransport(make_config(sendgrid_server.url, api_key=None))
    assert sendgrid_server.received == 0


def test_a_refused_connection_is_retried_then_left_pending() -> None:
    sleeps: list[float] = []
    with refused_port() as port:
        config = make_config(f"http://127.0.0.1:{port}")
        with pytest.raises(NotSentError, match=r"after 3 attempts \(could not reach .*ConnectionRefusedError"):
            SendGridTransport(config, sleep=sleeps.append, max_attempts=3).send_batch(EDITION, recipients(2))
    assert len(sleeps) == 2


def test_a_connect_timeout_is_retried_then_left_pending_not_unknown() -> None:
    sleeps: list[float] = []
    with unanswered_port() as port:
        config = make_config(f"http://127.0.0.1:{port}", timeout=0.2)
        with pytest.raises(NotSentError, match=r"after 2 attempts \(could not reach .*TimeoutError"):
            SendGridTransport(config, sleep=sleeps.append, max_attempts=2).send_batch(EDITION, recipients(2))
    assert len(sleeps) == 1


def test_a_connection_dropped_after_the_body_went_out_is_unknown_and_not_retried(
    sendgrid_server: SendGridServer,
) -> None:
    sendgrid_server.drop_next()
    sleeps: list[float] = []

    with pytest.raises(OutcomeUnknownError, match="answer was lost after the request went out"):
        sendgrid_transport(sendgrid_server, sleeps).send_batch(EDITION, recipients(3))
    assert sendgrid_server.received == 1
    assert sleeps == []


def test_a_read_timeout_after_the_body_went_out_is_unknown(sendgrid_server: SendGridServer) -> None:
    release = sendgrid_server.hold_next()
    transport = SendGridTransport(make_config(sendgrid_server.url, timeout=0.3), sleep=no_sleep)
    try:
        with pytest.raises(OutcomeUnknownError, match="TimeoutError"):
            transport.send_batch(EDITION, recipients(3))
    finally:
        release.set()
    assert sendgrid_server.received == 1


def test_batches_may_be_sent_from_several_threads_at_once(sendgrid_server: SendGridServer) -> None:
    release = sendgrid_server.hold_next()  # the first batch waits until the second has gone through
    transport = sendgrid_transport(sendgrid_server, [])
    results: dict[int, list[str]] = {}

    def send(number: int) -> None:
        results[number] = [o.status for o in transport.send_batch(EDITION, recipients(5, start=number * 5))]

    first = threading.Thread(target=send, args=(0,))
    first.start()
    sendgrid_server.wait_for_held()
    send(1)
    release.set()
    first.join(timeout=10)

    assert results == {0: ["sent"] * 5, 1: ["sent"] * 5}
    assert sorted(sendgrid_server.accepted_recipients) == [r.email for r in recipients(10)]
    assert len({request.message_id for request in sendgrid_server.accepted}) == 2


# Through the send loop and the command line.

EDITION_ID = "2026-11-26"


def write_list(path: Path, count: int) -> list[str]:
    emails = [f"reader{i:05d}@example.com" for i in range(count)]
    lines = ["email,name,status,subscribed_at,unsubscribed_at,source"]
    lines += [f"{email},Reader {i},active,2026-01-01T00:00:00+00:00,,test" for i, email in enumerate(emails)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return emails


@pytest.fixture
def project(tmp_path: Path, sendgrid_server: SendGridServer) -> Path:
    """A digest.toml sending through the fake SendGrid, 2,500 subscribers, and the edition stored."""
    config = tmp_path / "digest.toml"
    config.write_text(
        textwrap.dedent(
            f"""\
            [newsletter]
            name = "{NEWSLETTER.name}"
            from_email = "{NEWSLETTER.from_email}"
            reply_to = "{NEWSLETTER.reply_to}"
            postal_address = "{NEWSLETTER.postal_address}"
            base_url = "https://news.example.org"

            [[sources]]
            url = "https://news.example.org/feed.xml"

            [delivery]
            transport = "sendgrid"
            sendgrid_api_url = "{sendgrid_server.url}"
            timeout_seconds = 30
            """
        ),
        encoding="utf-8",
    )
    write_list(tmp_path / "subscribers.csv", 2500)
    EditionStore(tmp_path / ".digest").save(EDITION)
    return config


def cli_env(server: SendGridServer) -> dict[str, str]:
    return {"SENDGRID_API_KEY": server.api_key, "DIGEST_SECRET": SECRET, "DIGEST_NOW": "2026-11-26T08:00:00+00:00"}


def digest_cli(config: Path, server: SendGridServer, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "digest", "--config", str(config), *args],
        env=os.environ | cli_env(server),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def status_counts(config: Path, server: SendGridServer) -> dict[str, int]:
    """What `digest status --format json` says of the edition."""
    result = digest_cli(config, server, "status", "--format", "json")
    assert result.returncode == 0, result.stderr
    (edition,) = json.loads(result.stdout)["editions"]
    return {key: edition[key] for key in ("subscribers", "sent", "pending", "failed", "unknown")}


def ledger_statuses(config_path: Path, server: SendGridServer) -> dict[str, str]:
    """Each address's status in the ledger; a row left in flight by a dead process counts as unknown."""
    config = load_config(config_path, env=cli_env(server))
    with Ledger.open(config.state.dir) as ledger:
        return {d.email: "unknown" if d.status == "in_flight" else d.status for d in ledger.deliveries(EDITION_ID)}


def tally(statuses: dict[str, str]) -> dict[str, int]:
    return {key: sum(1 for s in statuses.values() if s == key) for key in ("sent", "pending", "failed", "unknown")}


def test_send_edition_batches_2500_subscribers_into_three_requests_and_records_each(
    project: Path, sendgrid_server: SendGridServer
) -> None:
    config = load_config(project, env=cli_env(sendgrid_server))
    subscribers = read_subscribers(config.subscribers.file)
    with Ledger.open(config.state.dir) as ledger:
        report = send_edition(
            config, EDITION, ledger, transport_for(config), subscribers, now=datetime(2026, 11, 26, 8, tzinfo=UTC)
        )
        deliveries = {d.email: d for d in ledger.deliveries(EDITION_ID)}

    assert report.sent == 2500 and report.exit_code == 0
    assert sorted(len(request.recipients) for request in sendgrid_server.accepted) == [500, 1000, 1000]
    assert sorted(sendgrid_server.accepted_recipients) == sorted(s.email for s in subscribers)
    message_ids = {email: request.message_id for request in sendgrid_server.accepted for email in request.recipients}
    assert {email: d.provider_id for email, d in deliveries.items()} == message_ids
    for request in sendgrid_server.accepted:
        assert check_body(request.body) is None
        for personalization in request.personalizations:
            token_url = personalization["headers"]["List-Unsubscribe"][1:-1]
            assert read_token(token_url.rsplit("/", 1)[1], SECRET).subscriber_id == subscriber_id(personalization["to"][0]["email"], SECRET)


@pytest.mark.slow
def test_a_400_stops_the_send_with_sendgrids_message_and_a_rerun_sends_only_the_rest(
    project: Path, sendgrid_server: SendGridServer
) -> None:
    # Two batches go out together: the first to arrive is refused, the other is held until the send
    # has recorded the refusal (its batch log line), so no third batch can slip in before it.
    sendgrid_server.reject_next("The from address does not match a verified Sender Identity", field_name="from")
    release = sendgrid_server.hold_next()
    process = subprocess.Popen(
        [sys.executable, "-m", "digest", "--config", str(project), "send", "--yes"],
        env=os.environ | cli_env(sendgrid_server), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    lines = StderrLines(process)
    try:
        lines.wait_for("SendGrid refused the request (400)")
        release.set()
        assert process.wait(timeout=60) == 1
    finally:
        release.set()
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
        stderr = lines.text()
        lines.close()
    assert stderr.strip().splitlines()[-1] == (
        "error: SendGrid refused the request (400): The from address does not match a verified Sender Identity"
    )
    # What was in flight beside the refused request was taken; everyone else stays pending.
    sent = len(sendgrid_server.accepted_recipients)
    assert 1000 <= sent <= 2000  # the refused request's batch (of 1,000 or 500) at least stays pending
    assert tally(ledger_statuses(project, sendgrid_server)) == {"sent": sent, "pending": 2500 - sent, "failed": 0, "unknown": 0}

    rerun = digest_cli(project, sendgrid_server, "send", "--yes")

    assert rerun.returncode == 0, rerun.stderr
    assert sorted(sendgrid_server.accepted_recipients) == [f"reader{i:05d}@example.com" for i in range(2500)]
    received = sendgrid_server.received

    again = digest_cli(project, sendgrid_server, "send", "--yes")

    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == f"nothing to send: edition {EDITION_ID} already sent to 2,500 subscribers"
    assert sendgrid_server.received == received
    assert tally(ledger_statuses(project, sendgrid_server))["sent"] == 2500


@pytest.mark.slow
def test_a_send_killed_while_sendgrid_holds_a_request_leaves_no_one_mailed_twice_or_lost(
    project: Path, sendgrid_server: SendGridServer, tmp_path: Path
) -> None:
    everyone = [f"reader{i:05d}@example.com" for i in range(2500)]
    sendgrid_server.accept_next()
    release = sendgrid_server.hold_next()
    with (tmp_path / "send.log").open("w") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "digest", "--config", str(project), "send", "--yes"],
            env=os.environ | cli_env(sendgrid_server),
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        try:
            sendgrid_server.wait_for_held(timeout=60)
            sendgrid_server.wait_for_requests(3, timeout=60)  # the third batch went out while the second hangs
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
    release.set()

    after_crash = ledger_statuses(project, sendgrid_server)
    rerun = digest_cli(project, sendgrid_server, "send", "--yes")
    counts = status_counts(project, sendgrid_server)
    status = ledger_statuses(project, sendgrid_server)

    assert rerun.returncode == 3, rerun.stdout + rerun.stderr  # some outcomes are unknown
    assert status == after_crash
    assert counts == {"subscribers": 2500} | tally(status)
    assert sum(tally(status).values()) == 2500
    accepted = sendgrid_server.accepted_recipients
    assert len(accepted) == len(set(accepted)), "someone was mailed twice"
    assert {email for email, s in status.items() if s == "sent"} <= set(accepted)
    assert all(status[email] in ("sent", "unknown") for email in accepted)
    assert {email for email, s in status.items() if s == "pending"} == set(everyone) - set(accepted)
    assert counts["unknown"] >= 1000  # at least the held batch
    assert f"{counts['unknown']:,} unknown" in rerun.stdout

    resent = digest_cli(project, sendgrid_server, "send", "--yes", "--resend-unknown")

    assert resent.returncode == 0, resent.stdout + resent.stderr
    assert tally(ledger_statuses(project, sendgrid_server)) == {"sent": 2500, "pending": 0, "failed": 0, "unknown": 0}
    second_time = sendgrid_server.accepted_recipients[len(accepted) :]
    assert sorted(second_time) == sorted(email for email, s in status.items() if s != "sent")


@pytest.mark.parametrize(
    ("change", "field_name"),
    [
        (lambda body: body["personalizations"].extend(body["personalizations"] * 1000), "personalizations"),
        (lambda body: body["personalizations"][0]["to"].append({"email": "b@example.com"}), "personalizations.0.to"),
        (lambda body: body["personalizations"][0]["custom_args"].update(edition=20261126), "personalizations.0.custom_args.edition"),
        (lambda body: body["personalizations"][0]["to"][0].update(email="not an address"), "personalizations.0.to.0.email"),
        (lambda body: body["content"].reverse(), "content"),
        (lambda body: body.pop("from"), None),
    ],
)
def test_the_stand_in_refuses_what_sendgrid_would(
    sendgrid_server: SendGridServer, change: Any, field_name: str | None
) -> None:
    body = build_request(EDITION, [recipient("a@example.com")], make_config(sendgrid_server.url))
    change(body)
    client = SendGridAPIClient(sendgrid_server.api_key, host=sendgrid_server.url)

    with pytest.raises(BadRequestsError) as caught:
        client.client.mail.send.post(request_body=body, timeout=5)
    assert json.loads(caught.value.body)["errors"][0]["field"] == field_name
    assert sendgrid_server.accepted == []
