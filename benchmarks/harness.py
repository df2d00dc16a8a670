"""What every benchmark shares: the row it reports, measuring a child process, the floors, the table.

A benchmark module has `run(smoke: bool) -> list[Row]`: the full workload for `make bench`, or a
small one with generous floors (`smoke=True`) that tests/test_benchmarks.py runs in CI to catch a
10x regression. Each row holds our figure beside a baseline measured in the same run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

BENCHMARKS = Path(__file__).resolve().parent
REPO = BENCHMARKS.parent
if str(REPO) not in sys.path:  # run as a script: make the checkout importable
    sys.path.insert(0, str(REPO))

FLOORS: dict[str, Any] = json.loads((BENCHMARKS / "baseline.json").read_text(encoding="utf-8"))


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the table. `ratio` is ours/baseline, or baseline/ours where the target is a speed-up."""

    name: str
    workload: str
    ours: float
    baseline: float
    ratio: float
    target: str
    passed: bool
    unit: str
    baseline_is: str  # what the baseline is, in a few words

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["pass"] = data.pop("passed")
        return data


def floors(benchmark: str, smoke: bool) -> dict[str, Any]:
    """The targets of one benchmark from baseline.json: its "smoke" table when smoke."""
    table: dict[str, Any] = FLOORS[benchmark]
    return dict(table["smoke"]) if smoke else {k: v for k, v in table.items() if k != "smoke"}


@dataclass(frozen=True, slots=True)
class Measured:
    seconds: float
    peak_rss_mb: float
    stdout: str


# Runs the measured command as its own child and writes that child's peak RSS and exit code to a
# file. On Linux a process inherits the peak RSS of the process it was forked from: a command
# forked by a large benchmark process would report at least the benchmark's own size. This small
# launcher keeps the floor at its own ~10 MB.
_LAUNCHER = """
import os, sys
pid = os.posix_spawn(sys.argv[2], sys.argv[2:], os.environ)
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as report:
    report.write(f"{usage.ru_maxrss} {os.waitstatus_to_exitcode(status)}")
"""


def run_measured(
    command: Sequence[str], *, cwd: Path, env: dict[str, str] | None = None, timeout: float = 1800.0
) -> Measured:
    """Run a command to the end and return its wall time, its own peak RSS and its stdout.

    `command[0]` must be an absolute path. Its output goes to files in `cwd` (a pipe could fill up
    and stall it); stderr is shown only when it fails, raising RuntimeError.
    """
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    stem = cwd / f".bench-{os.getpid()}-{time.monotonic_ns()}"
    report = stem.with_suffix(".rss")
    with stem.with_suffix(".err").open("w+", encoding="utf-8") as err, stem.with_suffix(".out").open("w+", encoding="utf-8") as out:
        started = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-c", _LAUNCHER, str(report), *command],
            cwd=cwd, env=full_env, stdin=subprocess.DEVNULL, stdout=out, stderr=err, start_new_session=True,
        )
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        seconds = time.perf_counter() - started
        err.seek(0)
        out.seek(0)
        stderr, stdout = err.read(), out.read()
    for suffix in (".err", ".out"):
        stem.with_suffix(suffix).unlink()
    try:
        peak_kib, code = (int(value) for value in report.read_text(encoding="ascii").split())
        report.unlink()
    except (OSError, ValueError):
        peak_kib, code = 0, process.returncode or -1
    if code != 0:
        raise RuntimeError(f"{' '.join(command)} exited {code}: {stderr.strip()[-2000:]}")
    return Measured(seconds, peak_kib / 1024, stdout)  # Linux: ru_maxrss is in KiB


def new_folder(parent: Path, kind: str) -> Path:
    """A new folder `kind-N` in `parent`, N counting those of that kind made before: one per run."""
    folder = parent / f"{kind}-{len(list(parent.glob(f'{kind}-*')))}"
    folder.mkdir()
    return folder


def best_of(times: int, function: Callable[[], float]) -> float:
    """The smallest of `times` measurements: the least disturbed by other work on the machine."""
    return min(function() for _ in range(times))


def format_value(value: float, unit: str) -> str:
    if unit == "s":
        return f"{value:.3f} s" if value < 10 else f"{value:.1f} s"
    if unit == "ms":
        return f"{value:.1f} ms"
    if unit == "us":
        return f"{value:.1f} us"
    if unit == "MB":
        return f"{value:.0f} MB"
    if unit == "F1":
        return f"{value:.4f}"
    return f"{value:g} {unit}".strip()


def print_table(rows: Sequence[Row], file: Any = None) -> None:
    """The table as `make bench` prints it (and README "Performance" shows it)."""
    for line in table_lines(rows):
        print(line, file=file or sys.stdout)


def format_ratio(row: Row) -> str:
    """The ratio as its target states it: a share ("<= 10% of the send") in %, the others as 1.23x."""
    return f"{row.ratio:.1%}" if "%" in row.target else f"{row.ratio:.2f}x"


def table_lines(rows: Sequence[Row]) -> list[str]:
    header = ("benchmark", "workload", "ours", "baseline (same run)", "ratio", "target", "pass")
    cells = [
        (
            r.name,
            r.workload,
            format_value(r.ours, r.unit),
            f"{format_value(r.baseline, r.unit)} ({r.baseline_is})",
            format_ratio(r),
            r.target,
            "yes" if r.passed else "NO",
        )
        for r in rows
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in cells]
    return lines


def write_json(rows: Sequence[Row], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([r.as_json() for r in rows], indent=2) + "\n", encoding="utf-8")


def main_for(run: Callable[[bool], list[Row]]) -> int:
    """`python benchmarks/NAME.py [--smoke]`: run one benchmark, print its rows, exit 1 if one fails."""
    smoke = "--smoke" in sys.argv[1:]
    rows = run(smoke)
    print_table(rows)
    return 0 if all(r.passed for r in rows) else 1
