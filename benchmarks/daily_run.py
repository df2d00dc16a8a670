"""The whole daily run of the bundled sample to 1,000 outbox recipients, beside building it alone.

A copy of samples/ (three local pages, its digest.toml) with a subscriber list of 1,000:
`digest run` in a process of its own (gather, extract, condense, render, store, then 1,000 .eml
files written and fsynced, the ledger kept). The baseline is `digest preview` on a fresh copy:
the same process start and build, without the send.

    python benchmarks/daily_run.py [--smoke]
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from harness import REPO, Row, floors, main_for, run_measured
from workloads import SECRET, write_subscribers

ENV = {"DIGEST_SECRET": SECRET, "DIGEST_NOW": "2026-11-26T07:00:00+00:00"}


def sample_copy(folder: Path, recipients: int) -> Path:
    shutil.copytree(REPO / "samples", folder)
    write_subscribers(folder / "subscribers.csv", recipients)
    return folder / "digest.toml"


def run(smoke: bool) -> list[Row]:
    target = floors("daily_run", smoke)
    recipients, max_seconds = int(target["recipients"]), float(target["max_seconds"])
    with tempfile.TemporaryDirectory(prefix="digest-bench-run-") as tmp:
        build_only = sample_copy(Path(tmp) / "preview", recipients)
        whole = sample_copy(Path(tmp) / "run", recipients)
        digest = [sys.executable, "-m", "digest", "--config"]
        baseline = run_measured([*digest, str(build_only), "preview", "--out", "-"], cwd=build_only.parent, env=ENV).seconds
        ours = run_measured([*digest, str(whole), "run"], cwd=whole.parent, env=ENV).seconds
        written = len(list((whole.parent / "outbox").glob("*/*.eml")))
    if written != recipients:
        raise RuntimeError(f"digest run wrote {written} of {recipients} messages")
    return [
        Row("daily run (sample, outbox)", f"{recipients:,} recipients", ours, baseline, ours / baseline,
            f"< {max_seconds:g} s", ours < max_seconds, "s", "digest preview: the build alone"),
    ]


if __name__ == "__main__":
    raise SystemExit(main_for(run))
