"""Sending to the outbox: peak memory at 10,000 recipients beside 1,000 (it must not grow with the list).

`digest send --yes` with [delivery] transport = "outbox", in a process of its own each time:
one .eml file per recipient, written atomically and fsynced.

    python benchmarks/send_outbox.py [--smoke]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from harness import Row, floors, main_for, run_measured
from workloads import EDITION_ID, SECRET, sample_edition, write_config, write_subscribers

from digest.editions import EditionStore


def digest_send(folder: Path, recipients: int) -> tuple[float, float]:
    """(seconds, peak RSS MB) of `digest send --yes` to `recipients` outbox recipients."""
    home = folder / f"outbox-{recipients}"
    home.mkdir()
    write_subscribers(home / "subscribers.csv", recipients)
    config = write_config(home, delivery={"transport": "outbox", "outbox_dir": "outbox"})
    EditionStore(home / "state").save(sample_edition())
    measured = run_measured(
        [sys.executable, "-m", "digest", "--config", str(config), "-q", "send", "--yes", "--edition", EDITION_ID],
        cwd=home, env={"DIGEST_SECRET": SECRET},
    )
    written = len(list((home / "outbox" / EDITION_ID).glob("*.eml")))
    if written != recipients:
        raise RuntimeError(f"the outbox holds {written} of {recipients} messages")
    return measured.seconds, measured.peak_rss_mb


def run(smoke: bool) -> list[Row]:
    target = floors("send_outbox", smoke)
    large, small = int(target["recipients"]), int(target["flat_from"])
    max_rss, max_growth = float(target["max_peak_rss_mb"]), float(target["max_rss_growth"])
    with tempfile.TemporaryDirectory(prefix="digest-bench-outbox-") as tmp:
        seconds, peak = digest_send(Path(tmp), large)
        _, small_peak = digest_send(Path(tmp), small)
    return [
        Row("send to the outbox: peak RSS", f"{large:,} recipients ({seconds:.0f} s) vs {small:,}", peak, small_peak,
            peak / small_peak, f"< {max_rss:.0f} MB, <= {max_growth}x", peak < max_rss and peak / small_peak <= max_growth,
            "MB", f"digest at {small:,}"),
    ]


if __name__ == "__main__":
    raise SystemExit(main_for(run))
