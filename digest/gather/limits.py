"""Wall-clock limits on fetching, enforced from outside the fetch: one per page, one for the whole gather.

A server can keep every single read short (a few bytes every half second, a TLS handshake that
never ends, headers that never end), so per-read timeouts alone never fire. Each fetch runs in a
daemon thread under a Deadline; the calling thread watches the clock and, when a page's time is
up, shuts its sockets down (which wakes any blocked read or write) and records the page as timed
out without waiting for it. A thread stuck where no socket reaches it (a name lookup) is left
behind: it is a daemon, so it keeps neither the run nor the process waiting.
"""

from __future__ import annotations

import contextlib
import queue
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from digest.config import GatherConfig
from digest.errors import SourceError
from digest.models import Page

Fetch = Callable[[str, "Deadline"], Page]
OnFetched = Callable[[str, "Fetched"], None]


@dataclass(frozen=True, slots=True)
class Limits:
    """The gather's clock: when it started and how long it and each page may take."""

    started: float  # time.monotonic()
    page_timeout: float
    total_timeout: float
    concurrency: int

    @classmethod
    def start(cls, config: GatherConfig) -> Limits:
        return cls(time.monotonic(), config.page_timeout, config.total_timeout, config.concurrency)

    @property
    def end(self) -> float:
        return self.started + self.total_timeout

    def deadline(self, now: float) -> Deadline:
        """The deadline of a page starting now: its own limit, or the gather's end when that comes first."""
        if now + self.page_timeout <= self.end:
            return Deadline(now, now + self.page_timeout, f"timed out after {self.page_timeout:g}s ([gather] page_timeout)")
        return Deadline(now, self.end, f"stopped when the whole gather reached {self.total_timeout:g}s ([gather] total_timeout)")

    @property
    def not_started(self) -> str:
        return f"not fetched: the whole gather reached {self.total_timeout:g}s ([gather] total_timeout)"


class Deadline:
    """One fetch's time limit, the sockets it has open, and what it is doing (for the reason)."""

    def __init__(self, started: float, at: float, limit: str) -> None:
        self.started = started
        self.at = at
        self.limit = limit
        self.doing = "starting"
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._expired = False

    def remaining(self) -> float:
        return max(0.0, self.at - time.monotonic())

    def reason(self) -> str:
        return f"{self.limit} {self.doing}"

    def check(self, url: str) -> None:
        """Raise SourceError when the time is up: called between pieces of work."""
        if self._expired or time.monotonic() >= self.at:
            raise SourceError(url, self.reason())

    def adopt(self, sock: socket.socket) -> None:
        """Watch a connected socket until release(); it is shut down at once if the time is already up."""
        # A duplicate descriptor of the same socket: it outlives `sock` being detached by the TLS
        # wrapper, and shutting it down ends the connection whatever object now reads from it.
        copy = sock.dup()
        with self._lock:
            self._sockets.append(copy)
            if self._expired:
                self._end_sockets(shutdown=True)

    def expire(self) -> None:
        """The time is up: end every connection of this fetch, waking whatever read or write waits on it."""
        with self._lock:
            self._expired = True
            self._end_sockets(shutdown=True)

    def release(self) -> None:
        """The fetch is over: forget its sockets."""
        with self._lock:
            self._end_sockets(shutdown=False)

    def _end_sockets(self, *, shutdown: bool) -> None:
        for sock in self._sockets:
            if shutdown:
                with contextlib.suppress(OSError):  # already closed by the other side
                    sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        self._sockets.clear()


@dataclass(frozen=True, slots=True)
class Fetched:
    """What became of one URL: its Page or why not, and the seconds it took."""

    outcome: Page | SourceError
    seconds: float


def fetch_within(urls: Iterable[str], fetch: Fetch, limits: Limits, on_fetched: OnFetched) -> dict[str, Fetched]:
    """Run `fetch` for each URL, `limits.concurrency` at a time, each within its deadline and all
    within the gather's end. `on_fetched` is called (in this thread) as each one ends."""
    waiting = deque(dict.fromkeys(urls))
    running: dict[str, Deadline] = {}
    finished: queue.SimpleQueue[tuple[str, Page | Exception]] = queue.SimpleQueue()
    results: dict[str, Fetched] = {}

    def settle(url: str, outcome: Page | SourceError, deadline: Deadline) -> None:
        results[url] = Fetched(outcome, time.monotonic() - deadline.started)
        on_fetched(url, results[url])

    while waiting or running:
        now = time.monotonic()
        while waiting and len(running) < limits.concurrency and now < limits.end:
            url = waiting.popleft()
            running[url] = limits.deadline(now)
            threading.Thread(
                target=_run, args=(url, fetch, running[url], finished), name=f"gather {url}", daemon=True
            ).start()
        if not running:
            break
        try:
            url, outcome = finished.get(timeout=max(0.0, min(d.at for d in running.values()) - time.monotonic()))
        except queue.Empty:
            pass
        else:
            deadline = running.pop(url, None)
            if deadline is not None:  # else it was already given up on: its late outcome is dropped
                if not isinstance(outcome, (Page, SourceError)):
                    raise outcome  # a bug, not a bad page
                settle(url, outcome, deadline)
        now = time.monotonic()
        for url, deadline in list(running.items()):
            if now >= deadline.at:
                deadline.expire()
                del running[url]
                settle(url, SourceError(url, deadline.reason()), deadline)
    for url in waiting:
        results[url] = Fetched(SourceError(url, limits.not_started), 0.0)
        on_fetched(url, results[url])
    return results


def _run(url: str, fetch: Fetch, deadline: Deadline, finished: queue.SimpleQueue[tuple[str, Page | Exception]]) -> None:
    outcome: Page | Exception
    try:
        outcome = fetch(url, deadline)
    except Exception as exc:  # handed to the watching thread, which re-raises what is not a SourceError
        outcome = exc
    finally:
        deadline.release()
    finished.put((url, outcome))
