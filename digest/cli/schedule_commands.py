"""`digest run` (build today's edition and send it, once) and `digest schedule` (do that every day)."""

from __future__ import annotations

import logging
import os
import threading
from datetime import UTC, datetime

import click

from digest.cli import AppContext, cli, pass_app, stop_on_signals
from digest.locks import schedule_lock

log = logging.getLogger("digest.cli")


@cli.command("run")
@pass_app
def run_command(app: AppContext) -> None:
    """Build today's edition and send it, once: what the schedule runs.

    Running it again the same day sends nothing new and says so. Skips the send (exit 0) when the
    content equals the last sent edition's ([schedule] skip_if_unchanged). SIGTERM or Ctrl-C lets
    the batch in flight finish, then exits 3 when recipients are left (`digest send` sends to the rest).
    Exit codes: 0 sent or skipped, 1 error (e.g. no source could be fetched, another send is
    running), 3 sent but some recipients were not (`digest status` says which).
    """
    from digest.run import run_once  # the whole pipeline loads only when a run starts

    config = app.config
    stop = threading.Event()
    with stop_on_signals(stop, "a running send ends after its current batch, then digest run exits"):
        result = run_once(config, scheduled_for=None, now=app.now(), stop=stop)
    click.echo(f"{result.outcome}: {result.reason}")
    if result.exit_code:
        raise click.exceptions.Exit(result.exit_code)


@cli.command("schedule")
@click.option("--next", "count", type=click.IntRange(min=1), default=None, metavar="N",
              help="Print the next N run times (ISO 8601 with UTC offset) and exit.")
@pass_app
def schedule_command(app: AppContext, count: int | None) -> None:
    """Run the daily schedule in the foreground: `digest run` every day at [schedule] time.

    The time is local to [newsletter] timezone, once per calendar day: on the spring-forward day a
    time that does not exist moves forward by the gap (01:30 -> 02:30), on the autumn day a time
    that happens twice runs at its first occurrence. A run missed while this was not running
    happens at start when within [schedule] misfire_grace_minutes; later, that day is skipped and
    `digest status` shows it. SIGTERM or Ctrl-C: no new runs; a running send finishes its current
    batch; exit 0. A second `digest schedule` on the same state dir exits 1.
    """
    from digest.schedule import DailySchedule, next_run_times

    config = app.config
    if count is not None:
        for moment in next_run_times(config, app.now(), count):
            click.echo(moment.isoformat())
        return
    with schedule_lock(config.state.dir):
        daily = DailySchedule(config)
        with stop_on_signals(daily.stop, "taking no new runs; a running send ends after its current batch"):
            next_run = daily.start()
            log.info(
                "schedule started (pid %d): daily at %s %s, state in %s; next run at %s",
                os.getpid(), config.schedule.time, config.newsletter.timezone, config.state.dir, next_run.isoformat(),
            )
            if next_run <= datetime.now(UTC):
                log.warning(
                    "the run scheduled for %s was missed while the schedule was not running: it runs now if that is "
                    "within misfire_grace_minutes (%d), else that day is skipped",
                    next_run.isoformat(), config.schedule.misfire_grace_minutes,
                )
            daily.stop.wait()
            daily.shutdown()
    log.info("schedule stopped")
