"""`digest serve`: one-click unsubscribe (RFC 8058), the edition archive and a health check.

A Flask app served by waitress: plain WSGI, so each request may block on the subscriber
list's file lock without stalling an event loop; both are pure Python and kept maintained, and
waitress is a production server that needs no C compiler or extra process. Pages are plain
HTML escaped by Jinja, with no JavaScript and no cookies.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import urlsplit

from flask import Flask, Response, render_template_string, url_for
from markupsafe import Markup
from waitress import create_server
from waitress.server import BaseWSGIServer, MultiSocketServer

from digest.config import Config
from digest.deliver.base import Recipient
from digest.deliver.message import personalise
from digest.editions import EditionStore
from digest.errors import ConfigError, EditionError, SubscribersError
from digest.subscribers import change_subscriber, with_status
from digest.tokens import InvalidTokenError, read_token

log = logging.getLogger(__name__)

# No scripts, no third-party requests except images in archived emails, no framing, and no
# Referer: the unsubscribe token in the URL must not leak to the sites a page links to.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src * data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{{ title }} · {{ newsletter }}</title>
<style>
body { font: 1.05rem/1.5 Georgia, serif; max-width: 36rem; margin: 3rem auto; padding: 0 1rem; color: #222; }
h1 { font-size: 1.5rem; }
button { font: inherit; padding: .5rem 1.25rem; cursor: pointer; }
li { margin: .4rem 0; }
.muted { color: #666; }
</style>
</head>
<body>
<h1>{{ title }}</h1>
{{ body }}
<p class="muted">{{ newsletter }}</p>
</body>
</html>
"""

_CONFIRM = """<p>Unsubscribe <strong>{{ email }}</strong> from {{ newsletter }}?</p>
<form method="post" action="{{ action }}">
<input type="hidden" name="List-Unsubscribe" value="One-Click">
<button type="submit">Unsubscribe</button>
</form>
<p class="muted">Nothing changes until you press the button.</p>
"""

_ARCHIVE = """{% if editions %}<ul>
{% for id, subject in editions %}<li><a href="{{ url_for('edition', edition_id=id) }}">{{ id }}</a>: {{ subject }}</li>
{% endfor %}</ul>{% else %}<p>No editions are stored yet.</p>{% endif %}
"""


def create_app(config: Config, *, clock: Callable[[], float] = time.time) -> Flask:
    """The WSGI app of `digest serve`. Raises ConfigError when DIGEST_SECRET is not set."""
    secret = config.secrets.digest_secret
    if not secret:
        raise ConfigError("DIGEST_SECRET is not set: export the secret that signed the unsubscribe links (digest serve needs it)")
    newsletter = config.newsletter.name
    store = EditionStore(config.state.dir)
    app = Flask(__name__)

    def page(title: str, body: str, status: int = 200, **values: object) -> Response:
        inner = render_template_string(body, newsletter=newsletter, **values)
        html = render_template_string(_PAGE, title=title, body=Markup(inner), newsletter=newsletter)
        return Response(html, status=status, mimetype="text/html")

    def email_of(token: str) -> str | None:
        try:
            return read_token(token, secret, clock=clock)
        except InvalidTokenError:
            return None

    def bad_link() -> Response:
        return page(
            "This link does not work",
            "<p>This unsubscribe link is not valid: it may be cut short or changed. "
            "Use the link from the newest email, or reply to it and ask to be unsubscribed.</p>",
            400,
        )

    @app.after_request
    def secure(response: Response) -> Response:
        response.headers.update(SECURITY_HEADERS)
        return response

    @app.get("/healthz")
    def healthz() -> Response:
        return Response("ok\n", mimetype="text/plain")

    @app.get("/unsubscribe/<token>")
    def unsubscribe_form(token: str) -> Response:
        email = email_of(token)
        if email is None:
            return bad_link()
        action = url_for("unsubscribe", token=token)
        return page("Unsubscribe", _CONFIRM, email=email, action=action)

    @app.post("/unsubscribe/<token>")
    def unsubscribe(token: str) -> Response:
        # The RFC 8058 body (List-Unsubscribe=One-Click) and our form send the same field; any
        # POST with a valid token is taken as the request, since only a deliberate act POSTs.
        email = email_of(token)
        if email is None:
            return bad_link()
        now = datetime.fromtimestamp(clock(), UTC)
        try:
            before, after = change_subscriber(
                config.subscribers.file, email,
                lambda existing: None if existing is None else with_status(existing, "unsubscribed", now),
            )
        except SubscribersError as exc:
            log.error("unsubscribe of %s not recorded: %s", email, exc)
            return page("Please try again", "<p>Your request could not be recorded just now. Please try again in a minute.</p>", 503)
        if before is None:
            return page("Not on the list", "<p><strong>{{ email }}</strong> is not on the list of {{ newsletter }}: you will get no more emails from it.</p>", email=email)
        log.info("%s unsubscribed", email)
        wording = "was already unsubscribed" if before == after else "is unsubscribed"
        return page(
            "You are unsubscribed",
            "<p><strong>{{ email }}</strong> {{ wording }}: you will get no more emails from {{ newsletter }}.</p>",
            email=email, wording=wording,
        )

    @app.get("/")
    def archive() -> Response:
        editions = []
        for edition_id in store.ids():
            try:
                editions.append((edition_id, store.load(edition_id).email.subject))
            except EditionError as exc:
                log.warning("archive: %s", exc)
        return page("Archive", _ARCHIVE, editions=editions)

    @app.get("/editions/<edition_id>")
    def edition(edition_id: str) -> Response:
        try:
            email = store.load(edition_id).email
        except EditionError:
            return page("Not found", "<p>There is no stored edition {{ id }}.</p>", 404, id=edition_id)
        html_part, _ = personalise(email, Recipient("", "", "#"))
        return Response(html_part, mimetype="text/html")

    return app


def make_server(app: Flask, host: str, port: int, base_url: str) -> BaseWSGIServer | MultiSocketServer:
    """A waitress server bound to host:port (port 0 picks a free one), under base_url's path prefix."""
    prefix = urlsplit(base_url).path.rstrip("/")
    return create_server(app, host=host, port=port, url_prefix=prefix, ident="digest", clear_untrusted_proxy_headers=True)
