"""Double opt-in sign-up: pending rows on the subscriber list, their confirmation, their expiry.

A reader who signs up on the form of `digest serve` is stored `pending` (source `form`) and mailed
a confirmation link; confirming makes them `active` with `confirmed_at`. Pending rows are never
mailed an edition. One not confirmed within PENDING_DAYS is removed, or, for an address that had
unsubscribed before, returned to `unsubscribed`, so its consent record is never lost.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

import jinja2

from digest.config import Config
from digest.deliver.base import Notice
from digest.errors import ConfigError
from digest.models import Subscriber
from digest.subscribers import change_subscriber, iter_subscribers, normalise_email, rewriting, timestamp

log = logging.getLogger(__name__)

PENDING_DAYS = 30
FORM_SOURCE = "form"
NOTICE_KIND = "signup"  # the outbox keeps confirmations in outbox_dir/signup/
NAME_MAX_CHARS = 100
CONFIRM_TEXT_TEMPLATE = "confirm_email.txt.j2"
CONFIRM_HTML_TEMPLATE = "confirm_email.html.j2"


@dataclass(frozen=True, slots=True)
class SignupChange:
    """A sign-up request applied to the list: the row before and after (None: no row)."""

    before: Subscriber | None
    after: Subscriber | None

    @property
    def awaits_confirmation(self) -> bool:
        """The address is pending: it gets a confirmation message (within the limits)."""
        return self.after is not None and self.after.status == "pending"


def clean_name(raw: str) -> str:
    """A name typed on the form as stored: one line, no control characters, at most 100 characters."""
    printable = "".join(ch if ch.isprintable() else " " for ch in raw)
    return " ".join(printable.split())[:NAME_MAX_CHARS]


def request_signup(path: Path, email: str, name: str, now: datetime) -> SignupChange:
    """Store a sign-up from the form: a new or unsubscribed address becomes pending; an active,
    bounced or already pending one is left as it is (a stranger may be typing someone else's).

    Raises InvalidEmailError, or SubscribersError when the list cannot be read or written.
    """
    address = normalise_email(email)
    stamp = timestamp(now)

    def change(existing: Subscriber | None) -> Subscriber | None:
        if existing is None:
            return Subscriber(address, clean_name(name), "pending", stamp, "", FORM_SOURCE)
        if existing.status == "unsubscribed":
            # unsubscribed_at stays: should this request never be confirmed, the row goes back to it.
            return replace(
                existing, name=clean_name(name) or existing.name, status="pending", subscribed_at=stamp,
                source=FORM_SOURCE, confirmed_at="",
            )
        return existing

    before, after = change_subscriber(path, address, change)
    return SignupChange(before, after)


def confirm_signup(path: Path, email: str, now: datetime) -> SignupChange:
    """Make a pending address active with confirmed_at; any other row is left as it is.

    Raises SubscribersError when the list cannot be read or written.
    """

    def change(existing: Subscriber | None) -> Subscriber | None:
        if existing is None or existing.status != "pending":
            return existing
        return replace(existing, status="active", unsubscribed_at="", source=FORM_SOURCE, confirmed_at=timestamp(now))

    before, after = change_subscriber(path, email, change)
    return SignupChange(before, after)


def expire_pending(path: Path, now: datetime, *, days: int = PENDING_DAYS) -> int:
    """Drop sign-ups left unconfirmed for `days` (an address that had unsubscribed goes back to
    unsubscribed); returns how many. Rewrites the list only when one expired. Raises SubscribersError.
    """
    if not path.exists():
        return 0
    cutoff = now - timedelta(days=days)
    expired = 0
    with rewriting(path) as draft:
        for subscriber in iter_subscribers(path):
            if subscriber.status == "pending" and _older_than(subscriber.subscribed_at, cutoff):
                expired += 1
                if not subscriber.unsubscribed_at:
                    continue
                subscriber = replace(subscriber, status="unsubscribed")
            draft.write(subscriber)
        if not expired:
            draft.discard()
    if expired:
        log.info("%s: removed %d sign-up(s) not confirmed within %d days", path, expired, days)
    return expired


def _older_than(stamp: str, cutoff: datetime) -> bool:
    """A row without a readable time is kept: nothing says it is old."""
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return False
    return moment.tzinfo is not None and moment < cutoff


def consent_text(config: Config) -> str:
    """What the form says the reader agrees to: [signup] consent_text, or a sentence naming the
    newsletter and how often it comes."""
    if config.signup.consent_text.strip():
        return config.signup.consent_text.strip()
    newsletter = config.newsletter
    return (
        f"You will get {newsletter.name} by email once a day, at {config.schedule.time} ({newsletter.timezone} time). "
        "Your address is used for nothing else, and every email has a link to unsubscribe at once."
    )


def welcome_text(config: Config) -> str:
    """What the reader sees after confirming: [signup] welcome_text, or a default."""
    if config.signup.welcome_text.strip():
        return config.signup.welcome_text.strip()
    return (
        f"Welcome to {config.newsletter.name}. The next edition comes at {config.schedule.time} "
        f"({config.newsletter.timezone} time); until then, the archive holds the past ones."
    )


def confirmation_notice(config: Config, email: str, confirm_url: str, archive_url: str) -> Notice:
    """The confirmation message for `email`, from the templates. Raises ConfigError for a broken template."""
    context = {
        "newsletter": config.newsletter,
        "confirm_url": confirm_url,
        "archive_url": archive_url,
        "consent_text": consent_text(config),
        "valid_days": 7,
    }
    return Notice(
        kind=NOTICE_KIND,
        to=email,
        subject=config.signup.confirm_subject.format(name=config.newsletter.name),
        text=_render(config, CONFIRM_TEXT_TEMPLATE, context),
        html=_render(config, CONFIRM_HTML_TEMPLATE, context),
    )


def _render(config: Config, name: str, context: dict[str, object]) -> str:
    from digest.render import template_environment  # MJML loads only when a sign-up mail is written

    environment = template_environment(config.email.template_dir)
    try:
        return environment.get_template(name).render(context)
    except jinja2.TemplateError as exc:
        raise ConfigError(f"template {name}: {exc}") from exc
