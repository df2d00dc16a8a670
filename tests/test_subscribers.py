"""subscribers.csv: reading, status changes, import, export, and atomic writes under crashes."""

from __future__ import annotations

import io
import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from digest.errors import InvalidEmailError, SubscribersError
from digest.models import Subscriber
from digest.subscribers import (
    add_subscriber,
    export_subscribers,
    export_to_file,
    import_subscribers,
    read_subscribers,
    set_status,
    write_subscribers,
)

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


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("email,name\na@example.com,A\n", "{path}:1: the header must be email,name,status,subscribed_at,unsubscribed_at,source,confirmed_at; fix the first line"),
        (HEADER + 'a@example.com,"two\nlines",active,,,\nb@example.com,B,gone,,,\n', "{path}:4: status must be one of active, unsubscribed, bounced, pending, got 'gone'"),
        (HEADER + "a@example.com,A,active,,\n", "{path}:2: expected 6 columns (email,name,status,subscribed_at,unsubscribed_at,source), got 5"),
        (HEADER + "a@example.com,A,active,yesterday,,\n", "{path}:2: subscribed_at must be an ISO 8601 time, got 'yesterday'"),
        (HEADER + "nobody,A,active,,,\n", "{path}:2: 'nobody' is not an email address"),
        (HEADER + 'a@example.com,"open quote,active,,,\n', "{path}:2: not valid CSV: unexpected end of data"),
    ],
)
def test_malformed_list_names_file_and_line(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "subscribers.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(SubscribersError) as caught:
        read_subscribers(path)
    assert str(caught.value) == message.format(path=path)


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
import itertools, sys
from pathlib import Path
from digest.models import Subscriber
from digest.subscribers import write_subscribers

path, rows = Path(sys.argv[1]), int(sys.argv[2])
lists = {
    tag: [Subscriber(f"user{i}@example.com", f"{tag} reader {i}", "active", "2026-01-01T00:00:00+00:00", "", tag)
          for i in range(rows)]
    for tag in ("old", "new")
}
print("ready", flush=True)
first = sys.stdin.readline().split()[1]  # "go <tag>": write that list first, then the other, and so on
second = "new" if first == "old" else "old"
for tag in itertools.cycle((first, second)):
    write_subscribers(path, lists[tag])
"""


@pytest.mark.slow
def test_killed_writer_leaves_the_old_or_the_new_list(tmp_path: Path) -> None:
    """A writer swapping a 2 MB list between two versions is SIGKILLed at random moments, 15 times."""
    rows = 25_000
    path = tmp_path / "subscribers.csv"
    lists = {
        tag: tuple(row(f"user{i}@example.com", f"{tag} reader {i}", source=tag) for i in range(rows))
        for tag in ("old", "new")
    }
    started = time.perf_counter()
    write_subscribers(path, lists["old"])
    write_seconds = time.perf_counter() - started
    seed = random.randrange(1_000_000)
    rng = random.Random(seed)
    env = {**os.environ, "PYTHONPATH": str(REPO)}

    writers: list[subprocess.Popen[str]] = []

    def start_writer() -> subprocess.Popen[str]:
        writers.append(subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(path), str(rows)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True,
        ))
        return writers[-1]

    def stop(writer: subprocess.Popen[str]) -> None:
        writer.kill()
        writer.wait()
        for pipe in (writer.stdin, writer.stdout):
            if pipe is not None:
                pipe.close()

    current, outcomes, drafts_left = "old", [], 0
    writer = start_writer()
    try:
        for _ in range(15):
            following = start_writer()  # starts up while this round runs
            assert writer.stdin is not None and writer.stdout is not None
            assert writer.stdout.readline() == "ready\n"
            writer.stdin.write(f"go {'new' if current == 'old' else 'old'}\n")
            writer.stdin.flush()
            # A random moment is the point of this test: within the first writes, or renames, of the round.
            time.sleep(rng.uniform(0.0, 2.5 * write_seconds))
            stop(writer)
            drafts_left += len(list(tmp_path.glob(".subscribers.csv.*.tmp")))
            content = read_subscribers(path)
            matches = [tag for tag, subscribers in lists.items() if content == subscribers]
            assert matches, f"seed {seed}: after a kill the list is neither the old nor the new one"
            current = matches[0]
            outcomes.append(current)
            writer = following
    finally:
        for leftover in writers:
            stop(leftover)
    assert drafts_left, f"seed {seed}: no kill landed during a write"
    assert set(outcomes) == {"old", "new"}, f"seed {seed}: every kill left the same list: {outcomes}"
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
