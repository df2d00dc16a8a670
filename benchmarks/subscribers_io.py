"""Subscriber list I/O at scale: `digest subscribers import` and `export` of 1,000,000 rows.

Each task runs in its own process; its peak RSS (os.wait4's ru_maxrss for that child) is shown
beside a plain csv.reader -> csv.writer copy of the same upload (the floor for streaming),
measured in the same run. The upload is realistic: mixed case, 1% duplicates in another case,
0.1% invalid, an extra column.

    python benchmarks/subscribers_io.py [--smoke]
"""

from __future__ import annotations

import csv
import random
import sys
import tempfile
from pathlib import Path

from harness import Row, floors, main_for, run_measured
from workloads import write_config

NOW = "2026-11-26T07:00:00+00:00"

_COPY = """
import csv, sys
with open(sys.argv[1], encoding="utf-8-sig", newline="") as src, open(sys.argv[2], "w", encoding="utf-8", newline="") as out:
    csv.writer(out).writerows(csv.reader(src))
"""


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


def run(smoke: bool) -> list[Row]:
    target = floors("subscribers_io", smoke)
    rows, max_rss = int(target["rows"]), float(target["max_peak_rss_mb"])
    with tempfile.TemporaryDirectory(prefix="digest-bench-subscribers-") as tmp:
        folder = Path(tmp)
        config = write_config(folder, delivery={"transport": "outbox"})
        upload = folder / "upload.csv"
        make_import_file(upload, rows)
        digest = [sys.executable, "-m", "digest", "--config", str(config)]
        env = {"DIGEST_NOW": NOW}
        copy = run_measured([sys.executable, "-c", _COPY, str(upload), str(folder / "copy.csv")], cwd=folder)
        imported = run_measured([*digest, "subscribers", "import", str(upload)], cwd=folder, env=env)
        exported = run_measured([*digest, "subscribers", "export", "--out", str(folder / "export.csv")], cwd=folder, env=env)
    return [
        Row("subscribers import: peak RSS", f"{rows:,} rows ({imported.seconds:.0f} s; csv copy {copy.seconds:.0f} s)",
            imported.peak_rss_mb, copy.peak_rss_mb, imported.peak_rss_mb / copy.peak_rss_mb, f"< {max_rss:.0f} MB",
            imported.peak_rss_mb < max_rss, "MB", "plain csv copy"),
        Row("subscribers export: peak RSS", f"{rows:,} rows ({exported.seconds:.0f} s)", exported.peak_rss_mb,
            copy.peak_rss_mb, exported.peak_rss_mb / copy.peak_rss_mb, f"< {max_rss:.0f} MB", exported.peak_rss_mb < max_rss,
            "MB", "plain csv copy"),
    ]


if __name__ == "__main__":
    raise SystemExit(main_for(run))
