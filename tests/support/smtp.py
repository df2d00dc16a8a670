"""A real SMTP server (aiosmtpd) on 127.0.0.1 for tests, with the misbehaviour a test asks for.

    with SmtpServer() as server:                       # plain SMTP
    with SmtpServer(tls="starttls", users={"u": "p"}):  # STARTTLS required, AUTH only after it
    with SmtpServer(tls="implicit", users={"u": "p"}): # implicit TLS (port 465 style)
        server.refuse("bad@example.org", "550 5.1.1 no such user")   # RCPT answer for one address
        server.drop_after(2)        # after 2 accepted messages, cut the connection at the next MAIL
        gate = server.hold("slow@example.org")  # DATA for that address waits until gate.release()
        gate.arrived.wait(10)       # ... the client has sent the message and waits for the answer
        server.messages             # what was accepted: Received(mail_from, rcpt_tos, data, login)

TLS certificates come from `trustme`; give `server.client_context()` to the client. Held DATA
commands are released when the server stops, so no thread outlives the test.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from types import TracebackType
from typing import Any, Literal, cast

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

_HOLD_LIMIT_SECONDS = 60  # a safety net only: stop() releases every held message


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    login: str | None

    @property
    def message(self) -> EmailMessage:
        return cast(EmailMessage, message_from_bytes(self.data, policy=default))


@dataclass
class Gate:
    """Holds the DATA answer for one address until released."""

    arrived: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)

    def release(self) -> None:
        self.released.set()


class _QuietSession(Session):
    # aiosmtpd sets its own deprecated `login_data` property on every login, which warns; warnings
    # are errors in this test suite. A plain attribute takes it instead.
    login_data: Any = None


class QuietSMTP(SMTP):
    """aiosmtpd's SMTP protocol without its deprecation warning at every login."""

    def _create_session(self) -> Session:
        return _QuietSession(self.loop)


def bound_listener(host: str = "127.0.0.1") -> socket.socket:
    """A TCP socket bound to a free port of `host`, for BoundController.

    Made with the TCP protocol number, not 0: asyncio sets TCP_NODELAY only on connections whose
    socket says IPPROTO_TCP, and without it the server's multi-line replies (EHLO) wait 40 ms each
    for the client's delayed ACK, which no real server does.
    """
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.bind((host, 0))
    return listener


class BoundController(Controller):
    """aiosmtpd's Controller cannot bind port 0 itself: it serves on a socket bound here instead,
    so the port is ours from the start and no other process can take it in between."""

    def __init__(self, handler: Any, listener: socket.socket, **kwargs: Any) -> None:
        self._listener = listener
        host, port = listener.getsockname()[:2]
        super().__init__(handler, hostname=host, port=port, **kwargs)

    def factory(self) -> SMTP:
        return QuietSMTP(self.handler, **self.SMTP_kwargs)

    def _create_server(self) -> Any:
        return self.loop.create_server(self._factory_invoker, sock=self._listener, ssl=self.ssl_context)


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_MAIL(self, smtp: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]) -> str:
        owner = self.server
        with owner.lock:
            drop = owner._drop_after is not None and len(owner.messages) >= owner._drop_after
            if drop:
                owner._drop_after = None
                owner.drops += 1
        if drop:
            assert smtp.transport is not None
            smtp.transport.abort()
            return "421 4.3.2 closing connection"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(self, smtp: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]) -> str:
        answer = self.server._refusals.get(address.lower())
        if answer:
            return answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, smtp: SMTP, session: Session, envelope: Envelope) -> str:
        owner = self.server
        gates = [owner._gates[r.lower()] for r in envelope.rcpt_tos if r.lower() in owner._gates]
        for gate in gates:
            gate.arrived.set()
            await asyncio.get_running_loop().run_in_executor(None, gate.released.wait, _HOLD_LIMIT_SECONDS)
        login = session.auth_data if isinstance(session.auth_data, str) else None
        data = envelope.original_content or envelope.content
        assert isinstance(data, bytes)
        with owner.lock:
            owner.messages.append(Received(str(envelope.mail_from), tuple(envelope.rcpt_tos), data, login))
        return "250 2.0.0 queued"


class SmtpServer:
    """aiosmtpd on 127.0.0.1 at a free port; use as a context manager."""

    def __init__(self, *, tls: Literal["starttls", "implicit"] | None = None, users: dict[str, str] | None = None) -> None:
        self.host = "127.0.0.1"
        self._listener = bound_listener(self.host)
        self.port = int(self._listener.getsockname()[1])
        self.tls = tls
        self.users = dict(users or {})
        self.messages: list[Received] = []
        self.drops = 0
        self.lock = threading.Lock()
        self._refusals: dict[str, str] = {}
        self._gates: dict[str, Gate] = {}
        self._drop_after: int | None = None
        self._ca = trustme.CA() if tls else None
        kwargs: dict[str, Any] = {}
        if self.users:
            # aiosmtpd only counts STARTTLS as TLS; an implicit-TLS connection is encrypted from the start.
            # (and warns when AUTH is required without it), so with implicit TLS AUTH is offered, not
            # required: the tests check that the client logged in.
            starttls = tls == "starttls"
            kwargs.update(authenticator=self._authenticate, auth_require_tls=starttls, auth_required=starttls)
        if tls == "starttls":
            kwargs.update(tls_context=self._server_context(), require_starttls=True)
        elif tls == "implicit":
            kwargs.update(ssl_context=self._server_context())
        self._controller = BoundController(_Handler(self), self._listener, **kwargs)

    def _server_context(self) -> ssl.SSLContext:
        assert self._ca is not None
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._ca.issue_cert(self.host, "localhost").configure_cert(context)
        return context

    def client_context(self) -> ssl.SSLContext:
        """An SSL context that trusts this server's test CA (and nothing else)."""
        context = ssl.create_default_context()
        if self._ca is not None:
            self._ca.configure_trust(context)
        return context

    def _authenticate(self, smtp: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            login, password = auth_data.login.decode(), auth_data.password.decode()
            if self.users.get(login) == password:
                return AuthResult(success=True, auth_data=login)
        return AuthResult(success=False, handled=False)

    def refuse(self, address: str, answer: str) -> None:
        """Answer RCPT TO for `address` with `answer`, e.g. "550 5.1.1 no such user"."""
        self._refusals[address.lower()] = answer

    def accept(self, address: str) -> None:
        """Accept `address` again after `refuse`."""
        self._refusals.pop(address.lower(), None)

    def drop_after(self, count: int) -> None:
        """Once `count` messages are accepted, abort the connection at the next MAIL FROM (once)."""
        self._drop_after = count

    def hold(self, address: str) -> Gate:
        """Keep the client waiting for the DATA answer of `address`'s message until the gate is released."""
        gate = self._gates[address.lower()] = Gate()
        return gate

    def recipients(self) -> list[str]:
        with self.lock:
            return [r for m in self.messages for r in m.rcpt_tos]

    def __enter__(self) -> SmtpServer:
        self._controller.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        for gate in self._gates.values():
            gate.release()
        self._controller.stop()
        self._listener.close()
