"""subscribers.csv: reading, status changes, import, export, and atomic writes under crashes."""

from __future__ import annotations

import io
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from digest.errors import InvalidEmailError, SubscribersError
from digest.models import Subscriber
from digest.subscribers import HEADER as COLUMNS
from digest.subscribers import (
    add_subscriber,
    export_subscribers,
    export_to_file,
    import_subscribers,
    iter_audience,
    read_subscribers,
    remove_subscriber,
    set_status,
    unsubscribe_subscriber,
    with_status,
    write_subscribers,
)
from tests.support.cli import StderrLines

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "subscribers"
NOW = datetime(2026, 11, 26, 7, 0, tzinfo=UTC)
STAMP = "2026-11-26T07:00:00+00:00"
HEADER = "email,name,status,subscribed_at,unsubscribed_at,source\n"


def row(email: str, name: str = "", status: str = "active", since: str = "2026-01-01T00:00:00+00:00",
        until: str = "", source: str = "cli") -> Subscriber:
    return Subscriber(email, name, status, since, until, source)  # type: ignore[arg-type]


# -- reading ---------------------------------------------------------------------------------------


def test_missing_file_is_an_empty_list(tmp_path: Path) -> None:
    assert read_subscribers(tmp_path / "subscribers.csv") == ()


def test_reads_quoted_cells_bom_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "subscribers.csv"
    path.write_bytes(
        b"\xef\xbb\xbf" + HEADER.encode() + b'a@example.com,"Smith, ""Al""",active,,,cli\r\n\r\n'
        b"b@example.com,,unsubscribed,2026-01-01T00:00:00+00:00,2026-02-01T00:00:00+00:00,web\n"
    )
    assert read_subscribers(path) == (
        row("a@example.com", 'Smith, "Al"', since=""),
        row("b@example.com", status="unsubscribed", until="2026-02-01T00:00:00+00:00", source="web"),
    )
    assert list(iter_audience(path)) == [("a@example.com", 'Smith, "Al"')]  # what a send reads: the active rows


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("email,name\na@example.com,A\n", "{path}:1: the header must be email,name,status,subscribed_at,unsubscribed_at,source,confirmed_at; fix the first line"),
        (HEADER + 'a@example.com,"two\nlines",active,,,\nb@example.com,B,gone,,,\n', "{path}:4: status must be one of active, unsubscribed, bounced, pending, got 'gone'"),
        (HEADER + "a@example.com,A,active,,\n", "{path}:2: expected 6 columns (email,name,status,subscribed_at,unsubscribed_at,source), got 5"),
        (HEADER + "a@example.com,A,active,yesterday,,\n", "{path}:2: subscribed_at must be an ISO 8601 time, got 'yesterday'"),
        (HEADER + "nobody,A,active,,,\n", "{path}:2: 'nobody' is not an email address"),
        (HEADER + 'a@example.com,"open quote,active,,,\n', "{path}:2: not valid CSV: unexpected end of data"),
        (HEADER + "a@example.com,A,unsubscribed,,last week,\n", "{path}:2: unsubscribed_at must be an ISO 8601 time, got 'last week'"),
        ('"email' + "x" * 200_000 + '",name\n', "{path}:1: not valid CSV: field larger than field limit (131072)"),
    ],
)
def test_malformed_list_names_file_and_line(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "subscribers.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(SubscribersError) as caught:
        read_subscribers(path)
    assert str(caught.value) == message.format(path=path)
    with pytest.raises(SubscribersError) as caught:
        list(iter_audience(path))  # a send refuses the list with the same line
    assert str(caught.value) == message.format(path=path)


CURRENT = ",".join(COLUMNS) + "\n"


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("a@example.com,A,active,,,,\nb@example.com,B,gone,,,,\n", "{path}:3: status must be one of active, unsubscribed, bounced, pending, got 'gone'"),
        ("nobody,A,active,,,,\n", "{path}:2: 'nobody' is not an email address"),
        (" a@example.com,A,active,,,,\n", "{path}:2: ' a@example.com' is not an email address"),
        ("a@example.com,A,active,yesterday,,,\n", "{path}:2: subscribed_at must be an ISO 8601 time, got 'yesterday'"),
        ("a@example.com,A,unsubscribed,,last week,,\n", "{path}:2: unsubscribed_at must be an ISO 8601 time, got 'last week'"),
        ("a@example.com,A,active,,,,soon\n", "{path}:2: confirmed_at must be an ISO 8601 time, got 'soon'"),
        ("a@example.com,A,active,,,\n", "{path}:2: expected 7 columns (email,name,status,subscribed_at,unsubscribed_at,source,confirmed_at), got 6"),
    ],
)
def test_a_list_with_every_column_is_checked_row_by_row_too(tmp_path: Path, rows: str, message: str) -> None:
    path = tmp_path / "subscribers.csv"
    path.write_text(CURRENT + rows, encoding="utf-8")
    for read in (read_subscribers, lambda p: list(iter_audience(p))):
        with pytest.raises(SubscribersError) as caught:
            read(path)
        assert str(caught.value) == message.format(path=path)


def test_a_list_that_is_not_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "subscribers.csv"
    path.write_bytes(HEADER.encode() + b"a@example.com,A,active,,,cli\nb@example.com,Jos\xe9,active,,,cli\n")
    with pytest.raises(SubscribersError) as caught:
        read_subscribers(path)
    assert str(caught.value) == f"{path}:3: not UTF-8 text; save the file as UTF-8"


def test_an_empty_list_file_has_no_subscribers_and_an_unreadable_one_is_named(tmp_path: Path) -> None:
    path = tmp_path / "subscribers.csv"
    path.write_bytes(b"")
    assert read_subscribers(path) == ()
    folder = tmp_path / "folder.csv"
    folder.mkdir()
    with pytest.raises(SubscribersError) as caught:
        read_subscribers(folder)
    assert str(caught.value) == f"{folder}: cannot read the subscriber list: Is a directory"


# -- status changes --------------------------------------------------------------------------------


def test_set_status_unsubscribes_case_insensitively_and_stamps_time(tmp_path: Path) -> None:
    path = tmp_path / "subscribers.csv"
    write_subscribers(path, [row("Ann@example.com"), row("bob@example.com")])

    assert set_status(path, ["ANN@EXAMPLE.COM", "nobody@example.com"], "unsubscribed", NOW) == 1

    assert read_subscribers(path) == (
        row("Ann@example.com", status="unsubscribed", until=STAMP),
        row("bob@example.com"),
    )


def test_a_bounce_does_not_replace_an_unsubscribe(tmp_path: Path) -> None:
    path = tmp_path / "subscribers.csv"
    write_subscribers(path, [row("a@example.com", status="unsubscribed", until="2026-02-01T00:00:00+00:00"), row("b@example.com")])
    before = path.read_bytes()

    assert set_status(path, ["a@example.com"], "bounced", NOW) == 0
    assert path.read_bytes() == before
    assert set_status(path, ["b@example.com"], "bounced", NOW) == 1
    assert read_subscribers(path)[1] == row("b@example.com", status="bounced")


def test_unchanged_list_is_not_rewritten(tmp_path: Path) -> None:
    path = tmp_path / "subscribers.csv"
    write_subscribers(path, [row("a@example.com", status="unsubscribed", until=STAMP)])
    inode = path.stat().st_ino
    assert set_status(path, ["a@example.com"], "unsubscribed", NOW) == 0
    assert path.stat().st_ino == inode


def test_add_keeps_an_unsubscribed_address_unsubscribed_without_resubscribe(tmp_path: Path) -> None:
    path = tmp_path / "subscribers.csv"
    write_subscribers(path, [row("a@example.com", status="unsubscribed", until="2026-02-01T00:00:00+00:00")])
    with pytest.raises(SubscribersError, match=r"^a@example\.com is unsubscribed since 2026-02-01T00:00:00\+00:00; not re-activated"):
        add_subscriber(path, "A@Example.com", NOW)

    _, after = add_subscriber(path, "A@Example.com", NOW, resubscribe=True, source="signup form")

    assert after == row("a@example.com", since=STAMP, source="signup form")
    assert read_subscribers(path) == (after,)


def test_add_rejects_an_invalid_address(tmp_path: Path) -> None:
    with pytest.raises(InvalidEmailError, match=r"^'a@b@example\.com' is not a valid email address: "):
        add_subscriber(tmp_path / "subscribers.csv", "a@b@example.com", NOW)
    assert not (tmp_path / "subscribers.csv").exists()


# -- import ----------------------------------------------------------------------------------------

MESSY_REJECTS = [
    (6, "'not-an-email' is not a valid email address: An email address must have an @-sign."),
    (9, "status must be one of active, unsubscribed, bounced, got 'subscribed'"),
    (14, "'heidi@exa mple.com' is not a valid email address: The part after the @-sign contains invalid characters: SPACE."),
    (18, "no email address"),
]
MESSY_RESULT = (
    row("alice@example.com", "Alice", since="2026-01-05T09:00:00+00:00", source="signup form"),
    row("dave@example.com", "Dave", "unsubscribed", "2026-02-01T10:00:00+00:00", "2026-03-01T10:00:00+00:00", "signup form"),
    row("ivan@example.com", "-Ivan+", since="2026-02-11T08:30:00+00:00"),  # blank name filled
    row("mallory@example.com", "Mallory", "bounced", since="2026-02-12T08:30:00+00:00"),
    row("zoe@example.com", "Zoe", since="2026-04-01T12:00:00+00:00", source="signup form"),
    row("BOB@example.com", "Bob", since=STAMP, source="import messy.csv"),
    row("carol@example.com", '=HYPERLINK("http://evil.example","click")', since=STAMP, source="import messy.csv"),
    row("frank@example.com", "Frank", "unsubscribed", STAMP, STAMP, "import messy.csv"),
    row("grace@example.com", 'Grace "Amazing" Hopper', since=STAMP, source="import messy.csv"),
    row("judy@example.com", "Judy\r\nSmith", since=STAMP, source="import messy.csv"),
)


def messy_list(tmp_path: Path) -> Path:
    path = tmp_path / "subscribers.csv"
    path.write_bytes((FIXTURES / "existing.csv").read_bytes())
    return path


def test_import_messy_csv_exactly(tmp_path: Path) -> None:
    path = messy_list(tmp_path)
    rejects: list[tuple[int, str]] = []

    report = import_subscribers(path, FIXTURES / "messy.csv", NOW, on_reject=lambda line, reason: rejects.append((line, reason)))

    assert rejects == MESSY_REJECTS
    assert report.summary == "imported 5, updated 2, unchanged 2, rejected 4"
    assert read_subscribers(path) == MESSY_RESULT


def test_import_again_changes_nothing(tmp_path: Path) -> None:
    path = messy_list(tmp_path)
    import_subscribers(path, FIXTURES / "messy.csv", NOW)
    before = path.read_bytes()

    report = import_subscribers(path, FIXTURES / "messy.csv", datetime(2026, 12, 1, tzinfo=UTC))

    assert report.summary == "imported 0, updated 0, unchanged 9, rejected 4"
    assert path.read_bytes() == before


def test_import_dry_run_counts_and_writes_nothing(tmp_path: Path) -> None:
    path = messy_list(tmp_path)
    report = import_subscribers(path, FIXTURES / "messy.csv", NOW, dry_run=True)
    assert report.summary == "imported 5, updated 2, unchanged 2, rejected 4"
    assert path.read_bytes() == (FIXTURES / "existing.csv").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["subscribers.csv", "subscribers.csv.lock"]


@pytest.mark.parametrize("order", [("unsubscribed", "active"), ("active", "unsubscribed")])
def test_an_unsubscribed_row_wins_wherever_it_is(tmp_path: Path, order: tuple[str, str]) -> None:
    source = tmp_path / "in.csv"
    source.write_text(f"email,status\nx@example.com,{order[0]}\nX@EXAMPLE.COM,{order[1]}\n", encoding="utf-8")
    path = tmp_path / "subscribers.csv"
    report = import_subscribers(path, source, NOW)
    assert report.summary == "imported 1, updated 0, unchanged 0, rejected 0"
    assert read_subscribers(path) == (row("x@example.com", status="unsubscribed", since=STAMP, until=STAMP, source="import in.csv"),)


def test_import_uses_subscribed_at_and_source_columns(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text(
        "source,subscribed_at,email\nfair 2025,2025-06-01,a@example.com\n,2025-06-01T10:00:00+02:00,b@example.com\n,last week,c@example.com\n",
        encoding="utf-8",
    )
    path = tmp_path / "subscribers.csv"
    rejects: list[tuple[int, str]] = []
    import_subscribers(path, source, NOW, on_reject=lambda line, reason: rejects.append((line, reason)))
    assert read_subscribers(path) == (
        row("a@example.com", since="2025-06-01T00:00:00+00:00", source="fair 2025"),
        row("b@example.com", since="2025-06-01T08:00:00+00:00", source="import in.csv"),
    )
    assert rejects == [(4, "subscribed_at must be an ISO 8601 time, got 'last week'")]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "{file}: not a CSV file (it holds binary data); export the list as CSV UTF-8"),
        (b"name,address\nAl,a@example.com\n", "{file}:1: no 'email' column in the header; name the address column email"),
        (b"email;name\na@example.com;Al\n", "{file}:1: no 'email' column in the header (it looks separated by ';' or tabs: save it comma-separated); name the address column email"),
        (b"email,name\na@example.com,Jos\xe9\n", "{file}:2: not UTF-8 text; save it as CSV UTF-8"),
        (b"", "{file}: empty file; expected a header line naming an email column"),
    ],
)
def test_not_a_csv_changes_nothing(tmp_path: Path, content: bytes, message: str) -> None:
    path = messy_list(tmp_path)
    source = tmp_path / "upload.csv"
    source.write_bytes(content)
    with pytest.raises(SubscribersError) as caught:
        import_subscribers(path, source, NOW)
    assert str(caught.value) == message.format(file=source)
    assert path.read_bytes() == (FIXTURES / "existing.csv").read_bytes()


def test_import_fails_whole_when_bad_bytes_come_late(tmp_path: Path) -> None:
    path = messy_list(tmp_path)
    source = tmp_path / "late.csv"
    source.write_bytes(b"email\n" + b"".join(b"user%d@example.com\n" % i for i in range(5000)) + b"\xff\xfe\n")
    with pytest.raises(SubscribersError, match="not UTF-8 text"):
        import_subscribers(path, source, NOW)
    assert path.read_bytes() == (FIXTURES / "existing.csv").read_bytes()


# -- export ----------------------------------------------------------------------------------------


def test_export_neutralises_formula_cells_and_the_list_keeps_them(tmp_path: Path) -> None:
    path = tmp_path / "subscribers.csv"
    names = ["=1+2", "+1", "-1", "@SUM(A1)", "\tx", "\rx", "plain", "a=b"]
    write_subscribers(path, [row(f"u{i}@example.com", name, source="=cmd|' /C calc'!A0") for i, name in enumerate(names)])
    out = io.StringIO()

    assert export_subscribers(path, out) == len(names)

    lines = out.getvalue().split("\r\n")
    assert lines[0] == '"email","name","status","subscribed_at","unsubscribed_at","source","confirmed_at"'
    exported_names = [line.split('","')[1] for line in lines[1:-1]]
    assert exported_names == ["'=1+2", "'+1", "'-1", "'@SUM(A1)", "'\tx", "'\rx", "plain", "a=b"]
    assert all(line.endswith('"\'=cmd|\' /C calc\'!A0",""') for line in lines[1:-1])
    assert [s.name for s in read_subscribers(path)] == names


def test_export_to_file_filters_status_and_writes_a_bom(tmp_path: Path) -> None:
    path = tmp_path / "subscribers.csv"
    write_subscribers(path, [row("a@example.com", "Zoë"), row("b@example.com", status="bounced")])
    target = tmp_path / "out" / "active.csv"
    assert export_to_file(path, target, ("active",)) == 1
    assert target.read_bytes() == (
        '\ufeff"email","name","status","subscribed_at","unsubscribed_at","source","confirmed_at"\r\n'
        '"a@example.com","Zoë","active","2026-01-01T00:00:00+00:00","","cli",""\r\n'
    ).encode()


# -- crashes ---------------------------------------------------------------------------------------

_WRITER = """
import sys
from pathlib import Path
from digest.models import Subscriber
from digest.subscribers import write_subscribers

path, rows = Path(sys.argv[1]), int(sys.argv[2])
tag, pause_at = sys.stdin.readline().split()  # "<tag> <row>": write list <tag>, stop at that row; "after": once done


def subscribers():
    for i in range(rows):
        if str(i) == pause_at:
            print("paused", flush=True)
            sys.stdin.readline()  # never answered: the test kills this process here
        yield Subscriber(f"user{i}@example.com", f"{tag} reader {i}", "active", "2026-01-01T00:00:00+00:00", "", tag)
    if pause_at == "end":  # every row handed over; not yet flushed, synced or renamed
        print("paused", flush=True)
        sys.stdin.readline()


write_subscribers(path, subscribers())
print("written", flush=True)
sys.stdin.readline()
"""
KILL_SEED = 20261126  # the kill points are drawn from this seed: every run is the same run


@pytest.mark.slow
def test_killed_writer_leaves_the_old_or_the_new_list(tmp_path: Path) -> None:
    """A writer replacing the list is SIGKILLed at seeded points: mid-write (its draft on disk),
    with every row written but before the rename, and after the rename. The list is always the
    old one or the new one, and the next writer clears the dead drafts."""
    rows = 2_000
    path = tmp_path / "subscribers.csv"
    lists = {
        tag: tuple(row(f"user{i}@example.com", f"{tag} reader {i}", source=tag) for i in range(rows))
        for tag in ("old", "new")
    }
    write_subscribers(path, lists["old"])
    rng = random.Random(KILL_SEED)
    kill_points = ["after", "end", "0", *(str(rng.randrange(rows)) for _ in range(5)), "after"]
    rng.shuffle(kill_points)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    current, seen = "old", {"old"}
    for kill_at in kill_points:
        target = "new" if current == "old" else "old"
        writer = subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(path), str(rows)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True,
        )
        lines = StderrLines(writer, writer.stdout)
        try:
            assert writer.stdin is not None
            writer.stdin.write(f"{target} {kill_at}\n")
            writer.stdin.flush()
            lines.wait_for("written" if kill_at == "after" else "paused")
            drafts = list(tmp_path.glob(".subscribers.csv.*.tmp"))
            assert len(drafts) == (0 if kill_at == "after" else 1), f"kill point {kill_at}: drafts {drafts}"
        finally:
            writer.kill()
            writer.wait(timeout=30)
            lines.close()
            assert writer.stdin is not None
            writer.stdin.close()
        expected = target if kill_at == "after" else current
        assert read_subscribers(path) == lists[expected], f"kill point {kill_at}: the list is not the {expected} one"
        current = expected
        seen.add(current)
    assert seen == {"old", "new"}
    set_status(path, ["user0@example.com"], "unsubscribed", NOW)  # the next writer clears dead drafts
    assert not list(tmp_path.glob(".subscribers.csv.*.tmp"))


def test_a_failed_write_keeps_the_old_list(tmp_path: Path) -> None:
    path = tmp_path / "subscribers.csv"
    write_subscribers(path, [row("a@example.com")])
    before = path.read_bytes()

    def rows() -> Iterator[Subscriber]:
        yield row("b@example.com")
        raise RuntimeError("the process fails halfway")

    with pytest.raises(RuntimeError):
        write_subscribers(path, rows())
    assert path.read_bytes() == before
    assert not list(tmp_path.glob(".subscribers.csv.*.tmp"))


# -- found by `make mutation`: behaviour no test looked at -------------------------------------------


def test_add_updates_the_name_of_an_active_address_only_when_given(tmp_path: Path) -> None:
    path = tmp_path / "subscribers.csv"
    write_subscribers(path, [row("a@example.com", "Al")])
    assert add_subscriber(path, "a@example.com", NOW)[1] == row("a@example.com", "Al")
    before, after = add_subscriber(path, "A@example.com", NOW, name="Alice")
    assert (before, after) == (row("a@example.com", "Al"), row("a@example.com", "Alice"))
    assert read_subscribers(path) == (row("a@example.com", "Alice"),)


def test_resubscribe_keeps_the_name_clears_the_unsubscribe_and_records_the_new_consent(tmp_path: Path) -> None:
    path = tmp_path / "subscribers.csv"
    write_subscribers(path, [row("a@example.com", "Al", "unsubscribed", until="2026-02-01T00:00:00+00:00", source="web")])
    _, after = add_subscriber(path, "a@example.com", NOW, resubscribe=True)
    assert after == row("a@example.com", "Al", "active", since=STAMP, until="", source="resubscribed")
    _, renamed = add_subscriber(path, "a@example.com", NOW, name="Alice")
    assert renamed.name == "Alice"
    set_status(path, ["a@example.com"], "unsubscribed", NOW)
    _, back = add_subscriber(path, "a@example.com", NOW, name="Ali", resubscribe=True, source="phone")
    assert (back.name, back.status, back.source) == ("Ali", "active", "phone")


def test_a_bounced_address_without_a_date_is_not_reactivated_and_says_so(tmp_path: Path) -> None:
    path = tmp_path / "subscribers.csv"
    write_subscribers(path, [row("b@example.com", status="bounced")])
    with pytest.raises(SubscribersError) as caught:
        add_subscriber(path, "b@example.com", NOW)
    assert str(caught.value) == "b@example.com is bounced; not re-activated: add --resubscribe if they asked to subscribe again"


def test_unsubscribe_returns_the_change_and_refuses_an_unknown_address(tmp_path: Path) -> None:
    path = tmp_path / "subscribers.csv"
    write_subscribers(path, [row("a@example.com")])
    before, after = unsubscribe_subscriber(path, "A@example.com", NOW)
    assert (before.status, after.status, after.unsubscribed_at) == ("active", "unsubscribed", STAMP)
    with pytest.raises(SubscribersError, match=r"^x@example.com is not on the list"):
        unsubscribe_subscriber(path, "x@example.com", NOW)
    with pytest.raises(SubscribersError, match=r"^not-an-address is not on the list"):
        unsubscribe_subscriber(path, " not-an-address ", NOW)
    with pytest.raises(InvalidEmailError, match=r"^empty email address$"):
        add_subscriber(path, "   ", NOW)


def test_removing_a_row_keeps_every_row_after_it(tmp_path: Path) -> None:
    path = tmp_path / "subscribers.csv"
    write_subscribers(path, [row("a@example.com"), row("b@example.com"), row("c@example.com")])
    assert remove_subscriber(path, "B@example.com") == row("b@example.com")
    assert [s.email for s in read_subscribers(path)] == ["a@example.com", "c@example.com"]


def test_back_to_active_clears_the_unsubscribe_time() -> None:
    gone = row("a@example.com", status="unsubscribed", until="2026-02-01T00:00:00+00:00")
    assert with_status(gone, "active", NOW) == row("a@example.com")
    assert with_status(row("a@example.com"), "bounced", NOW) == row("a@example.com", status="bounced")


def test_status_changes_are_logged_with_the_list_and_count(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "subscribers.csv"
    write_subscribers(path, [row("a@example.com"), row("b@example.com")])
    caplog.set_level("INFO", logger="digest")
    assert set_status(path, ["a@example.com", "b@example.com"], "bounced", NOW) == 2
    assert f"{path}: 2 subscriber(s) changed status" in caplog.messages


def test_import_fills_only_the_blank_cells_of_an_existing_row(tmp_path: Path) -> None:
    path = tmp_path / "subscribers.csv"
    write_subscribers(path, [row("blank@example.com", since="", source=""), row("full@example.com", "Fay", since="2025-01-01T00:00:00+00:00", source="web")])
    upload = tmp_path / "in.csv"
    upload.write_text(
        "email,name,subscribed_at,source\n"
        "blank@example.com,Bea,2025-03-01T00:00:00+00:00,fair\n"
        "full@example.com,Other,2025-03-01T00:00:00+00:00,fair\n",
        encoding="utf-8",
    )
    report = import_subscribers(path, upload, NOW)
    assert report.summary == "imported 0, updated 1, unchanged 1, rejected 0"
    assert read_subscribers(path) == (
        row("blank@example.com", "Bea", since="2025-03-01T00:00:00+00:00", source="fair"),
        row("full@example.com", "Fay", since="2025-01-01T00:00:00+00:00", source="web"),
    )


def test_import_of_an_unsubscribe_for_an_active_row_stamps_the_time(tmp_path: Path) -> None:
    path = tmp_path / "subscribers.csv"
    write_subscribers(path, [row("a@example.com", "Al")])
    upload = tmp_path / "in.csv"
    upload.write_text("email,status\na@example.com,unsubscribed\n", encoding="utf-8")
    assert import_subscribers(path, upload, NOW).summary == "imported 0, updated 1, unchanged 0, rejected 0"
    assert read_subscribers(path) == (row("a@example.com", "Al", "unsubscribed", until=STAMP),)


def test_import_pads_short_rows_and_ignores_extra_cells(tmp_path: Path) -> None:
    path = tmp_path / "subscribers.csv"
    upload = tmp_path / "in.csv"
    upload.write_text("email,name,source\nshort@example.com\nlong@example.com,Lo,fair,extra,cells\n", encoding="utf-8")
    assert import_subscribers(path, upload, NOW).summary == "imported 2, updated 0, unchanged 0, rejected 0"
    assert read_subscribers(path) == (
        row("short@example.com", since=STAMP, source="import in.csv"),
        row("long@example.com", "Lo", since=STAMP, source="fair"),
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"email\tname\na@example.com\tAl\n", "{file}:1: no 'email' column in the header (it looks separated by ';' or tabs: save it comma-separated); name the address column email"),
        (b"address\na@example.com\n", "{file}:1: no 'email' column in the header; name the address column email"),
        (b"email," + b"x" * 200_000 + b"\na@example.com,\n", "{file}:1: not a CSV file: field larger than field limit (131072)"),
        (b"email\n" + b"".join(b"user%d@example.com\n" % i for i in range(5000)) + b"\xff\xfe\n", "{file}:5002: not UTF-8 text; save it as CSV UTF-8"),
    ],
    ids=["tabs", "no-email", "huge-header-cell", "late-bad-bytes"],
)
def test_a_file_that_is_not_csv_text_is_refused_naming_the_line(tmp_path: Path, content: bytes, message: str) -> None:
    path = messy_list(tmp_path)
    upload = tmp_path / "upload.csv"
    upload.write_bytes(content)
    with pytest.raises(SubscribersError) as caught:
        import_subscribers(path, upload, NOW)
    assert str(caught.value) == message.format(file=upload)
    assert path.read_bytes() == (FIXTURES / "existing.csv").read_bytes()


def test_times_are_written_in_utc_whatever_the_local_time_zone(tmp_path: Path, local_time_new_york: None) -> None:
    path = tmp_path / "subscribers.csv"
    upload = tmp_path / "in.csv"
    upload.write_text("email,subscribed_at\nnaive@example.com,2025-06-01T09:30:00\n", encoding="utf-8")
    import_subscribers(path, upload, NOW)
    add_subscriber(path, "new@example.com", NOW)
    assert [(s.email, s.subscribed_at) for s in read_subscribers(path)] == [
        ("naive@example.com", "2025-06-01T09:30:00+00:00"),  # a time without offset is taken as UTC
        ("new@example.com", STAMP),
    ]


def test_a_nul_byte_past_the_first_8_kb_is_one_rejected_row_not_a_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "subscribers.csv"
    upload = tmp_path / "in.csv"
    upload.write_bytes(b"email\n" + b"".join(b"user%d@example.com\n" % i for i in range(1000)) + b"b@exa\0mple.com\n")
    rejects: list[int] = []
    report = import_subscribers(path, upload, NOW, on_reject=lambda line, reason: rejects.append(line))
    assert report.summary == "imported 1000, updated 0, unchanged 0, rejected 1"
    assert rejects == [1002]


def test_an_upload_that_cannot_be_read_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "gone.csv"
    with pytest.raises(SubscribersError) as caught:
        import_subscribers(tmp_path / "subscribers.csv", missing, NOW)
    assert str(caught.value) == f"{missing}: cannot read: No such file or directory"


def test_an_import_creates_the_folders_of_a_list_that_does_not_exist_yet(tmp_path: Path) -> None:
    path = tmp_path / "data" / "lists" / "subscribers.csv"
    upload = tmp_path / "in.csv"
    upload.write_text("email\na@example.com\n", encoding="utf-8")
    assert import_subscribers(path, upload, NOW).summary == "imported 1, updated 0, unchanged 0, rejected 0"
    assert [s.email for s in read_subscribers(path)] == ["a@example.com"]
