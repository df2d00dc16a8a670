"""The send ledger: one SQLite file in the state dir recording every delivery, run and source failure.

Per (edition, address) a delivery moves pending -> in_flight (claimed and committed before its
batch goes out) -> sent | failed | unknown. A row still in_flight when its process died is
unknown: it may or may not have reached the provider, so it is neither resent blindly nor
forgotten. Addresses compare case-insensitively (COLLATE NOCASE). All access goes through one
connection per Ledger, used from one thread; write transactions are BEGIN IMMEDIATE, so
concurrent processes queue behind busy_timeout instead of failing.

A send's audience (the active subscribers, each address once) is staged in a temporary table of
the connection (the list read ahead on a helper thread while SQLite stores what came before),
sorted on disk by SQLite, so memory stays flat for any list size; the send then walks it in
address order, the order of the deliveries table. Before the first batch, the plan
records how many of the audience have no row yet (the `plans` table): they count as pending, so
a send that stops or dies leaves them visible, and each gets its row when its batch is claimed,
not a pending row first (a million fewer writes before the first request). A batch is the next
run of the audience, so its claim and its record are each one statement over a range of
neighbouring pages, and each claim leaves one row in `claims` (the batch's first and last
address): recovery after a crash reads those few rows instead of an index that every claim and
record would have to keep up to date. The send looks for its next batch (next_batch) while
requests are in flight, so a worker that comes back waits only for the claim's commit.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from types import TracebackType
from typing import Any

from digest.errors import StateError
from digest.locks import SEND_LOCK
from digest.models import Batch, Delivery

log = logging.getLogger(__name__)

LEDGER_FILE = "ledger.sqlite3"
BUSY_TIMEOUT_MS = 10_000
PENDING_CHUNK_ROWS = 10_000  # pending rows added per transaction
AUDIENCE_CHUNK_ROWS = 10_000  # subscribers read ahead while the ones before are stored
SORT_THREADS = 4  # helper threads SQLite may use to sort the audience
RECOVERED_REASON = "in flight when an earlier send stopped: it may or may not have been delivered"
COUNT_KEYS = ("subscribers", "sent", "pending", "failed", "unknown")

# One entry per schema version; user_version says how many have been applied. Only ever append.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE deliveries (
            edition TEXT NOT NULL,
            email TEXT NOT NULL COLLATE NOCASE,
            status TEXT NOT NULL CHECK (status IN ('pending', 'in_flight', 'sent', 'failed', 'unknown')),
            batch TEXT,
            provider_id TEXT,
            reason TEXT,
            attempts INTEGER NOT NULL DEFAULT 0,
            permanent INTEGER NOT NULL DEFAULT 0,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (edition, email)
        ) WITHOUT ROWID""",
        # Only the rows in flight: small, and all that recovery after a crash looks for.
        "CREATE INDEX deliveries_in_flight ON deliveries (edition) WHERE status = 'in_flight'",
        """CREATE TABLE test_sends (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            edition TEXT NOT NULL,
            email TEXT NOT NULL,
            status TEXT NOT NULL,
            provider_id TEXT,
            reason TEXT
        )""",
        """CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            edition TEXT,
            outcome TEXT NOT NULL CHECK (outcome IN ('sent', 'partial', 'skipped', 'failed')),
            reason TEXT
        )""",
        """CREATE TABLE source_health (
            url TEXT PRIMARY KEY,
            failures INTEGER NOT NULL DEFAULT 0,
            since TEXT,
            last_reason TEXT,
            last_ok TEXT
        )""",
    ),
    (
        "CREATE TABLE claims (id INTEGER PRIMARY KEY, edition TEXT NOT NULL, batch TEXT NOT NULL, "
        "first_email TEXT NOT NULL COLLATE NOCASE, last_email TEXT NOT NULL COLLATE NOCASE)",
        # Batches a send of an older digest left in flight become claims, so recovery still finds them.
        """INSERT INTO claims (edition, batch, first_email, last_email)
           SELECT edition, COALESCE(batch, ''), MIN(email), MAX(email) FROM deliveries
           WHERE status = 'in_flight' GROUP BY edition, batch""",
        "DROP INDEX deliveries_in_flight",
    ),
    (
        # Per edition, how many of the audience of its last send had no row yet: they are pending
        # (counted by `counts`) and get their row when their batch is claimed.
        "CREATE TABLE plans (edition TEXT PRIMARY KEY, unclaimed INTEGER NOT NULL) WITHOUT ROWID",
    ),
)


def _settled(row: str) -> str:
    """Whether `row` (a deliveries row) says a send must not go to its address: sent, refused for
    good, or (unless resending unknown) unknown or in flight."""
    return f"""({row}.status = 'sent' OR ({row}.status = 'failed' AND {row}.permanent = 1)
               OR ({row}.status IN ('unknown', 'in_flight') AND NOT :resend_unknown))"""


# The audience with the row of each address in this edition, when it has one...
_AUDIENCE_ROWS = "temp.audience AS a LEFT JOIN deliveries AS d ON d.edition = :edition AND d.email = a.email"
# ...and whether a send goes to that address: no row yet, or one not settled.
_WANTED = f"(d.email IS NULL OR NOT {_settled('d')})"
# Recording an outcome: the WHERE clause, naming which rows, follows.
_RECORD = "UPDATE deliveries SET status = ?, provider_id = ?, reason = ?, permanent = ?, updated_at = ? WHERE edition = ? AND "


def ledger_path(state_dir: Path) -> Path:
    return state_dir / LEDGER_FILE


def erased_address(email: str) -> str:
    """What an erased address becomes in the ledger: a one-way hash, so counts stay right."""
    return "erased:" + hashlib.sha256(email.strip().lower().encode("utf-8")).hexdigest()[:16]


def _json_list(values: Iterable[str]) -> str:
    """A list for SQLite's json_each: one bound parameter however long, so one statement per batch."""
    return json.dumps(list(values))


# Rows are plain lists of strings: no cycles to look for, no spaces to write (a fifth less time).
_COMPACT_JSON = json.JSONEncoder(check_circular=False, separators=(",", ":"))


def _read_ahead(rows: Iterable[tuple[str, str]], size: int) -> Iterator[str]:
    """`rows` as JSON lists of `size` rows, each read on a helper thread while the caller stores
    the one before: reading (Python) and storing (SQLite, which lets go of the interpreter lock)
    run side by side, a third less wait before a send's first request. An error reading the rows
    is raised here, in list order."""
    rows = iter(rows)

    def next_chunk() -> str | None:
        chunk = list(islice(rows, size))
        return _COMPACT_JSON.encode(chunk) if chunk else None

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="digest-read") as reader:
        ahead = reader.submit(next_chunk)
        while (chunk := ahead.result()) is not None:
            ahead = reader.submit(next_chunk)
            yield chunk


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _send_is_running(state_dir: Path) -> bool:
    """Whether a live process holds the send lock (its pid file is there and the pid is alive)."""
    try:
        pid = int((state_dir / f"{SEND_LOCK}.pid").read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Ledger:
    """The ledger of one state dir. Open with `Ledger.open(state_dir)`, use as a context manager."""

    def __init__(self, path: Path, connection: sqlite3.Connection) -> None:
        self.path = path
        self._db = connection
        self._audience_size = 0  # of the audience staged last on this connection

    @classmethod
    def open(cls, state_dir: Path) -> Ledger:
        """Open (creating and migrating as needed) `<state_dir>/ledger.sqlite3`. Raises StateError."""
        path = ledger_path(state_dir)
        try:
            state_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StateError(f"{state_dir}: cannot create state dir: {exc.strerror}") from exc
        try:
            connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        except sqlite3.Error as exc:
            raise StateError(f"{path}: cannot open the send ledger: {exc}") from exc
        connection.row_factory = sqlite3.Row
        ledger = cls(path, connection)
        try:
            with ledger._guard():
                connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
                connection.execute("PRAGMA journal_mode = WAL")
                # FULL: a claim (in_flight) must survive a power cut, or its batch could go out twice.
                connection.execute("PRAGMA synchronous = FULL")
                # The audience of a million subscribers is sorted in temporary files, not in memory,
                # by helper threads in parallel (a quarter less wait before a send's first request).
                connection.execute("PRAGMA temp_store = FILE")
                connection.execute(f"PRAGMA threads = {SORT_THREADS}")
                ledger._migrate()
        except BaseException:
            connection.close()
            raise
        return ledger

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    @contextmanager
    def _guard(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise StateError(f"{self.path}: send ledger error: {exc} (is the state dir writable and the disk not full?)") from exc

    @contextmanager
    def _write(self, *, durable: bool = True) -> Iterator[sqlite3.Connection]:
        """One write transaction, committed at the end or rolled back on error. Raises StateError.

        `durable=False` skips the fsync at commit: for writes whose loss in a power cut is
        harmless (a lost record leaves its batch in flight, hence unknown, never sent twice). The
        next durable commit makes them durable too, as the WAL is written in order.
        """
        with self._guard():
            if not durable:
                self._db.execute("PRAGMA synchronous = NORMAL")
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            finally:
                if not durable:
                    self._db.execute("PRAGMA synchronous = FULL")

    def _rows(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> list[sqlite3.Row]:
        with self._guard():
            return list(self._db.execute(sql, params).fetchall())

    def _migrate(self) -> None:
        version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
        if version > len(MIGRATIONS):
            raise StateError(
                f"{self.path}: written by a newer digest (schema {version}, this one knows {len(MIGRATIONS)}); upgrade digest"
            )
        if version == len(MIGRATIONS):
            return
        with self._write() as db:
            version = int(db.execute("PRAGMA user_version").fetchone()[0])  # another process may have migrated
            for number, statements in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in statements:
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {number}")
                log.debug("%s: migrated to schema %d", self.path, number)

    # -- deliveries: what the send loop uses ---------------------------------------------------

    def add_pending(self, edition: str, emails: Iterable[str], now: datetime) -> int:
        """Add a pending row for each address that has none for this edition; returns rows added."""
        added = 0
        chunk: list[str] = []
        for email in emails:
            chunk.append(email)
            if len(chunk) >= PENDING_CHUNK_ROWS:
                added += self._add_pending_chunk(edition, chunk, now)
                chunk = []
        return added + (self._add_pending_chunk(edition, chunk, now) if chunk else 0)

    def _add_pending_chunk(self, edition: str, emails: Sequence[str], now: datetime) -> int:
        with self._write(durable=False) as db:
            return db.execute(
                """INSERT OR IGNORE INTO deliveries (edition, email, status, updated_at)
                   SELECT ?, value, 'pending', ? FROM json_each(?)""",
                (edition, _iso(now), _json_list(emails)),
            ).rowcount

    def load_audience(self, subscribers: Iterable[tuple[str, str]]) -> int:
        """Stage who a send goes to: (email, name) of each active subscriber, in list order.

        Each address counts once (compared case-insensitively; its first row wins). Replaces the
        audience staged before on this connection. Returns how many addresses it holds.
        """
        with self._guard():
            db = self._db
            db.execute("DROP TABLE IF EXISTS temp.audience")
            db.execute("DROP TABLE IF EXISTS temp.audience_rows")
            db.execute("CREATE TEMP TABLE audience_rows (email TEXT NOT NULL COLLATE NOCASE, name TEXT NOT NULL)")
            db.execute("BEGIN")
            try:
                for chunk in _read_ahead(subscribers, AUDIENCE_CHUNK_ROWS):
                    db.execute(
                        """INSERT INTO temp.audience_rows (email, name)
                           SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?) ORDER BY key""",
                        (chunk,),
                    )
            except BaseException:
                db.execute("ROLLBACK")  # the list was malformed (SubscribersError) or the disk full
                raise
            db.execute("COMMIT")
            db.execute(
                "CREATE TEMP TABLE audience (email TEXT PRIMARY KEY COLLATE NOCASE, name TEXT NOT NULL) WITHOUT ROWID"
            )
            db.execute("BEGIN")
            # Sorted once, then appended in order; of the same address in other case, the first row stays.
            db.execute(
                "INSERT OR IGNORE INTO temp.audience (email, name) SELECT email, name FROM temp.audience_rows ORDER BY email, rowid"
            )
            db.execute("DROP TABLE temp.audience_rows")
            db.execute("COMMIT")
            self._audience_size = int(db.execute("SELECT COUNT(*) FROM temp.audience").fetchone()[0])
            return self._audience_size

    def drop_unsendable(self, edition: str) -> int:
        """Forget pending and temporarily failed rows of addresses not in the audience; returns rows dropped.

        Sent, unknown and permanently failed rows stay: they are history.
        """
        with self._write(durable=False) as db:
            return db.execute(
                """DELETE FROM deliveries WHERE edition = ?
                   AND (status = 'pending' OR (status = 'failed' AND permanent = 0))
                   AND email NOT IN (SELECT email FROM temp.audience)""",
                (edition,),
            ).rowcount

    def plan(self, edition: str, *, resend_unknown: bool = False) -> int:
        """Record who a send of `edition` goes to, before it starts: the audience staged, less those
        settled (see targets). Returns how many.

        Those of the audience with no row yet are not written one by one: their number is kept
        with the edition (`counts` reports them pending, so a send that stops or dies leaves them
        visible) and each gets its row when its batch is claimed.
        """
        with self._write() as db:
            if self._is_new(edition):  # the first send of an edition: the whole audience, no need to look
                unclaimed = targets = self._audience_size
            else:
                unclaimed, targets = db.execute(
                    f"""SELECT COALESCE(SUM(d.email IS NULL), 0), COALESCE(SUM({_WANTED}), 0)
                        FROM {_AUDIENCE_ROWS}""",
                    {"edition": edition, "resend_unknown": resend_unknown},
                ).fetchone()
            db.execute("INSERT OR REPLACE INTO plans (edition, unclaimed) VALUES (?, ?)", (edition, unclaimed))
        return int(targets)

    def count_targets(self, edition: str, *, resend_unknown: bool = False) -> int:
        """How many of the audience a send of `edition` would go to now (see targets)."""
        if self._is_new(edition):
            return self._audience_size
        rows = self._rows(
            f"SELECT COUNT(*) AS n FROM {_AUDIENCE_ROWS} WHERE {_WANTED}",
            {"edition": edition, "resend_unknown": resend_unknown},
        )
        return int(rows[0]["n"])

    def _is_new(self, edition: str) -> bool:
        """Whether `edition` has no delivery row yet (a million-row count is then not needed)."""
        return not self._rows("SELECT 1 FROM deliveries WHERE edition = ? LIMIT 1", (edition,))

    def targets(
        self, edition: str, *, resend_unknown: bool = False, after: str = "", limit: int = 1000
    ) -> list[tuple[str, str]]:
        """(email, name) of the next `limit` of the audience after address `after`, in address order,
        that a send of `edition` goes to: those not sent, not refused for good, and not unknown
        (unless `resend_unknown`)."""
        rows = self._rows(
            f"""SELECT a.email, a.name FROM {_AUDIENCE_ROWS}
                WHERE a.email > :after AND {_WANTED} ORDER BY a.email LIMIT :limit""",
            {"edition": edition, "resend_unknown": resend_unknown, "after": after, "limit": limit},
        )
        return [(row["email"], row["name"]) for row in rows]

    def next_batch(self, edition: str, *, after: str = "", size: int = 1000, resend_unknown: bool = False) -> Batch | None:
        """The next `size` recipients after address `after` that a send of `edition` goes to (see
        targets), to claim; None when none are left. Reads only: a send looks for its next batch
        while requests are in flight, so a worker that comes back only waits for the claim."""
        # One row holding the whole batch: read row by row, each row would wait for the
        # interpreter lock while the send's workers build requests (a few ms a batch).
        rows = self._rows(
            f"""SELECT json_group_array(json_array(email, name)), MIN(email), MAX(email), SUM(new) FROM (
                    SELECT a.email AS email, a.name AS name, d.email IS NULL AS new FROM {_AUDIENCE_ROWS}
                    WHERE a.email > :after AND {_WANTED}
                    ORDER BY a.email LIMIT :limit)""",
            {"edition": edition, "after": after, "limit": size, "resend_unknown": resend_unknown},
        )
        batch_json, first, last, new = rows[0]
        if first is None:
            return None
        return Batch([(email, name) for email, name in json.loads(batch_json)], first, last, int(new))

    def claim(self, edition: str, batch_id: str, batch: Batch, now: datetime, *, resend_unknown: bool = False) -> None:
        """Claim `batch` (from next_batch) as `batch_id`, and commit before it is sent. Raises
        StateError when the ledger no longer agrees with it (changed under the send).

        Call after plan, under the send lock. The batch is one run of the audience, so its claim
        is one statement over a range: a row in flight for each, added or updated (the settled
        addresses in the range are left as they are).
        """
        with self._write() as db:
            claimed = db.execute(
                f"""INSERT INTO deliveries (edition, email, status, batch, attempts, updated_at)
                    SELECT :edition, email, 'in_flight', :batch, 1, :now FROM temp.audience WHERE email BETWEEN :first AND :last
                    ON CONFLICT (edition, email) DO UPDATE SET status = 'in_flight', batch = excluded.batch,
                        attempts = attempts + 1, updated_at = excluded.updated_at
                    WHERE NOT {_settled("deliveries")}""",
                {"edition": edition, "batch": batch_id, "now": _iso(now), "first": batch.first, "last": batch.last,
                 "resend_unknown": resend_unknown},
            ).rowcount
            if claimed != len(batch.recipients):
                raise StateError(f"{self.path}: batch {batch_id} would claim {claimed} rows for {len(batch.recipients)} recipients")
            db.execute(
                "INSERT INTO claims (edition, batch, first_email, last_email) VALUES (?, ?, ?, ?)",
                (edition, batch_id, batch.first, batch.last),
            )
            db.execute("UPDATE plans SET unclaimed = MAX(0, unclaimed - ?) WHERE edition = ?", (batch.new, edition))

    def claim_next(
        self, edition: str, batch_id: str, now: datetime, *, after: str = "", size: int = 1000, resend_unknown: bool = False
    ) -> Batch | None:
        """next_batch, then claim it as the send does: the batch claimed, None when none are left."""
        batch = self.next_batch(edition, after=after, size=size, resend_unknown=resend_unknown)
        if batch is not None:
            self.claim(edition, batch_id, batch, now, resend_unknown=resend_unknown)
        return batch

    def deliveries(self, edition: str, *, statuses: Sequence[str] | None = None, limit: int = -1) -> list[Delivery]:
        """Rows of `edition` in address order, only those with `statuses` when given, at most `limit`."""
        wanted = tuple(statuses) if statuses is not None else ("pending", "in_flight", "sent", "failed", "unknown")
        marks = ", ".join("?" for _ in wanted)
        rows = self._rows(
            f"SELECT * FROM deliveries WHERE edition = ? AND status IN ({marks}) ORDER BY email LIMIT ?",
            (edition, *wanted, limit),
        )
        return [
            Delivery(
                edition=row["edition"],
                email=row["email"],
                status=row["status"],
                batch=row["batch"],
                provider_id=row["provider_id"],
                reason=row["reason"],
                updated_at=datetime.fromisoformat(row["updated_at"]),
                attempts=row["attempts"],
            )
            for row in rows
        ]

    def record_outcomes(
        self,
        edition: str,
        outcomes: Iterable[tuple[str, str, str | None, str | None, bool]],
        now: datetime,
        *,
        batch: str | None = None,
    ) -> None:
        """Record (email, status, provider_id, reason, permanent) per address, in one transaction.

        status is sent, failed, unknown or pending (never tried: back in the queue). With the
        `batch` they were claimed as, and every address of it given, the most common outcome is
        one range update over the batch and its claim is settled.
        """
        groups: dict[tuple[str, str | None, str | None, bool], list[str]] = {}
        for email, status, provider_id, reason, permanent in outcomes:
            groups.setdefault((status, provider_id, reason, permanent), []).append(email)
        with self._write(durable=False) as db:
            bounds = None  # of the batch's claim: none for outcomes recorded without one
            if batch is not None:
                bounds = db.execute(
                    "SELECT MIN(first_email), MAX(last_email) FROM claims WHERE edition = ? AND batch = ?", (edition, batch)
                ).fetchone()
            ranged = max(groups, key=lambda key: len(groups[key])) if groups and bounds and bounds[0] is not None else None
            for outcome, emails in sorted(groups.items(), key=lambda item: item[0] == ranged):
                status, provider_id, reason, permanent = outcome
                values = (status, provider_id, reason, int(permanent), _iso(now), edition)
                if outcome == ranged and bounds is not None:
                    # Last: the rows of the batch still in flight are exactly this outcome's.
                    updated = db.execute(
                        _RECORD + "email BETWEEN ? AND ? AND status = 'in_flight' AND batch = ?", (*values, *bounds, batch)
                    ).rowcount
                    if updated != len(emails):  # some address of the batch was left out of the outcomes
                        raise StateError(f"{self.path}: batch {batch} has {updated} rows in flight, {len(emails)} outcomes")
                else:
                    db.execute(_RECORD + "email IN (SELECT value FROM json_each(?))", (*values, _json_list(emails)))
            if batch is not None:
                db.execute("DELETE FROM claims WHERE edition = ? AND batch = ?", (edition, batch))

    def recover_in_flight(self) -> int:
        """Turn in_flight rows (left by a process that died) into unknown; returns how many.

        Call at the start of a send, under the send lock.
        """
        recovered = 0
        with self._write(durable=False) as db:
            for claim in db.execute("SELECT edition, first_email, last_email, batch FROM claims").fetchall():
                recovered += db.execute(
                    """UPDATE deliveries SET status = 'unknown', reason = ?
                       WHERE edition = ? AND email BETWEEN ? AND ? AND status = 'in_flight' AND batch = ?""",
                    (RECOVERED_REASON, *claim),
                ).rowcount
            db.execute("DELETE FROM claims")
        if recovered:
            log.warning("%d recipient(s) were in flight when an earlier send stopped: now unknown", recovered)
        return recovered

    def record_test_send(self, at: datetime, edition: str, email: str, status: str, provider_id: str | None, reason: str | None) -> None:
        """Log a test send (`send --to`); it never counts as a delivery of the edition."""
        with self._write() as db:
            db.execute(
                "INSERT INTO test_sends (at, edition, email, status, provider_id, reason) VALUES (?, ?, ?, ?, ?, ?)",
                (_iso(at), edition, email, status, provider_id, reason),
            )

    # -- reading --------------------------------------------------------------------------------

    def has_sent(self, edition: str) -> bool:
        """Whether anyone has been sent (or may have been sent) this edition: then it is frozen."""
        rows = self._rows(
            "SELECT 1 FROM deliveries WHERE edition = ? AND status IN ('sent', 'in_flight', 'unknown') LIMIT 1", (edition,)
        )
        return bool(rows)

    def send_running(self) -> bool:
        """Whether a live process holds this state dir's send lock."""
        return _send_is_running(self.path.parent)

    def counts(self, edition: str) -> dict[str, int]:
        """subscribers, sent, pending, failed, unknown for one edition.

        An in_flight row counts as unknown unless a live send holds the lock (then it is pending).
        """
        return self._counts(edition, live=self.send_running())

    def _counts(self, edition: str, *, live: bool) -> dict[str, int]:
        result = dict.fromkeys(COUNT_KEYS, 0)
        for row in self._rows("SELECT unclaimed FROM plans WHERE edition = ?", (edition,)):
            result["pending"] = result["subscribers"] = row["unclaimed"]
        for row in self._rows("SELECT status, COUNT(*) AS n FROM deliveries WHERE edition = ? GROUP BY status", (edition,)):
            status = row["status"]
            if status == "in_flight":
                status = "pending" if live else "unknown"
            result[status] += row["n"]
            result["subscribers"] += row["n"]
        return result

    def edition_summaries(self, limit: int = 10) -> list[dict[str, Any]]:
        """The latest editions with deliveries, newest first, as `digest status --format json` lists them."""
        live = self.send_running()
        return [{"edition": edition} | self._counts(edition, live=live) for edition in self._editions(limit)]

    def last_sent_edition(self) -> str | None:
        """The newest edition sent to someone, or None."""
        for edition in self._editions():
            if self._rows("SELECT 1 FROM deliveries WHERE edition = ? AND status = 'sent' LIMIT 1", (edition,)):
                return edition
        return None

    def _editions(self, limit: int | None = None) -> Iterator[str]:
        """Edition ids with deliveries, newest first; one index lookup each, however many rows they have."""
        found = 0
        edition = self._newest_edition("")
        while edition is not None and (limit is None or found < limit):
            yield edition
            found += 1
            edition = self._newest_edition(edition)

    def _newest_edition(self, before: str) -> str | None:
        """The newest edition id with deliveries or someone planned, before `before` ("": any)."""
        # Each its own statement: an OR in the WHERE would cost the index lookup its range.
        bound = "WHERE edition < ?" if before else ""
        params = (before,) if before else ()
        found = [
            self._rows(f"SELECT MAX(edition) AS e FROM deliveries {bound}", params)[0]["e"],
            self._rows(f"SELECT MAX(edition) AS e FROM plans {bound} {'AND' if before else 'WHERE'} unclaimed > 0", params)[0]["e"],
        ]
        return max((e for e in found if e is not None), default=None)

    # -- runs -----------------------------------------------------------------------------------

    def record_run(self, at: datetime, edition: str | None, outcome: str, reason: str | None = None) -> None:
        """Log one scheduled or manual run: outcome is sent, partial, skipped or failed."""
        with self._write() as db:
            db.execute(
                "INSERT INTO runs (at, edition, outcome, reason) VALUES (?, ?, ?, ?)", (_iso(at), edition, outcome, reason)
            )

    def last_run(self) -> dict[str, Any] | None:
        rows = self._rows("SELECT at, edition, outcome, reason FROM runs ORDER BY id DESC LIMIT 1")
        return dict(rows[0]) if rows else None

    # -- source health --------------------------------------------------------------------------

    def record_source_results(self, at: datetime, ok_urls: Iterable[str], failures: Mapping[str, str]) -> None:
        """After a build: reset the sources that worked, count one more failed run for the others.

        `at` is stored as given (its date is what `failing_sources` reports as `since`).
        """
        stamp = at.isoformat(timespec="seconds")
        with self._write() as db:
            db.executemany(
                """INSERT INTO source_health (url, failures, since, last_reason, last_ok) VALUES (?, 0, NULL, NULL, ?)
                   ON CONFLICT (url) DO UPDATE SET failures = 0, since = NULL, last_reason = NULL, last_ok = excluded.last_ok""",
                ((url, stamp) for url in ok_urls),
            )
            db.executemany(
                """INSERT INTO source_health (url, failures, since, last_reason) VALUES (?, 1, ?, ?)
                   ON CONFLICT (url) DO UPDATE SET failures = failures + 1,
                   since = COALESCE(since, excluded.since), last_reason = excluded.last_reason""",
                ((url, stamp, reason) for url, reason in failures.items()),
            )

    def failing_sources(self, min_runs: int = 2) -> list[dict[str, Any]]:
        """Sources that failed in at least `min_runs` runs in a row: url, since (date), runs, reason."""
        rows = self._rows(
            "SELECT url, since, failures, last_reason FROM source_health WHERE failures >= ? ORDER BY since, url", (min_runs,)
        )
        return [
            {"url": row["url"], "since": (row["since"] or "")[:10], "runs": row["failures"], "reason": row["last_reason"] or ""}
            for row in rows
        ]

    # -- erasure --------------------------------------------------------------------------------

    def forget_address(self, email: str) -> int:
        """Erase an address from every row (deliveries and test sends); returns rows changed.

        The rows stay, holding a one-way hash instead, so an edition's counts stay right.
        """
        replacement = erased_address(email)
        address = email.strip()
        with self._write() as db:
            # OR REPLACE: an address erased, re-added and erased again within one edition keeps one row.
            changed = db.execute(
                "UPDATE OR REPLACE deliveries SET email = ? WHERE email = ?", (replacement, address)
            ).rowcount
            changed += db.execute(
                "UPDATE test_sends SET email = ? WHERE email = ? COLLATE NOCASE", (replacement, address)
            ).rowcount
            return changed
