"""The SendGrid transport: one v3 Mail Send request per batch, one personalization per recipient.

The stored edition goes out unchanged in every request; SendGrid fills in each recipient's parts
through per-personalization `substitutions`, so nothing is rendered per recipient. The text part
keeps the edition's own markers; in the HTML part they are renamed once per batch to HTML-only
keys whose values are HTML-escaped (a name like "Tom & Jerry" must read right in both parts).

Outcomes follow INTERFACE.md: 202 -> sent; 429, 5xx and a request that never reached SendGrid
(refused connection, connect timeout) are retried, bounded, then NotSentError (recipients stay
pending); an answer lost after the body went out (read timeout, reset) -> OutcomeUnknownError;
any other 4xx -> ProviderRejectedError with SendGrid's own message, not retried.
"""

from __future__ import annotations

import html
import http.client
import json
import logging
import re
import time
import urllib.error
from collections.abc import Callable, Sequence
from email.utils import parsedate_to_datetime
from typing import Any

import tenacity
from python_http_client.exceptions import HTTPError as SendGridHTTPError
from sendgrid import SendGridAPIClient

from digest.config import Config
from digest.deliver.base import Notice, NotSentError, Outcome, OutcomeUnknownError, Recipient
from digest.deliver.message import display_name, greeting_name, list_id, subject_line
from digest.errors import ConfigError, ProviderRejectedError
from digest.models import NAME_PLACEHOLDER, UNSUBSCRIBE_URL_PLACEHOLDER, Edition

log = logging.getLogger(__name__)

MAX_PERSONALIZATIONS = 1000  # SendGrid's limit per request
# Markers the HTML part carries instead of the edition's own, so each part gets its own value.
HTML_UNSUBSCRIBE_URL_KEY = "%%html:unsubscribe_url%%"
HTML_NAME_KEY = "%%html:name%%"
# A rate-limit wait longer than this is not slept through: the batch is left pending for a later send.
MAX_RATE_LIMIT_WAIT_SECONDS = 600.0
BACKOFF_INITIAL_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 60.0
BACKOFF_JITTER_SECONDS = 1.0


class _RetryableError(Exception):
    """A failure that leaves the request unsent: worth another attempt, after `delay` if SendGrid named one."""

    def __init__(self, reason: str, delay: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.delay = delay


class SendGridTransport:
    """Sends batches of up to 1,000 recipients through SendGrid's v3 Mail Send API.

    Thread-safe: each send_batch call uses its own client, so the send loop may run
    `concurrency` batches at once.
    """

    name = "sendgrid"
    concurrency = 3  # requests in flight: hides building, recording and the round trip behind each other

    def __init__(
        self,
        config: Config,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        max_attempts: int = 5,
    ) -> None:
        """Raises ConfigError when SENDGRID_API_KEY is missing, before anything is sent."""
        api_key = config.secrets.sendgrid_api_key
        if not api_key:
            raise ConfigError(
                "SENDGRID_API_KEY is not set: export an API key with Mail Send permission "
                f"(SendGrid > Settings > API Keys), or set [delivery] transport = \"outbox\" in {config.label}"
            )
        self._api_key = api_key
        self._host = config.delivery.sendgrid_api_url.rstrip("/")
        self._timeout = config.delivery.timeout_seconds
        self._config = config
        self._sleep = sleep
        self._clock = clock
        self._max_attempts = max_attempts
        self.batch_size = min(config.delivery.batch_size, MAX_PERSONALIZATIONS)

    def send_batch(self, edition: Edition, recipients: Sequence[Recipient], *, test: bool = False) -> tuple[Outcome, ...]:
        """Send `edition` to `recipients` in one request; one Outcome per recipient, in order.

        Raises NotSentError, OutcomeUnknownError, or ProviderRejectedError.
        """
        if not recipients:
            return ()
        if len(recipients) > self.batch_size:
            raise ValueError(f"a SendGrid batch takes at most {self.batch_size} recipients, got {len(recipients)}")
        unique, copies = _split_copies(recipients)
        body = build_request(edition, unique, self._config, test=test)
        where = f"edition {edition.id}, batch of {len(unique)} starting at {unique[0].email}"
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self._max_attempts),
            wait=self._wait,
            retry=tenacity.retry_if_exception_type(_RetryableError),
            sleep=self._sleep,
            before_sleep=lambda state: log.warning(
                "SendGrid: %s (attempt %d of %d, %s); retrying in %.1f s",
                state.outcome.exception() if state.outcome else "?",
                state.attempt_number,
                self._max_attempts,
                where,
                state.upcoming_sleep,
            ),
            reraise=True,
        )
        try:
            message_id = retrying(self._post, body)
        except _RetryableError as exc:
            raise NotSentError(
                f"SendGrid did not take {where} after {self._max_attempts} attempts ({exc.reason}); "
                "its recipients stay pending: run `digest send` again later"
            ) from exc
        log.info("SendGrid accepted %s (X-Message-Id %s)", where, message_id)
        return tuple(
            Outcome(r.email, "sent", provider_id=message_id, reason=copies.get(i)) for i, r in enumerate(recipients)
        )

    def send_notice(self, notice: Notice) -> Outcome:
        """Send one message in one request, one attempt: the reader waiting for it can ask again.

        Raises NotSentError, OutcomeUnknownError, or ProviderRejectedError.
        """
        try:
            message_id = self._post(build_notice_request(notice, self._config))
        except _RetryableError as exc:
            raise NotSentError(f"SendGrid did not take the {notice.kind} message to {notice.to} ({exc.reason})") from exc
        return Outcome(notice.to, "sent", provider_id=message_id)

    def close(self) -> None:
        """Nothing to release: every request opens and closes its own connection."""

    def _post(self, body: dict[str, Any]) -> str | None:
        """One attempt. Returns the X-Message-Id; raises _RetryableError or one of ours."""
        client = SendGridAPIClient(self._api_key, host=self._host)
        try:
            response = client.client.mail.send.post(request_body=body, timeout=self._timeout)
        except SendGridHTTPError as exc:
            raise self._http_error(exc) from exc
        except urllib.error.URLError as exc:
            # urllib wraps in URLError only what fails while connecting or writing the request,
            # so SendGrid never had the whole body.
            raise _RetryableError(f"could not reach {self._host}: {_describe(exc.reason)}") from exc
        except (OSError, http.client.HTTPException) as exc:
            # The body went out; the answer was lost (read timeout, reset, garbled status line).
            raise OutcomeUnknownError(
                f"SendGrid's answer was lost after the request went out ({_describe(exc)}): "
                "its recipients are unknown; check SendGrid's activity feed, then `digest send --resend-unknown` if needed"
            ) from exc
        headers = response.headers
        return headers.get("X-Message-Id") if headers is not None else None

    def _http_error(self, exc: SendGridHTTPError) -> Exception:
        status = int(exc.status_code)
        if status == 429:
            delay = self._rate_limit_delay(exc.headers)
            if delay is not None and delay > MAX_RATE_LIMIT_WAIT_SECONDS:
                return NotSentError(
                    f"SendGrid rate limit: it asks to wait {delay:.0f} s; "
                    "the rest stay pending: run `digest send` again later"
                )
            return _RetryableError("429 too many requests", delay)
        if status >= 500:
            return _RetryableError(f"SendGrid answered {status}: {_error_message(exc.body) or exc.reason}")
        message = _error_message(exc.body) or str(exc.reason or "no reason given")
        hint = " (check SENDGRID_API_KEY)" if status in (401, 403) else ""
        return ProviderRejectedError(f"SendGrid refused the request ({status}): {message}{hint}")

    def _rate_limit_delay(self, headers: Any) -> float | None:
        """Seconds to wait as Retry-After (seconds or HTTP date) or X-RateLimit-Reset (unix time) say."""
        if headers is None:
            return None
        retry_after = headers.get("Retry-After")
        if retry_after:
            try:
                return max(0.0, float(retry_after))
            except ValueError:
                try:
                    return max(0.0, parsedate_to_datetime(retry_after).timestamp() - self._clock())
                except (TypeError, ValueError):
                    log.warning("SendGrid sent an unreadable Retry-After: %r", retry_after)
        reset = headers.get("X-RateLimit-Reset")
        if reset:
            try:
                return max(0.0, float(reset) - self._clock())
            except ValueError:
                log.warning("SendGrid sent an unreadable X-RateLimit-Reset: %r", reset)
        return None

    def _wait(self, state: tenacity.RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, _RetryableError) and error.delay is not None:
            return error.delay
        return _backoff(state)


_backoff = tenacity.wait_exponential_jitter(
    initial=BACKOFF_INITIAL_SECONDS, max=BACKOFF_MAX_SECONDS, jitter=BACKOFF_JITTER_SECONDS
)


def build_request(edition: Edition, recipients: Sequence[Recipient], config: Config, *, test: bool = False) -> dict[str, Any]:
    """The v3 Mail Send body for one batch: the edition once, one personalization per recipient."""
    html_part = edition.email.html.replace(UNSUBSCRIBE_URL_PLACEHOLDER, HTML_UNSUBSCRIBE_URL_KEY).replace(
        NAME_PLACEHOLDER, HTML_NAME_KEY
    )
    custom_args = {"edition": edition.id} | ({"test": "true"} if test else {})
    body: dict[str, Any] = {
        "personalizations": [_personalization(r, custom_args) for r in recipients],
        "subject": subject_line(edition.email.subject, test=test),
        "content": [
            {"type": "text/plain", "value": edition.email.text},
            {"type": "text/html", "value": html_part},
        ],
        "headers": {"List-Id": list_id(config)},
    }
    return body | _sender_untracked(config)


def _sender_untracked(config: Config) -> dict[str, Any]:
    """From, Reply-To (when set), and tracking off: click tracking would rewrite the unsubscribe
    and confirmation links; unsubscribing is ours, not SendGrid's."""
    newsletter = config.newsletter
    fields: dict[str, Any] = {
        "from": {"email": newsletter.from_email, "name": display_name(newsletter.from_name or newsletter.name)},
        "tracking_settings": {
            "click_tracking": {"enable": False, "enable_text": False},
            "subscription_tracking": {"enable": False},
        },
    }
    if newsletter.reply_to:
        fields["reply_to"] = {"email": newsletter.reply_to}
    return fields


def build_notice_request(notice: Notice, config: Config) -> dict[str, Any]:
    """The v3 Mail Send body of one Notice: one personalization, no substitutions, no tracking."""
    content = [{"type": "text/plain", "value": notice.text}]
    if notice.html is not None:
        content.append({"type": "text/html", "value": notice.html})
    body: dict[str, Any] = {
        "personalizations": [{"to": [{"email": notice.to}], "custom_args": {"kind": notice.kind}}],
        "subject": subject_line(notice.subject),
        "content": content,
        "headers": {"Auto-Submitted": "auto-generated"},
    }
    return body | _sender_untracked(config)


def _personalization(recipient: Recipient, custom_args: dict[str, str]) -> dict[str, Any]:
    name = greeting_name(recipient.name)  # never holds a marker SendGrid would substitute again
    to = {"email": recipient.email}
    # SendGrid splits a to.name at ',' and ';' and mails the pieces as addresses (or drops the
    # message as invalid): a name must never be able to name another recipient.
    shown = display_name(re.sub(r"[,;]", " ", recipient.name))
    if shown:
        to["name"] = shown
    return {
        "to": [to],
        "substitutions": {
            UNSUBSCRIBE_URL_PLACEHOLDER: recipient.unsubscribe_url,
            NAME_PLACEHOLDER: name,
            HTML_UNSUBSCRIBE_URL_KEY: html.escape(recipient.unsubscribe_url),
            HTML_NAME_KEY: html.escape(name),
        },
        "headers": {
            "List-Unsubscribe": f"<{recipient.unsubscribe_url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
        "custom_args": custom_args,
    }


def _split_copies(recipients: Sequence[Recipient]) -> tuple[list[Recipient], dict[int, str]]:
    """The first recipient of each address (compared case-insensitively: one mail per mailbox),
    and for each later copy (by position) why it was not sent separately."""
    first: dict[str, Recipient] = {}
    copies: dict[int, str] = {}
    for position, recipient in enumerate(recipients):
        key = recipient.email.casefold()
        if key in first:
            log.warning("%s is in one batch twice (letter case aside); sending it once", recipient.email)
            copies[position] = f"same mailbox as {first[key].email}, sent once"
        else:
            first[key] = recipient
    return list(first.values()), copies


def _error_message(body: Any) -> str:
    """SendGrid's error messages ({"errors": [{"message": ...}]}) on one line; '' when there are none."""
    try:
        data = json.loads(body.decode("utf-8") if isinstance(body, bytes) else body)
        messages = [str(e["message"]) for e in data["errors"] if e.get("message")]
    except (ValueError, TypeError, KeyError, AttributeError):
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body or "")
        messages = [text[:200]] if text.strip() else []
    return " ".join("; ".join(messages).split())


def _describe(error: object) -> str:
    text = " ".join(str(error).split())
    kind = type(error).__name__
    return f"{kind}: {text}" if text and not isinstance(error, str) else (text or kind)
