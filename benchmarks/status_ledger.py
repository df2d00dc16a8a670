"""`digest status` over a ledger of a million deliveries in 30 editions, beside an empty ledger.

The ledger is made by digest itself (Ledger.open: schema and migrations), then filled with SQL:
30 daily editions of 33,334 recipients each, mostly sent, some failed, unknown and pending, and a
run a day. `digest status` (the table, which also lists who was not sent) and `--format json` run
in processes of their own; the figure is the slower of the two, each the best of three. The
baseline is `digest status` with a ledger holding nothing, in the same run.

    python benchmarks/status_ledger.py [--smoke]
"""

from __future__ import annotations

import sqlite3
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from harness import Row, best_of, floors, main_for, run_measured
from workloads import write_config

from digest.ledger import Ledger, ledger_path

FIRST_EDITION = date(2026, 10, 28)


def fill(state: Path, editions: int, per_edition: int) -> None:
    """`editions` daily editions of `per_edition` rows: 90% sent, 5% failed, 3% unknown, 2% pending."""
    now = datetime(2026, 11, 26, 7, tzinfo=UTC)
    with Ledger.open(state) as ledger:
        for day in range(editions):
            ledger.record_run(now - timedelta(days=editions - day), (FIRST_EDITION + timedelta(days=day)).isoformat(), "sent")
    db = sqlite3.connect(ledger_path(state))
    with db:
        for day in range(editions):
            db.execute(
                """WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?)
                   INSERT INTO deliveries (edition, email, status, batch, provider_id, reason, attempts, updated_at)
                   SELECT ?, printf('reader%07d@example.com', i),
                          CASE WHEN i % 100 < 90 THEN 'sent' WHEN i % 100 < 95 THEN 'failed'
                               WHEN i % 100 < 98 THEN 'unknown' ELSE 'pending' END,
                          'batch-' || (i / 1000), 'msg-' || (i / 1000),
                          CASE WHEN i % 100 >= 90 AND i % 100 < 95 THEN '451 4.3.0 try again later' END,
                          1, '2026-11-26T07:00:00+00:00'
                   FROM n""",
                (per_edition, (FIRST_EDITION + timedelta(days=day)).isoformat()),
            )
    db.close()


def status_seconds(home: Path, config: Path, *formats: str) -> float:
    """The slowest of `digest status --format F` for each format, each the best of three."""

    def once(fmt: str) -> float:
        command = [sys.executable, "-m", "digest", "--config", str(config), "status", "--format", fmt]
        return run_measured(command, cwd=home, env={"DIGEST_NOW": "2026-11-26T08:00:00+00:00"}).seconds

    return max(best_of(3, lambda fmt=fmt: once(fmt)) for fmt in formats)


def run(smoke: bool) -> list[Row]:
    target = floors("status", smoke)
    editions, rows, max_seconds = int(target["editions"]), int(target["rows"]), float(target["max_seconds"])
    with tempfile.TemporaryDirectory(prefix="digest-bench-status-") as tmp:
        empty, full = Path(tmp) / "empty", Path(tmp) / "full"
        for home in (empty, full):
            home.mkdir()
            write_config(home, delivery={"transport": "outbox"})
        Ledger.open(empty / "state").close()
        started = time.perf_counter()
        fill(full / "state", editions, -(-rows // editions))
        print(f"status: ledger of {rows:,} rows made in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        baseline = status_seconds(empty, empty / "digest.toml", "table")
        ours = status_seconds(full, full / "digest.toml", "table", "json")
    return [
        Row("digest status", f"ledger of {rows:,} deliveries in {editions} editions", ours, baseline, ours / baseline,
            f"< {max_seconds:g} s", ours < max_seconds, "s", "an empty ledger"),
    ]


if __name__ == "__main__":
    raise SystemExit(main_for(run))
