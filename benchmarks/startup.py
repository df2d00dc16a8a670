"""Start-up: `digest --help` and `digest status` beside the bare interpreter, each the best of five.

`digest status` runs on a config whose state dir holds an empty ledger. Each command runs in a
process of its own, from the shell's point of view: interpreter start, imports, the command.

    python benchmarks/startup.py [--smoke]
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness import REPO, Row, best_of, floors, main_for
from workloads import write_config

from digest.ledger import Ledger


def seconds(command: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
    return time.perf_counter() - started


def run(smoke: bool) -> list[Row]:
    target = floors("startup", smoke)
    times, max_seconds = int(target["times"]), float(target["max_seconds"])
    with tempfile.TemporaryDirectory(prefix="digest-bench-startup-") as tmp:
        home = Path(tmp)
        config = write_config(home, delivery={"transport": "outbox"})
        Ledger.open(home / "state").close()
        bare = best_of(times, lambda: seconds([sys.executable, "-c", "pass"], home))
        digest = [sys.executable, "-m", "digest", "--config", str(config)]
        rows = []
        for args in (["--help"], ["status"]):
            ours = best_of(times, lambda args=args: seconds([*digest, *args], home))
            rows.append(Row(f"start-up: digest {' '.join(args)}", f"best of {times}", ours, bare, ours / bare,
                            f"< {max_seconds:g} s", ours < max_seconds, "s", "python -c pass"))
    return rows


if __name__ == "__main__":
    raise SystemExit(main_for(run))
