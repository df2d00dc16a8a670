"""`digest serve`: one-click unsubscribe (RFC 8058), sign-up with double opt-in, the edition
archive, its Atom feed, and a health check.

A Flask app served by waitress: plain WSGI, so each request may block on the subscriber
list's file lock without stalling an event loop; both are pure Python and kept maintained, and
waitress is a production server that needs no C compiler or extra process.

    GET  /                      archive of published editions      GET  /feed.xml   Atom feed
    GET  /editions/ID           one edition, as "reader"           GET  /healthz    ok
    GET  /unsubscribe/TOKEN     a form; changes nothing            POST: unsubscribes
    GET  /subscribe             the sign-up form                   POST: "check your inbox"
    GET  /confirm/TOKEN         a form; changes nothing            POST: makes the sign-up active

An edition is published (listed and in the feed) once it has been sent to someone; a stored one
not yet sent is still shown at its own URL, for "view in browser" in test copies.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from flask import Flask, Response, url_for
from waitress import create_server
from waitress.server import BaseWSGIServer, MultiSocketServer
from werkzeug.exceptions import RequestEntityTooLarge

from digest.config import Config
from digest.editions import EditionStore
from digest.errors import ConfigError, EditionError, StateError, SubscribersError
from digest.ledger import Ledger, ledger_path
from digest.models import Edition
from digest.serve.feed import FEED_EDITIONS, archive_copy, atom_feed
from digest.serve.limits import RateLimiter
from digest.serve.lookup import AddressBook
from digest.serve.pages import SECURITY_HEADERS, Site
from digest.serve.subscribe import SignupDesk, add_signup_routes
from digest.subscribers import change_subscriber, with_status
from digest.tokens import InvalidTokenError, read_token

log = logging.getLogger(__name__)

SIGNUP_EXTENSION = "digest.signup"
# Proxy headers trusted with [serve] trust_proxy, from exactly one hop (the last value of each).
PROXY_HEADERS = frozenset({"x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-forwarded-port"})

__all__ = ["SECURITY_HEADERS", "SIGNUP_EXTENSION", "create_app", "make_server", "signup_desk"]


def create_app(config: Config, *, clock: Callable[[], float] = time.time) -> Flask:
    """The WSGI app of `digest serve`. Raises ConfigError when DIGEST_SECRET is not set."""
    secret = config.secrets.digest_secret
    if not secret:
        raise ConfigError("DIGEST_SECRET is not set: export the secret that signed the unsubscribe links (digest serve needs it)")
    store = EditionStore(config.state.dir)
    site = Site(
        config=config,
        secret=secret,
        clock=clock,
        book=AddressBook(config.subscribers.file, secret),
        limiter=RateLimiter(config.serve.rate_limit_per_minute, clock),
    )
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = config.serve.max_request_bytes
    desk = SignupDesk(site)
    app.extensions[SIGNUP_EXTENSION] = desk
    add_signup_routes(app, site, desk)

    def bad_link() -> Response:
        return site.notice(
            "This link does not work",
            "This unsubscribe link is not valid: it may be cut short or changed. "
            "Use the link from the newest email, or reply to it and ask to be unsubscribed.",
            status=400,
        )

    @app.after_request
    def secure(response: Response) -> Response:
        response.headers.update(SECURITY_HEADERS)
        return response

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(error: RequestEntityTooLarge) -> Response:
        return site.notice("Request too large", f"A request may carry at most {config.serve.max_request_bytes} bytes.", status=413)

    @app.get("/healthz")
    def healthz() -> Response:
        return Response("ok\n", mimetype="text/plain")

    @app.get("/unsubscribe/<token>")
    def unsubscribe_form(token: str) -> Response:
        try:
            subject = read_token(token, secret, clock=clock)
            email = subject.address or site.book.address_of(subject.subscriber_id)
        except InvalidTokenError:
            return bad_link()
        except SubscribersError as exc:
            log.error("unsubscribe page: %s", exc)
            email = None
        return site.page("unsubscribe_form.html.j2", "Unsubscribe", email=email, action=url_for("unsubscribe", token=token))

    @app.post("/unsubscribe/<token>")
    def unsubscribe(token: str) -> Response:
        # The RFC 8058 body (List-Unsubscribe=One-Click) and our form send the same field; any
        # POST with a valid token is taken as the request, since only a deliberate act POSTs.
        try:
            subject = read_token(token, secret, clock=clock)
        except InvalidTokenError:
            wait = site.limiter.hit(site.client())
            return site.too_many(wait) if wait is not None else bad_link()
        # Mailbox providers send one-click unsubscribes for many readers from the same servers:
        # a valid token is limited per subscriber, so one reader's link cannot be hammered but
        # a provider's burst is never refused.
        wait = site.limiter.hit(f"unsubscribe {subject.subscriber_id}")
        if wait is not None:
            return site.too_many(wait)
        try:
            email = subject.address or site.book.address_of(subject.subscriber_id)
            if email is None:
                return site.notice("Not on the list", f"This address is not on the list of {config.newsletter.name}: you will get no more emails from it.")
            before, after = change_subscriber(
                config.subscribers.file, email,
                lambda existing: None if existing is None else with_status(existing, "unsubscribed", site.now()),
            )
        except SubscribersError as exc:
            log.error("unsubscribe not recorded: %s", exc)
            return site.notice("Please try again", "Your request could not be recorded just now. Please try again in a minute.", status=503)
        if before is None or after is None:
            return site.page("unsubscribed.html.j2", "Not on the list", email=email, wording="is not on the list")
        log.info("%s unsubscribed", after.email)
        return site.page(
            "unsubscribed.html.j2", "You are unsubscribed", email=after.email,
            wording="was already unsubscribed" if before == after else "is unsubscribed",
        )

    @app.get("/")
    def archive() -> Response:
        editions = [(edition.id, edition.email.subject) for edition in published_editions(config, store)]
        return site.page("archive.html.j2", "Archive", indexable=True, editions=editions,
                         edition_url=lambda edition_id: url_for("edition", edition_id=edition_id))

    @app.get("/feed.xml")
    def feed() -> Response:
        editions = published_editions(config, store, limit=FEED_EDITIONS)
        return Response(atom_feed(config.newsletter, editions, updated=site.now()), mimetype="application/atom+xml")

    @app.get("/editions/<edition_id>")
    def edition(edition_id: str) -> Response:
        try:
            found = store.load(edition_id)
        except EditionError:
            return site.notice("Not found", f"There is no edition {edition_id}.", status=404)
        return Response(archive_copy(found), mimetype="text/html")

    return app


def signup_desk(app: Flask) -> SignupDesk:
    """The app's sign-up worker: `close()` it when the server stops, so queued sign-ups finish."""
    desk = app.extensions[SIGNUP_EXTENSION]
    assert isinstance(desk, SignupDesk)
    return desk


def published_editions(config: Config, store: EditionStore, *, limit: int | None = None) -> list[Edition]:
    """Stored editions that have been sent to someone, newest first (at most `limit`)."""
    if not ledger_path(config.state.dir).exists():
        return []
    found: list[Edition] = []
    try:
        with Ledger.open(config.state.dir) as ledger:
            for edition_id in store.ids():
                if limit is not None and len(found) >= limit:
                    break
                if not ledger.has_sent(edition_id):
                    continue
                try:
                    found.append(store.load(edition_id))
                except EditionError as exc:
                    log.warning("archive: %s", exc)
    except StateError as exc:
        log.error("archive: %s", exc)
    return found


def make_server(
    app: Flask, host: str, port: int, base_url: str, *, trust_proxy: bool = False, max_request_bytes: int | None = None
) -> BaseWSGIServer | MultiSocketServer:
    """A waitress server bound to host:port (port 0 picks a free one), under base_url's path prefix.

    With `trust_proxy`, the client address, scheme and host come from the X-Forwarded-* headers
    of one reverse-proxy hop; without it those headers are dropped.
    """
    prefix = urlsplit(base_url).path.rstrip("/")
    limits = {} if max_request_bytes is None else {"max_request_body_size": max_request_bytes}
    proxy = {"trusted_proxy": "*", "trusted_proxy_count": 1, "trusted_proxy_headers": PROXY_HEADERS} if trust_proxy else {}
    return create_server(
        app, host=host, port=port, url_prefix=prefix, ident="digest", clear_untrusted_proxy_headers=True, **limits, **proxy
    )
