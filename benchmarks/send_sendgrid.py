"""Sending a million through SendGrid: wall time beside a bare sender, peak memory, and what the ledger adds.

Against the SendGrid stand-in of the tests (tests/support/sendgrid_server.py, in a process of its
own, schema validation off, answering every request after 50 ms):

- reference: the bare `sendgrid` client posting the same requests one after another, each built
  beforehand (their recipients, tokens of the same length, the same edition); only the posting is
  timed;
- digest: `digest send --yes` in a process of its own, streaming subscribers.csv, signing every
  unsubscribe link, building each request, claiming and recording every batch in the ledger;
  its wall time and peak RSS, at 1,000,000 and at 100,000 recipients (memory must not grow);
- what the ledger adds to the send's wall: the same send with the ledger's bookkeeping left out
  (benchmarks/no_ledger.py: the list streams straight into the batches, nothing is staged, claimed
  or recorded), beside it; the best of five runs of each, as the difference is a few seconds of 35;
- the ledger's own work, for the record: planning and recording the same 1,000,000 recipients in a
  fresh ledger (read, stage and plan the list, then claim, look for the next and record each of
  1,000 batches, as the send does). Most of it runs while requests are in
  flight, so it is more than what it adds to the wall.

    python benchmarks/send_sendgrid.py [--smoke]
"""

from __future__ import annotations

import json
import multiprocessing
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from harness import BENCHMARKS, Row, floors, main_for, new_folder, run_measured
from workloads import EDITION_ID, NEWSLETTER, SECRET, sample_edition, write_config, write_subscribers

from digest.config import Config, DeliveryConfig, Secrets, StateConfig, SubscribersConfig
from digest.deliver.base import Recipient
from digest.deliver.sendgrid import MAX_PERSONALIZATIONS, build_request
from digest.editions import EditionStore
from digest.ledger import Ledger
from digest.subscribers import iter_audience
from digest.tokens import unsubscribe_url
from tests.support.sendgrid_server import SendGridServer

API_KEY = "SG.bench-key"
NOW = datetime(2026, 11, 26, 7, tzinfo=UTC)
# Runs one digest command in this process, timed from after the imports: prints seconds and the
# peak traced by tracemalloc in MB (0 unless its first argument is "trace"). A second argument
# other than 0 is the number of recipients of a send with no ledger bookkeeping (no_ledger.py).
COMMAND_RUNNER = f"""
import sys, time, tracemalloc
sys.path.insert(0, {str(BENCHMARKS)!r})
from digest.cli import cli
# Loaded before tracing, so the traced peak is what the send holds, not the code it loads.
import digest.cli.send_commands, digest.cli.edition_commands, digest.deliver, digest.deliver.sendgrid, sendgrid
if sys.argv[2] != "0":
    import no_ledger
    no_ledger.install(int(sys.argv[2]))
trace = sys.argv[1] == "trace"
if trace:
    tracemalloc.start()
started = time.perf_counter()
try:
    cli.main(args=sys.argv[3:], prog_name="digest", standalone_mode=False)
finally:
    peak = tracemalloc.get_traced_memory()[1] / 1e6 if trace else 0.0
    print(time.perf_counter() - started, peak)
"""


class CountingSendGrid(SendGridServer):
    """The stand-in, counting recipients instead of keeping every body (a million would not fit)."""

    def __init__(self, latency: float) -> None:
        super().__init__(API_KEY, validate=False, latency=latency)
        self.requests = 0
        self.recipients = 0
        self.distinct: set[str] = set()

    def _record(self, body: dict[str, Any], headers: Any, *, answered: bool = True) -> str:
        emails = [to["email"].lower() for p in body.get("personalizations", []) for to in p.get("to", [])]
        with self._lock:
            self.requests += 1
            self.recipients += len(emails)
            self.distinct.update(emails)
            return f"bench-{self.requests}"

    def counts(self) -> tuple[int, int, int]:
        """(requests, recipients, distinct recipients) since the last reset, which they are zeroed by."""
        with self._lock:
            counted = (self.requests, self.recipients, len(self.distinct))
            self.requests = self.recipients = 0
            self.distinct = set()
        return counted


def _serve(pipe: Connection, latency: float) -> None:
    with CountingSendGrid(latency) as server:
        pipe.send(server.url)
        while pipe.recv() != "stop":
            pipe.send(server.counts())


class StandIn:
    """The stand-in in a process of its own, as SendGrid is remote: its JSON parsing does not
    compete with the sender for this process's interpreter lock."""

    def __init__(self, latency: float) -> None:
        context = multiprocessing.get_context("spawn")
        self._pipe, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child, latency), daemon=True)

    def __enter__(self) -> StandIn:
        self._process.start()
        if not self._pipe.poll(60):
            raise RuntimeError("the SendGrid stand-in did not start within 60 s")
        self.url: str = self._pipe.recv()
        return self

    def __exit__(self, *exc: object) -> None:
        self._pipe.send("stop")
        self._process.join(timeout=10)

    def take_counts(self) -> tuple[int, int, int]:
        """(requests, recipients, distinct recipients) since the last call."""
        self._pipe.send("counts")
        if not self._pipe.poll(60):
            raise RuntimeError("the SendGrid stand-in did not answer within 60 s")
        requests, recipients, distinct = self._pipe.recv()
        return int(requests), int(recipients), int(distinct)


def prebuilt_bodies(config: Config, recipients: int, batch: int) -> Iterator[bytes]:
    """The reference's requests as JSON: those digest sends, with tokens of the same length.

    One request is built by digest's own build_request with a marker in place of the request
    number, then each request is that text with its number in: built fast, before the timing.
    """
    edition = sample_edition()
    token_length = len(unsubscribe_url("", "reader0000000@example.com", SECRET)) - len("/unsubscribe/")
    people = [
        Recipient(
            f"reader####{j:03d}@example.com",
            f"Reader ####{j:03d}",
            f"{NEWSLETTER.base_url}/unsubscribe/####{j:03d}" + "x" * (token_length - 7),
        )
        for j in range(batch)
    ]
    template = json.dumps(build_request(edition, people, config)).encode()
    for number in range(-(-recipients // batch)):
        yield template.replace(b"####", b"%04d" % number)


def send_reference(stand_in: StandIn, config: Config, recipients: int, batch: int) -> float:
    """Seconds the bare client spends posting the prebuilt requests, one after another."""
    from sendgrid import SendGridAPIClient

    client = SendGridAPIClient(API_KEY, host=stand_in.url)
    posting = 0.0
    for raw in prebuilt_bodies(config, recipients, batch):
        body = json.loads(raw)
        started = time.perf_counter()
        response = client.client.mail.send.post(request_body=body, timeout=30.0)
        posting += time.perf_counter() - started
        if response.status_code != 202:
            raise RuntimeError(f"the stand-in answered {response.status_code}")
    return posting


def plan_and_record(folder: Path, subscribers_csv: Path, batch: int) -> tuple[float, float, float]:
    """What digest's ledger takes, on a fresh ledger, to plan a send of the list (before its first
    request can go: reading the list included) and to claim and record every batch (done while
    other requests are in flight), in seconds; and the time spent reading subscribers.csv, which runs alongside the staging."""
    edition = EDITION_ID
    reading = 0.0

    def timed_list() -> Iterator[tuple[str, str]]:
        nonlocal reading
        rows = iter_audience(subscribers_csv)
        while True:
            started = time.perf_counter()
            row = next(rows, None)
            reading += time.perf_counter() - started
            if row is None:
                return
            yield row

    started = time.perf_counter()
    with Ledger.open(folder / "ledger-only") as ledger:
        ledger.load_audience(timed_list())  # as plan_send does
        ledger.count_targets(edition)
        ledger.drop_unsendable(edition)
        planned = ledger.plan(edition)
        planning = time.perf_counter() - started
        number, upcoming = 0, ledger.next_batch(edition, size=batch)
        while upcoming is not None:  # as the send does: claim, look for the next, record
            number += 1
            ledger.claim(edition, f"bench-{number}", upcoming, NOW)
            claimed, upcoming = upcoming, ledger.next_batch(edition, after=upcoming.last, size=batch)
            outcomes = ((email, "sent", f"msg-{number}", None, False) for email, _ in claimed.recipients)
            ledger.record_outcomes(edition, outcomes, NOW, batch=f"bench-{number}")
        sent = ledger.counts(edition)["sent"]
    if sent != planned:
        raise RuntimeError(f"the ledger recorded {sent} of {planned}")
    return planning, time.perf_counter() - started - planning, reading


def digest_send(
    folder: Path, stand_in: StandIn, recipients: int, *, batch_size: int, traced: bool, ledger: bool = True
) -> tuple[float, float]:
    """`digest send --yes` to `recipients` subscribers in a process of its own: (seconds, peak MB).

    The seconds are the command's, from after the interpreter and digest are loaded. The peak is the
    process's RSS, or with `traced` what tracemalloc saw allocated at most during the command (a
    small list cannot show in RSS whether memory grows with the list; tracemalloc can). Without
    `ledger`, the send keeps no ledger (no_ledger.py).
    """
    home = new_folder(folder, f"send-{recipients}-{'ledger' if ledger else 'no-ledger'}")
    write_subscribers(home / "subscribers.csv", recipients)
    config_path = write_config(
        home, delivery={"transport": "sendgrid", "sendgrid_api_url": stand_in.url, "batch_size": batch_size}
    )
    EditionStore(home / "state").save(sample_edition())
    measured = run_measured(
        [sys.executable, "-c", COMMAND_RUNNER, "trace" if traced else "rss", "0" if ledger else str(recipients),
         "--config", str(config_path), "-q", "send", "--yes", "--edition", EDITION_ID],
        cwd=home,
        env={"SENDGRID_API_KEY": API_KEY, "DIGEST_SECRET": SECRET},
    )
    requests, sent, distinct = stand_in.take_counts()
    expected = -(-recipients // batch_size)
    if (requests, sent, distinct) != (expected, recipients, recipients):
        raise RuntimeError(f"digest sent {sent:,} recipients ({distinct:,} distinct) in {requests} requests; expected {recipients:,} in {expected}")
    seconds, traced_mb = (float(value) for value in measured.stdout.split()[-2:])
    return seconds, traced_mb if traced else measured.peak_rss_mb


def bench_config(url: str, folder: Path) -> Config:
    return Config(
        path=None,
        newsletter=NEWSLETTER,
        sources=(),
        delivery=DeliveryConfig(transport="sendgrid", sendgrid_api_url=url),
        subscribers=SubscribersConfig(file=folder / "subscribers.csv"),
        state=StateConfig(dir=folder / "state"),
        secrets=Secrets(sendgrid_api_key=API_KEY, digest_secret=SECRET),
    )


def run(smoke: bool) -> list[Row]:
    target = floors("send_sendgrid", smoke)
    large, small, latency = int(target["recipients"]), int(target["flat_from"]), float(target["latency_seconds"])
    batch = int(target.get("batch_size", MAX_PERSONALIZATIONS))
    runs = 1 if smoke else 5
    with tempfile.TemporaryDirectory(prefix="digest-bench-send-") as tmp, StandIn(latency) as stand_in:
        folder = Path(tmp)
        reference = send_reference(stand_in, bench_config(stand_in.url, folder), large, batch)
        requests, _, distinct = stand_in.take_counts()
        if distinct != large:
            raise RuntimeError(f"the reference reached {distinct:,} of {large:,} in {requests} requests")
        sends: list[tuple[float, float]] = []
        bare: list[float] = []
        for _ in range(runs):  # alternated, so a slow spell of the machine falls on both
            sends.append(digest_send(folder, stand_in, large, batch_size=batch, traced=smoke))
            bare.append(digest_send(folder, stand_in, large, batch_size=batch, traced=smoke, ledger=False)[0])
        _, small_peak = digest_send(folder, stand_in, small, batch_size=batch, traced=smoke)
        planning, recording, reading = plan_and_record(folder, folder / f"send-{large}-ledger-0" / "subscribers.csv", batch)
    wall, peak, without = min(w for w, _ in sends), max(p for _, p in sends), min(bare)
    added = wall - without
    requests = -(-large // batch)
    workload = f"{large:,} recipients, {requests:,} requests, stand-in answering in {latency * 1000:.0f} ms"
    max_ratio, max_rss, max_growth, max_share = (
        float(target["max_wall_ratio"]), float(target["max_peak_rss_mb"]), float(target["max_rss_growth"]),
        float(target["max_ledger_share"]),
    )
    best = "" if runs == 1 else f", best of {runs}"
    return [
        Row("send via SendGrid: wall", workload + best, wall, reference, wall / reference,
            f"<= {max_ratio}x reference", wall / reference <= max_ratio, "s", "bare client, prebuilt requests"),
        Row(f"send via SendGrid: peak {'traced memory' if smoke else 'RSS'}", f"{large:,} recipients vs {small:,}",
            peak, small_peak, peak / small_peak, f"< {max_rss:.0f} MB, <= {max_growth}x",
            peak < max_rss and peak / small_peak <= max_growth, "MB", f"digest at {small:,}"),
        Row("ledger: wall it adds to the send", f"{large:,} recipients{best}: the send {wall:.1f} s, without ledger "
            f"{without:.1f} s; the ledger's own work is planning {planning:.1f} s before the first request (reading the "
            f"list, {reading:.1f} s, alongside), claims and records {recording:.1f} s, mostly while requests fly",
            added, wall, added / wall, f"<= {max_share:.0%} of the send", added / wall <= max_share, "s", "the send's wall"),
    ]


if __name__ == "__main__":
    raise SystemExit(main_for(run))
