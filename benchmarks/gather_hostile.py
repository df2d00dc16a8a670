"""A morning run against slow and hostile pages: `digest preview` with the default [gather] limits.

The bundled sample article is served on loopback by the hostile site of the tests
(tests/support/hostile.py). Each run is the real command in its own process, with its wall time
and peak RSS (os.wait4's ru_maxrss for that child), beside the baseline measured in the same run:
the same sample with its two related pages answering at once.

- related pages hanging: one related page trickles 35 bytes every half second, the other never
  answers; the default page_timeout (20 s) ends both. Target: under 40 s (baseline.json).
- every trap: the article with the hostile site's Related Sources list, of which the default
  max_related follows the first ten (the sample's two pages, trickle, silence, redirect loop,
  endless redirects, 200 MiB body, gzip bomb, redirects to another loopback service and to a file).

    python benchmarks/gather_hostile.py

Exits 1 when a run fails or the hanging run takes longer than the target.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.support.hostile import SAMPLE_PAGES, HostileSite  # noqa: E402

TARGET_SECONDS = float(json.loads(Path(__file__).with_name("baseline.json").read_text())["gather_hostile"]["max_preview_seconds"])
NOW = "2026-11-26T07:00:00+00:00"
KILL_AFTER = 180


@dataclass(frozen=True, slots=True)
class Measure:
    task: str
    seconds: float
    peak_rss_mb: float
    warnings: int


def sample_linking_to(*links: str) -> str:
    html = (SAMPLE_PAGES / "starmer-white-house.html").read_text(encoding="utf-8")
    items = "".join(f'<li><a href="{link}">Background</a></li>' for link in links)
    return re.sub(r"(<h2>Related Sources</h2>\s*<ul>).*?(</ul>)", lambda m: m.group(1) + items + m.group(2), html, count=1, flags=re.DOTALL)


def preview(task: str, source: str, folder: Path) -> Measure:
    folder.mkdir()
    config = folder / "digest.toml"
    config.write_text(
        f'[newsletter]\nname = "Bench"\nfrom_email = "bench@example.org"\ntimezone = "Europe/London"\n'
        f'[[sources]]\nurl = "{source}"\n[state]\ndir = "state"\n',
        encoding="utf-8",
    )
    env = {**os.environ, "PYTHONPATH": str(REPO), "DIGEST_NOW": NOW}
    start = time.perf_counter()
    with (folder / "stderr.txt").open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "digest", "--config", str(config), "preview"], cwd=folder, env=env,
            stdout=subprocess.DEVNULL, stderr=stderr,
        )
    killer = threading.Timer(KILL_AFTER, process.kill)
    killer.start()
    _, status, usage = os.wait4(process.pid, 0)
    killer.cancel()
    seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    log = (folder / "stderr.txt").read_text()
    if process.returncode != 0:
        raise SystemExit(f"{task}: exited {process.returncode}:\n{log}")
    return Measure(task, seconds, usage.ru_maxrss / 1024, log.count(" WARNING digest.gather"))  # Linux: KiB


def run(smoke: bool) -> list[Any]:
    """For `make bench` (benchmarks/run_all.py): the hanging and trap runs beside the sample answering.

    Full runs only: each hanging run waits out the 20 s page_timeout (tests/test_gather.py covers the limits).
    """
    from harness import Row

    if smoke:
        return []
    site = HostileSite().start()
    try:
        with tempfile.TemporaryDirectory(prefix="digest-bench-gather-") as tmp:
            folder = Path(tmp)
            normal = site.page("/sample", sample_linking_to("/related/european-defence-budgets.html", "/related/uk-us-tech-partnership.html"))
            hanging = site.page("/sample-hanging", sample_linking_to("/trickle", "/silence"))
            baseline = preview("baseline", normal, folder / "normal")
            measured = [
                preview("preview, related pages hanging", hanging, folder / "hanging"),
                preview("preview, every hostile trap", site.url("/article"), folder / "traps"),
            ]
    finally:
        site.release()
    return [
        Row(m.task, f"default [gather] limits ({m.warnings} warnings, peak RSS {m.peak_rss_mb:.0f} MB)", m.seconds, baseline.seconds, m.seconds / baseline.seconds,
            f"< {TARGET_SECONDS:g} s", m.seconds < TARGET_SECONDS, "s", "the sample, related pages answering")
        for m in measured
    ]


if __name__ == "__main__":
    from harness import main_for

    sys.exit(main_for(run))
