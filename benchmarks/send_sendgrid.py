"""Delivery speed: digest's real send path beside a bare SendGrid client, same fake SendGrid, same run.

1. Sending: 100,000 recipients to a local stand-in for SendGrid that answers every request after
   50 ms (tests/support/sendgrid_server.py in a process of its own, schema validation off). The reference posts the same
   100 prebuilt request bodies with the `sendgrid` client, one after another. digest goes through
   `send_edition` with `SendGridTransport`, the ledger in a temporary state dir: signing every
   unsubscribe link, building each request, claiming and recording every batch.
   Targets: 100 requests; digest's wall time within 1.5x of the reference's.
2. Personalising: the per-recipient cost of filling the stored edition in for one recipient
   (message.personalise for SMTP/outbox; the request's per-recipient part for SendGrid) against
   rendering the MJML once per recipient (render_email, measured on 1,000).
   Target: personalising at least 50x cheaper.

    python benchmarks/send_sendgrid.py [--recipients N] [--latency S] [--concurrency N]

Not a test: prints two tables and exits 0 whatever the figures.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path

if __name__ == "__main__":  # run as a script: make the checkout importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sendgrid import SendGridAPIClient

from digest.config import Config, DeliveryConfig, NewsletterConfig, Secrets, StateConfig, SubscribersConfig
from digest.deliver import recipient_for, send_edition
from digest.deliver.message import personalise
from digest.deliver.sendgrid import MAX_PERSONALIZATIONS, SendGridTransport, build_request
from digest.ledger import Ledger
from digest.models import Bullet, Digest, Edition, Section, SourceRef, SourceReport, Subscriber
from digest.render import render_email
from tests.support.sendgrid_server import SendGridServer

RECIPIENTS = 100_000
LATENCY_SECONDS = 0.050
MJML_RENDERS = 1_000
PERSONALISATIONS = 20_000
_BASELINE = json.loads(Path(__file__).with_name("baseline.json").read_text())["send_sendgrid"]
TARGET_WALL_RATIO = float(_BASELINE["max_wall_ratio_vs_reference"])
TARGET_PERSONALISE_RATIO = float(_BASELINE["min_personalise_speedup_vs_mjml"])
NOW = datetime(2026, 11, 26, 7, tzinfo=UTC)
API_KEY = "SG.bench-key"
SECRET = "bench-secret-that-signs-unsubscribe-links"

NEWSLETTER = NewsletterConfig(
    name="The Transatlantic Brief",
    from_email="brief@example.org",
    from_name="The Transatlantic Brief",
    reply_to="editor@example.org",
    postal_address="1 Example Street, London EC1A 1AA",
    base_url="https://news.example.org",
)
_SENTENCES = (
    "The Prime Minister told the President that any ceasefire in Ukraine must come with security guarantees "
    "that Kyiv and its European partners can rely on.",
    "European officials said a coalition of countries was ready to send peacekeepers once a settlement had been signed.",
    "Britain will raise defence spending to 2.5% of GDP by 2027, paid for by cutting the overseas aid budget.",
    "The two leaders agreed a technology partnership covering artificial intelligence, quantum computing and chips.",
)


def sample_edition() -> Edition:
    """A full edition: three sections of four bullets, each from its own source."""
    sections = []
    sources = []
    for s, title in enumerate(("Ukraine peace", "Defence spending", "AI/tech partnership")):
        bullets = []
        for b in range(4):
            source = SourceRef(f"https://news.example.org/2026/11/26/story-{s}-{b}?ref=brief&lang=en", f"Story {s}.{b}")
            bullets.append(Bullet(_SENTENCES[(s + b) % len(_SENTENCES)], source))
            sources.append(SourceReport(source.url, source.title, "ok"))
        sections.append(Section(title, tuple(bullets)))
    digest = Digest("2026-11-26", NEWSLETTER.name, NOW, tuple(sections), tuple(sources))
    return Edition(digest.edition, digest, render_email(digest, NEWSLETTER), NOW)


class FakeSendGridProcess:
    """The fake SendGrid in a process of its own, as the real one is remote: its JSON parsing and
    threads do not compete with the sender for this process's GIL."""

    def __init__(self, latency: float) -> None:
        context = multiprocessing.get_context("spawn")
        self._pipe, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child, latency), daemon=True)

    def __enter__(self) -> FakeSendGridProcess:
        self._process.start()
        self.url: str = self._pipe.recv()
        return self

    def __exit__(self, *exc: object) -> None:
        self._pipe.send("stop")
        self._process.join(timeout=10)

    def counts(self) -> tuple[int, int]:
        """(requests received, recipients accepted) so far."""
        self._pipe.send("counts")
        received, accepted = self._pipe.recv()
        return int(received), int(accepted)


def _serve(pipe: Connection, latency: float) -> None:
    with SendGridServer(API_KEY, validate=False, latency=latency) as server:
        pipe.send(server.url)
        while (command := pipe.recv()) != "stop":
            if command == "counts":
                pipe.send((server.received, len(server.accepted_recipients)))


def bench_config(server: FakeSendGridProcess, state_dir: Path) -> Config:
    return Config(
        path=None,
        newsletter=NEWSLETTER,
        sources=(),
        delivery=DeliveryConfig(transport="sendgrid", sendgrid_api_url=server.url, timeout_seconds=30.0),
        subscribers=SubscribersConfig(file=state_dir / "subscribers.csv"),
        state=StateConfig(dir=state_dir),
        secrets=Secrets(sendgrid_api_key=API_KEY, digest_secret=SECRET),
    )


def subscribers(count: int) -> tuple[Subscriber, ...]:
    return tuple(Subscriber(f"reader{i:06d}@example.com", f"Reader {i}") for i in range(count))


def send_reference(server: FakeSendGridProcess, bodies: Sequence[dict[str, object]]) -> float:
    """The bare client posting prebuilt bodies one after another; returns seconds."""
    client = SendGridAPIClient(API_KEY, host=server.url)
    started = time.perf_counter()
    for body in bodies:
        response = client.client.mail.send.post(request_body=body, timeout=30.0)
        assert response.status_code == 202, response.status_code
    return time.perf_counter() - started


def send_digest(config: Config, edition: Edition, people: Sequence[Subscriber], concurrency: int | None) -> tuple[float, int]:
    """digest's send path on a fresh ledger; returns (seconds, recipients recorded sent)."""
    transport = SendGridTransport(config)
    if concurrency:
        transport.concurrency = concurrency
    with Ledger.open(config.state.dir) as ledger:
        started = time.perf_counter()
        report = send_edition(config, edition, ledger, transport, people, now=NOW)
        seconds = time.perf_counter() - started
    transport.close()
    return seconds, report.sent


def per_call(function: Callable[[int], object], count: int) -> float:
    """Seconds per call of function(i) for i in range(count)."""
    started = time.perf_counter()
    for i in range(count):
        function(i)
    return (time.perf_counter() - started) / count


def table(title: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    print(f"\n{title}")
    for row in (header, *rows):
        print("  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths, strict=True))))


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipients", type=int, default=RECIPIENTS)
    parser.add_argument("--latency", type=float, default=LATENCY_SECONDS, help="seconds the fake SendGrid takes per answer")
    parser.add_argument("--concurrency", type=int, default=None, help="batches in flight (default: the transport's)")
    args = parser.parse_args(argv)

    edition = sample_edition()
    people = subscribers(args.recipients)
    with tempfile.TemporaryDirectory(prefix="digest-bench-") as tmp, FakeSendGridProcess(args.latency) as server:
        config = bench_config(server, Path(tmp) / "state")
        recipients = [recipient_for(config, s.email, s.name) for s in people]
        bodies = [
            build_request(edition, recipients[i : i + MAX_PERSONALIZATIONS], config)
            for i in range(0, len(recipients), MAX_PERSONALIZATIONS)
        ]
        reference_seconds = send_reference(server, bodies)
        reference_requests, reference_accepted = server.counts()

        digest_seconds, digest_sent = send_digest(config, edition, people, args.concurrency)
        received, accepted = server.counts()
        digest_requests, digest_accepted = received - reference_requests, accepted - reference_accepted

    expected_requests = -(-args.recipients // MAX_PERSONALIZATIONS)  # one request per 1,000
    ratio = digest_seconds / reference_seconds
    print(f"Sending {args.recipients:,} recipients to a fake SendGrid answering in {args.latency * 1000:.0f} ms "
          f"(HTML {len(edition.email.html.encode()) / 1024:.1f} KB, concurrency "
          f"{args.concurrency or SendGridTransport.concurrency})")
    table(
        "sending",
        ("sender", "requests", "accepted", "wall s", "vs reference", "target"),
        (
            ("reference: sendgrid client, prebuilt bodies", f"{reference_requests}", f"{reference_accepted:,}",
             f"{reference_seconds:.2f}", "1.00x", ""),
            ("digest: send_edition + SendGridTransport", f"{digest_requests}", f"{digest_accepted:,}",
             f"{digest_seconds:.2f}", f"{ratio:.2f}x",
             f"<= {TARGET_WALL_RATIO}x, {expected_requests} requests: "
             f"{verdict(ratio <= TARGET_WALL_RATIO and digest_requests == expected_requests and digest_sent == args.recipients)}"),
        ),
    )

    renders = min(MJML_RENDERS, args.recipients)
    sample = recipients[:PERSONALISATIONS]
    mjml = per_call(lambda _i: render_email(edition.digest, NEWSLETTER), renders)
    replace = per_call(lambda i: personalise(edition.email, sample[i % len(sample)]), PERSONALISATIONS)
    chunk = sample[:MAX_PERSONALIZATIONS]
    sendgrid = per_call(lambda _i: build_request(edition, chunk, config), PERSONALISATIONS // len(chunk)) / len(chunk)
    token = per_call(lambda i: recipient_for(config, people[i].email, people[i].name), min(PERSONALISATIONS, len(people)))
    rows: list[tuple[str, ...]] = [
        (f"render MJML per recipient (render_email, x{renders:,})", f"{mjml * 1e6:.1f}", "1x", ""),
    ]
    for label, cost in (
        (f"personalise stored edition (SMTP/outbox, x{PERSONALISATIONS:,})", replace),
        (f"SendGrid request part per recipient (x{PERSONALISATIONS:,})", sendgrid),
    ):
        rows.append((label, f"{cost * 1e6:.1f}", f"{mjml / cost:.0f}x", f">= {TARGET_PERSONALISE_RATIO:.0f}x: {verdict(mjml / cost >= TARGET_PERSONALISE_RATIO)}"))
    rows.append(("signed unsubscribe URL (recipient_for; needed either way)", f"{token * 1e6:.1f}", "", ""))
    table("per-recipient cost", ("step", "us/recipient", "cheaper than MJML", "target"), rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
