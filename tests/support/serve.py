"""`digest serve` for tests: its app under waitress on a free loopback port in a thread, with a clock
the test moves; reading a `digest serve` process's log lines with a timeout; reading the outbox."""

from __future__ import annotations

import signal
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import cast

from bs4 import BeautifulSoup
from flask import Flask
from waitress import wasyncore

from digest.config import Config
from digest.serve import create_app, make_server, signup_desk
from tests.support.cli import StderrLines

DRAIN_SECONDS = 30.0
WAIT_SECONDS = 30.0


class Clock:
    """Seconds since the epoch, moved by the test: `clock.now += 600`."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Served:
    url: str
    app: Flask

    def drain(self) -> None:
        """Wait until every sign-up posted so far has been worked off (list written, mail sent)."""
        assert signup_desk(self.app).wait_idle(DRAIN_SECONDS), "sign-ups still queued"


@contextmanager
def serve_in_thread(
    config: Config, *, clock: float | Callable[[], float], trust_proxy: bool = False
) -> Iterator[Served]:
    """waitress serving create_app(config) on a free loopback port, until the block ends."""
    app = create_app(config, clock=clock if callable(clock) else lambda: clock)
    server = make_server(
        app, "127.0.0.1", 0, config.newsletter.base_url,
        trust_proxy=trust_proxy, max_request_bytes=config.serve.max_request_bytes,
    )
    stop = threading.Event()

    def run() -> None:
        # The loop's own thread closes everything once told to stop: nothing is closed under it
        # from another thread, and no wake-up has to be written into a pipe that may be gone.
        try:
            while not stop.is_set():
                wasyncore.loop(timeout=0.05, map=server._map, count=1)
        finally:
            wasyncore.close_all(server._map)

    thread = threading.Thread(target=run, name="digest-serve", daemon=True)
    thread.start()
    try:
        yield Served(f"http://127.0.0.1:{server.effective_port}", app)
    finally:
        signup_desk(app).close()
        server.task_dispatcher.shutdown()
        stop.set()
        thread.join(timeout=10)
        assert not thread.is_alive()


def hidden_inputs(html: str) -> dict[str, str]:
    """The hidden inputs of the page's form, as a browser would post them back."""
    soup = BeautifulSoup(html, "html.parser")
    return {str(i["name"]): str(i.get("value", "")) for i in soup.select("form input[type=hidden]")}


def read_eml(path: Path) -> EmailMessage:
    return cast(EmailMessage, message_from_bytes(path.read_bytes(), policy=default))


def confirmation_link(path: Path) -> str:
    """The {base_url}/confirm/TOKEN link in a confirmation message's text part."""
    body = read_eml(path).get_body(("plain",))
    assert body is not None
    [link] = [word for word in body.get_content().split() if "/confirm/" in word]
    return link


class Lines(StderrLines):
    """The stderr lines of a `digest serve` process, read on a thread, so a test can wait for one
    with a timeout; `stop()` ends the process."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        super().__init__(process)
        self._process = process

    def stop(self, signum: int = signal.SIGINT) -> int:
        """Signal the process (Ctrl-C by default), wait for it, close its pipes; returns its exit code.
        Its last lines can still be waited for."""
        self._process.send_signal(signum)
        returncode = self._process.wait(timeout=WAIT_SECONDS)
        self._reader.join(timeout=WAIT_SECONDS)
        for stream in (self._process.stdout, self._process.stderr):
            if stream is not None:
                stream.close()
        return returncode
