"""`digest subscribers ...` from the command line: output, exit codes and error lines."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import Result
from hypothesis import given, settings
from hypothesis import strategies as st

from digest.deliver.outbox import outbox_path
from digest.ledger import Ledger, erased_address
from digest.subscribers import read_subscribers
from tests.support.cli import NOW, invoke, start_digest, write_config
from tests.support.fuzz import budget, csv_cells, csv_rows, hostile_text
from tests.support.suppressions_server import SuppressionsServer, suppressions_server_fixture  # noqa: F401

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "subscribers"
HEADER = "email,name,status,subscribed_at,unsubscribed_at,source"


def make_list(folder: Path, *lines: str) -> Path:
    path = folder / "subscribers.csv"
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
    return path


def test_add_list_and_count_line(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    assert invoke(config, "subscribers", "add", "Ann@EXAMPLE.org", "--name", "Ann").stdout == "added Ann@example.org\n"
    assert invoke(config, "subscribers", "add", "ann@example.org").stdout == "Ann@example.org is already subscribed\n"
    invoke(config, "subscribers", "add", "bob@example.org", "--source", "signup form")
    invoke(config, "subscribers", "unsubscribe", "BOB@example.org")

    table = invoke(config, "subscribers", "list")

    assert table.exit_code == 0
    assert table.stdout.splitlines() == [
        "email            name  status        subscribed_at              source",
        f"Ann@example.org  Ann   active        {NOW}  cli",
        f"bob@example.org        unsubscribed  {NOW}  signup form",
        "2 subscribers (1 active, 1 unsubscribed, 0 bounced, 0 pending)",
    ]
    as_json = invoke(config, "subscribers", "list", "--status", "active", "--format", "json")
    assert json.loads(as_json.stdout) == {
        "subscribers": [{"email": "Ann@example.org", "name": "Ann", "status": "active", "subscribed_at": NOW,
                         "unsubscribed_at": "", "source": "cli", "confirmed_at": ""}],
        "count": 1,
    }
    assert as_json.stderr == "1 active subscriber\n"
    as_csv = invoke(config, "subscribers", "list", "--format", "csv", "--status", "unsubscribed")
    assert list(csv.reader(io.StringIO(as_csv.stdout))) == [
        [*HEADER.split(","), "confirmed_at"], ["bob@example.org", "", "unsubscribed", NOW, NOW, "signup form", ""]
    ]


def test_table_never_prints_control_characters(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    make_list(tmp_path, 'a@example.org,"\x1b[31mred\x1b[0m",active,,,cli')
    result = invoke(config, "subscribers", "list")
    assert "\x1b" not in result.stdout
    assert " [31mred [0m" in result.stdout


def test_add_invalid_address_is_one_line_error(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    result = invoke(config, "subscribers", "add", "not-an-address")
    assert result.exit_code == 1
    assert result.stderr == "error: 'not-an-address' is not a valid email address: An email address must have an @-sign.\n"
    assert not (tmp_path / "subscribers.csv").exists()


def test_add_does_not_reactivate_without_resubscribe(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    make_list(tmp_path, "gone@example.org,Gone,unsubscribed,2026-01-01T00:00:00+00:00,2026-02-01T00:00:00+00:00,cli")

    refused = invoke(config, "subscribers", "add", "gone@example.org")
    assert refused.exit_code == 1
    assert refused.stderr == (
        "error: gone@example.org is unsubscribed since 2026-02-01T00:00:00+00:00; not re-activated: "
        "add --resubscribe if they asked to subscribe again\n"
    )
    again = invoke(config, "subscribers", "add", "gone@example.org", "--resubscribe", "--source", "phone call")
    assert again.stdout == "re-subscribed gone@example.org (was unsubscribed)\n"
    assert read_subscribers(tmp_path / "subscribers.csv")[0].source == "phone call"


def test_unsubscribe_unknown_address_exits_1(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    make_list(tmp_path)
    result = invoke(config, "subscribers", "unsubscribe", "who@example.org")
    assert result.exit_code == 1
    assert result.stderr == f"error: who@example.org is not on the list ({tmp_path / 'subscribers.csv'}); nothing changed\n"


def test_malformed_list_names_file_and_line(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    make_list(tmp_path, "a@example.org,A,active,,,cli", "b@example.org,B,paused,,,cli")
    for command in (["list"], ["add", "c@example.org"], ["export"]):
        result = invoke(config, "subscribers", *command)
        assert result.exit_code == 1
        assert result.stderr.splitlines()[-1] == (
            f"error: {tmp_path / 'subscribers.csv'}:3: status must be one of active, unsubscribed, bounced, pending, got 'paused'"
        )
    assert "c@example.org" not in (tmp_path / "subscribers.csv").read_text(encoding="utf-8")


def test_import_messy_csv_reports_rejects_and_summary(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    shutil.copy(FIXTURES / "existing.csv", tmp_path / "subscribers.csv")
    messy = shutil.copy(FIXTURES / "messy.csv", tmp_path / "messy.csv")

    result = invoke(config, "subscribers", "import", str(messy))

    assert result.exit_code == 0
    assert result.stdout == "imported 5, updated 2, unchanged 2, rejected 4\n"
    assert result.stderr.splitlines() == [
        f"{messy}:6: 'not-an-email' is not a valid email address: An email address must have an @-sign.",
        f"{messy}:9: status must be one of active, unsubscribed, bounced, got 'subscribed'",
        f"{messy}:14: 'heidi@exa mple.com' is not a valid email address: The part after the @-sign contains invalid characters: SPACE.",
        f"{messy}:18: no email address",
    ]
    rows = {s.email: s.status for s in read_subscribers(tmp_path / "subscribers.csv")}
    assert rows["dave@example.com"] == "unsubscribed"  # listed as active in the file
    assert rows["frank@example.com"] == "unsubscribed"
    assert len(rows) == 10


def test_import_dry_run_writes_nothing(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    shutil.copy(FIXTURES / "existing.csv", tmp_path / "subscribers.csv")
    result = invoke(config, "subscribers", "import", str(FIXTURES / "messy.csv"), "--dry-run")
    assert result.exit_code == 0
    assert result.stdout == "imported 5, updated 2, unchanged 2, rejected 4\n"
    assert result.stderr.splitlines()[-1] == f"dry run: {tmp_path / 'subscribers.csv'} not changed"
    assert (tmp_path / "subscribers.csv").read_bytes() == (FIXTURES / "existing.csv").read_bytes()


def test_import_of_something_that_is_not_csv_exits_1(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    shutil.copy(FIXTURES / "existing.csv", tmp_path / "subscribers.csv")
    picture = tmp_path / "list.png"
    picture.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10")
    no_email = tmp_path / "contacts.csv"
    no_email.write_text("name,phone\nAl,123\n", encoding="utf-8")

    for upload, message in (
        (picture, f"error: {picture}: not a CSV file (it holds binary data); export the list as CSV UTF-8"),
        (no_email, f"error: {no_email}:1: no 'email' column in the header; name the address column email"),
    ):
        result = invoke(config, "subscribers", "import", str(upload))
        assert (result.exit_code, result.stdout, result.stderr) == (1, "", message + "\n")
    assert (tmp_path / "subscribers.csv").read_bytes() == (FIXTURES / "existing.csv").read_bytes()


def test_export_to_stdout_neutralises_formulas(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    make_list(tmp_path, 'x@example.org,"=HYPERLINK(""http://evil.example"",""hi"")",active,,,@import')
    result = invoke(config, "subscribers", "export")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[1] == '"x@example.org","\'=HYPERLINK(""http://evil.example"",""hi"")","active","","","\'@import",""'
    assert result.stderr == "exported 1 subscribers\n"


def test_remove_erases_row_ledger_rows_and_outbox_files(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    make_list(tmp_path, "keep@example.org,Keep,active,,,cli", "Erase.Me@example.org,Erase,active,,,cli")
    with Ledger.open(tmp_path / "state") as ledger:
        ledger.add_pending("2026-11-25", ["Erase.Me@example.org", "keep@example.org"], datetime(2026, 11, 25, tzinfo=UTC))
    copies = [outbox_path(tmp_path / "outbox", "2026-11-25", "Erase.Me@example.org"),
              outbox_path(tmp_path / "outbox", "2026-11-24", "Erase.Me@example.org", test=True)]
    kept = outbox_path(tmp_path / "outbox", "2026-11-25", "keep@example.org")
    for path in (*copies, kept):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"Subject: x\r\n\r\nbody\r\n")

    declined = invoke(config, "subscribers", "remove", "erase.me@example.org", input="n\n")
    assert declined.exit_code == 1
    assert len(read_subscribers(tmp_path / "subscribers.csv")) == 2

    result = invoke(config, "subscribers", "remove", "erase.me@example.org", "--yes")

    assert result.exit_code == 0, result.stderr
    assert result.stdout == "erased erase.me@example.org: 1 row in subscribers.csv, 1 send-ledger rows, 2 outbox files\n"
    assert [s.email for s in read_subscribers(tmp_path / "subscribers.csv")] == ["keep@example.org"]
    with Ledger.open(tmp_path / "state") as ledger:
        assert sorted(d.email for d in ledger.deliveries("2026-11-25")) == sorted(
            [erased_address("Erase.Me@example.org"), "keep@example.org"]
        )
    assert not any(path.exists() for path in copies)
    assert kept.exists()
    assert "Erase.Me" not in (tmp_path / "subscribers.csv").read_text(encoding="utf-8")

    nothing = invoke(config, "subscribers", "remove", "erase.me@example.org", "--yes")
    assert nothing.exit_code == 1
    assert nothing.stderr == "error: erase.me@example.org is not on the list, in the send ledger or in the outbox; nothing erased\n"


@pytest.mark.slow
def test_twenty_concurrent_adds_lose_nothing(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    make_list(tmp_path, "first@example.org,First,active,,,cli")
    processes = [start_digest(config, "subscribers", "add", f"reader{i}@example.org", "--name", f"Reader {i}") for i in range(20)]
    outcomes = [(p.wait(timeout=120), p.communicate()) for p in processes]

    assert [code for code, _ in outcomes] == [0] * 20, [err for _, (_, err) in outcomes]
    emails = [s.email for s in read_subscribers(tmp_path / "subscribers.csv")]
    assert sorted(emails) == sorted(["first@example.org", *(f"reader{i}@example.org" for i in range(20))])


def test_sync_prints_each_change_and_a_summary(tmp_path: Path, suppressions_server: SuppressionsServer) -> None:
    config = write_config(tmp_path, delivery={"sendgrid_api_url": suppressions_server.url})
    make_list(tmp_path, "spam@example.org,S,active,,,cli", "gone@example.org,G,active,,,cli", "ok@example.org,O,active,,,cli")
    suppressions_server.records["/v3/suppression/spam_reports"] = [{"created": 1, "email": "spam@example.org", "ip": "10.0.0.1"}]
    suppressions_server.records["/v3/suppression/bounces"] = [
        {"created": 1, "email": "gone@example.org", "reason": "550 5.1.1 no such user", "status": "5.1.1"}
    ]

    result = invoke(config, "subscribers", "sync", env={"DIGEST_NOW": NOW, "SENDGRID_API_KEY": suppressions_server.api_key})

    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [
        "spam@example.org: active -> unsubscribed (spam report)",
        "gone@example.org: active -> bounced (bounce: 550 5.1.1 no such user)",
        "sync: 2 changed (1 unsubscribed, 1 bounced); SendGrid lists 0 global unsubscribes, 1 spam report, "
        "1 bounce, 0 invalid emails; 0 not on the list",
    ]


def test_sync_without_api_key_exits_1(tmp_path: Path, suppressions_server: SuppressionsServer) -> None:
    config = write_config(tmp_path, delivery={"sendgrid_api_url": suppressions_server.url})
    result = invoke(config, "subscribers", "sync", env={"DIGEST_NOW": NOW})
    assert (result.exit_code, result.stderr) == (
        1, "error: SENDGRID_API_KEY is not set: export an API key with read access to Suppressions\n"
    )


# -- fuzzing ---------------------------------------------------------------------------------------

def _csv_text(rows: list[list[str]], header: list[str], terminator: str) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator=terminator).writerows([header, *rows])
    return out.getvalue()


def _list_rows(result: Result) -> list[list[str]]:
    return list(csv.reader(io.StringIO(result.stdout)))[1:]


def _assert_one_line_error(result: Result, path: Path) -> None:
    assert "Traceback" not in result.stderr
    assert result.exit_code == 1, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and len(errors[0]) < 1_000, result.stderr
    assert errors[0].startswith(f"error: {path}:"), errors[0]


subscriber_files = st.one_of(
    st.binary(max_size=300),
    st.builds(
        _csv_text,
        csv_rows(6),
        st.one_of(st.just(HEADER.split(",")), st.lists(csv_cells(), max_size=7)),
        st.sampled_from(("\r\n", "\n", "\r")),
    ).flatmap(lambda text: st.sampled_from(("utf-8", "utf-8-sig", "utf-16", "latin-1")).map(
        lambda codec: text.encode(codec, errors="replace"))),
)


@pytest.mark.fuzz
@settings(max_examples=budget(60))
@given(content=subscriber_files, name=hostile_text(30))
def test_any_subscriber_file_is_read_and_added_to_or_refused_whole(tmp_path: Path, content: bytes, name: str) -> None:
    with tempfile.TemporaryDirectory(dir=tmp_path) as folder_name:
        folder = Path(folder_name)
        config = write_config(folder)
        path = folder / "subscribers.csv"
        path.write_bytes(content)
        listed = invoke(config, "subscribers", "list", "--format", "csv")
        added = invoke(config, "subscribers", "add", "new@example.org", "--name", name.replace("\0", ""))
        if listed.exit_code:
            _assert_one_line_error(listed, path)
            _assert_one_line_error(added, path)
            assert path.read_bytes() == content, "a refused list was changed"
            return
        assert added.exit_code == 0, added.stderr
        after = invoke(config, "subscribers", "list", "--format", "csv")
        assert after.exit_code == 0, f"the list written by add cannot be read back: {after.stderr}"
        before_rows, after_rows = _list_rows(listed), _list_rows(after)
        assert [row for row in after_rows if row[0] != "new@example.org"] == [
            row for row in before_rows if row[0] != "new@example.org"
        ], "add changed or lost other rows"
        assert "new@example.org" in [row[0] for row in after_rows]


@pytest.mark.fuzz
@settings(max_examples=budget(60))
@given(content=subscriber_files)
def test_any_file_imports_with_rejects_named_by_line_or_is_refused_whole(tmp_path: Path, content: bytes) -> None:
    with tempfile.TemporaryDirectory(dir=tmp_path) as folder_name:
        folder = Path(folder_name)
        config = write_config(folder)
        existing = make_list(folder, "ann@example.org,Ann,active,2026-01-01T00:00:00+00:00,,test",
                             "bob@example.org,Bob,unsubscribed,2026-01-01T00:00:00+00:00,2026-02-01T00:00:00+00:00,test")
        original = existing.read_bytes()
        upload = folder / "upload.csv"
        upload.write_bytes(content)
        result = invoke(config, "subscribers", "import", str(upload))
        assert "Traceback" not in result.stderr
        if result.exit_code:
            _assert_one_line_error(result, upload)
            assert existing.read_bytes() == original, "a refused import changed the list"
            return
        assert re.fullmatch(r"imported \d+, updated \d+, unchanged \d+, rejected \d+\n", result.stdout), result.stdout
        for line in result.stderr.splitlines():
            assert line.startswith(f"{upload}:") and re.match(r"\d+: \S", line[len(str(upload)) + 1:]), line
        rows = {row[0]: row for row in _list_rows(invoke(config, "subscribers", "list", "--format", "csv"))}
        assert rows["bob@example.org"][2] == "unsubscribed", "an import restarted an unsubscribed address"
        assert len(rows) == int(result.stdout.split()[1].rstrip(",")) + 2
