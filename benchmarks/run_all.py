"""`make bench`: every benchmark, one table, written as JSON to build/bench.json.

    python benchmarks/run_all.py [--smoke] [--only NAME ...] [--json PATH]

Each row: name, workload, ours, baseline (measured in the same run), ratio, target, pass (a
boolean), unit and what the baseline is. A benchmark that fails to run gives a failing row with
its error. Exits 1 when a row fails. --smoke runs the small versions CI runs (a few seconds).
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import REPO, Row, print_table, write_json

# Quick ones first; the million-recipient send last.
BENCHMARKS = (
    "eval_extraction",
    "personalise",
    "startup",
    "status_ledger",
    "gather_sources",
    "gather_hostile",
    "condense_speed",
    "daily_run",
    "send_outbox",
    "send_smtp",
    "subscribers_io",
    "tokens_lookup",
    "send_sendgrid",
)


def run_benchmarks(names: tuple[str, ...], smoke: bool) -> list[Row]:
    rows: list[Row] = []
    for name in names:
        started = time.perf_counter()
        print(f"running {name} ...", file=sys.stderr, flush=True)
        try:
            rows.extend(importlib.import_module(name).run(smoke))
        except Exception as exc:  # one broken benchmark must not hide the others' figures
            traceback.print_exc()
            rows.append(Row(name, "did not run", 0.0, 0.0, 0.0, f"{type(exc).__name__}: {exc}"[:200], False, "", "-"))
        print(f"  {name}: {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    return rows


def per_hour(rows: list[Row]) -> list[str]:
    """Subscribers one machine serves an hour, by the figures of this run."""
    lines = []
    for row in rows:
        if row.name == "send via SendGrid: wall" and row.ours:
            recipients = int(row.workload.split()[0].replace(",", ""))
            lines.append(f"SendGrid: {recipients / row.ours * 3600:,.0f} subscribers an hour ({row.workload})")
        if row.name == "send via SMTP: per message" and row.ours:
            lines.append(f"SMTP: {3600_000 / row.ours:,.0f} subscribers an hour ({row.workload})")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="the small versions, with generous floors")
    parser.add_argument("--only", nargs="+", choices=BENCHMARKS, help="run only these benchmarks")
    parser.add_argument("--json", type=Path, default=REPO / "build" / "bench.json", help="where to write the rows")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    rows = run_benchmarks(tuple(args.only or BENCHMARKS), args.smoke)
    print()
    print_table(rows)
    print(f"\nmachine: {os.cpu_count()} cores, Python {platform.python_version()}; whole run {time.perf_counter() - started:.0f} s")
    for line in per_hour(rows):
        print(line)
    write_json(rows, args.json)
    print(f"written to {args.json}")
    return 0 if all(row.passed for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
