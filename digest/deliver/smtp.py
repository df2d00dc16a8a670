"""The SMTP transport: one message per recipient over one reused connection (smtplib).

[delivery] smtp_security: `starttls` (upgrade on the submission port), `tls` (implicit TLS,
port 465) or `none` (plain text, loopback hosts only). $SMTP_USERNAME/$SMTP_PASSWORD log in
when set. What each reply means for the ledger:

- RCPT 5xx: the address is refused for good -> failed, permanent (the subscriber becomes bounced);
- 4xx anywhere: failed for now, retried by the next send;
- the connection drops (or the server says 421) before DATA went out: reconnect once, try again;
- the connection drops after DATA went out: unknown (it may have been accepted);
- no connection at the start of a batch: NotSentError (everyone stays pending).
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import smtplib
import socket
import ssl
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from digest.config import Config
from digest.deliver.base import BatchStopped, Notice, NotSentError, Outcome, Recipient, send_one_by_one
from digest.deliver.message import build_notice_message, composer_for, message_bytes
from digest.errors import ConfigError, DeliveryError, ProviderRejectedError
from digest.models import Edition

log = logging.getLogger(__name__)

CLOSING = 421  # RFC 5321: the server is closing the connection


def is_loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class _Dropped(Exception):
    """The connection went away (or the server closed it with 421) before DATA went out."""


class SmtpTransport:
    """Sends each recipient their own message through one SMTP server.

    Each sending thread has a connection of its own, reused from message to message: two batches
    go out at once, so one thread's round trips overlap the other's building and the ledger.
    """

    name = "smtp"
    # Small batches: a batch in flight when the process dies is unknown as a whole.
    batch_size = 20
    concurrency = 2

    def __init__(
        self,
        config: Config,
        *,
        ssl_context: ssl.SSLContext | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """Raises ConfigError for plain SMTP to a host that is not loopback."""
        delivery = config.delivery
        if delivery.smtp_security == "none" and not is_loopback(delivery.smtp_host):
            raise ConfigError(
                f"[delivery] smtp_security = \"none\" sends in clear text and is only allowed to a loopback host, "
                f"not {delivery.smtp_host!r}; use \"starttls\" or \"tls\" ({config.label})"
            )
        self._config = config
        self._host = delivery.smtp_host
        self._port = delivery.smtp_port
        self._security = delivery.smtp_security
        self._timeout = delivery.timeout_seconds
        self._ssl_context = ssl_context or ssl.create_default_context()
        self._clock = clock
        self._local = threading.local()  # this thread's connection
        self._open: set[smtplib.SMTP] = set()  # every thread's, for close()
        self._lock = threading.Lock()

    @property
    def _connection(self) -> smtplib.SMTP | None:
        connection: smtplib.SMTP | None = getattr(self._local, "connection", None)
        with self._lock:
            return connection if connection in self._open else None  # close() may have ended it

    @_connection.setter
    def _connection(self, connection: smtplib.SMTP | None) -> None:
        with self._lock:
            self._open.discard(getattr(self._local, "connection", None))
            if connection is not None:
                self._open.add(connection)
        self._local.connection = connection

    @property
    def _where(self) -> str:
        return f"{self._host}:{self._port} ({self._security})"

    def send_batch(self, edition: Edition, recipients: Sequence[Recipient], *, test: bool = False) -> tuple[Outcome, ...]:
        """Send each recipient their message; one Outcome per recipient.

        Raises NotSentError when the server cannot be reached at the start of the batch,
        ProviderRejectedError when it refuses the sender, DeliveryError when login fails.
        """
        sender = self._config.newsletter.from_email
        composer = composer_for(edition, self._config, test)

        def build(recipient: Recipient) -> tuple[bytes, str]:
            return composer.compose(recipient, now=self._clock())

        def deliver(recipient: Recipient, message: tuple[bytes, str]) -> Outcome:
            data, message_id = message
            return self._deliver(sender, recipient.email, data, message_id)

        return send_one_by_one(recipients, build, deliver, "smtp")

    def send_notice(self, notice: Notice) -> Outcome:
        """Send one message over this transport's connection (opened when needed).

        Raises NotSentError when the server cannot be reached, ProviderRejectedError when it
        refuses the sender, DeliveryError when login fails.
        """
        message = build_notice_message(notice, self._config, now=self._clock())
        try:
            return self._deliver(
                self._config.newsletter.from_email, notice.to, message_bytes(message), str(message["Message-ID"])
            )
        except BatchStopped as stop:
            raise stop.error from stop.__cause__

    def close(self) -> None:
        """Say QUIT on every thread's connection."""
        with self._lock:
            connections, self._open = self._open, set()
        for connection in connections:
            try:
                connection.quit()
            except (smtplib.SMTPException, OSError):
                connection.close()

    def _deliver(self, sender: str, address: str, data: bytes, message_id: str) -> Outcome:
        for attempt in (1, 2):
            connection = self._connect()
            try:
                return self._transaction(connection, sender, address, data, message_id)
            except _Dropped as exc:
                self._forget_connection()
                if attempt == 2:
                    raise BatchStopped(NotSentError(f"smtp: {self._where} dropped the connection twice ({exc})")) from exc
                log.warning("smtp: %s dropped the connection (%s); reconnecting", self._where, exc)
        raise AssertionError("unreachable")

    def _transaction(self, connection: smtplib.SMTP, sender: str, address: str, data: bytes, message_id: str) -> Outcome:
        try:
            code, reply = connection.mail(sender)
            if code == CLOSING:
                raise _Dropped(_text(code, reply))
            if code != 250:
                self._reset(connection)
                if code >= 500:
                    raise BatchStopped(ProviderRejectedError(f"smtp: {self._where} refused the sender {sender}: {_text(code, reply)}"))
                return Outcome(address, "failed", reason=f"MAIL FROM: {_text(code, reply)}")
            code, reply = connection.rcpt(address)
            if code == CLOSING:
                raise _Dropped(_text(code, reply))
            if code not in (250, 251):
                self._reset(connection)
                return Outcome(address, "failed", reason=f"RCPT TO: {_text(code, reply)}", permanent=code >= 500)
        except smtplib.SMTPServerDisconnected as exc:
            raise _Dropped(str(exc) or "connection closed") from exc
        try:
            code, reply = connection.data(data)
        except smtplib.SMTPDataError as exc:  # DATA itself refused: no message went out
            self._reset(connection)
            return Outcome(address, "failed", reason=f"DATA: {_text(exc.smtp_code, exc.smtp_error)}")
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self._forget_connection()
            return Outcome(
                address, "unknown", provider_id=message_id,
                reason=f"the connection to {self._where} was lost after the message went out: {exc}",
            )
        if code != 250:
            if code == CLOSING:
                self._forget_connection()
            else:
                self._reset(connection)
            return Outcome(address, "failed", reason=f"after DATA: {_text(code, reply)}")
        return Outcome(address, "sent", provider_id=message_id)

    def _connect(self) -> smtplib.SMTP:
        if self._connection is not None:
            return self._connection
        connection: smtplib.SMTP | None = None
        try:
            if self._security == "tls":
                connection = smtplib.SMTP_SSL(self._host, self._port, timeout=self._timeout, context=self._ssl_context)
            else:
                connection = smtplib.SMTP(self._host, self._port, timeout=self._timeout)
            # Without it, each message's last TCP segment waits for the server's delayed ACK (40 ms
            # on Linux) once a reused connection has left TCP's quick-ACK start.
            if connection.sock is not None:
                connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            connection.ehlo()
            if self._security == "starttls":
                connection.starttls(context=self._ssl_context)
                connection.ehlo()
            secrets = self._config.secrets
            if secrets.smtp_username:
                connection.login(secrets.smtp_username, secrets.smtp_password or "")
        except smtplib.SMTPAuthenticationError as exc:
            _close_quietly(connection)
            raise BatchStopped(
                DeliveryError(
                    f"smtp: {self._where} refused the login of SMTP_USERNAME={self._config.secrets.smtp_username!r}: "
                    f"{_text(exc.smtp_code, exc.smtp_error)}; check SMTP_USERNAME and SMTP_PASSWORD"
                )
            ) from exc
        except smtplib.SMTPNotSupportedError as exc:
            _close_quietly(connection)
            raise BatchStopped(DeliveryError(f"smtp: {self._where} does not offer {exc}; check [delivery] smtp_security")) from exc
        except (smtplib.SMTPException, OSError) as exc:
            _close_quietly(connection)
            raise BatchStopped(NotSentError(f"smtp: cannot connect to {self._where}: {exc or type(exc).__name__}")) from exc
        log.debug("smtp: connected to %s", self._where)
        self._connection = connection
        return connection

    def _reset(self, connection: smtplib.SMTP) -> None:
        try:
            connection.rset()
        except (smtplib.SMTPException, OSError):
            self._forget_connection()

    def _forget_connection(self) -> None:
        _close_quietly(getattr(self._local, "connection", None))
        self._connection = None


def _close_quietly(connection: smtplib.SMTP | None) -> None:
    if connection is not None:
        with contextlib.suppress(OSError):
            connection.close()


def _text(code: int, reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return f"{code} {' '.join(text.split())}"
