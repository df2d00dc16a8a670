"""Atomic file writes: a reader sees the old file or the new one, never a mix, even after a crash."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from digest.errors import StateError


def write_atomic(path: Path, data: bytes | str) -> None:
    """Write `data` to `path` via a temporary file in the same folder, fsync, rename. Raises StateError."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise StateError(f"{path}: cannot write: {exc.strerror}") from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise StateError(f"{path}: cannot write: {exc.strerror}; the previous file is unchanged") from exc


def fsync_dir(folder: Path) -> None:
    """Make a rename in `folder` durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
