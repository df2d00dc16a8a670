"""What every transport (outbox, SendGrid, SMTP) offers the send loop, and what it may raise."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from digest.errors import DeliveryError
from digest.models import Edition

# "not_sent": the transport never tried this recipient (the connection went away mid-batch);
# it stays pending and the next send takes it.
log = logging.getLogger(__name__)

OutcomeStatus = Literal["sent", "failed", "unknown", "not_sent"]


@dataclass(frozen=True, slots=True)
class Recipient:
    """One address of a batch, with its per-recipient parts already worked out."""

    email: str
    name: str
    unsubscribe_url: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one recipient of a batch."""

    email: str
    status: OutcomeStatus
    provider_id: str | None = None
    reason: str | None = None
    permanent: bool = False  # a permanent refusal of the address (SMTP 5xx on RCPT): mark it bounced


@dataclass(frozen=True, slots=True)
class Notice:
    """One message that is not an edition (a sign-up confirmation), to one address, sent at once.

    `kind` names it in logs and is the outbox folder it goes to (`outbox_dir/KIND/`).
    """

    kind: str
    to: str
    subject: str
    text: str
    html: str | None = None


class NotSentError(DeliveryError):
    """The batch never reached the provider (refused connection, connect timeout, retries used up).

    Its recipients stay pending and the next send retries them.
    """


class OutcomeUnknownError(DeliveryError):
    """The request went out but its answer was lost (read timeout, reset): its recipients are unknown."""


class Transport(Protocol):
    name: str
    batch_size: int  # most recipients one send_batch call takes
    concurrency: int  # batches the send loop may have in flight at once (threads calling send_batch)

    def send_batch(self, edition: Edition, recipients: Sequence[Recipient], *, test: bool = False) -> tuple[Outcome, ...]:
        """Send `edition` to `recipients`; one Outcome per recipient.

        Raises NotSentError, OutcomeUnknownError, or ProviderRejectedError (stop the whole send).
        """
        ...

    def send_notice(self, notice: Notice) -> Outcome:
        """Send one message to one address, now, outside any batch and ledger.

        Raises NotSentError (nothing went out), OutcomeUnknownError, or ProviderRejectedError.
        """
        ...

    def close(self) -> None: ...


class BatchStopped(Exception):
    """Raised by a transport's per-message step: the batch cannot go on (no connection, full disk,
    sender refused). Recipients before it keep their outcomes; the rest stay pending."""

    def __init__(self, error: DeliveryError) -> None:
        super().__init__(str(error))
        self.error = error


Message = tuple[bytes, str]  # a message as it goes on the wire, and its Message-ID


def send_one_by_one(
    recipients: Sequence[Recipient],
    build: Callable[[Recipient], Message],
    deliver: Callable[[Recipient, Message], Outcome],
    transport: str,
) -> tuple[Outcome, ...]:
    """Build and deliver one message per recipient (the outbox and SMTP way).

    A message that cannot be built fails that recipient alone. BatchStopped on the first recipient
    raises its error (nothing went out); later, the rest of the batch comes back "not_sent".
    """
    outcomes: list[Outcome] = []
    for position, recipient in enumerate(recipients):
        try:
            message = build(recipient)
        except DeliveryError as exc:
            outcomes.append(Outcome(recipient.email, "failed", reason=str(exc)))
            continue
        try:
            outcomes.append(deliver(recipient, message))
        except BatchStopped as stop:
            if not outcomes:
                raise stop.error from stop.__cause__
            log.error("%s: %s; the rest of the batch stays pending", transport, stop.error)
            outcomes.extend(Outcome(r.email, "not_sent", reason=str(stop.error)) for r in recipients[position:])
            break
    return tuple(outcomes)
