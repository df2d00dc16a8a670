"""The outbox transport: one .eml file per recipient under `outbox_dir/EDITION/`, written atomically.

Needs no account: the files are exactly what SMTP would carry, to inspect or hand to another
mailer. Test sends go to `outbox_dir/EDITION/test/`.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from digest.atomic import fsync_dir, write_atomic
from digest.config import Config
from digest.deliver.base import BatchStopped, Notice, NotSentError, Outcome, Recipient, send_one_by_one
from digest.deliver.message import build_notice_message, composer_for, message_bytes
from digest.errors import StateError
from digest.models import Edition

log = logging.getLogger(__name__)

TEST_FOLDER = "test"
_SAFE_NAME = re.compile(r"[a-z0-9][a-z0-9._+-]{0,150}")


def outbox_path(outbox_dir: Path, edition: str, email: str, *, test: bool = False) -> Path:
    """Where the outbox keeps `email`'s copy of `edition`: e.g. `outbox/2026-11-26/alice_at_example.org.eml`.

    Addresses compare case-insensitively, so they map to one file; a name that had to be
    changed beyond `@` -> `_at_` gets a short hash so two addresses never share a file.
    """
    key = email.strip().lower()
    readable = key.replace("@", "_at_")
    if not _SAFE_NAME.fullmatch(readable):
        cleaned = re.sub(r"[^a-z0-9._+-]+", "_", readable).strip("._")[:120] or "address"
        readable = f"{cleaned}-{hashlib.sha256(key.encode('utf-8')).hexdigest()[:10]}"
    folder = outbox_dir / edition / TEST_FOLDER if test else outbox_dir / edition
    return folder / f"{readable}.eml"


class OutboxTransport:
    """Writes each message to the outbox folder instead of mailing it."""

    name = "outbox"
    # Several small batches at once, so one batch's fsyncs overlap another's building.
    batch_size = 50
    concurrency = 4

    def __init__(self, config: Config, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._config = config
        self._folder = config.delivery.outbox_dir
        self._clock = clock

    def send_batch(self, edition: Edition, recipients: Sequence[Recipient], *, test: bool = False) -> tuple[Outcome, ...]:
        """Write one file per recipient. Raises NotSentError when the first file cannot be written."""

        composer = composer_for(edition, self._config, test)

        def build(recipient: Recipient) -> tuple[bytes, str]:
            return composer.compose(recipient, now=self._clock())

        folder = outbox_path(self._folder, edition.id, "x", test=test).parent

        def write(recipient: Recipient, message: tuple[bytes, str]) -> Outcome:
            data, message_id = message
            try:
                write_atomic(outbox_path(self._folder, edition.id, recipient.email, test=test), data, sync_folder=False)
            except StateError as exc:
                raise BatchStopped(NotSentError(f"outbox: {exc}")) from exc
            return Outcome(recipient.email, "sent", provider_id=message_id)

        outcomes = send_one_by_one(recipients, build, write, "outbox")
        # One fsync of the folder makes every rename of the batch durable before the ledger says sent.
        try:
            if any(outcome.status == "sent" for outcome in outcomes):
                fsync_dir(folder)
        except OSError as exc:
            raise NotSentError(f"outbox: {folder}: cannot sync: {exc.strerror}") from exc
        return outcomes

    def send_notice(self, notice: Notice) -> Outcome:
        """Write the notice to `outbox_dir/KIND/ADDRESS.eml` (a newer one replaces it). Raises NotSentError."""
        message = build_notice_message(notice, self._config, now=self._clock())
        try:
            write_atomic(outbox_path(self._folder, notice.kind, notice.to), message_bytes(message))
        except StateError as exc:
            raise NotSentError(f"outbox: {exc}") from exc
        return Outcome(notice.to, "sent", provider_id=str(message["Message-ID"]))

    def close(self) -> None:
        """Nothing to release."""
