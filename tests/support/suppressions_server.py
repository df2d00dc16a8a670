"""A stand-in for SendGrid's suppression lists (`GET /v3/suppression/...`) on 127.0.0.1.

A real threaded HTTP server on a free port, checked against SendGrid's own API description
(tests/fixtures/suppressions/tsg_suppressions_v3.json):

1. the path must be a GET operation of the description, else 404;
2. `Authorization: Bearer <api_key>` is required, else 401 with SendGrid's error JSON;
3. every query parameter must be one the operation declares, integers within its bounds
   (`limit` 1..500, `offset` >= 0), and a required `Accept` header must be there, else 400;
4. the page served (`records[offset:offset+limit]`; SendGrid's default `limit` when none is
   given) is validated against the operation's 200 response schema before it goes out.

    with SuppressionsServer() as server:
        server.records["/v3/suppression/bounces"] = [{"created": 1, "email": "a@example.com", ...}]
        server.reject_next(403, "access forbidden")      # the next request gets this error
        ... server.requests -> [(path, {"limit": "500", "offset": "0"}), ...]
"""

from __future__ import annotations

import functools
import json
import threading
from collections import deque
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from tests.support.loopback import LoopbackServer
from tests.support.sendgrid_server import SendGridServer

SPEC_PATH = Path(__file__).resolve().parent.parent / "fixtures" / "suppressions" / "tsg_suppressions_v3.json"
_SPEC_URI = "urn:sendgrid:tsg_suppressions_v3"
DEFAULT_LIMIT = 500  # not in the description; what the server uses when a client sends no limit


@functools.lru_cache(maxsize=1)
def spec() -> dict[str, Any]:
    return json.loads(SPEC_PATH.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    """Follow a local `$ref` (parameters are often shared under components)."""
    while "$ref" in node:
        target: Any = spec()
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def get_parameters(path: str) -> list[dict[str, Any]]:
    """The declared parameters of `GET path`, $refs resolved."""
    item = spec()["paths"][path]
    return [_resolve(p) for p in [*item.get("parameters", []), *item["get"].get("parameters", [])]]


@functools.cache
def page_validator(path: str) -> Draft202012Validator:
    """Validator of the 200 answer of `GET path`, its $refs resolved within the description."""
    registry: Registry[Any] = Registry().with_resource(
        _SPEC_URI, Resource.from_contents(spec(), default_specification=DRAFT202012)
    )
    pointer = "/paths/" + path.replace("~", "~0").replace("/", "~1") + "/get/responses/200/content/application~1json/schema"
    return Draft202012Validator({"$ref": f"{_SPEC_URI}#{pointer}"}, registry=registry)


def error_json(message: str, field_name: str | None = None) -> bytes:
    return json.dumps({"errors": [{"field": field_name, "message": message}]}).encode()


class SuppressionsServer(LoopbackServer):
    """See the module docstring."""

    thread_name = "fake-suppressions"

    def __init__(self, api_key: str = "SG.suppressions-key") -> None:
        self.api_key = api_key
        self.records: dict[str, list[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._requests: list[tuple[str, dict[str, str]]] = []
        self._rejections: deque[tuple[int, str]] = deque()
        super().__init__(_handler_for(self))

    @property
    def requests(self) -> list[tuple[str, dict[str, str]]]:
        """(path, query) of every request that passed the checks, in order."""
        with self._lock:
            return list(self._requests)

    def reject_next(self, status: int, message: str) -> None:
        with self._lock:
            self._rejections.append((status, message))

    def answer(self, path: str, query: dict[str, str], headers: dict[str, str]) -> tuple[int, bytes]:
        """The status and body for one GET."""
        if path not in spec()["paths"] or "get" not in spec()["paths"][path]:
            return 404, error_json("not found")
        if headers.get("authorization") != f"Bearer {self.api_key}":
            return 401, error_json("authorization required")
        with self._lock:
            if self._rejections:
                status, message = self._rejections.popleft()
                return status, error_json(message)
        problem = _check_request(path, query, headers)
        if problem is not None:
            return 400, error_json(*problem)
        with self._lock:
            self._requests.append((path, query))
        offset = int(query.get("offset", 0))
        limit = int(query.get("limit", DEFAULT_LIMIT))
        page = self.records.get(path, [])[offset : offset + limit]
        errors = [e.message for e in page_validator(path).iter_errors(page)]
        if errors:  # a broken fixture, not a client bug: say so in the error the client reports
            return 500, error_json(f"test fixture for {path} does not match SendGrid's schema: {errors[0]}")
        return 200, json.dumps(page).encode()


def _check_request(path: str, query: dict[str, str], headers: dict[str, str]) -> tuple[str, str] | None:
    """The first way a request breaks the operation's declared parameters, as (message, field)."""
    declared = {(p["in"], p["name"].lower()): p for p in get_parameters(path)}
    for name, value in query.items():
        parameter = declared.get(("query", name.lower()))
        if parameter is None:
            return f"unknown query parameter {name}", name
        schema = parameter.get("schema", {})
        if schema.get("type") == "integer":
            try:
                number = int(value)
            except ValueError:
                return f"{name} must be an integer", name
            if number < schema.get("minimum", number) or number > schema.get("maximum", number):
                return f"{name} must be between {schema.get('minimum')} and {schema.get('maximum')}", name
    for (where, name), parameter in declared.items():
        if where == "header" and parameter.get("required") and name not in headers:
            return f"the {parameter['name']} header is required", parameter["name"]
    return None


def _handler_for(server: SuppressionsServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
            pass

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = dict(parse_qsl(parts.query, keep_blank_values=True))
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, body = server.answer(parts.path, query, headers)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


@pytest.fixture(name="suppressions_server")
def suppressions_server_fixture() -> Iterator[SuppressionsServer]:
    with SuppressionsServer() as server:
        yield server


class SendGridWithSuppressions(SendGridServer):
    """The SendGrid stand-in also answering the suppression lists, as one host does for a real run."""

    def __init__(self) -> None:
        super().__init__()
        self.suppressions = SuppressionsServer(api_key=self.api_key)
        suppressions = self.suppressions
        base = self._httpd.RequestHandlerClass

        class Handler(base):  # type: ignore[valid-type,misc]
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = dict(parse_qsl(parts.query, keep_blank_values=True))
                status, body = suppressions.answer(parts.path, query, {k.lower(): v for k, v in self.headers.items()})
                self._answer(status, body)

        self._httpd.RequestHandlerClass = Handler
