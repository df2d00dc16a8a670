"""A stand-in for SendGrid's `POST /v3/mail/send` on 127.0.0.1, for tests and benchmarks.

A real threaded HTTP server on a free port. Point the official client (or a config's
`sendgrid_api_url`) at `server.url` and use `server.api_key` as SENDGRID_API_KEY. Every request:

1. must carry `Authorization: Bearer <api_key>`, or gets 401 with SendGrid's error JSON;
2. takes the next scripted answer, if one was queued (see below);
3. otherwise is validated (unless `validate=False`) against the official request-body schema
   (tests/fixtures/sendgrid/tsg_mail_v3.json) plus SendGrid's rules the schema does not carry
   and ours (at most 1,000 personalizations, exactly one `to` each): 400 with
   `{"errors": [{"message", "field", "help"}]}` when it fails;
4. is recorded in `server.accepted` and answered 202 with a unique `X-Message-Id`.

Scripted answers, each for the next `count` requests, in the order queued:
    server.accept_next(count=1)                      as usual (to script the request after it)
    server.rate_limit_next(retry_after=7)           429 with Retry-After (or reset_at= -> X-RateLimit-Reset)
    server.fail_next(count=2, status=500)            a 5xx
    server.reject_next("The from address ...")       400 (or status=) with SendGrid's error JSON
    release = server.hold_next()                     accept and record the body, then block until
                                                     `release.set()` (or stop()), then answer 202
    server.drop_next()                               accept and record the body, close without answering
`server.wait_for_requests(n)` blocks until n requests have been received (any answer);
`server.wait_for_held()` until a held request is being held. `latency=0.05` delays every answer
(for benchmarks). Use as a context manager, or the `sendgrid_server` pytest fixture: import
`sendgrid_server_fixture` from here into the test module (`# noqa: F401`), or list this module in
the root conftest's `pytest_plugins`.
"""

from __future__ import annotations

import functools
import itertools
import json
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, Literal

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from tests.support.loopback import LoopbackServer

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "fixtures" / "sendgrid" / "tsg_mail_v3.json"
_SCHEMA_URI = "urn:sendgrid:tsg_mail_v3"
_BODY_SCHEMA_POINTER = "#/components/requestBodies/PostMailSend/content/application~1json/schema"
MAIL_SEND_PATH = "/v3/mail/send"
MAX_PERSONALIZATIONS = 1000
# Headers SendGrid does not let a request set (the schema's own description lists them).
RESERVED_HEADERS = frozenset(
    h.lower()
    for h in ("x-sg-id", "x-sg-eid", "received", "dkim-signature", "Content-Type", "Content-Transfer-Encoding",
              "To", "From", "Subject", "Reply-To", "CC", "BCC")
)
MAX_PERSONALIZATION_FIELD_BYTES = 10_000  # substitutions, custom_args: SendGrid's limit per personalization
HOLD_LIMIT_SECONDS = 60.0  # a held request never outlives a forgotten test by more than this

ActionKind = Literal["accept", "respond", "hold", "drop"]


@dataclass(frozen=True, slots=True)
class AcceptedRequest:
    """A request the server took (202, or held/dropped after reading its body)."""

    message_id: str
    body: dict[str, Any]
    headers: Mapping[str, str]
    answered: bool = True  # False for a dropped request; a held one counts once it is taken

    @property
    def personalizations(self) -> list[dict[str, Any]]:
        return list(self.body.get("personalizations", []))

    @property
    def recipients(self) -> tuple[str, ...]:
        """Every `to` address, in request order."""
        return tuple(to["email"] for p in self.personalizations for to in p.get("to", []))


@dataclass(frozen=True, slots=True)
class _Action:
    kind: ActionKind
    status: int = 202
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    release: threading.Event | None = None


@functools.lru_cache(maxsize=1)
def body_validator() -> Draft202012Validator:
    """The official schema of the Mail Send request body, its $refs resolved within the document."""
    document = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    registry: Registry[Any] = Registry().with_resource(
        _SCHEMA_URI, Resource.from_contents(document, default_specification=DRAFT202012)
    )
    return Draft202012Validator(
        {"$ref": _SCHEMA_URI + _BODY_SCHEMA_POINTER},
        registry=registry,
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )


def error_json(message: str, field_name: str | None = None, help_text: str | None = None) -> bytes:
    """SendGrid's error body shape."""
    return json.dumps({"errors": [{"message": message, "field": field_name, "help": help_text}]}).encode()


def check_body(body: Any) -> tuple[str, str | None] | None:
    """The first problem SendGrid (or our one-recipient rule) would find, as (message, field); None if fine."""
    for error in body_validator().iter_errors(body):
        where = ".".join(str(p) for p in error.absolute_path) or None
        return error.message, where
    personalizations = body["personalizations"]
    if not personalizations:
        return "The personalizations field is required and must have at least one personalization.", "personalizations"
    if len(personalizations) > MAX_PERSONALIZATIONS:
        return f"The personalizations field must have at most {MAX_PERSONALIZATIONS} items.", "personalizations"
    for index, personalization in enumerate(personalizations):
        where = f"personalizations.{index}"
        if len(personalization["to"]) != 1 or personalization.get("cc") or personalization.get("bcc"):
            return "digest sends exactly one recipient per personalization (to, no cc or bcc).", f"{where}.to"
        if any(c in personalization["to"][0].get("name", "") for c in ",;"):
            # SendGrid's documented limitation: it splits the name there and mails or drops the pieces.
            return "The to.name may not include ',' or ';'.", f"{where}.to.0.name"
        for name in ("headers", "substitutions", "custom_args"):
            values = personalization.get(name, {})
            for key, value in values.items():
                if not isinstance(value, str):
                    return f"Invalid type. Expected: string, given: {type(value).__name__}.", f"{where}.{name}.{key}"
            if name != "headers" and len(json.dumps(values).encode()) > MAX_PERSONALIZATION_FIELD_BYTES:
                return f"The {name} of one personalization may not exceed 10,000 bytes.", f"{where}.{name}"
        problem = _reserved_header(personalization.get("headers", {}), f"{where}.headers")
        if problem:
            return problem
    problem = _reserved_header(body.get("headers", {}), "headers")
    if problem:
        return problem
    for key, value in body.get("headers", {}).items():
        if not isinstance(value, str):
            return f"Invalid type. Expected: string, given: {type(value).__name__}.", f"headers.{key}"
    types = [part["type"] for part in body.get("content", [])]
    if "text/plain" in types and types.index("text/plain") != 0:
        return "The text/plain content type must be first, before text/html.", "content"
    if len(set(types)) != len(types):
        return "Each content type may only be given once.", "content"
    if not body.get("subject") and not all(p.get("subject") for p in personalizations):
        return "The subject is required. You can get around this requirement if you use a template.", "subject"
    return None


def _reserved_header(headers: Mapping[str, Any], where: str) -> tuple[str, str] | None:
    for header in headers:
        if header.lower() in RESERVED_HEADERS:
            return f"The header {header} may not be set in headers.", where
    return None


class SendGridServer(LoopbackServer):
    """See the module docstring."""

    thread_name = "fake-sendgrid"

    def __init__(self, api_key: str = "SG.test-key", *, validate: bool = True, latency: float = 0.0) -> None:
        self.api_key = api_key
        self.validate = validate
        self.latency = latency
        self._lock = threading.Condition()
        self._actions: deque[_Action] = deque()
        self._accepted: list[AcceptedRequest] = []
        self._statuses: list[int] = []  # every answer given, in order; 0 for a dropped connection
        self._received = 0
        self._held = 0
        self._releases: list[threading.Event] = []
        self._ids = itertools.count(1)
        super().__init__(_handler_for(self))

    def stop(self) -> None:
        with self._lock:
            for release in self._releases:
                release.set()
        super().stop()

    # Scripted answers for the next requests.

    def accept_next(self, *, count: int = 1) -> None:
        """Handle the next `count` requests as usual: to script what comes after them."""
        with self._lock:
            self._actions.extend(_Action("accept") for _ in range(count))

    def respond_next(self, status: int, *, count: int = 1, headers: Mapping[str, str] | None = None,
                     body: bytes = b"") -> None:
        """Answer the next `count` requests with this status, headers and body (nothing recorded)."""
        with self._lock:
            self._actions.extend(_Action("respond", status, dict(headers or {}), body) for _ in range(count))

    def rate_limit_next(self, *, count: int = 1, retry_after: float | None = None, reset_at: float | None = None) -> None:
        """429, with `Retry-After: <seconds>` and/or `X-RateLimit-Reset: <unix time>` when given."""
        headers = {}
        if retry_after is not None:
            headers["Retry-After"] = _number(retry_after)
        if reset_at is not None:
            headers["X-RateLimit-Reset"] = _number(reset_at)
        self.respond_next(429, count=count, headers=headers, body=error_json("too many requests"))

    def fail_next(self, *, count: int = 1, status: int = 500) -> None:
        self.respond_next(status, count=count, body=error_json("internal server error"))

    def reject_next(self, message: str, *, count: int = 1, status: int = 400, field_name: str | None = None,
                    help_text: str | None = None) -> None:
        self.respond_next(status, count=count, body=error_json(message, field_name, help_text))

    def hold_next(self, *, count: int = 1, release: threading.Event | None = None) -> threading.Event:
        """Take and record the next requests, then answer nothing until `release` is set; returns it."""
        release = release or threading.Event()
        with self._lock:
            self._releases.append(release)
            self._actions.extend(_Action("hold", release=release) for _ in range(count))
        return release

    def drop_next(self, *, count: int = 1) -> None:
        """Take and record the next requests, then close the connection without an answer."""
        with self._lock:
            self._actions.extend(_Action("drop") for _ in range(count))

    # What happened.

    @property
    def accepted(self) -> list[AcceptedRequest]:
        with self._lock:
            return list(self._accepted)

    @property
    def accepted_recipients(self) -> list[str]:
        """Every address of every accepted request, in the order they arrived."""
        return [email for request in self.accepted for email in request.recipients]

    @property
    def statuses(self) -> list[int]:
        """The status of every answer given, in order; 0 for a dropped connection."""
        with self._lock:
            return list(self._statuses)

    @property
    def received(self) -> int:
        """Requests received, whatever they were answered."""
        with self._lock:
            return self._received

    def wait_for_requests(self, count: int, timeout: float = 30.0) -> None:
        """Block until `count` requests have been received. Raises AssertionError on timeout."""
        with self._lock:
            if not self._lock.wait_for(lambda: self._received >= count, timeout):
                raise AssertionError(f"fake SendGrid got {self._received} requests, expected {count}")

    def wait_for_held(self, count: int = 1, timeout: float = 30.0) -> None:
        """Block until `count` requests are (or were) being held. Raises AssertionError on timeout."""
        with self._lock:
            if not self._lock.wait_for(lambda: self._held >= count, timeout):
                raise AssertionError(f"fake SendGrid is holding {self._held} requests, expected {count}")

    # Called by the handler.

    def _next_action(self) -> _Action | None:
        with self._lock:
            self._received += 1
            self._lock.notify_all()
            return self._actions.popleft() if self._actions else None

    def _record(self, body: dict[str, Any], headers: Mapping[str, str], *, answered: bool = True) -> str:
        message_id = f"fake-{next(self._ids)}-{uuid.uuid4().hex[:12]}"
        with self._lock:
            self._accepted.append(AcceptedRequest(message_id, body, dict(headers), answered))
        return message_id

    def _note(self, status: int) -> None:
        with self._lock:
            self._statuses.append(status)

    def _note_held(self) -> None:
        with self._lock:
            self._held += 1
            self._lock.notify_all()


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _handler_for(server: SendGridServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
            pass

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path.split("?")[0] != MAIL_SEND_PATH:
                self._answer(404, error_json("not found"))
                return
            if self.headers.get("Authorization") != f"Bearer {server.api_key}":
                self._answer(401, error_json("The provided authorization grant is invalid, expired, or revoked"))
                return
            action = server._next_action()
            if action is not None and action.kind == "respond":
                self._answer(action.status, action.body, action.headers)
                return
            try:
                body = json.loads(raw)
            except ValueError:
                self._answer(400, error_json("Bad Request", None, "The request body is not valid JSON"))
                return
            if server.validate:
                problem = check_body(body) if isinstance(body, dict) else ("The request body must be an object.", None)
                if problem is not None:
                    self._answer(400, error_json(*problem))
                    return
            headers = {k: v for k, v in self.headers.items() if k.lower() != "authorization"}
            if action is not None and action.kind == "drop":
                server._record(body, headers, answered=False)
                server._note(0)
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            message_id = server._record(body, headers)
            if action is not None and action.kind == "hold" and action.release is not None:
                server._note_held()
                action.release.wait(HOLD_LIMIT_SECONDS)
            if server.latency:
                time.sleep(server.latency)
            self._answer(202, b"", {"X-Message-Id": message_id})

        def do_GET(self) -> None:
            self._answer(405, error_json("method not allowed"))

        def _answer(self, status: int, body: bytes, headers: Mapping[str, str] | None = None) -> None:
            server._note(status)  # before answering, so a client that has its answer sees it noted
            try:
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                if body:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)
            except OSError:
                pass  # the client went away (a killed process): nothing to tell it
            self.close_connection = True

    return Handler


@pytest.fixture(name="sendgrid_server")
def sendgrid_server_fixture() -> Iterator[SendGridServer]:
    """A running fake SendGrid; its `url` and `api_key` go into the config and environment."""
    with SendGridServer() as server:
        yield server
