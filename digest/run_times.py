"""When the daily runs happen: one per local calendar day at [schedule] time (pure, no APScheduler).

On the spring-forward day a time that does not exist moves forward by the gap (01:30 -> 02:30 in
Europe/London); on the autumn day a time that happens twice runs once, at its first occurrence.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from digest.config import Config


def run_time_on(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The run time on local `day`: `at` with fold=0, a time in the spring gap moved forward by the gap."""
    # fold=0 maps a time in a gap with the offset from before the change, so the round trip
    # through UTC lands after the gap by exactly its length, and picks the first of two times.
    wall = datetime.combine(day, at, tzinfo=zone).replace(fold=0)
    return wall.astimezone(UTC).astimezone(zone)


def run_times_after(after: datetime, at: time, zone: ZoneInfo, count: int) -> list[datetime]:
    """The next `count` run times strictly after `after`, one per local day, aware in `zone`."""
    if after.tzinfo is None:
        raise ValueError("after must be an aware datetime")
    after = after.astimezone(UTC)  # same-zone comparisons ignore fold: compare in UTC
    times: list[datetime] = []
    # Step local dates, not datetimes: timedelta arithmetic on aware local times resets fold.
    day = after.astimezone(zone).date() - timedelta(days=1)
    while len(times) < count:
        candidate = run_time_on(day, at, zone)
        if candidate.astimezone(UTC) > after:
            times.append(candidate)
        day += timedelta(days=1)
    return times


def next_run_times(config: Config, after: datetime, count: int) -> list[datetime]:
    """The next `count` scheduled run times after `after`, aware in newsletter.timezone."""
    return run_times_after(after, config.schedule.local_time, config.newsletter.zone, count)
