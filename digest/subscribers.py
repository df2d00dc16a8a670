"""subscribers.csv: read, validate and rewrite the subscriber list.

Reads stream row by row. Every write takes `<file>.lock`, streams the new list to a temporary
file beside the old one, fsyncs it and renames it over the old one: concurrent commands never
lose a row, and a writer killed at any moment leaves the old list or the new one, never a mix.
Readers need no lock, because a rename never changes a file that is already open.
"""

from __future__ import annotations

import codecs
import csv
import logging
import sqlite3
import tempfile
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from operator import itemgetter
from pathlib import Path
from typing import IO, TYPE_CHECKING, cast

from email_validator import EmailNotValidError, validate_email

from digest.atomic import Replacement, replacing
from digest.errors import InvalidEmailError, SubscribersError
from digest.locks import hold_lock
from digest.models import SUBSCRIBER_STATUSES, Subscriber, SubscriberStatus

if TYPE_CHECKING:
    from _csv import Writer

log = logging.getLogger(__name__)

HEADER = ("email", "name", "status", "subscribed_at", "unsubscribed_at", "source", "confirmed_at")
# Lists written before sign-up lack confirmed_at; they load, and the next write adds it.
OLD_HEADER = HEADER[:-1]
LOCK_WAIT_SECONDS = 60.0


def normalise_email(raw: str) -> str:
    """The address as stored: validated offline, domain lowercased. Raises InvalidEmailError."""
    text = raw.strip()
    if not text:
        raise InvalidEmailError("empty email address")
    try:
        return validate_email(text, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise InvalidEmailError(f"{text!r} is not a valid email address: {exc}") from exc


def address_key(email: str) -> str:
    """What two addresses are compared by: the stored (normalised) address, case-folded."""
    return email.strip().lower()


def lookup_key(raw: str) -> str:
    """The key of an address typed by someone: normalised when valid, else compared as written."""
    try:
        return address_key(normalise_email(raw))
    except InvalidEmailError:
        return address_key(raw)


def timestamp(now: datetime) -> str:
    """How subscribers.csv writes a time: ISO 8601 in UTC, to the second."""
    return now.astimezone(UTC).isoformat(timespec="seconds")


def iter_subscribers(path: Path) -> Iterator[Subscriber]:
    """Stream the rows of subscribers.csv; a missing or empty file has none.

    Raises SubscribersError "FILE:LINE: reason" for a malformed file.
    """
    for cells in _checked_rows(path):
        yield Subscriber(*cells)  # type: ignore[arg-type]  # status checked by _check_row


def iter_audience(path: Path) -> Iterator[tuple[str, str]]:
    """(email, name) of each active row of subscribers.csv, in list order: what a send reads.

    Checks every row as iter_subscribers does, without a Subscriber per row (a million rows to
    read before a send's first message). Raises SubscribersError "FILE:LINE: reason".
    """
    for cells in _checked_rows(path):
        if cells[2] == "active":
            yield cells[0], cells[1]


def _checked_rows(path: Path) -> Iterator[list[str]]:
    """The cells of each row, checked, one for each column of HEADER (confirmed_at "" when absent)."""
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except FileNotFoundError:
        return
    except OSError as exc:
        raise SubscribersError(f"{path}: cannot read the subscriber list: {exc.strerror}") from exc
    with handle:
        reader = csv.reader(handle, strict=True)
        previous = 0  # the line before the record being read: a quoted cell may span lines
        try:
            header = next(reader, None)
            if header is None:
                return
            if tuple(header) not in (HEADER, OLD_HEADER):
                raise SubscribersError(f"{path}:1: the header must be {','.join(HEADER)}; fix the first line")
            width = len(header)
            current = width == len(HEADER)
            iso_time = datetime.fromisoformat
            previous = reader.line_num
            for row in reader:
                # The checks of _check_row, inline for a row of the current header (a send reads a
                # million rows before its first message); _check_row names what a row gets wrong.
                fine = current and len(row) == width
                if fine:
                    email, _, status, subscribed_at, unsubscribed_at, _, confirmed_at = row
                    fine = "@" in email and email == email.strip() and status in _STATUSES
                    try:
                        if fine and subscribed_at:
                            iso_time(subscribed_at)
                        if fine and unsubscribed_at:
                            iso_time(unsubscribed_at)
                        if fine and confirmed_at:
                            iso_time(confirmed_at)
                    except ValueError:
                        fine = False
                if fine:
                    yield row
                elif row:
                    yield _check_row(row, path, previous + 1, width)
                previous = reader.line_num
        except csv.Error as exc:
            raise SubscribersError(f"{path}:{previous + 1}: not valid CSV: {exc}") from exc
        except UnicodeDecodeError as exc:
            raise SubscribersError(f"{path}:{_undecodable_line(path)}: not UTF-8 text; save the file as UTF-8") from exc


def _undecodable_line(path: Path) -> int:
    """The line of the first byte that is not UTF-8 (a text reader decodes ahead, so it cannot say)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    line = 1
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 16), b""):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                return line + exc.object.count(b"\n", 0, exc.start)
            line += chunk.count(b"\n")
    return line


def count_statuses(path: Path) -> dict[str, int]:
    """How many rows have each status (every status listed, 0 when none). Raises SubscribersError."""
    counts: dict[str, int] = dict.fromkeys(SUBSCRIBER_STATUSES, 0)
    for subscriber in iter_subscribers(path):
        counts[subscriber.status] += 1
    return counts


def read_subscribers(path: Path) -> tuple[Subscriber, ...]:
    """Every row of subscribers.csv (a missing file is an empty list). Raises SubscribersError."""
    return tuple(iter_subscribers(path))


def _check_row(row: list[str], path: Path, line: int, width: int) -> list[str]:
    if len(row) != width:
        raise SubscribersError(f"{path}:{line}: expected {width} columns ({','.join(HEADER[:width])}), got {len(row)}")
    if width != len(HEADER):
        row.append("")
    email, status = row[0], row[2]
    if "@" not in email or email != email.strip():
        raise SubscribersError(f"{path}:{line}: {email!r} is not an email address")
    if status not in SUBSCRIBER_STATUSES:
        raise SubscribersError(f"{path}:{line}: status must be one of {', '.join(SUBSCRIBER_STATUSES)}, got {status!r}")
    for index in _TIME_COLUMNS:
        if value := row[index]:
            try:
                datetime.fromisoformat(value)
            except ValueError:
                raise SubscribersError(f"{path}:{line}: {HEADER[index]} must be an ISO 8601 time, got {value!r}") from None
    return row


_TIME_COLUMNS = tuple(HEADER.index(column) for column in ("subscribed_at", "unsubscribed_at", "confirmed_at"))
_STATUSES = frozenset(SUBSCRIBER_STATUSES)


class _Draft:
    """The new list being written; committed by `rewriting` unless discarded."""

    def __init__(self, writer: Writer, replacement: Replacement) -> None:
        self._writer = writer
        self._replacement = replacement

    def write(self, subscriber: Subscriber) -> None:
        self._writer.writerow(row_cells(subscriber))

    def discard(self) -> None:
        """Leave the list as it is (nothing changed, or a dry run)."""
        self._replacement.discard()


@contextmanager
def rewriting(path: Path) -> Iterator[_Draft]:
    """Under the list's lock, write a new list row by row; it replaces the old one at the end, atomically.

    Read the old list (iter_subscribers) inside the block. If the block raises or discards the
    draft, the old list stays. Raises SubscribersError when the file cannot be written.
    """
    lock = path.with_name(path.name + ".lock")
    busy = f"{path}: another command has been writing the list for {LOCK_WAIT_SECONDS:.0f} s; try again"
    with hold_lock(lock, busy, wait_seconds=LOCK_WAIT_SECONDS):
        _remove_stale_drafts(path)
        try:
            with replacing(path, newline="") as new:
                # CRLF as RFC 4180 says; it also makes the writer quote a cell holding a bare CR,
                # which would otherwise end the row when read back.
                writer = csv.writer(new.file, lineterminator="\r\n")
                writer.writerow(HEADER)
                draft = _Draft(writer, new)
                yield draft
        except OSError as exc:
            raise SubscribersError(
                f"{path}: cannot write the subscriber list: {exc.strerror}; the previous list is unchanged"
            ) from exc


def _remove_stale_drafts(path: Path) -> None:
    """Drafts left by a writer that was killed; only the lock holder writes drafts, so none is live."""
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        stale.unlink(missing_ok=True)


def write_subscribers(path: Path, subscribers: Iterable[Subscriber]) -> None:
    """Replace the whole list, atomically and under its lock. Raises SubscribersError."""
    with rewriting(path) as draft:
        for subscriber in subscribers:
            draft.write(subscriber)


def with_status(subscriber: Subscriber, status: SubscriberStatus, now: datetime) -> Subscriber:
    """The row after a status change. An unsubscribe is a consent record: a bounce does not replace it."""
    if subscriber.status == status or (status == "bounced" and subscriber.status == "unsubscribed"):
        return subscriber
    if status == "unsubscribed":
        return replace(subscriber, status=status, unsubscribed_at=timestamp(now))
    if status == "active":
        return replace(subscriber, status=status, unsubscribed_at="")
    return replace(subscriber, status=status)


def set_status(path: Path, emails: Iterable[str], status: SubscriberStatus, now: datetime) -> int:
    """Set the status of these addresses (unsubscribed also sets unsubscribed_at); returns rows changed.

    Addresses not on the list are ignored. Atomic and locked. Raises SubscribersError.
    """
    return len(apply_statuses(path, dict.fromkeys((lookup_key(email) for email in emails), status), now))


def apply_statuses(
    path: Path, statuses: Mapping[str, SubscriberStatus], now: datetime
) -> tuple[tuple[Subscriber, Subscriber], ...]:
    """Give each row whose address_key is in `statuses` that status (see with_status); returns (before, after) pairs.

    The list is rewritten, atomically and locked, only when a row changed. Raises SubscribersError.
    """
    if not statuses:
        return ()
    changes: list[tuple[Subscriber, Subscriber]] = []
    with rewriting(path) as draft:
        for subscriber in iter_subscribers(path):
            status = statuses.get(address_key(subscriber.email))
            if status is not None:
                updated = with_status(subscriber, status, now)
                if updated != subscriber:
                    changes.append((subscriber, updated))
                    subscriber = updated
            draft.write(subscriber)
        if not changes:
            draft.discard()
    if changes:
        log.info("%s: %d subscriber(s) changed status", path, len(changes))
    return tuple(changes)


def change_subscriber(
    path: Path,
    email: str,
    change: Callable[[Subscriber | None], Subscriber | None],
) -> tuple[Subscriber | None, Subscriber | None]:
    """Apply `change` to the row of `email` (None when absent); returns (before, after).

    `change` returns the new row, or None to erase it; a new row for an absent address is
    appended. The list is rewritten only when something changed. Raises SubscribersError.
    """
    key = lookup_key(email)
    before: Subscriber | None = None
    after: Subscriber | None = None
    with rewriting(path) as draft:
        for subscriber in iter_subscribers(path):
            if before is None and address_key(subscriber.email) == key:
                before = subscriber
                after = change(subscriber)
                if after is None:
                    continue
                subscriber = after
            draft.write(subscriber)
        if before is None:
            after = change(None)
            if after is not None:
                draft.write(after)
        if before == after:
            draft.discard()
    return before, after


def add_subscriber(
    path: Path, email: str, now: datetime, *, name: str | None = None, source: str | None = None, resubscribe: bool = False
) -> tuple[Subscriber | None, Subscriber]:
    """Add an address, or update the name of one already active; returns (before, after).

    A pending sign-up becomes active (the operator vouches for it). An unsubscribed or bounced
    address comes back only with `resubscribe` (a new consent, recorded with its source and time). Raises InvalidEmailError, or SubscribersError when refused.
    """
    address = normalise_email(email)
    stamp = timestamp(now)

    def change(existing: Subscriber | None) -> Subscriber:
        if existing is None:
            return Subscriber(address, name or "", "active", stamp, "", source or "cli")
        if existing.status == "active":
            return existing if name is None else replace(existing, name=name)
        if existing.status == "pending":
            return replace(existing, name=existing.name if name is None else name, status="active", source=source or existing.source)
        if not resubscribe:
            since = f" since {existing.unsubscribed_at}" if existing.unsubscribed_at else ""
            raise SubscribersError(
                f"{existing.email} is {existing.status}{since}; not re-activated: "
                "add --resubscribe if they asked to subscribe again"
            )
        return replace(
            existing, name=existing.name if name is None else name, status="active",
            subscribed_at=stamp, unsubscribed_at="", source=source or "resubscribed",
        )

    before, after = change_subscriber(path, address, change)
    assert after is not None  # change() never erases
    return before, after


def unsubscribe_subscriber(path: Path, email: str, now: datetime) -> tuple[Subscriber, Subscriber]:
    """Mark one address unsubscribed; returns (before, after). Raises SubscribersError when not on the list."""
    before, after = change_subscriber(
        path, email, lambda existing: None if existing is None else with_status(existing, "unsubscribed", now)
    )
    if before is None or after is None:
        raise SubscribersError(f"{email.strip()} is not on the list ({path}); nothing changed")
    return before, after


def remove_subscriber(path: Path, email: str) -> Subscriber | None:
    """Erase the row of one address (an erasure request); returns it, or None when it was not there."""
    before, _ = change_subscriber(path, email, lambda existing: None)
    return before


# -- import ----------------------------------------------------------------------------------------

IMPORT_COLUMNS = ("email", "name", "status", "subscribed_at", "source")
# Which status a merged address keeps: a withdrawal of consent wins over everything else.
_STATUS_RANK: dict[str, int] = {"active": 0, "bounced": 1, "unsubscribed": 2}
_RANKED_STATUS: tuple[SubscriberStatus, ...] = ("active", "bounced", "unsubscribed")
_BATCH_ROWS = 500
IMPORT_STATUSES = ("active", "unsubscribed", "bounced")  # pending comes only from the sign-up form


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What an import did, counted by address: duplicates in the file count once."""

    imported: int
    updated: int
    unchanged: int
    rejected: int

    @property
    def summary(self) -> str:
        return f"imported {self.imported}, updated {self.updated}, unchanged {self.unchanged}, rejected {self.rejected}"


def import_subscribers(
    path: Path,
    csv_file: Path,
    now: datetime,
    *,
    dry_run: bool = False,
    on_reject: Callable[[int, str], None] = lambda line, reason: None,
) -> ImportReport:
    """Merge `csv_file` into the list at `path`; each rejected row goes to `on_reject(line, reason)`.

    Rows are staged in a temporary SQLite file beside the list, so memory stays flat for any
    size. Raises SubscribersError (nothing written) when the file is not CSV or has no email column.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=f".{path.name}.import-", dir=path.parent) as folder:
            staging = sqlite3.connect(Path(folder) / "import.sqlite3", isolation_level=None)
            try:
                staging.execute("PRAGMA journal_mode = OFF")
                staging.execute("PRAGMA synchronous = OFF")
                staging.execute(
                    "CREATE TABLE rows (key TEXT PRIMARY KEY, line INTEGER, email TEXT, name TEXT,"
                    " rank INTEGER, subscribed_at TEXT, source TEXT) WITHOUT ROWID"
                )
                staging.execute("CREATE TABLE seen (key TEXT PRIMARY KEY) WITHOUT ROWID")
                staging.execute("BEGIN")
                rejected = _stage_rows(staging, csv_file, on_reject)
                staging.execute("COMMIT")
                default_source = f"import {csv_file.name}"
                with rewriting(path) as draft:
                    imported, updated, unchanged = _merge(staging, path, draft, now, default_source)
                    if dry_run or not (imported or updated):
                        draft.discard()
            finally:
                staging.close()
    except sqlite3.Error as exc:
        raise SubscribersError(f"{path.parent}: cannot stage the import: {exc} (is the disk full?)") from exc
    except OSError as exc:
        raise SubscribersError(f"{path.parent}: cannot stage the import: {exc.strerror}") from exc
    return ImportReport(imported, updated, unchanged, rejected)


def _stage_rows(staging: sqlite3.Connection, csv_file: Path, on_reject: Callable[[int, str], None]) -> int:
    """Validate every row of `csv_file` into the staging table, merging duplicates; returns rows rejected."""
    upsert = (
        "INSERT INTO rows VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET"
        " rank = max(rank, excluded.rank),"
        " name = CASE WHEN name = '' THEN excluded.name ELSE name END,"
        " subscribed_at = CASE WHEN subscribed_at = '' THEN excluded.subscribed_at ELSE subscribed_at END,"
        " source = CASE WHEN source = '' THEN excluded.source ELSE source END"
    )
    _refuse_binary(csv_file)
    try:
        handle = csv_file.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise SubscribersError(f"{csv_file}: cannot read: {exc.strerror}") from exc
    rejected = 0
    with handle:
        reader = csv.reader(handle)
        last_line = 0
        try:
            width, pick = _import_columns(csv_file, reader)
            last_line = reader.line_num
            batch: list[tuple[str, int, str, str, int, str, str]] = []
            for row in reader:
                line, last_line = last_line + 1, reader.line_num
                if not "".join(row).strip():
                    continue
                if len(row) != width:
                    row = (row + [""] * width)[:width]
                row.append("")  # the cell of every column the file lacks
                email, name, status, subscribed_at, source = pick(row)
                try:
                    batch.append(
                        _staged_row(email.strip(), name.strip(), status.strip(), subscribed_at.strip(), source.strip(), line)
                    )
                except SubscribersError as exc:
                    rejected += 1
                    on_reject(line, exc.message)
                if len(batch) >= _BATCH_ROWS:
                    staging.executemany(upsert, batch)
                    batch.clear()
            staging.executemany(upsert, batch)
        except csv.Error as exc:
            raise SubscribersError(f"{csv_file}:{last_line + 1}: not a CSV file: {exc}") from exc
        except UnicodeDecodeError as exc:
            raise SubscribersError(f"{csv_file}:{_undecodable_line(csv_file)}: not UTF-8 text; save it as CSV UTF-8") from exc
    return rejected


def _refuse_binary(csv_file: Path) -> None:
    """A NUL byte near the start means an image, archive or spreadsheet, not CSV text."""
    try:
        with csv_file.open("rb") as handle:
            head = handle.read(8192)
    except OSError as exc:
        raise SubscribersError(f"{csv_file}: cannot read: {exc.strerror}") from exc
    if b"\0" in head:
        raise SubscribersError(f"{csv_file}: not a CSV file (it holds binary data); export the list as CSV UTF-8")


def _import_columns(
    csv_file: Path, reader: Iterator[list[str]]
) -> tuple[int, Callable[[list[str]], tuple[str, str, str, str, str]]]:
    """From the header line: its width, and what picks IMPORT_COLUMNS from a row padded to it
    plus one empty cell (for the columns the file lacks). Raises SubscribersError."""
    header = next(reader, None)
    if header is None:
        raise SubscribersError(f"{csv_file}: empty file; expected a header line naming an email column")
    names = [cell.strip().lower() for cell in header]
    if "email" not in names:
        hint = " (it looks separated by ';' or tabs: save it comma-separated)" if len(names) == 1 and any(
            sep in names[0] for sep in (";", "\t")
        ) else ""
        raise SubscribersError(f"{csv_file}:1: no 'email' column in the header{hint}; name the address column email")
    pick = itemgetter(*(names.index(name) if name in names else len(names) for name in IMPORT_COLUMNS))
    return len(names), cast(Callable[[list[str]], tuple[str, str, str, str, str]], pick)


def _staged_row(
    raw_email: str, name: str, raw_status: str, subscribed_at: str, source: str, line: int
) -> tuple[str, int, str, str, int, str, str]:
    if not raw_email:
        raise SubscribersError("no email address")
    email = normalise_email(raw_email)
    status = raw_status.lower() or "active"
    if status not in _STATUS_RANK:
        raise SubscribersError(f"status must be one of {', '.join(IMPORT_STATUSES)}, got {raw_status!r}")
    if subscribed_at:
        try:
            moment = datetime.fromisoformat(subscribed_at)
        except ValueError:
            raise SubscribersError(f"subscribed_at must be an ISO 8601 time, got {subscribed_at!r}") from None
        subscribed_at = timestamp(moment if moment.tzinfo else moment.replace(tzinfo=UTC))
    return (address_key(email), line, email, name, _STATUS_RANK[status], subscribed_at, source)


def _merge(
    staging: sqlite3.Connection, path: Path, draft: _Draft, now: datetime, default_source: str
) -> tuple[int, int, int]:
    """Write the list with the staged rows merged in; returns (imported, updated, unchanged)."""
    updated = unchanged = 0
    chunk: list[Subscriber] = []

    def flush() -> None:
        nonlocal updated, unchanged
        keys = [address_key(s.email) for s in chunk]
        staging.executemany("INSERT OR IGNORE INTO seen VALUES (?)", ((key,) for key in keys))
        placeholders = ",".join("?" * len(keys))
        staged = {
            row[0]: row
            for row in staging.execute(
                f"SELECT key, name, rank, subscribed_at, source FROM rows WHERE key IN ({placeholders})", keys
            )
        }
        for key, subscriber in zip(keys, chunk, strict=True):
            found = staged.pop(key, None)  # pop: a second row of one address in the list is left alone
            if found is not None:
                merged = _merged(subscriber, found[1], _RANKED_STATUS[found[2]], found[3], found[4], now)
                if merged != subscriber:
                    updated += 1
                else:
                    unchanged += 1
                subscriber = merged
            draft.write(subscriber)
        chunk.clear()

    staging.execute("BEGIN")
    for subscriber in iter_subscribers(path):
        chunk.append(subscriber)
        if len(chunk) >= _BATCH_ROWS:
            flush()
    if chunk:
        flush()
    imported = 0
    new_rows = staging.execute(
        "SELECT email, name, rank, subscribed_at, source FROM rows"
        " WHERE key NOT IN (SELECT key FROM seen) ORDER BY line"
    )
    stamp = timestamp(now)
    for email, name, rank, subscribed_at, source in new_rows:
        status = _RANKED_STATUS[rank]
        draft.write(
            Subscriber(
                email, name, status, subscribed_at or stamp, stamp if status == "unsubscribed" else "", source or default_source
            )
        )
        imported += 1
    staging.execute("COMMIT")
    return imported, updated, unchanged


def _merged(
    subscriber: Subscriber, name: str, status: SubscriberStatus, subscribed_at: str, source: str, now: datetime
) -> Subscriber:
    """An existing row merged with an imported one: blanks are filled, an active row may stop, none restarts."""
    fills = (not subscriber.name and name) or (not subscriber.subscribed_at and subscribed_at) or (
        not subscriber.source and source
    )
    merged = subscriber if not fills else replace(
        subscriber,
        name=subscriber.name or name,
        subscribed_at=subscriber.subscribed_at or subscribed_at,
        source=subscriber.source or source,
    )
    return with_status(merged, status, now) if subscriber.status == "active" else merged


# -- export ----------------------------------------------------------------------------------------

# OWASP "CSV Injection": a spreadsheet runs a cell starting with one of these as a formula.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(value: str) -> str:
    """A cell a spreadsheet shows as text: a leading formula trigger gets a `'` in front."""
    return "'" + value if value.startswith(FORMULA_TRIGGERS) else value


def export_subscribers(path: Path, out: IO[str], statuses: Collection[str] = SUBSCRIBER_STATUSES) -> int:
    """Write the rows with these statuses to `out` as spreadsheet-safe CSV; returns rows written.

    Every cell is quoted and formula triggers are neutralised; the list itself keeps its values.
    Raises SubscribersError.
    """
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow(HEADER)
    count = 0
    for subscriber in iter_subscribers(path):
        if subscriber.status in statuses:
            writer.writerow(neutralise_cell(value) for value in row_cells(subscriber))
            count += 1
    return count


def export_to_file(path: Path, target: Path, statuses: Collection[str] = SUBSCRIBER_STATUSES) -> int:
    """export_subscribers into `target`, replaced atomically (UTF-8 with a BOM, for spreadsheets)."""
    try:
        with replacing(target, encoding="utf-8-sig", newline="") as new:
            return export_subscribers(path, new.file, statuses)
    except OSError as exc:
        raise SubscribersError(f"{target}: cannot write the export: {exc.strerror}") from exc


def row_cells(subscriber: Subscriber) -> tuple[str, str, str, str, str, str, str]:
    """A row's cells in HEADER order."""
    return (subscriber.email, subscriber.name, subscriber.status, subscriber.subscribed_at,
            subscriber.unsubscribed_at, subscriber.source, subscriber.confirmed_at)
