"""From the opaque subscriber id in a token back to the address on the list.

Tokens carry a keyed hash of the address, never the address (digest.tokens). The server hashes
every address of subscribers.csv once and keeps, compactly, the addresses (one UTF-8 blob) and a
hash table from the first 4 bytes of each hash to its row; a candidate is checked against the
whole hash. For a million rows that costs about 3x the time of one plain read of the list and
about 70 MB more memory (benchmarks/tokens_lookup.py); a lookup then takes microseconds.

The map is kept while the file is unchanged and takes in the sign-ups this server writes itself.
It is rebuilt only when an id is not found and the file changed since the last build (a CLI
`add` or `import`): editing the list, as every unsubscribe does, costs no rebuild. A token with
an invalid signature never gets here, so a stranger cannot make the server rebuild.
"""

from __future__ import annotations

import hmac
import logging
import os
import threading
import time
from array import array
from pathlib import Path

from digest.subscribers import iter_subscribers
from digest.tokens import id_digest, subscriber_digest

log = logging.getLogger(__name__)

FileStamp = tuple[int, int, int]  # inode, size, mtime in ns: changes whenever the list is replaced
_ROW_BITS = 32
_ROW_MASK = (1 << _ROW_BITS) - 1
_FIRST_SLOTS = 1024  # a power of two; doubled whenever the table is half full


def _stamp(path: Path) -> FileStamp | None:
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None
    return (info.st_ino, info.st_size, info.st_mtime_ns)


class _Index:
    """Addresses of one build of the list, found by the first 4 bytes of their digest.

    An open-addressing table in one array of 64-bit slots, each (prefix << 32 | row + 1), 0 for
    empty, and the addresses in one UTF-8 blob: no Python object per row.
    """

    def __init__(self, path: Path, secret: str) -> None:
        self.stamp = _stamp(path)
        self._slots = array("Q", bytes(8 * _FIRST_SLOTS))
        self._used = 0
        self._ends = array("Q")
        self._blob = bytearray()
        for row, subscriber in enumerate(iter_subscribers(path)):
            prefix = int.from_bytes(subscriber_digest(subscriber.email, secret)[:4], "big")
            if (self._used + 1) * 2 > len(self._slots):
                self._grow()
            self._place(prefix << _ROW_BITS | (row + 1))
            self._blob += subscriber.email.encode("utf-8")
            self._ends.append(len(self._blob))

    def __len__(self) -> int:
        return len(self._ends)

    def _place(self, entry: int) -> None:
        slots, mask = self._slots, len(self._slots) - 1
        slot = (entry >> _ROW_BITS) & mask
        while slots[slot]:
            slot = (slot + 1) & mask
        slots[slot] = entry
        self._used += 1

    def _grow(self) -> None:
        old, self._slots, self._used = self._slots, array("Q", bytes(16 * len(self._slots))), 0
        for entry in old:
            if entry:
                self._place(entry)

    def candidates(self, digest: bytes) -> list[str]:
        """Addresses whose digest starts like this one (almost always one, or none)."""
        prefix = int.from_bytes(digest[:4], "big")
        slots, mask = self._slots, len(self._slots) - 1
        found = []
        slot = prefix & mask
        while entry := slots[slot]:
            if entry >> _ROW_BITS == prefix:
                row = (entry & _ROW_MASK) - 1
                start = self._ends[row - 1] if row else 0
                found.append(self._blob[start : self._ends[row]].decode("utf-8"))
            slot = (slot + 1) & mask
        return found


class AddressBook:
    """Maps subscriber ids to the addresses of subscribers.csv. Thread-safe."""

    def __init__(self, path: Path, secret: str) -> None:
        self._path = path
        self._secret = secret
        self._index: _Index | None = None
        self._added: dict[bytes, str] = {}  # sign-ups this server wrote since the last build
        self._lock = threading.Lock()

    def address_of(self, identifier: str) -> str | None:
        """The address whose id this is, or None when no row of the list has it.

        Raises SubscribersError when the list cannot be read.
        """
        digest = id_digest(identifier)
        if digest is None:
            return None
        with self._lock:
            address = self._find(digest)
            if address is None and (self._index is None or _stamp(self._path) != self._index.stamp):
                self._build()
                address = self._find(digest)
        return address

    def add(self, address: str) -> None:
        """Remember an address this server itself just wrote to the list."""
        with self._lock:
            self._added[subscriber_digest(address, self._secret)] = address

    def _find(self, digest: bytes) -> str | None:
        if digest in self._added:
            return self._added[digest]
        for address in self._index.candidates(digest) if self._index is not None else ():
            if hmac.compare_digest(subscriber_digest(address, self._secret), digest):
                return address
        return None

    def _build(self) -> None:
        started = time.perf_counter()
        self._index = _Index(self._path, self._secret)
        self._added.clear()
        log.info("indexed %d addresses of %s in %.1f s", len(self._index), self._path, time.perf_counter() - started)
