"""A send with no ledger bookkeeping, so send_sendgrid.py can measure what the ledger adds to a send.

`install(recipients)` replaces the Ledger methods a send calls: the audience streams straight
from subscribers.csv in list order, a batch is the next rows read, and nothing is staged, claimed
or recorded. That is a sender with no ledger at all: it still reads and checks the list, signs
every link and builds every request, but a crash or a re-run would mail everyone again. Only for
benchmarks, in the process of the send being measured.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from digest.ledger import Ledger
from digest.models import Batch


def install(recipients: int) -> None:
    """Make every Ledger in this process a no-op for a send to `recipients` distinct active addresses."""
    audience: dict[int, Iterator[tuple[str, str]]] = {}

    def load_audience(self: Ledger, subscribers: Iterable[tuple[str, str]]) -> int:
        audience[id(self)] = iter(subscribers)  # read later, a batch at a time, as the send asks
        return recipients

    def next_batch(self: Ledger, edition: str, *, after: str = "", size: int = 1000, resend_unknown: bool = False) -> Batch | None:
        rows = [row for _, row in zip(range(size), audience[id(self)], strict=False)]
        return Batch(rows, rows[0][0], rows[-1][0], len(rows)) if rows else None

    def counts(self: Ledger, edition: str) -> dict[str, int]:
        return {"subscribers": recipients, "sent": recipients, "pending": 0, "failed": 0, "unknown": 0}

    patched: dict[str, Any] = {
        "load_audience": load_audience,
        "count_targets": lambda self, edition, resend_unknown=False: recipients,
        "recover_in_flight": lambda self: 0,
        "drop_unsendable": lambda self, edition: 0,
        "plan": lambda self, edition, resend_unknown=False: recipients,
        "next_batch": next_batch,
        "claim": lambda self, edition, batch_id, batch, now, resend_unknown=False: None,
        "record_outcomes": lambda self, edition, outcomes, now, batch=None: None,
        "counts": counts,
    }
    for name, method in patched.items():
        if not hasattr(Ledger, name):
            raise RuntimeError(f"Ledger.{name} is gone: update benchmarks/no_ledger.py to what a send calls now")
        setattr(Ledger, name, method)
