"""Sending over SMTP: one reused connection beside a new connection per message, and flat memory.

A local aiosmtpd server (STARTTLS and AUTH required, as on a submission port; certificates from
trustme) counts what it accepts. Like an MTA's smtpd, it serves each session in a process of its
own: two processes take turns at one listening socket, one session each at a time. (One asyncio
loop serving both of digest's connections read every message line by line on one core, and that,
not digest, was what each message waited for.) digest: `digest send --yes` to 10,000
subscribers with [delivery] transport = "smtp" in a process of its own, from after its imports:
per message, everything included (reading the list, the ledger, building each message). The
baseline sends with digest's own SMTP transport but opens a new connection (connect, EHLO,
STARTTLS, EHLO, AUTH) for every message and closes it after; measured on 1,000 messages, per message.
Each side is the best of three runs, alternated (a single run of each varied by a tenth).
Peak RSS of the 10,000 sends (the largest) beside that of a 1,000 send: memory must not grow with the list.

    python benchmarks/send_smtp.py [--smoke]
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import signal
import socket
import ssl
import sys
import tempfile
import time
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from harness import Row, floors, main_for, new_folder, run_measured
from workloads import EDITION_ID, NEWSLETTER, SECRET, sample_edition, subscriber_email, write_config, write_subscribers

from digest.config import Config, DeliveryConfig, Secrets
from digest.deliver import recipient_for
from digest.deliver.smtp import SmtpTransport
from digest.editions import EditionStore
from tests.support.smtp import QuietSMTP, bound_listener

NOW = datetime(2026, 11, 26, 7, tzinfo=UTC)
USER, PASSWORD = "digest", "bench-password"
# Runs one digest command in this process, timed from after the imports; prints the seconds.
COMMAND_RUNNER = """
import sys, time
from digest.cli import cli
import digest.cli.send_commands
started = time.perf_counter()
try:
    cli.main(args=sys.argv[1:], prog_name="digest", standalone_mode=False)
finally:
    print(time.perf_counter() - started)
"""


SESSIONS = 2  # server processes, each serving one connection at a time: as many as digest opens


def _serve(pipe: Connection, ca_path: str) -> None:
    """A submission server as an MTA runs one: a process per session (Postfix's smtpd), here
    SESSIONS of them taking turns at one listening socket, so the messages of two connections are
    read side by side rather than by one Python loop, which would be what every message waits for."""
    import trustme

    ca = trustme.CA()
    ca.cert_pem.write_to_path(ca_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    listener = bound_listener()  # bound here: no other process can take the port
    listener.listen(64)
    accepted = multiprocessing.get_context("fork").Value("q", 0)  # shared with the forked workers
    workers = []
    for _ in range(SESSIONS):
        pid = os.fork()  # this process is a daemon: multiprocessing would refuse it children
        if pid == 0:
            try:
                _sessions(listener, context, accepted)
            finally:
                os._exit(0)
        workers.append(pid)
    try:
        pipe.send(int(listener.getsockname()[1]))
        while pipe.recv() != "stop":
            with accepted.get_lock():
                pipe.send(accepted.value)
                accepted.value = 0
    finally:
        for pid in workers:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        listener.close()


def _sessions(listener: socket.socket, context: ssl.SSLContext, accepted: Any) -> None:
    """One server process: accept a connection (the kernel hands each one to a single waiting
    process), serve its SMTP session to the end with aiosmtpd, then accept the next."""
    import asyncio

    from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

    class Counting:
        async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
            with accepted.get_lock():
                accepted.value += len(envelope.rcpt_tos)
            return "250 2.0.0 queued"

    def authenticate(server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: object) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (USER.encode(), PASSWORD.encode())
        return AuthResult(success=ok, handled=False)

    class OneSession(QuietSMTP):
        def __init__(self, ended: asyncio.Future[None]) -> None:
            super().__init__(
                Counting(), loop=loop, tls_context=context, require_starttls=True,
                authenticator=authenticate, auth_required=True, auth_require_tls=True,
            )
            self.ended = ended

        def connection_lost(self, error: Exception | None) -> None:
            super().connection_lost(error)
            if not self.ended.done():
                self.ended.set_result(None)

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    while True:
        connection, _ = listener.accept()
        connection.setblocking(False)
        ended: asyncio.Future[None] = loop.create_future()
        loop.run_until_complete(loop.connect_accepted_socket(functools.partial(OneSession, ended), sock=connection))
        loop.run_until_complete(ended)


class SmtpStandIn:
    """The SMTP server in processes of its own, answering `take_count` with the messages since the last call."""

    def __init__(self, folder: Path) -> None:
        self.ca_path = folder / "test-ca.pem"
        context = multiprocessing.get_context("spawn")
        self._pipe, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child, str(self.ca_path)), daemon=True)

    def __enter__(self) -> SmtpStandIn:
        self._process.start()
        if not self._pipe.poll(60):
            raise RuntimeError("the SMTP server did not start within 60 s")
        self.port: int = self._pipe.recv()
        return self

    def __exit__(self, *exc: object) -> None:
        self._pipe.send("stop")
        self._process.join(timeout=10)

    def take_count(self) -> int:
        self._pipe.send("count")
        if not self._pipe.poll(60):
            raise RuntimeError("the SMTP server did not answer within 60 s")
        return int(self._pipe.recv())

    def delivery(self) -> dict[str, Any]:
        return {"transport": "smtp", "smtp_host": "127.0.0.1", "smtp_port": self.port, "smtp_security": "starttls"}


def new_connection_per_message(server: SmtpStandIn, messages: int) -> float:
    """Seconds per message with digest's SMTP transport, connecting anew for each one."""
    delivery = server.delivery()
    config = Config(
        path=None, newsletter=NEWSLETTER, sources=(),
        delivery=DeliveryConfig(transport="smtp", smtp_host="127.0.0.1", smtp_port=delivery["smtp_port"]),
        secrets=Secrets(digest_secret=SECRET, smtp_username=USER, smtp_password=PASSWORD),
    )
    context = ssl.create_default_context(cafile=str(server.ca_path))
    transport = SmtpTransport(config, ssl_context=context, clock=lambda: NOW)
    edition = sample_edition()
    started = time.perf_counter()
    for number in range(messages):
        recipient = recipient_for(config, subscriber_email(number), f"Reader {number}")
        [outcome] = transport.send_batch(edition, [recipient])
        transport.close()
        if outcome.status != "sent":
            raise RuntimeError(f"the baseline's message {number} was {outcome.status}: {outcome.reason}")
    return (time.perf_counter() - started) / messages


def digest_send(folder: Path, server: SmtpStandIn, recipients: int) -> tuple[float, float]:
    """`digest send --yes` over SMTP to `recipients` subscribers: (seconds per message, peak RSS MB)."""
    home = new_folder(folder, f"smtp-{recipients}")
    write_subscribers(home / "subscribers.csv", recipients)
    config_path = write_config(home, delivery=server.delivery())
    EditionStore(home / "state").save(sample_edition())
    measured = run_measured(
        [sys.executable, "-c", COMMAND_RUNNER, "--config", str(config_path), "-q", "send", "--yes", "--edition", EDITION_ID],
        cwd=home,
        env={"DIGEST_SECRET": SECRET, "SSL_CERT_FILE": str(server.ca_path), "SMTP_USERNAME": USER, "SMTP_PASSWORD": PASSWORD},
    )
    accepted = server.take_count()
    if accepted != recipients:
        raise RuntimeError(f"the SMTP server accepted {accepted:,} of {recipients:,} messages")
    return float(measured.stdout.split()[-1]) / recipients, measured.peak_rss_mb


def run(smoke: bool) -> list[Row]:
    target = floors("send_smtp", smoke)
    messages, baseline_messages, small = int(target["messages"]), int(target["baseline_messages"]), int(target["flat_from"])
    min_speedup, max_rss, max_growth = float(target["min_speedup"]), float(target["max_peak_rss_mb"]), float(target["max_rss_growth"])
    with tempfile.TemporaryDirectory(prefix="digest-bench-smtp-") as tmp, SmtpStandIn(Path(tmp)) as server:
        folder = Path(tmp)
        runs = 1 if smoke else 3
        baselines: list[float] = []
        sends: list[tuple[float, float]] = []
        for _ in range(runs):  # alternated, so a slow spell of the machine falls on both
            baselines.append(new_connection_per_message(server, baseline_messages))
            server.take_count()
            sends.append(digest_send(folder, server, messages))
        _, small_peak = digest_send(folder, server, small)
    baseline, ours, peak = min(baselines), min(s for s, _ in sends), max(p for _, p in sends)
    best = "" if runs == 1 else f", best of {runs}"
    return [
        Row("send via SMTP: per message", f"{messages:,} messages, STARTTLS + AUTH, connections reused{best}", ours * 1000,
            baseline * 1000, baseline / ours, f">= {min_speedup:g}x faster", baseline / ours >= min_speedup, "ms",
            f"new connection per message, on {baseline_messages:,}"),
        Row("send via SMTP: peak RSS", f"{messages:,} recipients vs {small:,}", peak, small_peak, peak / small_peak,
            f"< {max_rss:.0f} MB, <= {max_growth}x", peak < max_rss and peak / small_peak <= max_growth, "MB",
            f"digest at {small:,}"),
    ]


if __name__ == "__main__":
    raise SystemExit(main_for(run))
