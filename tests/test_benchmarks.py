"""Every benchmark of `make bench`, small and with generous floors: a 10x regression fails CI.

Each runs its smoke workload (benchmarks/baseline.json, "smoke") once, with its baseline measured
in the same run; the quality floor of extraction is checked in full by tests/test_extract.py, and
gather_hostile (which waits out real timeouts) has no smoke version: tests/test_gather.py covers it.
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import REPO

BENCHMARKS = REPO / "benchmarks"


@pytest.fixture(scope="module")
def run_all() -> Iterator[ModuleType]:
    # By path: an installed package (pysbd) also claims the top-level name `benchmarks`.
    sys.path.insert(0, str(BENCHMARKS))
    try:
        yield importlib.import_module("run_all")
    finally:
        sys.path.remove(str(BENCHMARKS))


@pytest.mark.parametrize("name", [
    "eval_extraction", "personalise", "startup", "status_ledger", "gather_sources", "condense_speed", "daily_run",
    "send_outbox", "send_smtp", "subscribers_io", "tokens_lookup", "send_sendgrid",
])
def test_each_benchmark_meets_its_smoke_floor(run_all: ModuleType, name: str) -> None:
    assert name in run_all.BENCHMARKS
    rows = run_all.run_benchmarks((name,), smoke=True)
    assert rows, f"{name} reported nothing"
    failing = [f"{r.name}: {r.ours:g} {r.unit} vs baseline {r.baseline:g} (ratio {r.ratio:.2f}), target {r.target}" for r in rows if not r.passed]
    assert not failing, failing


def test_make_bench_writes_one_table_as_json_rows(run_all: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bench.json"
    assert run_all.main(["--smoke", "--only", "gather_sources", "condense_speed", "--json", str(out)]) == 0
    rows = json.loads(out.read_text(encoding="utf-8"))
    assert [row["name"] for row in rows] == ["gather", "condense: per page", "condense: growth"]
    for row in rows:
        assert {"name", "workload", "ours", "baseline", "ratio", "target", "pass"} <= row.keys()
        assert row["pass"] is True and row["baseline"] > 0
    printed = capsys.readouterr().out
    assert "| gather | 20 sources" in printed and "machine: " in printed


def test_a_share_of_the_send_reads_as_a_percentage_and_other_ratios_as_times(run_all: ModuleType) -> None:
    harness = importlib.import_module("harness")
    share = harness.Row("ledger", "1M", 2.5, 34.0, 2.5 / 34.0, "<= 10% of the send", True, "s", "the send's wall")
    speed = harness.Row("gather", "20 sources", 0.25, 4.0, 16.0, ">= 8x faster", True, "s", "one after another")
    lines = harness.table_lines([share, speed])
    assert "| 7.4% | <= 10% of the send |" in lines[2]
    assert "| 16.00x | >= 8x faster |" in lines[3]
