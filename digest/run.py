"""One run: what `digest run` and each scheduled run do.

Under the send lock: build (or reuse) the day's edition, check the guards (with skip_if_unchanged:
no send when no source changed since the last sent edition, or when every section is empty once
what recent editions said is left out), send it, record the run in the ledger, alert on failure, then remove stored editions and outbox folders older than
`[state] keep_days`. Never two editions for one day: a day whose edition went out is not sent again.
"""

from __future__ import annotations

import html
import logging
import re
import shutil
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from digest.config import Config
from digest.deliver import SendReport, send_edition, transport_for
from digest.deliver.base import Recipient
from digest.editions import EditionStore, edition_id_for, get_edition
from digest.errors import DigestError, EditionError, NoSourcesError
from digest.history import read_history
from digest.ledger import Ledger
from digest.locks import send_lock
from digest.models import Digest, Edition, Email
from digest.signup import expire_pending

log = logging.getLogger(__name__)

RunOutcome = Literal["sent", "partial", "skipped", "failed"]
ALERTS_FOLDER = "alerts"  # the outbox keeps alerts in outbox_dir/alerts/
FAILING_AFTER_RUNS = 2
_DATE_FOLDER = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True, slots=True)
class RunResult:
    """What one run did: its outcome and reason as `digest status` shows them, and the exit code."""

    edition: str
    outcome: RunOutcome
    reason: str
    exit_code: int = 0


def run_once(
    config: Config,
    *,
    scheduled_for: datetime | None,
    now: datetime,
    stop: threading.Event | None = None,
) -> RunResult:
    """Build the edition of the scheduled date (today's when None) and send it, once.

    Raises LockedError when another send is running (nothing recorded), and after recording a
    failed run (and alerting): NoSourcesError when no source could be fetched, or the DigestError
    that stopped the run.
    """
    edition_id = edition_id_for(scheduled_for or now, config.newsletter.timezone)
    with send_lock(config.state.dir):
        log.info("run started for edition %s%s", edition_id, f" (scheduled for {scheduled_for.isoformat()})" if scheduled_for else "")
        try:
            with Ledger.open(config.state.dir) as ledger:
                try:
                    result = _run(config, ledger, edition_id, now, stop or threading.Event())
                except NoSourcesError as exc:
                    ledger.record_run(now, edition_id, "skipped", str(exc))
                    log.error("run for edition %s skipped: %s", edition_id, exc)
                    _alert(config, edition_id, str(exc), now)
                    raise
                except DigestError as exc:
                    ledger.record_run(now, edition_id, "failed", str(exc))
                    log.error("run for edition %s failed: %s", edition_id, exc)
                    _alert(config, edition_id, str(exc), now)
                    raise
                ledger.record_run(now, edition_id, result.outcome, result.reason)
                log.info("run for edition %s: %s: %s", edition_id, result.outcome, result.reason)
                return result
        finally:
            remove_old_files(config, now)


def _run(config: Config, ledger: Ledger, edition_id: str, now: datetime, stop: threading.Event) -> RunResult:
    if ledger.has_sent(edition_id):
        counts = ledger.counts(edition_id)
        return RunResult(edition_id, "skipped", f"edition {edition_id} already sent to {counts['sent']} subscribers; nothing new sent")
    store = EditionStore(config.state.dir)
    try:
        edition, _built = get_edition(
            config,
            store,
            now,
            edition_id=edition_id,
            is_frozen=ledger.has_sent,
            history_of=lambda built_id: read_history(store, ledger.has_sent, built_id, config.novelty.window_days),
        )
    except NoSourcesError as exc:
        _record_sources(config, ledger, now, ok=(), failed=_failures_from(config, str(exc)))
        raise
    _record_sources(
        config,
        ledger,
        now,
        ok=[s.url for s in edition.digest.sources if s.status == "ok"],
        failed={s.url: s.reason or "error" for s in edition.digest.sources if s.status != "ok"},
    )
    unchanged_since = _unchanged_since(config, ledger, store, edition)
    if unchanged_since is not None:
        return RunResult(edition_id, "skipped", f"content unchanged since edition {unchanged_since}")
    if config.schedule.skip_if_unchanged and edition.digest.is_empty:
        return RunResult(edition_id, "skipped", nothing_new_reason(config, edition_id))
    if config.delivery.transport == "sendgrid":
        from digest.suppressions import sync_suppressions

        log.info("suppressions: %s", sync_suppressions(config, now).summary)
    transport = transport_for(config)
    try:
        report = send_edition(config, edition, ledger, transport, config.subscribers.file, stop=stop, now=now)
    finally:
        transport.close()
    return _result_of(report)


def _result_of(report: SendReport) -> RunResult:
    counts = report.counts
    if report.nothing_to_send:
        reason = f"nothing to send: edition {report.edition} already sent to {counts.get('sent', 0)} subscribers"
        return RunResult(report.edition, "skipped", reason, report.exit_code)
    summary = (
        f"edition {report.edition} via {report.transport}: sent {counts.get('sent', 0)}, pending {counts.get('pending', 0)}, "
        f"failed {counts.get('failed', 0)}, unknown {counts.get('unknown', 0)} of {counts.get('subscribers', 0)}"
    )
    if report.stopped:
        summary += f"; {report.stopped}"
    return RunResult(report.edition, "partial" if report.exit_code else "sent", summary, report.exit_code)


def nothing_new_reason(config: Config, edition_id: str) -> str:
    """Why an edition whose sections are all empty is not sent."""
    days = config.novelty.window_days
    looked_back = f" once what the editions sent in the last {days} day{'' if days == 1 else 's'} said is left out" if days else ""
    return f"nothing new: every section of edition {edition_id} is empty{looked_back}"


def _unchanged_since(config: Config, ledger: Ledger, store: EditionStore, edition: Edition) -> str | None:
    """The last sent edition when skip_if_unchanged and this edition's content equals its content, or
    every article this edition was built from went into it unchanged."""
    if not config.schedule.skip_if_unchanged:
        return None
    last = ledger.last_sent_edition()
    if last is None or last == edition.id or not store.exists(last):
        return None
    try:
        previous = store.load(last)
    except EditionError as exc:
        log.warning("cannot compare with the last sent edition: %s", exc)
        return None
    if previous.digest.content_hash == edition.digest.content_hash:
        return last
    # Unchanged pages still hold sentences the last edition had no room for: not news today.
    same_pages = bool(edition.article_hashes) and set(edition.article_hashes) <= set(previous.article_hashes)
    return last if same_pages else None


def _failures_from(config: Config, message: str) -> dict[str, str]:
    """Each configured source's reason, from NoSourcesError's `...: URL: reason; URL: reason`."""
    detail = message.partition(": ")[2]
    reasons = dict(part.split(": ", 1) for part in detail.split("; ") if ": " in part)
    return {source.url: reasons.get(source.url, message) for source in config.sources}


def _record_sources(config: Config, ledger: Ledger, now: datetime, *, ok: Iterable[str], failed: dict[str, str]) -> None:
    ledger.record_source_results(now.astimezone(config.newsletter.zone), ok, failed)
    for source in ledger.failing_sources(min_runs=FAILING_AFTER_RUNS):
        if source["url"] in failed:
            log.warning("source failing for %d runs in a row (since %s): %s: %s", source["runs"], source["since"], source["url"], source["reason"])


def _alert(config: Config, edition_id: str, problem: str, now: datetime) -> None:
    """Tell newsletter.alert_email about a failed run through the configured transport; never raises."""
    address = config.newsletter.alert_email
    if not address:
        return
    subject = f"{config.newsletter.name}: the run for edition {edition_id} did not send"
    text = (
        f"The digest run for edition {edition_id} at {now.astimezone(UTC).isoformat(timespec='seconds')} did not send:\n\n"
        f"{problem}\n\n`digest status` shows the state of each edition; `digest run` tries again.\n"
    )
    # An alert goes out as a one-recipient edition of its own ("alerts"), so every transport can carry it.
    alert = Edition(
        id=ALERTS_FOLDER,
        digest=Digest(edition=ALERTS_FOLDER, title=subject, generated_at=now, sections=(), sources=()),
        email=Email(edition=ALERTS_FOLDER, subject=subject, preheader="", html=f"<pre>{html.escape(text)}</pre>", text=text),
        built_at=now,
    )
    try:
        transport = transport_for(config)
        try:
            outcome = transport.send_batch(alert, [Recipient(address, "", config.newsletter.base_url)])[0]
        finally:
            transport.close()
    except DigestError as exc:
        log.error("could not alert %s: %s", address, exc)
        return
    if outcome.status == "sent":
        log.info("alerted %s", address)
    else:
        log.error("could not alert %s: %s", address, outcome.reason or outcome.status)


def remove_old_files(config: Config, now: datetime) -> list[str]:
    """Remove stored editions and outbox folders older than [state] keep_days (the ledger keeps
    their counts), and sign-ups not confirmed within 30 days.

    Returns the edition ids whose files were removed.
    """
    today = now.astimezone(config.newsletter.zone).date()
    cutoff = (today - timedelta(days=config.state.keep_days)).isoformat()
    removed = set(EditionStore(config.state.dir).remove_older_than(cutoff))
    outbox = config.delivery.outbox_dir
    try:
        old_folders = [f for f in outbox.iterdir() if f.is_dir() and _DATE_FOLDER.match(f.name) and f.name < cutoff] if outbox.is_dir() else []
    except OSError as exc:
        log.warning("housekeeping: cannot list %s: %s", outbox, exc.strerror)
        old_folders = []
    for folder in old_folders:
        shutil.rmtree(folder, ignore_errors=True)
        removed.add(folder.name)
    if removed:
        log.info("housekeeping: removed files of %d edition(s) older than %d days: %s", len(removed), config.state.keep_days, ", ".join(sorted(removed)))
    try:
        expire_pending(config.subscribers.file, now)
    except DigestError as exc:
        log.warning("housekeeping: sign-ups not confirmed in time were not removed: %s", exc)
    return sorted(removed)

