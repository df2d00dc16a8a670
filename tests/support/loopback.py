"""The life cycle the loopback stand-ins share: a threaded HTTP server on 127.0.0.1, a free port.

Also ports that misbehave on purpose, each held for the whole `with` block so no other process
can take it meanwhile: `refused_port()` refuses connections, `unanswered_port()` never answers them.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self

_PROBE_TIMEOUT_SECONDS = 0.5


class LoopbackServer:
    """Start with `start()` or `with`; `url` is its base URL. Subclasses give the request handler."""

    thread_name = "loopback-server"

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Self:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, name=self.thread_name, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextmanager
def refused_port() -> Iterator[int]:
    """A loopback port that refuses every connection while the block lasts: bound, never listening."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        yield int(holder.getsockname()[1])


@contextmanager
def unanswered_port() -> Iterator[int]:
    """A loopback port where connecting times out while the block lasts.

    A listener with a backlog of 0 that never accepts: once one connection waits in its queue,
    Linux drops further SYNs unanswered. The queue is filled with connections made here, and a
    probe that times out proves it is full before the block starts.
    """
    with ExitStack() as stack:
        listener = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = int(listener.getsockname()[1])
        for _ in range(8):
            filler = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            filler.settimeout(_PROBE_TIMEOUT_SECONDS)
            try:
                filler.connect(("127.0.0.1", port))
            except TimeoutError:
                break  # this SYN went unanswered: so will the code's under test
        else:
            raise AssertionError(f"port {port}: the listen queue never filled, so connecting would not time out")
        yield port
