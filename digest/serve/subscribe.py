"""Sign-up on `digest serve`: the form, the confirmation link, and the desk that mails it.

POST /subscribe answers "check your inbox" at once, whatever the address's state, and hands the
request to one worker thread (the SignupDesk) that updates the list and mails the confirmation.
Nothing that depends on the address (reading the list, mailing) happens before the answer, so
neither the page nor its timing tells a visitor whether an address is subscribed.

In order, a POST must pass: the per-client rate limit (429), the honeypot (filled: the same
answer, nothing done), the signed form token (expired or forged: 400 with a fresh form), and the
address check (400 with the reason).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, Response, request, url_for

from digest.deliver import transport_for
from digest.deliver.base import Transport
from digest.errors import DigestError, InvalidEmailError, SubscribersError
from digest.serve.limits import ConfirmationLimits
from digest.serve.pages import Site
from digest.signup import (
    clean_name,
    confirm_signup,
    confirmation_notice,
    consent_text,
    expire_pending,
    request_signup,
    welcome_text,
)
from digest.subscribers import normalise_email
from digest.tokens import (
    InvalidTokenError,
    check_form_token,
    make_confirm_token,
    make_form_token,
    read_confirm_token,
    subscriber_id,
)

log = logging.getLogger(__name__)

HONEYPOT_FIELD = "website"
FORM_TOKEN_FIELD = "form"
QUEUE_SIZE = 1000
HOUSEKEEPING_EVERY_SECONDS = 3600.0


@dataclass(frozen=True, slots=True)
class _Request:
    email: str
    name: str


class SignupDesk:
    """Works off sign-up requests on one thread: pending row, limits, confirmation message."""

    def __init__(self, site: Site, *, transport: Callable[[], Transport] | None = None) -> None:
        self._site = site
        self._limits = ConfirmationLimits(site.config.state.dir)
        self._transport = transport or (lambda: transport_for(site.config))
        self._queue: queue.Queue[_Request | None] = queue.Queue(QUEUE_SIZE)
        self._idle = threading.Condition()
        self._unfinished = 0
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._last_housekeeping: float | None = None

    def submit(self, email: str, name: str) -> bool:
        """Queue a sign-up; False when the queue is full (answer 503)."""
        self._start()
        with self._idle:
            self._unfinished += 1
        try:
            self._queue.put_nowait(_Request(email, name))
        except queue.Full:
            self._done()
            return False
        return True

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every queued sign-up is worked off; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._unfinished == 0, timeout)

    def close(self, timeout: float = 30.0) -> None:
        """Finish the queued sign-ups and stop the thread."""
        with self._start_lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout)

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name="digest-signup", daemon=True)
                self._thread.start()

    def _done(self) -> None:
        with self._idle:
            self._unfinished -= 1
            self._idle.notify_all()

    def _work(self) -> None:
        while (item := self._queue.get()) is not None:
            try:
                self._handle(item)
            except DigestError as exc:
                log.error("sign-up of %s not done: %s", item.email, exc)
            except Exception:
                log.exception("sign-up of %s failed", item.email)
            finally:
                self._done()

    def _handle(self, item: _Request) -> None:
        site = self._site
        self._housekeep()
        change = request_signup(site.config.subscribers.file, item.email, item.name, site.now())
        if change.after is None:
            return
        address = change.after.email
        site.book.add(address)
        if not change.awaits_confirmation:
            log.info("sign-up form: %s is already %s; nothing sent", address, change.after.status)
            return
        now = site.clock()
        reservation = self._limits.reserve(subscriber_id(address, site.secret), now)
        if reservation is None:
            log.warning("sign-up form: %s had a confirmation in the last 10 minutes or 3 today; nothing sent", address)
            return
        token = make_confirm_token(address, site.secret, clock=site.clock)
        notice = confirmation_notice(site.config, address, site.public_url(f"/confirm/{token}"), site.public_url("/"))
        try:
            transport = self._transport()
            try:
                outcome = transport.send_notice(notice)
            finally:
                transport.close()
        except DigestError:
            self._limits.release(reservation)
            raise
        if outcome.status != "sent":
            self._limits.release(reservation)
            log.error("confirmation to %s %s: %s", address, outcome.status, outcome.reason or "no reason given")
            return
        log.info("confirmation sent to %s via %s", address, site.config.delivery.transport)

    def _housekeep(self) -> None:
        """Remove sign-ups never confirmed, at most once an hour."""
        now = self._site.clock()
        if self._last_housekeeping is not None and now - self._last_housekeeping < HOUSEKEEPING_EVERY_SECONDS:
            return
        self._last_housekeeping = now
        expire_pending(self._site.config.subscribers.file, self._site.now())


def add_signup_routes(app: Flask, site: Site, desk: SignupDesk) -> None:
    """GET/POST /subscribe and GET/POST /confirm/TOKEN (404 when [signup] enabled = false)."""
    config = site.config

    def form(status: int = 200, *, error: str | None = None, email: str = "", name: str = "") -> Response:
        return site.page(
            "subscribe_form.html.j2", f"Subscribe to {config.newsletter.name}", status, indexable=status == 200,
            action=url_for("subscribe"), form_token=make_form_token(site.secret, clock=site.clock),
            consent_text=consent_text(config), error=error, email=email, name=name,
        )

    def bad_confirmation(error: InvalidTokenError | None) -> Response:
        why = "This confirmation link has expired: links work for 7 days." if error is not None and error.expired else (
            "This confirmation link does not work: it may be cut short, changed, or already used up."
        )
        return site.notice(
            "This link does not work", why, "Subscribe again and we will send a new one.",
            status=400, link=(url_for("subscribe_form"), "Subscribe again"),
        )

    def disabled() -> Response:
        return site.notice("Not found", "Sign-up is not open here.", status=404)

    @app.get("/subscribe")
    def subscribe_form() -> Response:
        return form() if config.signup.enabled else disabled()

    @app.post("/subscribe")
    def subscribe() -> Response:
        if not config.signup.enabled:
            return disabled()
        wait = site.limiter.hit(site.client())
        if wait is not None:
            return site.too_many(wait)
        email, name = request.form.get("email", ""), clean_name(request.form.get("name", ""))
        check_inbox = site.page("check_inbox.html.j2", "Check your inbox")
        if request.form.get(HONEYPOT_FIELD):
            log.info("sign-up form: honeypot filled by %s; ignored", site.client())
            return check_inbox
        try:
            check_form_token(request.form.get(FORM_TOKEN_FIELD, ""), site.secret, clock=site.clock)
        except InvalidTokenError:
            return form(400, error="This form was open too long, or did not come from this page. Please send it again.", email=email, name=name)
        try:
            normalise_email(email)
        except InvalidEmailError as exc:
            return form(400, error=f"{exc} Please check it.", email=email, name=name)
        if not desk.submit(email, name):
            return site.notice("Please try again", "Too many sign-ups are waiting right now. Please try again in a minute.", status=503)
        return check_inbox

    @app.get("/confirm/<token>")
    def confirm_form(token: str) -> Response:
        if not config.signup.enabled:
            return disabled()
        try:
            read_confirm_token(token, site.secret, clock=site.clock)
        except InvalidTokenError as exc:
            return bad_confirmation(exc)
        return site.page(
            "confirm_form.html.j2", "Confirm your subscription", action=url_for("confirm", token=token),
            consent_text=consent_text(config),
        )

    @app.post("/confirm/<token>")
    def confirm(token: str) -> Response:
        if not config.signup.enabled:
            return disabled()
        wait = site.limiter.hit(site.client())
        if wait is not None:
            return site.too_many(wait)
        try:
            identifier = read_confirm_token(token, site.secret, clock=site.clock)
        except InvalidTokenError as exc:
            return bad_confirmation(exc)
        try:
            address = site.book.address_of(identifier)
            change = confirm_signup(config.subscribers.file, address, site.now()) if address else None
        except SubscribersError as exc:
            log.error("confirmation not recorded: %s", exc)
            return site.notice("Please try again", "Your confirmation could not be recorded just now. Please try again in a minute.", status=503)
        if change is None or change.after is None or change.after.status != "active":
            return bad_confirmation(None)
        if change.before != change.after:
            log.info("%s confirmed the sign-up", change.after.email)
        return site.page("welcome.html.j2", "You are subscribed", welcome_text=welcome_text(config))
