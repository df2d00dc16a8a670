"""A hostile site cannot stop the morning's edition: `digest preview` (the real command, in its own
process) against the hostile loopback site finishes within its limits, with a warning per trap, the
other loopback service untouched, no payload in the email, and bounded memory."""

from __future__ import annotations

import json
import os
import subprocess
import threading
from pathlib import Path
from typing import Any

from tests.support.cli import EDITION, digest_command, process_env, write_config
from tests.support.hostile import PAYLOAD_MARKER, HostileSite, hostile_site_fixture  # noqa: F401

GATHER = {"page_timeout": 1.5, "total_timeout": 20, "max_related": 20, "max_bytes": 2_000_000, "concurrency": 16}
PROCESS_LIMIT = 120  # seconds: far beyond total_timeout plus start-up; without the limits the run never ends
PEAK_RSS_LIMIT_MIB = 120  # about 70 MiB measured; holding the 200 MiB body, or inflating the bomb in one go, goes far past it


def run_measured(args: list[str], cwd: Path) -> tuple[int, str, float]:
    """Run a command to its end; returns (exit code, stderr, peak RSS in MiB) of that process."""
    stderr_path = cwd / "stderr.txt"
    with stderr_path.open("w") as stderr:
        process = subprocess.Popen(args, cwd=cwd, env=process_env(), stdout=subprocess.DEVNULL, stderr=stderr)
    ended: dict[str, Any] = {}
    waiter = threading.Thread(target=lambda: ended.update(zip(("pid", "status", "usage"), os.wait4(process.pid, 0), strict=True)))
    waiter.start()
    waiter.join(PROCESS_LIMIT)
    if waiter.is_alive():
        process.kill()
        waiter.join()
        raise AssertionError(f"{' '.join(args)} was still running after {PROCESS_LIMIT}s")
    process.returncode = os.waitstatus_to_exitcode(ended["status"])
    return process.returncode, stderr_path.read_text(), ended["usage"].ru_maxrss / 1024  # Linux: KiB


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
