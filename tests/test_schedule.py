"""The daily schedule: run times across DST, the persistent job store, missed runs, the lock, signals.

In-process scheduler tests use the real APScheduler objects and SQLite job store, with the clock
moved by time-machine (APScheduler reads `datetime.now`); a test lets the scheduler look for due
jobs at that moment (`_process_jobs`) and then waits for the run to end (`shutdown(wait=True)`).
"""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from apscheduler.triggers.cron import CronTrigger

from digest.config import Config, load_config
from digest.deliver.sendgrid import SendGridTransport
from digest.ledger import Ledger
from digest.schedule import JOB_ID, DailySchedule, DailyTrigger, next_run_times, run_times_after
from tests.support.cli import StderrLines, invoke, start_digest, write_config, write_subscribers
from tests.support.suppressions_server import SendGridWithSuppressions

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")


def make_config(
    folder: Path,
    *,
    at: str = "07:00",
    timezone: str = "Europe/London",
    grace_minutes: int = 60,
    delivery: dict[str, Any] | None = None,
    subscribers: int = 2,
) -> Path:
    """A digest.toml in `folder` (outbox delivery unless `delivery` says otherwise) with the given [schedule]."""
    path = write_config(folder, newsletter={"timezone": timezone}, delivery=delivery)
    with path.open("a", encoding="utf-8") as toml:
        toml.write(f'\n[schedule]\ntime = "{at}"\nmisfire_grace_minutes = {grace_minutes}\n')
    write_subscribers(folder, [(f"reader{i}@example.org", f"Reader {i}") for i in range(1, subscribers + 1)])
    return path


@pytest.fixture
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGEST_SECRET", "test-secret-for-unsubscribe-links")


def iso(times: list[datetime]) -> list[str]:
    return [t.isoformat() for t in times]


# -- when runs happen ---------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("zone", "at", "after", "expected"),
    [
        # Europe/London springs forward at 01:00 GMT on 29 March 2026: 01:00-02:00 does not exist.
        (LONDON, time(7, 0), datetime(2026, 3, 27, 12, tzinfo=UTC),
         ["2026-03-28T07:00:00+00:00", "2026-03-29T07:00:00+01:00", "2026-03-30T07:00:00+01:00"]),
        (LONDON, time(1, 30), datetime(2026, 3, 27, 12, tzinfo=UTC),
         ["2026-03-28T01:30:00+00:00", "2026-03-29T02:30:00+01:00", "2026-03-30T01:30:00+01:00"]),
        # ... and falls back at 01:00 GMT on 25 October 2026: 01:00-02:00 happens twice.
        (LONDON, time(7, 0), datetime(2026, 10, 23, 12, tzinfo=UTC),
         ["2026-10-24T07:00:00+01:00", "2026-10-25T07:00:00+00:00", "2026-10-26T07:00:00+00:00"]),
        (LONDON, time(1, 30), datetime(2026, 10, 23, 12, tzinfo=UTC),
         ["2026-10-24T01:30:00+01:00", "2026-10-25T01:30:00+01:00", "2026-10-26T01:30:00+00:00"]),
        # America/New_York springs forward on 8 March 2026 at 02:00 and falls back on 1 November.
        (NEW_YORK, time(7, 0), datetime(2026, 3, 6, 17, tzinfo=UTC),
         ["2026-03-07T07:00:00-05:00", "2026-03-08T07:00:00-04:00", "2026-03-09T07:00:00-04:00"]),
        (NEW_YORK, time(1, 30), datetime(2026, 3, 6, 17, tzinfo=UTC),
         ["2026-03-07T01:30:00-05:00", "2026-03-08T01:30:00-05:00", "2026-03-09T01:30:00-04:00"]),
        (NEW_YORK, time(2, 30), datetime(2026, 3, 6, 17, tzinfo=UTC),
         ["2026-03-07T02:30:00-05:00", "2026-03-08T03:30:00-04:00", "2026-03-09T02:30:00-04:00"]),
        (NEW_YORK, time(7, 0), datetime(2026, 10, 30, 17, tzinfo=UTC),
         ["2026-10-31T07:00:00-04:00", "2026-11-01T07:00:00-05:00", "2026-11-02T07:00:00-05:00"]),
        (NEW_YORK, time(1, 30), datetime(2026, 10, 30, 17, tzinfo=UTC),
         ["2026-10-31T01:30:00-04:00", "2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"]),
    ],
)
def test_one_run_per_local_day_across_daylight_saving_changes(zone: ZoneInfo, at: time, after: datetime, expected: list[str]) -> None:
    assert iso(run_times_after(after, at, zone, 3)) == expected


def test_after_the_first_of_two_0130s_the_next_run_is_the_next_day() -> None:
    first = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 01:30 BST
    second = datetime(2026, 10, 25, 1, 15, tzinfo=UTC)  # 01:15 GMT, the hour's second pass
    assert iso(run_times_after(first, time(1, 30), LONDON, 1)) == ["2026-10-26T01:30:00+00:00"]
    assert iso(run_times_after(second, time(1, 30), LONDON, 1)) == ["2026-10-26T01:30:00+00:00"]


def test_daily_trigger_fires_once_where_a_cron_trigger_fires_twice() -> None:
    first_fire = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 01:30 BST
    just_after = datetime(2026, 10, 25, 0, 31, tzinfo=UTC)
    daily = DailyTrigger(time(1, 30), LONDON).get_next_fire_time(first_fire, just_after)
    cron = CronTrigger(hour=1, minute=30, timezone=LONDON).get_next_fire_time(first_fire, just_after)
    assert daily is not None and cron is not None
    assert daily.isoformat() == "2026-10-26T01:30:00+00:00"
    assert cron.astimezone(UTC).isoformat() == "2026-10-25T01:30:00+00:00"  # 01:30 GMT: why DailyTrigger exists


def test_daily_trigger_survives_the_job_store_pickle() -> None:
    trigger = DailyTrigger(time(1, 30), NEW_YORK)
    restored = pickle.loads(pickle.dumps(trigger))
    assert restored == trigger
    assert restored != DailyTrigger(time(1, 31), NEW_YORK)
    assert str(restored) == "daily 01:30 America/New_York"


def test_next_run_times_read_the_config(tmp_path: Path) -> None:
    config = load_config(make_config(tmp_path, at="01:30", timezone="America/New_York"))
    # 05:00 UTC on 1 November is 01:00 EDT: the day's run is the first 01:30, still on EDT.
    assert iso(next_run_times(config, datetime(2026, 11, 1, 5, 0, tzinfo=UTC), 2)) == [
        "2026-11-01T01:30:00-04:00",
        "2026-11-02T01:30:00-05:00",
    ]


def test_schedule_next_prints_n_lines_with_utc_offsets(tmp_path: Path) -> None:
    config = make_config(tmp_path, at="01:30")
    result = invoke(config, "schedule", "--next", "3", env={"DIGEST_NOW": "2026-03-28T12:00:00+00:00"})
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "2026-03-29T02:30:00+01:00",
        "2026-03-30T01:30:00+01:00",
        "2026-03-31T01:30:00+01:00",
    ]


def test_schedule_next_rejects_zero(tmp_path: Path) -> None:
    result = invoke(make_config(tmp_path), "schedule", "--next", "0")
    assert result.exit_code == 2


# -- the scheduler on its SQLite job store ------------------------------------------------------

def settle(config: Config, at: datetime) -> datetime:
    """Start a scheduler at `at` (a restart), let it run what is due, wait for that, stop it.

    Returns the job's next run time as stored afterwards.
    """
    with time_machine.travel(at, tick=False):
        daily = DailySchedule(config)
        daily.start()
        daily.scheduler._process_jobs()  # look for due jobs now, as the scheduler thread does at start
        stored = daily.scheduler.get_job(JOB_ID)
        daily.scheduler.shutdown(wait=True)  # waits for a run in progress
    assert stored is not None
    return stored.next_run_time


def runs(config: Config) -> list[tuple[str, str, str]]:
    with Ledger.open(config.state.dir) as ledger:
        rows = ledger._rows("SELECT edition, outcome, reason FROM runs ORDER BY id")
    return [(row["edition"], row["outcome"], row["reason"]) for row in rows]


def sent_editions(config: Config) -> list[str]:
    outbox = config.delivery.outbox_dir
    return sorted(p.name for p in outbox.iterdir()) if outbox.is_dir() else []


def test_a_run_missed_while_down_runs_once_at_start_within_the_grace(tmp_path: Path, secret: None) -> None:
    config = load_config(make_config(tmp_path, grace_minutes=60))
    assert settle(config, datetime(2026, 11, 26, 6, 0, tzinfo=UTC)).isoformat() == "2026-11-26T07:00:00+00:00"
    assert runs(config) == []
    # Down at 07:00; back at 07:40. replace_existing=True would have moved the job to tomorrow.
    assert settle(config, datetime(2026, 11, 26, 7, 40, tzinfo=UTC)).isoformat() == "2026-11-27T07:00:00+00:00"
    assert [(edition, outcome) for edition, outcome, _ in runs(config)] == [("2026-11-26", "sent")]
    assert sent_editions(config) == ["2026-11-26"]


def test_a_run_missed_past_the_grace_is_skipped_and_shown_by_status(tmp_path: Path, secret: None) -> None:
    path = make_config(tmp_path, grace_minutes=60)
    config = load_config(path)
    settle(config, datetime(2026, 11, 26, 6, 0, tzinfo=UTC))
    assert settle(config, datetime(2026, 11, 26, 9, 30, tzinfo=UTC)).isoformat() == "2026-11-27T07:00:00+00:00"
    assert sent_editions(config) == []
    status = invoke(path, "status", "--format", "json", env={"DIGEST_NOW": "2026-11-26T09:31:00+00:00"})
    last_run = json.loads(status.stdout)["last_run"]
    assert (last_run["edition"], last_run["outcome"]) == ("2026-11-26", "skipped")
    assert last_run["reason"].startswith("missed: the run scheduled for 2026-11-26T07:00:00+00:00 was found 150 min late")


def test_a_late_run_builds_the_edition_of_the_day_it_was_scheduled_for(tmp_path: Path, secret: None) -> None:
    config = load_config(make_config(tmp_path, at="23:30", grace_minutes=120))
    settle(config, datetime(2026, 11, 26, 22, 0, tzinfo=UTC))
    settle(config, datetime(2026, 11, 27, 0, 20, tzinfo=UTC))  # after midnight: 27 November
    assert sent_editions(config) == ["2026-11-26"]


def test_the_autumn_night_at_0130_sends_one_edition(tmp_path: Path, secret: None) -> None:
    config = load_config(make_config(tmp_path, at="01:30", grace_minutes=30))
    assert settle(config, datetime(2026, 10, 25, 0, 0, tzinfo=UTC)).isoformat() == "2026-10-25T01:30:00+01:00"
    # 01:35 BST: the first 01:30 has passed; the job moves to tomorrow.
    assert settle(config, datetime(2026, 10, 25, 0, 35, tzinfo=UTC)).isoformat() == "2026-10-26T01:30:00+00:00"
    # 01:35 GMT, an hour later: 01:30 came round again on the wall clock, but nothing is due.
    assert settle(config, datetime(2026, 10, 25, 1, 35, tzinfo=UTC)).isoformat() == "2026-10-26T01:30:00+00:00"
    assert [(edition, outcome) for edition, outcome, _ in runs(config)] == [("2026-10-25", "sent")]
    assert sent_editions(config) == ["2026-10-25"]


def test_a_changed_time_takes_effect_at_the_next_start(tmp_path: Path) -> None:
    folder = tmp_path
    config = load_config(make_config(folder, at="07:00"))
    settle(config, datetime(2026, 11, 26, 6, 0, tzinfo=UTC))
    changed = load_config(make_config(folder, at="06:15"))
    assert settle(changed, datetime(2026, 11, 26, 6, 5, tzinfo=UTC)).isoformat() == "2026-11-26T06:15:00+00:00"


@pytest.fixture
def sendgrid() -> Iterator[SendGridWithSuppressions]:
    with SendGridWithSuppressions() as server, server.suppressions:
        yield server


def test_stopping_the_scheduler_mid_send_lets_the_batches_in_flight_finish(
    tmp_path: Path, secret: None, sendgrid: SendGridWithSuppressions, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SENDGRID_API_KEY", sendgrid.api_key)
    delivery = {"transport": "sendgrid", "sendgrid_api_url": sendgrid.url, "batch_size": 2}
    config = load_config(make_config(tmp_path, subscribers=8, delivery=delivery))
    settle(config, datetime(2026, 11, 26, 6, 0, tzinfo=UTC))
    in_flight = SendGridTransport.concurrency
    release = sendgrid.hold_next(count=in_flight)  # the batches the transport sends at once
    with time_machine.travel(datetime(2026, 11, 26, 7, 0, 5, tzinfo=UTC), tick=False):
        daily = DailySchedule(config)
        daily.start()
        daily.scheduler._process_jobs()
        sendgrid.wait_for_held(in_flight)
        stopping = threading.Thread(target=daily.shutdown)  # what SIGTERM does in `digest schedule`
        stopping.start()
        assert daily.stop.wait(10)
        release.set()
        stopping.join(30)
    assert not stopping.is_alive()
    [(edition, outcome, reason)] = runs(config)
    assert (edition, outcome) == ("2026-11-26", "partial")
    sent = 2 * in_flight
    assert reason.startswith(f"edition 2026-11-26 via sendgrid: sent {sent}, pending {8 - sent}, failed 0, unknown 0 of 8")
    assert len(sendgrid.accepted_recipients) == sent


def test_a_changed_grace_keeps_the_stored_run(tmp_path: Path, secret: None) -> None:
    settle(load_config(make_config(tmp_path, grace_minutes=60)), datetime(2026, 11, 26, 6, 0, tzinfo=UTC))
    config = load_config(make_config(tmp_path, grace_minutes=120))
    settle(config, datetime(2026, 11, 26, 8, 30, tzinfo=UTC))  # 90 minutes late: within the new grace
    assert sent_editions(config) == ["2026-11-26"]


# -- real `digest schedule` processes -----------------------------------------------------------

@pytest.fixture
def scheduler_process(tmp_path: Path) -> Iterator[tuple[Path, subprocess.Popen[str], StderrLines]]:
    config = make_config(tmp_path)
    env = {"DIGEST_SECRET": "test-secret-for-unsubscribe-links"}
    process = start_digest(config, "schedule", env=env, stdout=subprocess.DEVNULL)
    lines = StderrLines(process)
    try:
        yield config, process, lines
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)
        lines.close()


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_second_scheduler_on_the_same_state_exits_1_and_a_signal_stops_the_first(
    scheduler_process: tuple[Path, subprocess.Popen[str], StderrLines], stop_signal: signal.Signals
) -> None:
    config, first, lines = scheduler_process
    lines.wait_for("schedule started")
    second = start_digest(config, "schedule", env={})
    _, err = second.communicate(timeout=30)
    assert second.returncode == 1
    assert err.strip().splitlines()[-1] == f"error: already running (pid {first.pid})"
    first.send_signal(stop_signal)
    assert first.wait(timeout=30) == 0
    lines.wait_for("schedule stopped")
    assert not os.path.exists(Path(config).parent / "state" / "schedule.lock.pid")


def test_a_real_scheduler_runs_a_run_missed_minutes_ago_at_start(tmp_path: Path, secret: None) -> None:
    now = datetime.now(UTC)
    due = (now - timedelta(minutes=10)).astimezone(LONDON)
    path = make_config(tmp_path, at=f"{due:%H:%M}", grace_minutes=60)
    settle(load_config(path), now - timedelta(minutes=30))  # the job stored before the "downtime"
    process = start_digest(path, "schedule", env={"DIGEST_SECRET": "test-secret-for-unsubscribe-links"},
                           stdout=subprocess.DEVNULL)
    lines = StderrLines(process)
    try:
        lines.wait_for("was missed while the schedule was not running")
        finished = lines.wait_for("finished: sent:")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)
        lines.close()
    assert f"run scheduled for {due.replace(second=0, microsecond=0).isoformat()}" in finished
    assert sent_editions(load_config(path)) == [due.date().isoformat()]
