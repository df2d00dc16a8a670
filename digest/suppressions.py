"""SendGrid suppressions -> subscribers.csv: those SendGrid will not mail are marked here too.

Global unsubscribes and spam reports mark a subscriber unsubscribed (consent withdrawn);
bounces and invalid emails mark it bounced. Each list is read whole, page by page
(`limit`/`offset`, at most 500 a page, per SendGrid's v3 API description).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from digest.config import Config
from digest.errors import ConfigError, DeliveryError, ProviderRejectedError
from digest.models import SubscriberStatus
from digest.subscribers import address_key, apply_statuses, iter_subscribers, lookup_key

log = logging.getLogger(__name__)

PAGE_SIZE = 500  # the API's maximum `limit`
MAX_PAGES = 20_000  # 10 million addresses: past that, a server ignoring `offset` is looping us


@dataclass(frozen=True, slots=True)
class SuppressionList:
    """One of SendGrid's suppression lists and what it means for a subscriber."""

    path: str
    label: str
    status: SubscriberStatus


# Unsubscribes first: when an address is on several lists, a withdrawal of consent is what we record.
SUPPRESSION_LISTS = (
    SuppressionList("/v3/suppression/unsubscribes", "global unsubscribe", "unsubscribed"),
    SuppressionList("/v3/suppression/spam_reports", "spam report", "unsubscribed"),
    SuppressionList("/v3/suppression/bounces", "bounce", "bounced"),
    SuppressionList("/v3/suppression/invalid_emails", "invalid email", "bounced"),
)


@dataclass(frozen=True, slots=True)
class SuppressionChange:
    email: str
    before: SubscriberStatus
    after: SubscriberStatus
    reason: str  # which SendGrid list, and its reason when it gives one


@dataclass(frozen=True, slots=True)
class SyncReport:
    fetched: tuple[tuple[str, int], ...]  # (list label, addresses on it)
    changes: tuple[SuppressionChange, ...]
    not_on_list: int  # suppressed addresses that are not subscribers

    @property
    def summary(self) -> str:
        after = Counter(change.after for change in self.changes)
        lists = ", ".join(f"{count} {label}{'' if count == 1 else 's'}" for label, count in self.fetched)
        return (
            f"sync: {len(self.changes)} changed ({after['unsubscribed']} unsubscribed, {after['bounced']} bounced); "
            f"SendGrid lists {lists}; {self.not_on_list} not on the list"
        )


def sync_suppressions(config: Config, now: datetime, *, client: httpx.Client | None = None) -> SyncReport:
    """Mark subscribers SendGrid suppresses. Raises ConfigError without SENDGRID_API_KEY,
    DeliveryError (with SendGrid's message) when a request fails, SubscribersError when the list cannot be written."""
    api_key = config.secrets.sendgrid_api_key
    if not api_key:
        raise ConfigError("SENDGRID_API_KEY is not set: export an API key with read access to Suppressions")
    base_url = config.delivery.sendgrid_api_url.rstrip("/")
    headers = {"Authorization": f"Bearer {api_key}", "Accept": "application/json"}
    own_client = client is None
    http = client or httpx.Client(timeout=config.delivery.timeout_seconds)
    try:
        wanted: dict[str, tuple[SubscriberStatus, str]] = {}
        fetched: list[tuple[str, int]] = []
        for suppression in SUPPRESSION_LISTS:
            records = fetch_suppressions(http, base_url, suppression.path, headers)
            fetched.append((suppression.label, len(records)))
            for record in records:
                reason = suppression.label + (f": {record['reason']}" if record.get("reason") else "")
                wanted.setdefault(lookup_key(str(record["email"])), (suppression.status, reason))
    finally:
        if own_client:
            http.close()
    path = config.subscribers.file
    known = sum(1 for subscriber in iter_subscribers(path) if address_key(subscriber.email) in wanted)
    changed = apply_statuses(path, {key: status for key, (status, _) in wanted.items()}, now)
    changes = tuple(
        SuppressionChange(after.email, before.status, after.status, wanted[address_key(after.email)][1])
        for before, after in changed
    )
    for change in changes:
        log.info("%s: %s -> %s (SendGrid %s)", change.email, change.before, change.after, change.reason)
    return SyncReport(tuple(fetched), changes, len(wanted) - known)


def fetch_suppressions(http: httpx.Client, base_url: str, path: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    """Every record of one suppression list, page by page. Raises DeliveryError."""
    records: list[dict[str, Any]] = []
    for page in range(MAX_PAGES):
        batch = _get_page(http, base_url + path, headers, {"limit": PAGE_SIZE, "offset": page * PAGE_SIZE})
        records.extend(batch)
        if len(batch) < PAGE_SIZE:
            return records
    raise DeliveryError(f"SendGrid GET {path}: more than {MAX_PAGES} pages; stopped (does the server honour offset?)")


def _get_page(http: httpx.Client, url: str, headers: dict[str, str], params: dict[str, int]) -> list[dict[str, Any]]:
    path = httpx.URL(url).path
    try:
        response = http.get(url, headers=headers, params=params)
    except httpx.HTTPError as exc:
        raise DeliveryError(
            f"SendGrid GET {path}: {exc or type(exc).__name__} (check [delivery] sendgrid_api_url and the network)"
        ) from exc
    if response.status_code != 200:
        message = _error_message(response)
        error = ProviderRejectedError if 400 <= response.status_code < 500 and response.status_code != 429 else DeliveryError
        raise error(f"SendGrid GET {path} answered {response.status_code}: {message}")
    try:
        body = response.json()
    except ValueError as exc:
        raise DeliveryError(f"SendGrid GET {path}: the answer is not JSON") from exc
    if not isinstance(body, list) or not all(isinstance(r, dict) and isinstance(r.get("email"), str) for r in body):
        raise DeliveryError(f"SendGrid GET {path}: expected a list of records with an email, got something else")
    return body


def _error_message(response: httpx.Response) -> str:
    """SendGrid's own words, from its `{"errors": [{"message": ...}]}` body, on one line."""
    try:
        errors = response.json().get("errors") or []
        messages = [str(e["message"]) for e in errors if isinstance(e, dict) and e.get("message")]
    except (ValueError, AttributeError):
        messages = []
    text = "; ".join(messages) or response.text.strip() or response.reason_phrase
    return " ".join(text.split())[:300]
