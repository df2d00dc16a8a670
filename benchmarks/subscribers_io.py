"""Subscriber list I/O at scale: `digest subscribers import` and `export` of 1,000,000 rows.

Each task runs in its own process; its wall time and peak RSS (os.wait4's ru_maxrss for that
child) are printed beside baselines measured in the same run on the same files:
a plain csv.reader -> csv.writer copy (the floor for streaming), the same copy with
email-validator on every row (the floor for an import, which must validate each address),
and `digest --help` (what the command line costs before it reads a row).

    python benchmarks/subscribers_io.py [--rows N] [--keep DIR]

Exits 1 when a digest task's peak RSS reaches the target (100 MB, as the README promises).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RSS_TARGET_MB = float(json.loads(Path(__file__).with_name("baseline.json").read_text())["subscribers_io"]["max_peak_rss_mb"])
NOW = "2026-11-26T07:00:00+00:00"

_COPY = """
import csv, sys
with open(sys.argv[1], encoding="utf-8-sig", newline="") as src, open(sys.argv[2], "w", encoding="utf-8", newline="") as out:
    csv.writer(out).writerows(csv.reader(src))
"""
_COPY_VALIDATED = """
import csv, sys
from email_validator import EmailNotValidError, validate_email
with open(sys.argv[1], encoding="utf-8-sig", newline="") as src, open(sys.argv[2], "w", encoding="utf-8", newline="") as out:
    writer = csv.writer(out)
    for row in csv.reader(src):
        try:
            row[0] = validate_email(row[0], check_deliverability=False).normalized
        except EmailNotValidError:
            continue
        writer.writerow(row)
"""


@dataclass(frozen=True, slots=True)
class Measure:
    task: str
    seconds: float
    peak_rss_mb: float
    ours: bool


def make_import_file(path: Path, rows: int, seed: int = 1) -> None:
    """A realistic upload: mixed case, 1% duplicates in another case, 0.1% invalid, an extra column."""
    rng = random.Random(seed)
    first = ["Ann", "Bob", "Chloé", "Dmitri", "Eve", "Fatima", "Grace", "Håkon", "Ivan", "Jun"]
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Email", "Name", "Status", "Source", "Company"])
        for i in range(rows):
            if i % 1000 == 999:
                writer.writerow([f"broken{i}@@example.org", "Broken", "", "", ""])
            elif i % 100 == 50 and i > 100:
                writer.writerow([f"Reader{i - 50}@Example{(i - 50) % 97}.ORG", "", "", "", ""])
            else:
                status = "unsubscribed" if i % 250 == 0 else "active"
                name = f"{rng.choice(first)} {i}"
                writer.writerow([f"reader{i}@example{i % 97}.org", name, status, "signup form", "ACME Ltd"])


def measure(task: str, command: list[str], *, ours: bool, cwd: Path) -> Measure:
    env = {**os.environ, "PYTHONPATH": str(REPO), "DIGEST_NOW": NOW}
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{task}: exited {process.returncode}: {' '.join(command)}")
    return Measure(task, seconds, usage.ru_maxrss / 1024, ours)  # Linux: ru_maxrss is in KiB


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, help="work in this folder and keep the files")
    args = parser.parse_args()

    folder = args.keep or Path(tempfile.mkdtemp(prefix="digest-bench-subscribers-"))
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "digest.toml"
    config.write_text(
        '[newsletter]\nname = "Bench"\nfrom_email = "bench@example.org"\n[[sources]]\nurl = "page.html"\n'
        '[subscribers]\nfile = "subscribers.csv"\n[state]\ndir = "state"\n',
        encoding="utf-8",
    )
    upload = folder / "upload.csv"
    (folder / "subscribers.csv").unlink(missing_ok=True)
    print(f"writing {args.rows:,} rows to {upload} ...", file=sys.stderr)
    make_import_file(upload, args.rows)
    digest = [sys.executable, "-m", "digest", "--config", str(config)]
    python = [sys.executable, "-c"]

    results = [
        measure("baseline: csv copy of the upload", [*python, _COPY, str(upload), str(folder / "copy.csv")], ours=False, cwd=folder),
        measure("baseline: csv copy + email-validator", [*python, _COPY_VALIDATED, str(upload), str(folder / "valid.csv")], ours=False, cwd=folder),
        measure("baseline: digest --help", [*digest, "--help"], ours=False, cwd=folder),
        measure("digest subscribers import (empty list)", [*digest, "subscribers", "import", str(upload)], ours=True, cwd=folder),
        measure("digest subscribers import (again, all known)", [*digest, "subscribers", "import", str(upload)], ours=True, cwd=folder),
        measure("digest subscribers export --out FILE", [*digest, "subscribers", "export", "--out", str(folder / "export.csv")], ours=True, cwd=folder),
        measure("digest subscribers list --format csv", [*digest, "subscribers", "list", "--format", "csv"], ours=True, cwd=folder),
    ]
    with (folder / "subscribers.csv").open(encoding="utf-8") as handle:
        stored = sum(1 for _ in csv.reader(handle)) - 1

    print(f"\nsubscriber list I/O: {args.rows:,} rows uploaded, {stored:,} stored; peak RSS target {RSS_TARGET_MB:.0f} MB\n")
    width = max(len(r.task) for r in results)
    print(f"{'task':<{width}}  {'wall s':>8}  {'peak RSS MB':>11}")
    for r in results:
        print(f"{r.task:<{width}}  {r.seconds:>8.1f}  {r.peak_rss_mb:>11.1f}")
    over = [r for r in results if r.ours and r.peak_rss_mb >= RSS_TARGET_MB]
    for r in over:
        print(f"FAIL: {r.task} peaked at {r.peak_rss_mb:.1f} MB (target < {RSS_TARGET_MB:.0f} MB)")
    if not args.keep:
        shutil.rmtree(folder)
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
