"""Delivery: send a stored edition to the subscriber list through one transport, never twice to anyone.

The send loop, under the send lock: turn rows left in flight by a dead process into unknown, stage
the audience (each active subscriber once) in the ledger and plan the send (who is pending), then
send batches, in address order, to everyone pending or temporarily failed (and unknown only on
request). Each batch is claimed in_flight and committed before it goes out and recorded when it
comes back, so a crash leaves it unknown rather than resent. Up to `transport.concurrency`
batches are in flight at once (worker threads build and send; this thread keeps the ledger), so
building, waiting and recording overlap.

Nothing holds the whole list: subscribers stream from subscribers.csv into the ledger's staged
audience, and each batch is read from the ledger when a slot for it is free, so memory stays the
same for a hundred subscribers or a million.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from digest.config import Config
from digest.deliver.base import NotSentError, Outcome, OutcomeUnknownError, Recipient, Transport
from digest.deliver.message import check_sendable
from digest.deliver.outbox import OutboxTransport
from digest.deliver.smtp import SmtpTransport
from digest.errors import DeliveryError, DigestError
from digest.ledger import Ledger
from digest.locks import send_lock
from digest.models import Batch, Edition, Subscriber
from digest.subscribers import iter_audience, set_status
from digest.tokens import unsubscribe_url

log = logging.getLogger(__name__)

# Ledger status for each transport outcome; "not_sent" goes back in the queue.
_LEDGER_STATUS = {"sent": "sent", "failed": "failed", "unknown": "unknown", "not_sent": "pending"}
# Permanently refused addresses are marked bounced in subscribers.csv this many at a time (and at
# the end): each marking rewrites the whole list.
BOUNCES_PER_LIST_REWRITE = 1000


@dataclass(frozen=True, slots=True)
class BatchReport:
    """One batch, recorded: for progress bars and log lines."""

    number: int  # 1-based
    batches: int  # planned in this send
    size: int
    sent: int
    failed: int
    unknown: int
    not_sent: int
    error: str | None = None


@dataclass(frozen=True, slots=True)
class SendReport:
    """What a send did, and where the edition stands after it."""

    edition: str
    transport: str
    planned: int  # recipients the send set out to reach
    sent: int = 0
    failed: int = 0
    bounced: int = 0
    unknown: int = 0
    not_sent: int = 0
    recovered: int = 0  # in-flight rows of a dead process, now unknown
    stopped: str | None = None  # set when `stop` ended the send before the end
    error: str | None = None  # why the send gave up before the end (provider unreachable): exit 1
    counts: dict[str, int] = field(default_factory=dict)  # the edition's ledger counts afterwards

    @property
    def nothing_to_send(self) -> bool:
        return self.planned == 0

    @property
    def exit_code(self) -> int:
        """1 when an error stopped the send, else 3 when recipients are left pending, failed or
        unknown, else 0 (INTERFACE.md)."""
        if self.error:
            return 1
        if self.nothing_to_send:
            return 3 if self.counts.get("unknown") else 0
        left = sum(self.counts.get(key, 0) for key in ("pending", "failed", "unknown"))
        return 3 if left else 0


def transport_for(config: Config, *, clock: Callable[[], datetime] | None = None) -> Transport:
    """The transport [delivery] transport names. Raises ConfigError for a missing secret or bad setting."""
    now = clock or (lambda: datetime.now(UTC))
    kind = config.delivery.transport
    if kind == "smtp":
        return SmtpTransport(config, clock=now)
    if kind == "sendgrid":
        from digest.deliver.sendgrid import SendGridTransport

        return SendGridTransport(config)
    return OutboxTransport(config, clock=now)


@dataclass(frozen=True, slots=True)
class SendPlan:
    """Who a send of an edition would go to now; the ledger that made it holds its audience."""

    edition: str
    active: int  # distinct active addresses on the list
    targets: int  # of those, the ones not sent, not refused for good, not unknown (unless resending)
    resend_unknown: bool = False


def plan_send(
    ledger: Ledger, edition: str, subscribers: Iterable[Subscriber] | Path, *, resend_unknown: bool = False
) -> SendPlan:
    """Stage the active subscribers (each address once) in `ledger` and count who a send of
    `edition` would go to: active subscribers not sent, not refused for good, and not unknown
    (unless `resend_unknown`). Reads the subscribers (or the subscribers.csv at a Path) once;
    writes nothing to the ledger file. Raises SubscribersError for a malformed list."""
    active = _stage_audience(ledger, subscribers)
    targets = ledger.count_targets(edition, resend_unknown=resend_unknown)
    return SendPlan(edition, active, targets, resend_unknown)


def _stage_audience(ledger: Ledger, subscribers: Iterable[Subscriber] | Path) -> int:
    if isinstance(subscribers, Path):
        return ledger.load_audience(iter_audience(subscribers))
    return ledger.load_audience((s.email, s.name) for s in subscribers if s.status == "active")


def recipient_for(config: Config, email: str, name: str) -> Recipient:
    """A recipient with their own signed unsubscribe URL. Raises ConfigError without DIGEST_SECRET."""
    url = unsubscribe_url(config.newsletter.base_url, email, config.secrets.digest_secret)
    return Recipient(email=email, name=name, unsubscribe_url=url)


def send_edition(
    config: Config,
    edition: Edition,
    ledger: Ledger,
    transport: Transport,
    subscribers: Iterable[Subscriber] | Path | SendPlan,
    *,
    resend_unknown: bool = False,
    stop: threading.Event | None = None,
    on_batch: Callable[[BatchReport], None] | None = None,
    now: datetime,
) -> SendReport:
    """Send `edition` to every active subscriber who has not had it, and record every outcome.

    `subscribers` (or the subscribers.csv at a Path) is read once, as it streams; or pass the SendPlan that plan_send made on this
    ledger to send to the audience it staged (its resend_unknown applies).
    Setting `stop` lets the batches in flight finish and be recorded, and starts no new one; so
    does a batch that never reached the provider (report.error, everyone left stays pending).
    Raises ConfigError/EditionError before anything is sent (see check_sendable), LockedError
    when another send runs, and ProviderRejectedError (or another DeliveryError) after recording
    the batches in flight when the provider refuses for good; the rest stay pending.
    """
    check_sendable(config, edition)
    with send_lock(config.state.dir):
        recovered = ledger.recover_in_flight()
        if isinstance(subscribers, SendPlan):
            resend_unknown = subscribers.resend_unknown
        else:
            _stage_audience(ledger, subscribers)
        ledger.drop_unsendable(edition.id)
        planned = ledger.plan(edition.id, resend_unknown=resend_unknown)
        size = max(1, min(transport.batch_size, config.delivery.batch_size))
        run = _SendRun(config, edition, ledger, transport, size, resend_unknown, -(-planned // size), on_batch, now)
        if planned:
            log.info("sending edition %s to %d recipient(s) via %s in %d batch(es)", edition.id, planned, transport.name, run.batches)
            run.send(stop or threading.Event())
        return SendReport(
            edition=edition.id,
            transport=transport.name,
            planned=planned,
            sent=run.tally["sent"],
            failed=run.tally["failed"],
            bounced=run.tally["bounced"],
            unknown=run.tally["unknown"],
            not_sent=run.tally["not_sent"],
            recovered=recovered,
            stopped=run.stopped,
            error=run.error,
            counts=ledger.counts(edition.id),
        )


def send_test(
    config: Config,
    edition: Edition,
    to: str,
    transport: Transport,
    *,
    now: datetime,
    name: str = "",
    ledger: Ledger | None = None,
) -> Outcome:
    """Send one test copy (subject marked [TEST]) to `to`. It is logged as a test, never counted as a
    delivery, and freezes nothing. Raises what check_sendable and the transport raise, and
    DeliveryError when the copy was not sent."""
    check_sendable(config, edition)
    recipient = recipient_for(config, to, name)
    try:
        outcome = transport.send_batch(edition, [recipient], test=True)[0]
    except DeliveryError as exc:
        if ledger is not None:
            ledger.record_test_send(now, edition.id, to, "failed", None, str(exc))
        raise
    if ledger is not None:
        ledger.record_test_send(now, edition.id, to, outcome.status, outcome.provider_id, outcome.reason)
    if outcome.status != "sent":
        raise DeliveryError(f"test send to {to} {outcome.status.replace('_', ' ')}: {outcome.reason or 'no reason given'}")
    return outcome


class _SendRun:
    """The batches of one send: claimed and recorded on this thread, sent on worker threads."""

    def __init__(
        self,
        config: Config,
        edition: Edition,
        ledger: Ledger,
        transport: Transport,
        size: int,
        resend_unknown: bool,
        batches: int,
        on_batch: Callable[[BatchReport], None] | None,
        now: datetime,
    ) -> None:
        self.config = config
        self.edition = edition
        self.ledger = ledger
        self.transport = transport
        self.size = size
        self.resend_unknown = resend_unknown
        self.batches = batches
        self.on_batch = on_batch
        self.now = now
        self.tally = dict.fromkeys(("sent", "failed", "bounced", "unknown", "not_sent"), 0)
        self.stopped: str | None = None
        self.error: str | None = None
        self.failure: BaseException | None = None
        self.refused: list[str] = []  # permanently refused, not yet marked bounced in the list
        self.run_id = f"{now.astimezone(UTC):%Y%m%dT%H%M%SZ}-{os.getpid()}"

    def send(self, stop: threading.Event) -> None:
        """Claim and send batch after batch in address order, claiming the next one only when a
        worker is free for it (so claims made meanwhile, and a stop, are seen). The next batch is
        looked for while requests are in flight, and the batches that came back are recorded once
        the free workers have their next: a worker that comes back waits only for a claim."""
        concurrency = max(1, self.transport.concurrency)
        running: dict[Future[tuple[Outcome, ...]], tuple[int, list[tuple[str, str]]]] = {}
        claimed = 0
        upcoming = self._next_batch(after="")
        try:
            with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="digest-send") as pool:
                finished: list[tuple[int, list[tuple[str, str]], Future[tuple[Outcome, ...]]]] = []
                while True:
                    for _, _, future in finished:
                        self._note_failure(future)
                    while upcoming is not None and len(running) < concurrency and self._may_claim(stop):
                        claimed += 1
                        self.ledger.claim(self.edition.id, self._batch_id(claimed), upcoming, self.now, resend_unknown=self.resend_unknown)
                        running[pool.submit(self._send_batch, upcoming.recipients)] = (claimed, upcoming.recipients)
                        upcoming = self._next_batch(after=upcoming.last)
                    for number, batch, future in finished:
                        self._record(number, batch, future)
                    if not running:
                        break
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                    finished = [(*running.pop(future), future) for future in sorted(done, key=lambda f: running[f][0])]
        finally:
            self._mark_bounced()
        if self.failure is not None:
            raise self.failure

    def _next_batch(self, after: str) -> Batch | None:
        return self.ledger.next_batch(self.edition.id, after=after, size=self.size, resend_unknown=self.resend_unknown)

    def _may_claim(self, stop: threading.Event) -> bool:
        """Whether another batch may be claimed: not after a failure, a batch that never reached the
        provider, or a stop (noted as the reason this send stopped)."""
        if self.failure or self.error or self.stopped:
            return False
        if stop.is_set():
            self.stopped = "stopped on request (signal): the batches in flight were finished and recorded"
            return False
        return True

    def _batch_id(self, number: int) -> str:
        return f"{self.run_id}-{number}"

    def _send_batch(self, batch: list[tuple[str, str]]) -> tuple[Outcome, ...]:
        recipients = [recipient_for(self.config, email, name) for email, name in batch]
        return self.transport.send_batch(self.edition, recipients)

    def _note_failure(self, future: Future[tuple[Outcome, ...]]) -> None:
        """Note what a finished batch's error means for the rest: no batch that never reached the
        provider or that it refused (the others stay pending), no send past a bug."""
        error = future.exception()
        if error is None or isinstance(error, OutcomeUnknownError):
            return
        if isinstance(error, NotSentError):
            self.error = self.error or str(error)
        else:  # the transport refused before sending (a DigestError), or a bug
            self.failure = self.failure or error

    def _record(self, number: int, batch: list[tuple[str, str]], future: Future[tuple[Outcome, ...]]) -> None:
        """Record a finished batch, count it, mark who refused it for good bounced, and report progress."""
        error = future.exception()
        outcomes = _outcomes([email for email, _ in batch], future)
        self.ledger.record_outcomes(
            self.edition.id,
            ((o.email, _LEDGER_STATUS[o.status], o.provider_id, o.reason, o.permanent) for o in outcomes),
            self.now,
            batch=self._batch_id(number),
        )
        counted = {status: sum(1 for o in outcomes if o.status == status) for status in _LEDGER_STATUS}
        for status, n in counted.items():
            self.tally[status] += n
        refused = [o.email for o in outcomes if o.status == "failed" and o.permanent]
        if refused:
            self.tally["bounced"] += len(refused)
            log.warning("permanently refused, now bounced: %s", ", ".join(refused))
            self.refused.extend(refused)
            if len(self.refused) >= BOUNCES_PER_LIST_REWRITE:
                self._mark_bounced()
        if self.on_batch is not None:
            self.on_batch(
                BatchReport(
                    number=number,
                    batches=self.batches,
                    size=len(batch),
                    sent=counted["sent"],
                    failed=counted["failed"],
                    unknown=counted["unknown"],
                    not_sent=counted["not_sent"],
                    error=str(error) if error is not None else None,
                )
            )

    def _mark_bounced(self) -> None:
        """Mark the addresses refused so far bounced in the subscriber list (one rewrite for all)."""
        if not self.refused:
            return
        refused, self.refused = self.refused, []
        try:
            set_status(self.config.subscribers.file, refused, "bounced", self.now)
        except DigestError as exc:
            self.failure = self.failure or exc


def _outcomes(emails: list[str], future: Future[tuple[Outcome, ...]]) -> list[Outcome]:
    """One outcome per address of a finished batch, whatever became of it."""
    error = future.exception()
    if error is None:
        return _complete(future.result(), emails)
    if isinstance(error, OutcomeUnknownError):
        return [Outcome(e, "unknown", reason=str(error)) for e in emails]
    if isinstance(error, DigestError):  # NotSentError, or refused before sending: ProviderRejectedError, a bad login
        return [Outcome(e, "not_sent", reason=str(error)) for e in emails]
    # A bug somewhere in the batch: whether it went out cannot be known, so never resend blindly.
    return [Outcome(e, "unknown", reason=f"{type(error).__name__}: {error}") for e in emails]


def _complete(outcomes: Sequence[Outcome], emails: Sequence[str]) -> list[Outcome]:
    """One outcome per address of the batch; an address the transport did not report is unknown."""
    by_address = {o.email.lower(): o for o in outcomes}
    return [
        by_address.get(email.lower()) or Outcome(email, "unknown", reason="the transport reported no outcome")
        for email in emails
    ]


__all__ = [
    "BatchReport",
    "SendPlan",
    "SendReport",
    "plan_send",
    "recipient_for",
    "send_edition",
    "send_test",
    "transport_for",
]
