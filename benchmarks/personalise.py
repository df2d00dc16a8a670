"""What one recipient costs: filling the stored edition in, beside rendering it once per recipient.

- personalise: the stored edition's HTML and text with one recipient's name and unsubscribe URL
  (message.personalise), beside rendering the MJML per recipient (render_email);
- SendGrid: a request's per-recipient part (build_request on 1,000, per recipient), same baseline;
- a whole message for SMTP or the outbox (MessageComposer), beside the email package writing it
  whole (what every message cost before the composer);
- the signed unsubscribe URL every message needs (recipient_for), beside a bare HMAC-SHA256 of the
  address: minting must stay near 10 us, with no map of every subscriber held at send time.

    python benchmarks/personalise.py [--smoke]
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from datetime import UTC, datetime

from harness import Row, best_of, floors, main_for
from workloads import NEWSLETTER, SECRET, sample_edition, subscriber_email

from digest.config import Config, DeliveryConfig, Secrets
from digest.deliver import recipient_for
from digest.deliver.message import MessageComposer, _assemble, message_bytes, personalise
from digest.deliver.sendgrid import build_request
from digest.render import render_email

NOW = datetime(2026, 11, 26, 7, tzinfo=UTC)


def us_per_call(function: Callable[[int], object], count: int) -> float:
    """Microseconds per call of function(i) for i in range(count), the best of three runs."""

    def once() -> float:
        started = time.perf_counter()
        for i in range(count):
            function(i)
        return (time.perf_counter() - started) / count * 1e6

    return best_of(3, once)


def run(smoke: bool) -> list[Row]:
    target = floors("personalise", smoke)
    renders, calls = int(target["renders"]), int(target["calls"])
    edition = sample_edition()
    config = Config(
        path=None, newsletter=NEWSLETTER, sources=(), delivery=DeliveryConfig(transport="smtp"),
        secrets=Secrets(digest_secret=SECRET, sendgrid_api_key="SG.bench"),
    )
    recipients = [recipient_for(config, subscriber_email(i), f"Reader {i}") for i in range(calls)]
    composer = MessageComposer(edition, config)
    key = SECRET.encode()

    mjml = us_per_call(lambda _i: render_email(edition.digest, NEWSLETTER), renders)
    filled = us_per_call(lambda i: personalise(edition.email, recipients[i]), calls)
    chunk = recipients[:1000]
    sendgrid = us_per_call(lambda _i: build_request(edition, chunk, config), max(1, calls // len(chunk))) / len(chunk)
    composed = us_per_call(lambda i: composer.compose(recipients[i], now=NOW), calls)
    whole = us_per_call(
        lambda i: message_bytes(
            _assemble(edition, config, recipients[i], date="Thu, 26 Nov 2026 07:00:00 +0000", message_id="<m@example.org>",
                      parts=personalise(edition.email, recipients[i]), test=False)
        ),
        renders,
    )
    token = us_per_call(lambda i: recipient_for(config, subscriber_email(i), f"Reader {i}"), calls)
    bare = us_per_call(lambda i: hmac.new(key, subscriber_email(i).encode(), hashlib.sha256).digest(), calls)

    speedup, composer_speedup, max_token = float(target["min_speedup"]), float(target["min_composer_speedup"]), float(target["max_token_us"])
    return [
        Row("personalise (SMTP, outbox)", f"x{calls:,}, HTML {len(edition.email.html) // 1024} KB", filled, mjml, mjml / filled,
            f">= {speedup:g}x cheaper", mjml / filled >= speedup, "us", f"MJML rendered per recipient, x{renders:,}"),
        Row("SendGrid request part", "per recipient of a 1,000-recipient request", sendgrid, mjml, mjml / sendgrid,
            f">= {speedup:g}x cheaper", mjml / sendgrid >= speedup, "us", "MJML rendered per recipient"),
        Row("whole message (SMTP, outbox)", f"x{calls:,}, quoted-printable", composed, whole, whole / composed,
            f">= {composer_speedup:g}x cheaper", whole / composed >= composer_speedup, "us", "the email package, whole"),
        Row("signed unsubscribe URL", f"x{calls:,}", token, bare, token / bare, f"<= {max_token:g} us", token <= max_token,
            "us", "bare HMAC-SHA256"),
    ]


if __name__ == "__main__":
    raise SystemExit(main_for(run))
