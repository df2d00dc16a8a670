"""Inter-process locks in the state dir: one send at a time, one scheduler per state dir."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from digest.errors import LockedError, StateError

SEND_LOCK = "send.lock"
SCHEDULE_LOCK = "schedule.lock"


@contextmanager
def hold_lock(path: Path, busy: str, *, wait_seconds: float = 0) -> Iterator[None]:
    """Hold the lock at `path` (re-entrant in one process); raise LockedError "<busy> (pid N)" when taken.

    The holder's pid is kept beside the lock in `<path>.pid`, because filelock truncates the lock
    file itself on every attempt to take it.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StateError(f"{path.parent}: cannot create the folder for {path.name}: {exc.strerror}") from exc
    lock = FileLock(path, is_singleton=True)
    pid_file = path.with_name(path.name + ".pid")
    try:
        lock.acquire(timeout=wait_seconds)
    except Timeout:
        raise LockedError(f"{busy} (pid {_read_pid(pid_file)})") from None
    outermost = lock.lock_counter == 1
    try:
        if outermost:
            pid_file.write_text(f"{os.getpid()}\n", encoding="ascii")
        yield
    finally:
        if outermost:
            pid_file.unlink(missing_ok=True)
        lock.release()


def _read_pid(pid_file: Path) -> str:
    try:
        return pid_file.read_text(encoding="ascii").strip() or "unknown"
    except OSError:
        return "unknown"


def send_lock(state_dir: Path) -> AbstractContextManager[None]:
    """The lock `send`, `run` and the scheduled job share."""
    return hold_lock(state_dir / SEND_LOCK, "another send is running")


def schedule_lock(state_dir: Path) -> AbstractContextManager[None]:
    """The lock that keeps a second `digest schedule` off the same state dir."""
    return hold_lock(state_dir / SCHEDULE_LOCK, "already running")
