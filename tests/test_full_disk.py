"""A full disk mid-write: one clear line, exit 1, and nothing lost or half-written.

The disk is made "full" for one real `digest` process by a file-size limit (RLIMIT_FSIZE, with
SIGXFSZ ignored so a write past it fails with an OSError, as ENOSPC would).
"""

from __future__ import annotations

import json
import resource
import signal
import subprocess
from dataclasses import replace
from pathlib import Path

from digest.editions import EditionStore
from tests.support.cli import (
    cli_env,
    digest_command,
    load_test_config,
    process_env,
    run_digest,
    store_edition,
    write_config,
    write_subscribers,
)


def run_with_file_limit(config: Path, limit_bytes: int, *args: str) -> subprocess.CompletedProcess[str]:
    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    return subprocess.run(
        [*digest_command(), "--config", str(config), *args],
        env=process_env(cli_env()),
        cwd=config.parent,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        preexec_fn=limit,
    )


def assert_one_error_line(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode == 1, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in errors[0], errors[0]


def test_import_onto_a_full_disk_leaves_the_list_as_it_was(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    write_subscribers(tmp_path, [("ann@example.org", "Ann"), ("bob@example.org", "Bob")])
    before = (tmp_path / "subscribers.csv").read_bytes()
    incoming = tmp_path / "big.csv"
    incoming.write_text("email,name\n" + "".join(f"reader{i}@example.org,Reader {i}\n" for i in range(3000)), encoding="utf-8")

    result = run_with_file_limit(config, 64 * 1024, "subscribers", "import", str(incoming))

    assert_one_error_line(result, "disk")
    assert (tmp_path / "subscribers.csv").read_bytes() == before
    assert not list(tmp_path.glob(".subscribers.csv.*.tmp"))


def test_an_outbox_that_cannot_be_written_stops_the_send_with_everyone_still_pending(tmp_path: Path) -> None:
    # /dev/full is not a folder: creating the edition's folder in it fails, as a dead disk would.
    config = write_config(tmp_path, delivery={"outbox_dir": "/dev/full"})
    write_subscribers(tmp_path, [(f"reader{i}@example.org", f"Reader {i}") for i in range(5)])
    store_edition(load_test_config(config))

    result = run_digest(config, "send", "--yes")

    assert_one_error_line(result, "/dev/full")
    status = json.loads(run_digest(config, "status", "--format", "json").stdout)
    assert status["editions"][0] | {"edition": "-"} == {"edition": "-", "subscribers": 5, "sent": 0, "pending": 5, "failed": 0, "unknown": 0}


def test_a_preview_that_cannot_be_stored_builds_nothing_half_way(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    result = run_with_file_limit(config, 12 * 1024, "preview")

    assert_one_error_line(result, "cannot")
    editions = tmp_path / "state" / "editions"
    assert not editions.exists() or not [p for p in editions.iterdir() if not p.name.startswith(".")]
    assert not (tmp_path / "preview.html").exists()


def test_writing_a_preview_to_a_full_device_says_so_and_leaves_the_device_alone(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    result = run_digest(config, "preview", "--format", "json", "--out", "/dev/full")

    assert_one_error_line(result, "/dev/full: cannot write: No space left on device")
    assert Path("/dev/full").is_char_device()


def test_a_symlinked_subscriber_list_stays_a_symlink(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    real = tmp_path / "data" / "list.csv"
    real.parent.mkdir()
    real.write_text("email,name,status,subscribed_at,unsubscribed_at,source\n", encoding="utf-8")
    (tmp_path / "subscribers.csv").symlink_to(real)

    assert run_digest(config, "subscribers", "add", "ann@example.org").returncode == 0

    assert (tmp_path / "subscribers.csv").is_symlink()
    assert "ann@example.org" in real.read_text(encoding="utf-8")


def test_an_outbox_message_cut_short_by_a_full_disk_is_never_left_under_its_name(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    write_subscribers(tmp_path, [("ann@example.org", "Ann"), ("bob@example.org", "Bob")])
    edition = store_edition(load_test_config(config))
    # A message of about 1 MB (a long comment in the HTML), against a file-size limit of 256 KB:
    # each .eml write fails part way, while the ledger's small writes fit.
    big = replace(edition, email=replace(edition.email, html=edition.email.html + "<!--" + "news " * 200_000 + "-->"))
    EditionStore(tmp_path / "state").save(big)

    result = run_with_file_limit(config, 256 * 1024, "send", "--yes")

    assert_one_error_line(result, "outbox")
    folder = tmp_path / "outbox" / "2026-11-26"
    assert not folder.exists() or list(folder.iterdir()) == []  # no half message, no draft left behind
    status = json.loads(run_digest(config, "status", "--format", "json").stdout)
    assert status["editions"][0]["pending"] == 2
