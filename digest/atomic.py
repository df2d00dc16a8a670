"""Atomic file writes: a reader sees the old file or the new one, never a mix, even after a crash."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from digest.errors import StateError


class Replacement:
    """The new file being written by `replacing`; it replaces the old one unless discarded."""

    def __init__(self, file: IO[Any]) -> None:
        self.file = file
        self.discarded = False

    def discard(self) -> None:
        """Leave the old file as it is (nothing changed, or a dry run)."""
        self.discarded = True


@contextmanager
def replacing(
    path: Path, *, encoding: str | None = "utf-8", newline: str | None = None, sync_folder: bool = True
) -> Iterator[Replacement]:
    """Write a temporary file beside `path`; on a clean exit, fsync it and rename it over `path`.

    `sync_folder=False` leaves the rename to be made durable by the caller's own fsync_dir (one
    for many files).

    On an exception, or when discarded, `path` is untouched and the temporary file removed.
    `encoding=None` opens it in binary mode. A symlink's target is replaced, not the link; a
    device or pipe (`/dev/stdout`) is written in place, since renaming over it would replace the
    device node itself. Raises OSError.
    """
    path = path.resolve() if path.is_symlink() else path
    if path.exists() and not path.is_file():
        with open(path, "wb" if encoding is None else "w", encoding=encoding, newline=newline) as handle:
            yield Replacement(handle)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, _mode_for(path))
        mode = "wb" if encoding is None else "w"
        with os.fdopen(fd, mode, encoding=encoding, newline=newline) as handle:
            replacement = Replacement(handle)
            yield replacement
            if replacement.discarded:
                return
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        if sync_folder:
            fsync_dir(path.parent)
    finally:
        Path(tmp).unlink(missing_ok=True)


def write_atomic(path: Path, data: bytes | str, *, sync_folder: bool = True) -> None:
    """Write `data` to `path` via a temporary file in the same folder, fsync, rename. Raises StateError.

    `sync_folder=False`: see `replacing`.
    """
    payload = data.encode("utf-8") if isinstance(data, str) else data
    try:
        with replacing(path, encoding=None, sync_folder=sync_folder) as new:
            new.file.write(payload)
    except OSError as exc:
        raise StateError(f"{path}: cannot write: {exc.strerror or exc}; the previous file is unchanged") from exc


def fsync_dir(folder: Path) -> None:
    """Make a rename in `folder` durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _mode_for(path: Path) -> int:
    """Keep an existing file's permissions; a new file gets the usual 0666 less the umask (mkstemp uses 0600)."""
    try:
        return path.stat().st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask
