"""`digest send` and `digest status` from the command line, in-process and as real processes
(a second sender, SIGTERM and a crash mid-list against a real SMTP server)."""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import sys
import threading
from email import message_from_bytes
from email.policy import default
from pathlib import Path
from typing import IO, Any

import pytest

from digest.deliver.outbox import outbox_path
from digest.deliver.smtp import SmtpTransport
from digest.ledger import Ledger
from digest.models import Batch
from tests.support.cli import (
    EDITION,
    REPO,
    StderrLines,
    cli_env,
    invoke,
    load_test_config,
    read_terminal,
    run_digest,
    start_digest,
    store_edition,
    write_config,
    write_subscribers,
)
from tests.support.loopback import refused_port
from tests.support.sendgrid_server import SendGridServer
from tests.support.smtp import SmtpServer

TWO = [("alice@example.org", "Alice"), ("bob@example.org", "Bob"), ("carol@example.org", "", "unsubscribed")]
FIVE = [(f"reader{i}@example.org", f"Reader {i}") for i in range(5)]


def outbox_setup(tmp_path: Path, *, store: bool = True) -> Path:
    config = write_config(tmp_path)
    write_subscribers(tmp_path, TWO)
    if store:
        store_edition(load_test_config(config))
    return config


def smtp_setup(tmp_path: Path, server: SmtpServer) -> Path:
    config = write_config(tmp_path, delivery={
        "transport": "smtp", "smtp_host": "127.0.0.1", "smtp_port": server.port, "smtp_security": "none", "batch_size": 2,
    })
    write_subscribers(tmp_path, FIVE)
    store_edition(load_test_config(config))
    return config


def status_json(config: Path) -> dict[str, Any]:
    result = invoke(config, "status", "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def read_exactly(stream: IO[str] | None, count: int, timeout: float = 30) -> str:
    """`count` characters from a process's pipe, failing after `timeout` s rather than blocking for ever."""
    assert stream is not None
    chunks: list[str] = []
    reader = threading.Thread(target=lambda: chunks.append(stream.read(count)), daemon=True)
    reader.start()
    reader.join(timeout)
    assert chunks, f"nothing read within {timeout} s"
    return chunks[0]


def test_send_builds_todays_edition_and_a_second_send_has_nothing_to_send(tmp_path: Path) -> None:
    config = outbox_setup(tmp_path, store=False)  # built from the bundled sample page
    first = invoke(config, "send", "--yes")
    assert first.exit_code == 0, first.output
    assert f"built edition {EDITION}" in first.stderr
    assert f"edition {EDITION} via outbox: 2 sent, 0 failed, 0 unknown" in first.stdout
    assert sorted(p.name for p in (tmp_path / "outbox" / EDITION).glob("*.eml")) == ["alice_at_example.org.eml", "bob_at_example.org.eml"]
    second = invoke(config, "send", "--yes")
    assert (second.exit_code, second.stdout) == (0, f"nothing to send: edition {EDITION} already sent to 2 subscribers\n")
    assert status_json(config)["editions"] == [
        {"edition": EDITION, "subscribers": 2, "sent": 2, "pending": 0, "failed": 0, "unknown": 0}
    ]


def test_without_a_terminal_and_without_yes_nothing_is_sent(tmp_path: Path) -> None:
    config = outbox_setup(tmp_path)
    result = invoke(config, "send")
    assert (result.exit_code, result.stderr) == (1, "error: refusing to send without confirmation: pass --yes\n")
    assert not (tmp_path / "outbox").exists()
    assert status_json(config)["editions"] == []


def test_dry_run_shows_the_plan_sends_nothing_and_needs_no_secret(tmp_path: Path) -> None:
    config = outbox_setup(tmp_path)
    result = invoke(config, "send", "--dry-run", env={"DIGEST_NOW": cli_env()["DIGEST_NOW"]})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "dry run: nothing is sent"
    assert f"transport:   outbox -> {tmp_path / 'outbox' / EDITION}" in lines
    assert "subject:     The Transatlantic Brief: 26 November 2026" in lines
    assert "recipients:  2 (already sent: 0, unknown: 0)" in lines
    assert "first:       alice@example.org, bob@example.org" in lines
    assert any(line.startswith(f"edition:     {EDITION}") for line in lines)
    assert any(line.startswith("size:        ") and "KB per message" in line for line in lines)
    assert "would refuse: DIGEST_SECRET is not set" in result.stderr
    assert not (tmp_path / "outbox").exists()
    assert status_json(config)["editions"] == []


def test_a_test_send_is_marked_and_counts_for_nothing(tmp_path: Path) -> None:
    config = outbox_setup(tmp_path)
    result = invoke(config, "send", "--to", "Me@Example.org")
    assert result.exit_code == 0, result.output
    path = outbox_path(tmp_path / "outbox", EDITION, "me@example.org", test=True)
    assert f"sent to Me@example.org via outbox ({path}); not counted as a delivery" in result.stdout
    message = message_from_bytes(path.read_bytes(), policy=default)
    assert message["Subject"] == "[TEST] The Transatlantic Brief: 26 November 2026"
    assert status_json(config)["editions"] == []
    with Ledger.open(tmp_path / "state") as ledger:
        assert not ledger.has_sent(EDITION)
    assert invoke(config, "send", "--yes").exit_code == 0
    assert status_json(config)["editions"][0]["sent"] == 2


def test_with_no_active_subscriber_there_is_nothing_to_send(tmp_path: Path) -> None:
    config = outbox_setup(tmp_path)
    (tmp_path / "subscribers.csv").unlink()
    result = invoke(config, "send", "--yes")
    assert result.exit_code == 0
    assert result.stdout.startswith(f"nothing to send: no active subscribers in {tmp_path / 'subscribers.csv'}")


def test_a_server_that_cannot_be_reached_is_an_error_and_everyone_stays_pending(tmp_path: Path) -> None:
    with refused_port() as port:
        config = write_config(tmp_path, delivery={"transport": "smtp", "smtp_host": "127.0.0.1", "smtp_port": port, "smtp_security": "none"})
        write_subscribers(tmp_path, TWO)
        store_edition(load_test_config(config))
        result = invoke(config, "send", "--yes")
    assert result.exit_code == 1
    assert f"error: smtp: cannot connect to 127.0.0.1:{port} (none)" in result.stderr
    assert status_json(config)["editions"][0]["pending"] == 2


def test_an_edition_that_is_not_stored_is_an_error(tmp_path: Path) -> None:
    config = outbox_setup(tmp_path)
    result = invoke(config, "send", "--yes", "--edition", "2026-01-01")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: edition 2026-01-01 is not stored in ")


def test_a_send_while_another_process_holds_the_lock_exits_1_naming_it(tmp_path: Path) -> None:
    config = outbox_setup(tmp_path)
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys; from pathlib import Path; from digest.locks import send_lock\n"
         "with send_lock(Path(sys.argv[1])):\n    print('locked', flush=True); sys.stdin.read()",
         str(tmp_path / "state")],
        cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    holder_out = StderrLines(holder, holder.stdout)
    try:
        assert holder_out.wait_for("locked") == "locked\n"
        result = invoke(config, "send", "--yes")
    finally:
        assert holder.stdin is not None
        holder.stdin.close()  # lets it go
        holder.wait(timeout=30)
        holder_out.close()
    assert (result.exit_code, result.stderr) == (1, f"error: another send is running (pid {holder.pid})\n")
    assert not (tmp_path / "outbox").exists()
    assert invoke(config, "send", "--yes").exit_code == 0  # the lock went with its holder


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_mid_list_finishes_the_batch_in_flight_records_it_and_exits_3(tmp_path: Path, stop_signal: signal.Signals) -> None:
    with SmtpServer() as server:
        config = smtp_setup(tmp_path, server)
        assert SmtpTransport.concurrency == 2  # so the first two batches are in flight, the third waits
        # The last message of each batch in flight is held, so neither ends before the signal is taken.
        gates = [server.hold("reader1@example.org"), server.hold("reader3@example.org")]
        process = start_digest(config, "send", "--yes", stdout=subprocess.DEVNULL)
        lines = StderrLines(process)
        try:
            assert all(gate.arrived.wait(30) for gate in gates)
            process.send_signal(stop_signal)
            lines.wait_for(f"{stop_signal.name}: finishing the batches in flight")
            for gate in gates:
                gate.release()
            process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=30)
            stderr = lines.text()
            lines.close()
        assert process.returncode == 3, stderr
        assert "stopped: stopped on request (signal)" in stderr
        # Every batch in flight (one per connection) was finished and recorded; none started after.
        sent = 2 * SmtpTransport.concurrency
        assert sorted(server.recipients()) == [f"reader{i}@example.org" for i in range(sent)]
        [counts] = status_json(config)["editions"]
        assert counts == {"edition": EDITION, "subscribers": 5, "sent": sent, "pending": 5 - sent, "failed": 0, "unknown": 0}
        rest = invoke(config, "send", "--yes")
        assert rest.exit_code == 0, rest.output
    assert sorted(server.recipients()) == [f"reader{i}@example.org" for i in range(5)]


def test_a_send_killed_mid_batch_leaves_unknown_that_is_reported_and_resent_only_on_request(tmp_path: Path) -> None:
    with SmtpServer() as server:
        config = smtp_setup(tmp_path, server)
        assert SmtpTransport.concurrency == 2  # two batches (of 2) in flight at once: hold the last message of each
        gates = [server.hold("reader1@example.org"), server.hold("reader3@example.org")]
        process = start_digest(config, "send", "--yes", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            assert all(gate.arrived.wait(30) for gate in gates)
        finally:
            process.kill()
            process.wait(timeout=30)
        # Both batches were in flight: even reader0, whose message the server took, is unknown.
        [counts] = status_json(config)["editions"]
        assert counts == {"edition": EDITION, "subscribers": 5, "sent": 0, "pending": 1, "failed": 0, "unknown": 4}
        table = invoke(config, "status").stdout
        assert "unknown   reader1@example.org" in table and "--resend-unknown" in table
        for gate in gates:
            gate.release()  # the server takes the message after all: why unknowns are not resent blindly

        rest = invoke(config, "send", "--yes")
        assert rest.exit_code == 3, rest.output
        assert f"edition {EDITION} now: 5 subscribers, 1 sent, 0 pending, 0 failed, 4 unknown" in rest.stdout
        assert f"`digest send --edition {EDITION} --resend-unknown`" in rest.stderr
        again = invoke(config, "send", "--yes")
        assert (again.exit_code, again.stdout) == (3, f"nothing to send: edition {EDITION} already sent to 1 subscribers, 4 unknown\n")
        assert server.recipients().count("reader0@example.org") == 1  # unknown: not sent again

        resent = invoke(config, "send", "--yes", "--resend-unknown")
        assert resent.exit_code == 0, resent.output
    assert server.recipients().count("reader0@example.org") == 2  # sent again on purpose
    assert sorted(set(server.recipients())) == [f"reader{i}@example.org" for i in range(5)]
    [counts] = status_json(config)["editions"]
    assert counts["sent"] == 5 and counts["unknown"] == 0


@pytest.mark.parametrize(("answer", "exit_code", "sent"), [("n", 1, 0), ("y", 0, 2)])
def test_on_a_terminal_it_asks_first(tmp_path: Path, answer: str, exit_code: int, sent: int) -> None:
    config = outbox_setup(tmp_path)
    main, terminal = pty.openpty()
    try:
        process = start_digest(config, "send", stdin=terminal)
        prompt = "Send edition 2026-11-26 to 2 subscribers via outbox? [y/N] "
        assert read_exactly(process.stdout, len(prompt)) == prompt
        os.write(main, f"{answer}\n".encode())
        process.communicate(timeout=30)
    finally:
        os.close(main)
        os.close(terminal)
    assert process.returncode == exit_code
    assert len(list((tmp_path / "outbox" / EDITION).glob("*.eml"))) == sent


def test_status_shows_counts_last_run_failing_sources_and_next_run(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    config = outbox_setup(tmp_path)
    with Ledger.open(tmp_path / "state") as ledger:
        ledger.add_pending(EDITION, ["alice@example.org", "bob@example.org"], datetime(2026, 11, 26, 7, tzinfo=UTC))
        ledger.record_outcomes(EDITION, [("bob@example.org", "failed", None, "451 4.3.0 try later", False)], datetime(2026, 11, 26, 7, tzinfo=UTC))
        ledger.record_run(datetime(2026, 11, 26, 7, 0, 5, tzinfo=UTC), EDITION, "partial", "1 failed")
        for day in (24, 25, 26):
            ledger.record_source_results(datetime(2026, 11, day, 7, tzinfo=UTC), [], {"https://gone.example.org/": "HTTP 410"})
    data = status_json(config)
    assert data == {
        "editions": [{"edition": EDITION, "subscribers": 2, "sent": 0, "pending": 1, "failed": 1, "unknown": 0}],
        "last_run": {"at": "2026-11-26T07:00:05+00:00", "edition": EDITION, "outcome": "partial", "reason": "1 failed"},
        "failing_sources": [{"url": "https://gone.example.org/", "since": "2026-11-24", "runs": 3, "reason": "HTTP 410"}],
        "next_run": "2026-11-27T07:00:00+00:00",
        "subscribers": {"active": 2, "unsubscribed": 1, "bounced": 0, "pending": 0},
    }
    table = invoke(config, "status").stdout
    assert "EDITION     SUBSCRIBERS  SENT  PENDING  FAILED  UNKNOWN" in table
    assert "2026-11-26            2     0        1       1        0" in table
    assert "failed    bob@example.org  451 4.3.0 try later" in table
    assert "pending   alice@example.org" in table
    assert "next run:  2026-11-27T07:00:00+00:00" in table
    assert "subscribers: 2 active, 0 pending (sign-ups not yet confirmed), 1 unsubscribed, 0 bounced" in table
    assert "https://gone.example.org/  failing since 2026-11-24 (3 runs): HTTP 410" in table


def test_status_counts_those_a_stopped_send_never_reached_as_pending(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    config = outbox_setup(tmp_path)  # alice and bob active
    with Ledger.open(tmp_path / "state") as ledger:  # planned, alice's batch sent, then stopped
        ledger.load_audience([("alice@example.org", "Alice"), ("bob@example.org", "Bob")])
        assert ledger.plan(EDITION) == 2
        claim = ledger.claim_next(EDITION, "b1", datetime(2026, 11, 26, 7, tzinfo=UTC), size=1)
        assert claim == Batch([("alice@example.org", "Alice")], "alice@example.org", "alice@example.org", 1)
        ledger.record_outcomes(EDITION, [("alice@example.org", "sent", "m", None, False)], datetime(2026, 11, 26, 7, tzinfo=UTC), batch="b1")
    assert status_json(config)["editions"] == [
        {"edition": EDITION, "subscribers": 2, "sent": 1, "pending": 1, "failed": 0, "unknown": 0}
    ]
    table = invoke(config, "status").stdout
    assert f"edition {EDITION}: 1 not sent\n  … and 1 more" in table
    assert invoke(config, "send", "--yes").exit_code == 0  # the next send goes to bob alone
    assert status_json(config)["editions"] == [
        {"edition": EDITION, "subscribers": 2, "sent": 2, "pending": 0, "failed": 0, "unknown": 0}
    ]
    assert [path.name for path in (tmp_path / "outbox" / EDITION).glob("*.eml")] == ["bob_at_example.org.eml"]


def test_once_sent_an_edition_is_frozen_and_preview_rebuild_refuses(tmp_path: Path) -> None:
    config = outbox_setup(tmp_path)
    stored = tmp_path / "state" / "editions" / EDITION
    test_copy = invoke(config, "send", "--to", "me@example.org")
    assert test_copy.exit_code == 0, test_copy.output
    rebuilt = invoke(config, "preview", "--rebuild", "--out", str(tmp_path / "after-test-send.html"))
    assert rebuilt.exit_code == 0, rebuilt.output  # a test send freezes nothing
    assert f"built edition {EDITION}" in rebuilt.stderr

    assert invoke(config, "send", "--yes").exit_code == 0
    before = {path.name: path.read_bytes() for path in stored.iterdir()}
    refused = invoke(config, "preview", "--rebuild", "--out", str(tmp_path / "after-send.html"))
    assert (refused.exit_code, refused.stderr) == (
        1, f"error: edition {EDITION} has been sent to subscribers and is frozen; --rebuild refused\n",
    )
    assert {path.name: path.read_bytes() for path in stored.iterdir()} == before
    assert not (tmp_path / "after-send.html").exists()


def test_send_edition_sends_that_stored_edition_and_builds_nothing(tmp_path: Path) -> None:
    config = outbox_setup(tmp_path, store=False)
    store_edition(load_test_config(config), edition_id="2026-11-20")
    result = invoke(config, "send", "--yes", "--edition", "2026-11-20")
    assert result.exit_code == 0, result.output
    assert "edition 2026-11-20 via outbox: 2 sent, 0 failed, 0 unknown" in result.stdout
    assert sorted(p.name for p in (tmp_path / "outbox" / "2026-11-20").glob("*.eml")) == ["alice_at_example.org.eml", "bob_at_example.org.eml"]
    assert not (tmp_path / "state" / "editions" / EDITION).exists()
    assert [e["edition"] for e in status_json(config)["editions"]] == ["2026-11-20"]


def test_on_a_terminal_send_shows_a_progress_bar_and_no_batch_lines(tmp_path: Path) -> None:
    config = write_config(tmp_path, delivery={"batch_size": 2})
    write_subscribers(tmp_path, FIVE)
    store_edition(load_test_config(config))
    main, terminal = pty.openpty()
    try:
        process = start_digest(config, "send", "--yes", stderr=terminal, stdout=subprocess.DEVNULL)
        os.close(terminal)
        screen = read_terminal(main, process)
    finally:
        os.close(main)
    assert process.returncode == 0, screen
    assert f"sending {EDITION} via outbox" in screen and "100%" in screen
    assert "batch 1/3" not in screen


def test_without_a_terminal_send_logs_one_line_per_batch(tmp_path: Path) -> None:
    config = write_config(tmp_path, delivery={"batch_size": 2})
    write_subscribers(tmp_path, FIVE)
    store_edition(load_test_config(config))
    result = invoke(config, "send", "--yes")
    assert result.exit_code == 0, result.output
    batch_lines = [line.split(": ", 1)[1] for line in result.stderr.splitlines() if "digest.cli.send_commands: batch " in line]
    assert sorted(batch_lines) == [
        "batch 1/3: 2 sent, 0 failed, 0 unknown, 0 not sent",
        "batch 2/3: 2 sent, 0 failed, 0 unknown, 0 not sent",
        "batch 3/3: 1 sent, 0 failed, 0 unknown, 0 not sent",
    ]
    assert "%" not in result.stderr  # no progress bar drawn into a log


def test_secrets_never_show_in_output_even_with_debug_and_library_logs(tmp_path: Path) -> None:
    api_key = "SG.live-key-that-must-not-leak-0123456789"
    with SendGridServer(api_key=api_key) as sendgrid:
        config = write_config(tmp_path, delivery={"transport": "sendgrid", "sendgrid_api_url": sendgrid.url})
        write_subscribers(tmp_path, TWO)
        store_edition(load_test_config(config))
        sendgrid.reject_next("The from address does not match a verified Sender Identity")
        env = cli_env(SENDGRID_API_KEY=api_key)
        result = run_digest(config, "-vv", "--debug", "send", "--yes", env=env)
        no_postal = write_config(tmp_path, postal_address=None, delivery={"transport": "sendgrid", "sendgrid_api_url": sendgrid.url})
        traceback = run_digest(no_postal, "-vv", "--debug", "send", "--yes", env=env)
    assert result.returncode == 1
    assert "SendGrid refused the request (400): The from address does not match a verified Sender Identity" in result.stderr
    assert traceback.returncode == 1 and "Traceback (most recent call last)" in traceback.stderr
    for output in (result.stdout, result.stderr, traceback.stdout, traceback.stderr):
        assert api_key not in output
        assert env["DIGEST_SECRET"] not in output


def test_a_refused_test_copy_is_an_error_naming_the_address_and_the_answer(tmp_path: Path) -> None:
    with SmtpServer() as server:
        config = smtp_setup(tmp_path, server)
        server.refuse("me@example.org", "550 5.1.1 no such user")
        result = invoke(config, "send", "--to", "me@example.org")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == "error: test send to me@example.org failed: RCPT TO: 550 5.1.1 no such user"
    assert status_json(config)["editions"] == []
