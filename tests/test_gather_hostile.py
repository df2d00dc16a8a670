"""A hostile site cannot stop the morning's edition: `digest preview` (the real command, in its own
process) against the hostile loopback site finishes within its limits, with a warning per trap, the
other loopback service untouched, no payload in the email, and bounded memory."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.support.cli import EDITION, digest_command, process_env, write_config
from tests.support.hostile import PAYLOAD_MARKER, HostileSite, hostile_site_fixture  # noqa: F401

GATHER = {"page_timeout": 1.5, "total_timeout": 20, "max_related": 20, "max_bytes": 2_000_000, "concurrency": 16}
PROCESS_LIMIT = 120  # seconds: far beyond total_timeout plus start-up; without the limits the run never ends
PEAK_RSS_LIMIT_MIB = 120  # about 70 MiB measured; holding the 200 MiB body, or inflating the bomb in one go, goes far past it


# Measured from a small parent process of its own: a child forked straight from pytest counts
# pytest's memory as its own until it execs, and ru_maxrss keeps that peak.
_MEASURE = """
import os, subprocess, sys
with open(sys.argv[1], "w") as stderr:
    child = subprocess.Popen(sys.argv[2:], stdout=subprocess.DEVNULL, stderr=stderr)
    _, status, usage = os.wait4(child.pid, 0)
print(os.waitstatus_to_exitcode(status), usage.ru_maxrss)
"""


def run_measured(args: list[str], cwd: Path) -> tuple[int, str, float]:
    """Run a command to its end; returns (exit code, stderr, peak RSS in MiB) of that process."""
    stderr_path = cwd / "stderr.txt"
    process = subprocess.Popen(
        [sys.executable, "-c", _MEASURE, str(stderr_path), *args],
        cwd=cwd, env=process_env(), stdout=subprocess.PIPE, text=True, start_new_session=True,
    )
    try:
        out, _ = process.communicate(timeout=PROCESS_LIMIT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise AssertionError(f"{' '.join(args)} was still running after {PROCESS_LIMIT}s") from None
    code, peak_kib = out.split()
    return int(code), stderr_path.read_text(), int(peak_kib) / 1024  # Linux: ru_maxrss is in KiB


def test_preview_against_a_hostile_site_finishes_with_warnings_and_a_clean_email(hostile_site: HostileSite, tmp_path: Path) -> None:
    config = write_config(tmp_path, source=hostile_site.url("/article"))
    extra = ["", "[[sources]]", f'url = "{hostile_site.slow_tls_url}"', "", "[gather]"]
    extra += [f"{key} = {value}" for key, value in GATHER.items()]
    config.write_text(config.read_text() + "\n".join(extra) + "\n")

    code, stderr, peak_mib = run_measured([*digest_command(), "--config", str(config), "preview", "--format", "html"], tmp_path)

    assert code == 0, stderr
    traps = hostile_site.related_traps()
    expected = {
        traps["trickle"]: "timed out after 1.5s ([gather] page_timeout) reading the page (",
        traps["silence"]: "timed out after 1.5s ([gather] page_timeout) waiting for the response",
        traps["loop"]: f"too many redirects (redirect loop at {traps['loop']})",
        traps["endless"]: "too many redirects (more than 5)",
        traps["huge"]: "page larger than 2000000 bytes",
        traps["bomb"]: "page larger than 2000000 bytes",
        traps["to-admin"]: "refused: 127.0.0.1 is a local or private address (127.0.0.1) outside the source's own origin",
        traps["to-file"]: "refused: a redirect to a file: URL",
        traps["admin"]: "refused: 127.0.0.1 is a local or private address (127.0.0.1) outside",
        traps["admin-localhost"]: "refused: localhost is a local or private address",
        traps["admin-127.1"]: "refused: 127.1 is a local or private address",
        hostile_site.slow_tls_url: "timed out after 1.5s ([gather] page_timeout) in the TLS handshake",
    }
    warnings = [line for line in stderr.splitlines() if " WARNING digest.gather" in line]
    for url, reason in expected.items():
        assert any(f": {url}: {reason}" in line for line in warnings), f"no warning for {url}: {reason}\n{stderr}"
    assert hostile_site.admin_requests == []

    stored = tmp_path / "state" / "editions" / EDITION
    digest = json.loads((stored / "digest.json").read_text())
    errors = {source["url"]: source["reason"] for source in digest["sources"] if source["status"] == "error"}
    assert set(errors) == set(expected)
    assert all(errors[url].startswith(reason) for url, reason in expected.items())
    assert [section["title"] for section in digest["sections"] if section["items"]] == [
        "Ukraine peace", "Defence spending", "AI/tech partnership"
    ]
    for document in ((tmp_path / "preview.html").read_text(), (stored / "email.txt").read_text()):
        assert PAYLOAD_MARKER not in document
        assert "ADMIN-SECRET" not in document and "root:" not in document
        for markup in ("<script", "<iframe", "onerror", "javascript:"):
            assert markup not in document.lower()
    assert peak_mib < PEAK_RSS_LIMIT_MIB
