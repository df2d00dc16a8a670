"""`digest run`: one edition per day, the guards before sending, alerts, housekeeping, and SIGTERM mid-send."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from digest.config import load_config
from digest.deliver.sendgrid import SendGridTransport
from digest.ledger import Ledger
from tests.support.cli import SAMPLE_PAGE, SECRET, StderrLines, invoke, start_digest, write_config, write_subscribers
from tests.support.sendgrid_server import SendGridServer
from tests.support.smtp import SmtpServer
from tests.support.suppressions_server import SendGridWithSuppressions

DAY_1 = "2026-11-26T08:00:00+00:00"
DAY_2 = "2026-11-27T08:00:00+00:00"


def make_config(
    folder: Path,
    *,
    source: Path = SAMPLE_PAGE,
    schedule: str = "",
    keep_days: int | None = None,
    newsletter: dict[str, Any] | None = None,
    delivery: dict[str, Any] | None = None,
    subscribers: int = 2,
) -> Path:
    path = write_config(folder, source=source, newsletter=newsletter, delivery=delivery)
    with path.open("a", encoding="utf-8") as toml:
        if keep_days is not None:
            toml.write(f"keep_days = {keep_days}\n")  # [state] is the file's last table
        if schedule:
            toml.write(f"\n[schedule]\n{schedule}\n")
    write_subscribers(folder, [(f"reader{i}@example.org", f"Reader {i}") for i in range(1, subscribers + 1)])
    return path


def env_at(now: str, **extra: str) -> dict[str, str]:
    return {"DIGEST_NOW": now, "DIGEST_SECRET": SECRET, **extra}


def status(config: Path, now: str = DAY_2) -> dict[str, Any]:
    result = invoke(config, "status", "--format", "json", env=env_at(now))
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def outbox_files(config: Path, edition: str) -> list[str]:
    folder = config.parent / "outbox" / edition
    return sorted(p.name for p in folder.glob("*.eml")) if folder.is_dir() else []


def test_run_twice_in_one_day_sends_once(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    first = invoke(config, "run", env=env_at(DAY_1))
    assert first.exit_code == 0, first.output
    assert first.stdout.startswith("sent: edition 2026-11-26 via outbox: sent 2,")
    files = outbox_files(config, "2026-11-26")
    assert files == ["reader1_at_example.org.eml", "reader2_at_example.org.eml"]
    stamps = [(tmp_path / "outbox" / "2026-11-26" / name).stat().st_mtime_ns for name in files]

    second = invoke(config, "run", env=env_at("2026-11-26T21:00:00+00:00"))
    assert second.exit_code == 0, second.output
    assert second.stdout == "skipped: edition 2026-11-26 already sent to 2 subscribers; nothing new sent\n"
    assert [(tmp_path / "outbox" / "2026-11-26" / name).stat().st_mtime_ns for name in files] == stamps
    report = status(config, "2026-11-26T21:00:00+00:00")
    assert report["editions"] == [{"edition": "2026-11-26", "subscribers": 2, "sent": 2, "pending": 0, "failed": 0, "unknown": 0}]
    assert report["last_run"]["outcome"] == "skipped"


def test_no_source_fetched_skips_exits_1_alerts_and_status_says_why(tmp_path: Path) -> None:
    config = make_config(tmp_path, source=tmp_path / "gone.html", newsletter={"alert_email": "ops@example.org"})
    result = invoke(config, "run", env=env_at(DAY_1))
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines()[-1] == f"error: no source could be fetched: {tmp_path / 'gone.html'}: file not found"
    assert not (tmp_path / "state" / "editions" / "2026-11-26").exists()
    assert outbox_files(config, "2026-11-26") == []
    last_run = status(config, DAY_1)["last_run"]
    assert (last_run["edition"], last_run["outcome"]) == ("2026-11-26", "skipped")
    assert last_run["reason"].startswith("no source could be fetched")
    alert = (tmp_path / "outbox" / "alerts" / "ops_at_example.org.eml").read_text(encoding="utf-8")
    assert "Subject: The Transatlantic Brief: the run for edition 2026-11-26 did not send" in alert


def test_a_source_failing_two_runs_in_a_row_is_flagged(tmp_path: Path) -> None:
    config = make_config(tmp_path, source=tmp_path / "gone.html")
    invoke(config, "run", env=env_at(DAY_1))
    assert status(config, DAY_1)["failing_sources"] == []
    invoke(config, "run", env=env_at(DAY_2))
    assert status(config)["failing_sources"] == [
        {"url": str(tmp_path / "gone.html"), "since": "2026-11-26", "runs": 2, "reason": "file not found"}
    ]


def test_unchanged_content_is_not_sent_again(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    assert invoke(config, "run", env=env_at(DAY_1)).exit_code == 0
    result = invoke(config, "run", env=env_at(DAY_2))
    assert result.exit_code == 0, result.output
    assert result.stdout == "skipped: content unchanged since edition 2026-11-26\n"
    assert outbox_files(config, "2026-11-27") == []
    last_run = status(config)["last_run"]
    assert (last_run["edition"], last_run["outcome"], last_run["reason"]) == (
        "2026-11-27", "skipped", "content unchanged since edition 2026-11-26",
    )


def test_unchanged_content_is_sent_when_skip_if_unchanged_is_off(tmp_path: Path) -> None:
    config = make_config(tmp_path, schedule="skip_if_unchanged = false")
    assert invoke(config, "run", env=env_at(DAY_1)).exit_code == 0
    assert invoke(config, "run", env=env_at(DAY_2)).exit_code == 0
    assert len(outbox_files(config, "2026-11-27")) == 2


def test_housekeeping_removes_old_editions_and_outbox_folders_but_keeps_the_counts(tmp_path: Path) -> None:
    config = make_config(tmp_path, keep_days=30, schedule="skip_if_unchanged = false")
    assert invoke(config, "run", env=env_at("2026-10-01T08:00:00+00:00")).exit_code == 0
    (tmp_path / "outbox" / "notes").mkdir()  # not an edition's folder: left alone
    assert invoke(config, "run", env=env_at("2026-10-31T08:00:00+00:00")).exit_code == 0
    assert (tmp_path / "state" / "editions" / "2026-10-01").is_dir()  # exactly 30 days: kept
    assert invoke(config, "run", env=env_at(DAY_1)).exit_code == 0
    assert sorted(p.name for p in (tmp_path / "state" / "editions").iterdir()) == ["2026-10-31", "2026-11-26"]
    assert sorted(p.name for p in (tmp_path / "outbox").iterdir()) == ["2026-10-31", "2026-11-26", "notes"]
    editions = {e["edition"]: e["sent"] for e in status(config, DAY_1)["editions"]}
    assert editions == {"2026-10-01": 2, "2026-10-31": 2, "2026-11-26": 2}


# -- a real `digest run` process against the SendGrid stand-in ----------------------------------

@pytest.fixture
def sendgrid() -> Iterator[SendGridWithSuppressions]:
    with SendGridWithSuppressions() as server, server.suppressions:  # the latter only to close its socket
        yield server


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_during_a_send_finishes_the_batches_in_flight_and_exits_3(
    tmp_path: Path, sendgrid: SendGridWithSuppressions, stop_signal: signal.Signals
) -> None:
    config = make_config(
        tmp_path,
        subscribers=9,
        delivery={"transport": "sendgrid", "sendgrid_api_url": sendgrid.url, "batch_size": 2},
    )
    sendgrid.suppressions.records["/v3/suppression/unsubscribes"] = [{"created": 1767225600, "email": "reader7@example.org"}]
    env = env_at(DAY_1, SENDGRID_API_KEY=sendgrid.api_key)
    in_flight = SendGridTransport.concurrency  # the batches the transport sends at once: all held
    release = sendgrid.hold_next(count=in_flight)
    process = start_digest(config, "run", env=env)
    stderr, stdout = StderrLines(process), StderrLines(process, process.stdout)
    try:
        sendgrid.wait_for_held(in_flight)
        other = start_digest(config, "run", env=env)
        _, other_err = other.communicate(timeout=30)
        assert other.returncode == 1
        assert other_err.strip().splitlines()[-1] == f"error: another send is running (pid {process.pid})"

        process.send_signal(stop_signal)
        stderr.wait_for(f"{stop_signal.name}: ")  # the stop is taken: now let the batches in flight finish
        release.set()
        process.wait(timeout=30)
    finally:
        release.set()
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
        out = stdout.text()
        stdout.close()
        stderr.close()
    assert process.returncode == 3, out  # recipients are left: the contract's "partial" exit code
    sent = 2 * in_flight
    assert out.startswith(f"partial: edition 2026-11-26 via sendgrid: sent {sent}, pending {8 - sent}, failed 0, unknown 0 of 8; stopped")

    # reader7 unsubscribed at SendGrid: synced first, so never mailed. Nobody was mailed twice.
    assert sorted(sendgrid.accepted_recipients) == [f"reader{i}@example.org" for i in range(1, sent + 1)]
    with Ledger.open(load_config(config).state.dir) as ledger:
        counts = ledger.counts("2026-11-26")
    assert counts["sent"] + counts["pending"] + counts["failed"] + counts["unknown"] == counts["subscribers"]
    assert "reader7@example.org,Reader 7,unsubscribed" in (tmp_path / "subscribers.csv").read_text(encoding="utf-8")
    rest = invoke(config, "send", "--yes", env=env)
    assert rest.exit_code == 0, rest.output
    assert sorted(sendgrid.accepted_recipients) == sorted(f"reader{i}@example.org" for i in (1, 2, 3, 4, 5, 6, 8, 9))


def test_run_help_names_the_exit_codes(tmp_path: Path) -> None:
    result = invoke(make_config(tmp_path), "run", "--help")
    assert result.exit_code == 0
    help_text = " ".join(result.stdout.split())
    assert "3 sent but some recipients were not" in help_text
    assert "then exits 3 when recipients are left" in help_text



def test_a_failed_run_alerts_over_smtp(tmp_path: Path) -> None:
    with SmtpServer() as server:
        config = make_config(
            tmp_path, source=tmp_path / "gone.html", newsletter={"alert_email": "ops@example.org"},
            delivery={"transport": "smtp", "smtp_host": "127.0.0.1", "smtp_port": server.port, "smtp_security": "none"},
        )
        result = invoke(config, "run", env=env_at(DAY_1))
    assert result.exit_code == 1
    [alert] = server.messages
    assert alert.rcpt_tos == ("ops@example.org",)
    assert alert.message["Subject"] == "The Transatlantic Brief: the run for edition 2026-11-26 did not send"
    assert "no source could be fetched" in alert.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert alert.message["Date"].endswith(" +0000")  # an aware UTC time, not a naive local one


def test_a_failed_run_alerts_over_sendgrid(tmp_path: Path, sendgrid_server: SendGridServer) -> None:
    config = make_config(
        tmp_path, source=tmp_path / "gone.html", newsletter={"alert_email": "ops@example.org"},
        delivery={"transport": "sendgrid", "sendgrid_api_url": sendgrid_server.url},
    )
    result = invoke(config, "run", env=env_at(DAY_1, SENDGRID_API_KEY=sendgrid_server.api_key))
    assert result.exit_code == 1
    assert sendgrid_server.accepted_recipients == ["ops@example.org"]
    [request] = sendgrid_server.accepted
    assert request.body["subject"] == "The Transatlantic Brief: the run for edition 2026-11-26 did not send"
    assert "no source could be fetched" in request.body["content"][0]["value"]
