"""The daily schedule: when runs happen (pure) and the APScheduler wiring that fires them.

One run per local calendar day at `[schedule] time` in `newsletter.timezone`. On the
spring-forward day a time that does not exist moves forward by the gap (01:30 -> 02:30 in
Europe/London); on the autumn day a time that happens twice runs once, at its first occurrence.
APScheduler's CronTrigger fires such a time twice on the autumn night, hence `DailyTrigger`.

The job lives in a SQLite job store in the state dir, so a run that falls due while the process
is down is found at the next start: within `misfire_grace_minutes` it runs once at start (for the
day it was scheduled for), later it is skipped and recorded as such in the ledger.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import traceback
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MISSED,
    JobExecutionEvent,
    SchedulerEvent,
)
from apscheduler.executors.base import BaseExecutor
from apscheduler.job import Job
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger

from digest.config import Config, load_config
from digest.editions import edition_id_for
from digest.errors import DigestError, StateError
from digest.ledger import Ledger
from digest.run_times import next_run_times as next_run_times  # the pure rules: `digest status` needs no APScheduler
from digest.run_times import run_time_on as run_time_on
from digest.run_times import run_times_after

log = logging.getLogger(__name__)

JOB_ID = "daily-digest"
JOB_STORE_FILE = "jobs.sqlite3"


class DailyTrigger(BaseTrigger):  # type: ignore[misc]  # APScheduler 3 has no type hints
    """Fires once per local calendar day at a wall-clock time, by the rules of `run_times_after`.

    Stored pickled in the job store; two triggers are equal when they fire at the same times.
    """

    __slots__ = ("at", "zone")

    def __init__(self, at: time, zone: ZoneInfo) -> None:
        self.at = at
        self.zone = zone

    @classmethod
    def for_config(cls, config: Config) -> DailyTrigger:
        return cls(config.schedule.local_time, config.newsletter.zone)

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime | None:
        if previous_fire_time is not None:
            return run_times_after(previous_fire_time, self.at, self.zone, 1)[0]
        return self.first_fire_time(now)

    def first_fire_time(self, now: datetime) -> datetime:
        """The first fire time at or after `now`."""
        return run_times_after(now.astimezone(UTC) - timedelta(microseconds=1), self.at, self.zone, 1)[0]

    @property
    def fingerprint(self) -> str:
        return f"daily {self.at:%H:%M} {self.zone.key}"

    def __getstate__(self) -> dict[str, Any]:
        return {"version": 1, "at": self.at.strftime("%H:%M"), "zone": self.zone.key}

    def __setstate__(self, state: dict[str, Any]) -> None:
        if state.get("version") != 1:
            raise ValueError(f"cannot restore a DailyTrigger of state version {state.get('version')}")
        hour, minute = state["at"].split(":")
        self.at = time(int(hour), int(minute))
        self.zone = ZoneInfo(state["zone"])

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DailyTrigger) and other.fingerprint == self.fingerprint

    def __hash__(self) -> int:
        return hash(self.fingerprint)

    def __str__(self) -> str:
        return self.fingerprint

    def __repr__(self) -> str:
        return f"<DailyTrigger {self.fingerprint}>"


def scheduled_run(
    config_path: str | None, *, scheduled_for: datetime | None = None, stop: threading.Event | None = None
) -> str:
    """The scheduled job: reload the config (edits take effect at the next run) and run once.

    `RunExecutor` passes the time the run was scheduled for and the stop event. Returns the
    run's outcome; raises DigestError when the run failed (it is recorded first).
    """
    from digest.run import run_once  # the pipeline loads when a run fires, not for `digest status`

    config = load_config(Path(config_path) if config_path else None)
    result = run_once(config, scheduled_for=scheduled_for, now=datetime.now(UTC), stop=stop)
    return f"{result.outcome}: {result.reason}"


class RunExecutor(BaseExecutor):  # type: ignore[misc]  # APScheduler 3 has no type hints
    """Runs the daily job in a worker thread, handing it the time it was scheduled for and the stop event.

    APScheduler's own executors call the job with its stored arguments only, so a late run could
    not tell which day it belongs to.
    """

    def __init__(self, stop: threading.Event) -> None:
        super().__init__()
        self.stop = stop
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="digest-run")

    def _do_submit_job(self, job: Job, run_times: list[datetime]) -> None:
        self._pool.submit(self._run, job, run_times)

    def _run(self, job: Job, run_times: list[datetime]) -> None:
        events: list[JobExecutionEvent] = []
        alias = job._jobstore_alias
        try:
            for run_time in run_times:
                late = datetime.now(UTC) - run_time
                if job.misfire_grace_time is not None and late > timedelta(seconds=job.misfire_grace_time):
                    events.append(JobExecutionEvent(EVENT_JOB_MISSED, job.id, alias, run_time))
                    continue
                if self.stop.is_set():
                    log.warning("not starting the run scheduled for %s: shutting down", run_time.isoformat())
                    continue
                try:
                    retval = job.func(*job.args, scheduled_for=run_time, stop=self.stop, **job.kwargs)
                except Exception as exc:
                    formatted = "".join(traceback.format_tb(exc.__traceback__))
                    events.append(JobExecutionEvent(EVENT_JOB_ERROR, job.id, alias, run_time, exception=exc, traceback=formatted))
                else:
                    events.append(JobExecutionEvent(EVENT_JOB_EXECUTED, job.id, alias, run_time, retval=retval))
        finally:
            self._run_job_success(job.id, events)  # also frees the job's instance slot

    def shutdown(self, wait: bool = True) -> None:
        self._pool.shutdown(wait)


class DailySchedule:
    """The scheduler of one state dir: a persistent job store, one daily job, one run at a time.

    `start()` returns at once (the scheduler works in a background thread); `shutdown()` stops
    taking new runs and waits for a running one, which sees `stop` set and ends after its batch.
    """

    def __init__(self, config: Config, *, stop: threading.Event | None = None) -> None:
        self.config = config
        self.stop = stop or threading.Event()
        self.job_store_path = config.state.dir / JOB_STORE_FILE
        try:
            config.state.dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StateError(f"{config.state.dir}: cannot create state dir: {exc.strerror}") from exc
        # Imported here: SQLAlchemy takes a third of a second to import, which every other command would pay.
        from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

        self.scheduler = BackgroundScheduler(
            jobstores={"default": SQLAlchemyJobStore(url=f"sqlite:///{self.job_store_path}")},
            executors={"default": RunExecutor(self.stop)},
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": self.grace_seconds,
            },
            timezone=config.newsletter.zone,
        )
        self.scheduler.add_listener(self._on_job_event, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED)

    @property
    def grace_seconds(self) -> int:
        return self.config.schedule.misfire_grace_minutes * 60

    @property
    def job_args(self) -> tuple[str | None]:
        return (str(self.config.path) if self.config.path else None,)

    def start(self) -> datetime:
        """Open the job store, add or update the daily job, and start; returns the job's next run time.

        Raises StateError when the job store cannot be used.
        """
        from sqlalchemy.exc import SQLAlchemyError

        try:
            self.scheduler.start(paused=True)
            next_run = self._ensure_job(datetime.now(UTC))
            self.scheduler.resume()
        except SQLAlchemyError as exc:
            self.shutdown()
            raise StateError(f"{self.job_store_path}: job store error: {exc} (is the state dir writable?)") from exc
        except BaseException:
            self.shutdown()
            raise
        return next_run

    def _ensure_job(self, now: datetime) -> datetime:
        """Add the job when missing or changed, keeping a stored next run time that is still valid.

        Never `replace_existing=True` with a recomputed time: that silently drops a run missed
        while the process was down.
        """
        trigger = DailyTrigger.for_config(self.config)
        job = self.scheduler.get_job(JOB_ID)
        stored: datetime | None = job.next_run_time if job is not None else None
        if job is None:
            log.info("scheduling the daily run at %s", trigger)
        elif job.trigger != trigger:
            log.info("schedule changed from %s to %s", job.trigger, trigger)
            stored = None
        elif stored is not None and (job.func, job.args, job.misfire_grace_time) == (scheduled_run, self.job_args, self.grace_seconds):
            return stored
        next_run = stored or trigger.first_fire_time(now)
        self.scheduler.add_job(
            scheduled_run,
            trigger=trigger,
            id=JOB_ID,
            name="daily digest",
            args=self.job_args,
            misfire_grace_time=self.grace_seconds,
            next_run_time=next_run,
            replace_existing=job is not None,
        )
        return next_run

    def shutdown(self) -> None:
        """Stop taking new runs and wait until a running one has finished its current batch."""
        self.stop.set()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)

    def _on_job_event(self, event: SchedulerEvent) -> None:
        assert isinstance(event, JobExecutionEvent)
        scheduled_for = event.scheduled_run_time
        if event.code == EVENT_JOB_MISSED:
            self._record_missed(scheduled_for)
        elif event.code == EVENT_JOB_ERROR:
            if isinstance(event.exception, DigestError):
                log.error("run scheduled for %s failed: %s", scheduled_for.isoformat(), event.exception)
            else:
                log.error("run scheduled for %s crashed: %r\n%s", scheduled_for.isoformat(), event.exception, event.traceback)
        elif event.code == EVENT_JOB_EXECUTED:
            log.info("run scheduled for %s finished: %s", scheduled_for.isoformat(), event.retval)
        if not self.stop.is_set():
            # From the trigger, not the job store: the store's lock may be held by a shutdown waiting for us.
            next_run = run_times_after(scheduled_for, self.config.schedule.local_time, self.config.newsletter.zone, 1)[0]
            log.info("next run at %s", next_run.isoformat())

    def _record_missed(self, scheduled_for: datetime) -> None:
        now = datetime.now(UTC)
        late_minutes = int((now - scheduled_for).total_seconds() // 60)
        edition = edition_id_for(scheduled_for, self.config.newsletter.timezone)
        reason = (
            f"missed: the run scheduled for {scheduled_for.isoformat()} was found {late_minutes} min late, "
            f"past misfire_grace_minutes = {self.config.schedule.misfire_grace_minutes}"
        )
        log.warning("skipping edition %s: %s", edition, reason)
        try:
            with Ledger.open(self.config.state.dir) as ledger:
                ledger.record_run(now, edition, "skipped", reason)
        except StateError as exc:
            log.error("cannot record the missed run: %s", exc)
