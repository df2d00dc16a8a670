"""Abuse limits of `digest serve`: POSTs per client, and confirmation messages per address.

Per client (in memory): at most `[serve] rate_limit_per_minute` POSTs in any 60 seconds; past it
the server answers 429 with Retry-After. IPv6 clients are counted per /64, the block one
household or server usually holds.

Per address (SQLite in the state dir, so a restart forgets nothing): at most one confirmation
message per 10 minutes and three per day, whoever asks, so the form cannot be used to flood
someone's inbox. The table holds the address's opaque id, never the address.
"""

from __future__ import annotations

import ipaddress
import sqlite3
import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from digest.errors import StateError

WINDOW_SECONDS = 60.0
MAX_TRACKED_CLIENTS = 50_000  # beyond this the least recently seen client is forgotten
LIMITS_FILE = "signup.sqlite3"
CONFIRMATION_GAP_SECONDS = 10 * 60
CONFIRMATIONS_PER_DAY = 3
DAY_SECONDS = 24 * 3600


def client_key(address: str | None) -> str:
    """Whom a request is counted against: its IPv4 address, or its IPv6 /64."""
    if not address:
        return "unknown"
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


class RateLimiter:
    """At most `per_minute` events per key in any 60 seconds (a sliding window). Thread-safe."""

    def __init__(self, per_minute: int, clock: Callable[[], float], *, max_keys: int = MAX_TRACKED_CLIENTS) -> None:
        self._limit = per_minute
        self._clock = clock
        self._max_keys = max_keys
        self._events: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def hit(self, key: str) -> float | None:
        """Count one event for `key`. None when allowed; otherwise the seconds until one would be."""
        now = self._clock()
        with self._lock:
            events = self._events.pop(key, None) or deque(maxlen=self._limit)
            self._events[key] = events  # most recently seen last
            while events and events[0] <= now - WINDOW_SECONDS:
                events.popleft()
            if len(events) >= self._limit:
                return max(1.0, events[0] + WINDOW_SECONDS - now)
            events.append(now)
            while len(self._events) > self._max_keys:
                self._events.popitem(last=False)
            return None


class ConfirmationLimits:
    """How many confirmation messages each address got lately, in `<state>/signup.sqlite3`."""

    def __init__(self, state_dir: Path) -> None:
        self._path = state_dir / LIMITS_FILE

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self._path, timeout=10, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise StateError(f"{self._path}: cannot open the sign-up limits: {exc}") from exc
        try:
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("CREATE TABLE IF NOT EXISTS confirmations (subscriber_id TEXT NOT NULL, sent_at REAL NOT NULL)")
            connection.execute("CREATE INDEX IF NOT EXISTS confirmations_by_id ON confirmations (subscriber_id, sent_at)")
            yield connection
            connection.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StateError(f"{self._path}: sign-up limits: {exc} (is the state dir writable and the disk not full?)") from exc
        finally:
            connection.close()

    def reserve(self, subscriber_id: str, now: float) -> int | None:
        """Take one confirmation for this address if its limits allow; returns the reservation
        (give it back with `release` if the message does not go out), or None. Raises StateError."""
        with self._transaction() as db:
            db.execute("DELETE FROM confirmations WHERE sent_at <= ?", (now - DAY_SECONDS,))
            times = [row[0] for row in db.execute("SELECT sent_at FROM confirmations WHERE subscriber_id = ?", (subscriber_id,))]
            if len(times) >= CONFIRMATIONS_PER_DAY or any(t > now - CONFIRMATION_GAP_SECONDS for t in times):
                return None
            cursor = db.execute("INSERT INTO confirmations VALUES (?, ?)", (subscriber_id, now))
            return int(cursor.lastrowid or 0)

    def release(self, reservation: int) -> None:
        """Give back a reservation whose message was not sent. Raises StateError."""
        with self._transaction() as db:
            db.execute("DELETE FROM confirmations WHERE rowid = ?", (reservation,))
