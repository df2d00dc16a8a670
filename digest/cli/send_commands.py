"""`digest send` (mail the edition, or one test copy) and `digest status` (what was sent, what runs next)."""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Callable
from contextlib import nullcontext
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

from digest.cli import AppContext, cli, pass_app, stop_on_signals
from digest.errors import DeliveryError, DigestError, EditionError
from digest.ledger import Ledger, ledger_path

if TYPE_CHECKING:
    from digest.config import Config
    from digest.deliver import BatchReport, SendPlan, SendReport
    from digest.deliver.base import Transport
    from digest.models import Edition

# The sending stack (transports, message building, the subscriber list) is imported inside the
# functions that use it: `digest status` and `digest --help` load this module and must start fast.

log = logging.getLogger(__name__)

FIRST_RECIPIENTS_SHOWN = 5
UNSETTLED_SHOWN = 10
REFUSAL = "refusing to send without confirmation: pass --yes"


def empty_refusal(edition: str) -> str:
    return f"edition {edition} has nothing new (every section is empty); not sent: pass --allow-empty to send it anyway"


def unknown_hint(edition: str, unknown: int) -> str:
    return (
        f"{unknown:,} recipient(s) of edition {edition} have an unknown outcome: the provider may or may not "
        f"have accepted their mail. Check its logs, then `digest send --edition {edition} --resend-unknown` "
        "sends to them again"
    )


@cli.command("send")
@click.option("--dry-run", is_flag=True, help="Show what would be sent (transport, edition, recipients, subject, size); send nothing.")
@click.option("--to", "to", metavar="EMAIL", help="Send one test copy to EMAIL instead ([TEST] in the subject); it does not count as a delivery.")
@click.option("--yes", "-y", is_flag=True, help="Send without asking; required when not on a terminal.")
@click.option("--edition", "edition_id", metavar="ID", help="Send this stored edition (e.g. 2026-11-26) instead of today's, to those who have not had it.")
@click.option("--resend-unknown", is_flag=True, help="Also send to recipients whose earlier outcome is unknown (they may get it twice).")
@click.option("--allow-empty", is_flag=True, help="Send an edition whose sections are all empty (nothing new); refused without it.")
@pass_app
def send_command(
    app: AppContext, dry_run: bool, to: str | None, yes: bool, edition_id: str | None, resend_unknown: bool, allow_empty: bool
) -> None:
    """Send the edition to every active subscriber who has not had it.

    Uses today's stored edition (building it first when there is none), or --edition ID.
    Asks for confirmation on a terminal. A later send goes to those pending or failed, never
    again to those sent; recipients whose outcome is unknown (a crash, a lost answer) only
    with --resend-unknown. SIGINT/SIGTERM finish and record the batches in flight, then stop.
    An edition with nothing new (every section empty once what recent editions said is left
    out) is refused unless --allow-empty; a test copy (--to) is always sent.

    Exit codes: 0 all sent (or nothing to send), 1 error, 3 recipients left pending, failed or
    unknown (`digest status` says which).
    """
    from digest.cli.edition_commands import load_or_build_edition
    from digest.deliver import plan_send, transport_for
    from digest.deliver.message import check_sendable

    config = app.config
    now = app.now()
    with Ledger.open(config.state.dir) as ledger:
        edition, _ = load_or_build_edition(app, ledger, edition_id=edition_id)
        if to is not None:
            _send_test_copy(app, ledger, edition, to, dry_run=dry_run)
            return
        # Streamed into the ledger once; the send goes to the audience staged here.
        plan = plan_send(ledger, edition.id, config.subscribers.file, resend_unknown=resend_unknown)
        if dry_run:
            _print_dry_run(config, edition, plan, ledger, allow_empty=allow_empty)
            return
        if not plan.targets:
            if not plan.active:
                click.echo(f"nothing to send: no active subscribers in {config.subscribers.file} (add one with `digest subscribers add EMAIL`)")
                return
            _nothing_to_send(edition.id, ledger.counts(edition.id))
        if edition.digest.is_empty and not allow_empty:
            raise EditionError(empty_refusal(edition.id))
        check_sendable(config, edition)  # refuse before asking, with the error that names the fix
        transport = transport_for(config, clock=app.now)
        try:
            _confirm(edition.id, plan.targets, transport.name, yes)
            report = _send_with_progress(config, edition, ledger, transport, plan, now)
        finally:
            transport.close()
    if report.nothing_to_send:
        _nothing_to_send(edition.id, report.counts)
    _print_report(report)
    if report.exit_code:
        raise click.exceptions.Exit(report.exit_code)


def _confirm(edition: str, count: int, transport: str, yes: bool) -> None:
    if yes:
        return
    if not sys.stdin.isatty():
        raise DeliveryError(REFUSAL)
    noun = "subscriber" if count == 1 else "subscribers"
    click.confirm(f"Send edition {edition} to {count:,} {noun} via {transport}?", default=False, abort=True, prompt_suffix=" ")


def _send_with_progress(
    config: Config, edition: Edition, ledger: Ledger, transport: Transport, plan: SendPlan, now: datetime
) -> SendReport:
    from digest.deliver import send_edition

    stop = threading.Event()
    on_terminal = sys.stderr.isatty()
    bar_context: Any = (
        click.progressbar(length=plan.targets, label=f"sending {edition.id} via {transport.name}", file=sys.stderr)
        if on_terminal
        else nullcontext(None)
    )
    with stop_on_signals(stop, "finishing the batches in flight, then stopping"), bar_context as bar:
        on_batch: Callable[[BatchReport], None] = (lambda b: bar.update(b.size)) if bar is not None else _log_batch
        return send_edition(config, edition, ledger, transport, plan, stop=stop, on_batch=on_batch, now=now)


def _log_batch(batch: BatchReport) -> None:
    log.info(
        "batch %d/%d: %d sent, %d failed, %d unknown, %d not sent%s",
        batch.number, batch.batches, batch.sent, batch.failed, batch.unknown, batch.not_sent,
        f" ({batch.error})" if batch.error else "",
    )


def _nothing_to_send(edition: str, counts: dict[str, int]) -> None:
    unknown = counts.get("unknown", 0)
    line = f"nothing to send: edition {edition} already sent to {counts.get('sent', 0):,} subscribers"
    click.echo(line + (f", {unknown:,} unknown" if unknown else ""))
    if unknown:
        click.echo(unknown_hint(edition, unknown), err=True)
        raise click.exceptions.Exit(3)
    raise click.exceptions.Exit(0)


def _print_report(report: SendReport) -> None:
    counts = report.counts
    click.echo(
        f"edition {report.edition} via {report.transport}: {report.sent:,} sent, {report.failed:,} failed, "
        f"{report.unknown:,} unknown this run"
    )
    click.echo(
        f"edition {report.edition} now: {counts['subscribers']:,} subscribers, {counts['sent']:,} sent, "
        f"{counts['pending']:,} pending, {counts['failed']:,} failed, {counts['unknown']:,} unknown"
    )
    if report.bounced:
        click.echo(f"{report.bounced:,} address(es) refused for good: marked bounced in the subscriber list", err=True)
    if report.stopped:
        click.echo(f"stopped: {report.stopped}; `digest send` sends to the {counts['pending']:,} still pending", err=True)
    if report.error:
        click.echo(f"error: {report.error}", err=True)
    if counts["unknown"]:
        click.echo(unknown_hint(report.edition, counts["unknown"]), err=True)
    if counts["failed"] and not report.bounced:
        click.echo("failed recipients: `digest status` lists them; a temporary failure is retried by the next send", err=True)


def _print_dry_run(config: Config, edition: Edition, plan: SendPlan, ledger: Ledger, *, allow_empty: bool) -> None:
    from digest.deliver.message import sending_problems

    counts = ledger.counts(edition.id)
    first = ledger.targets(edition.id, resend_unknown=plan.resend_unknown, limit=FIRST_RECIPIENTS_SHOWN)
    where = f" -> {config.delivery.outbox_dir / edition.id}" if config.delivery.transport == "outbox" else ""
    click.echo("dry run: nothing is sent")
    click.echo(f"transport:   {config.delivery.transport}{where}")
    click.echo(f"edition:     {edition.id} (built {edition.built_at.isoformat()})")
    click.echo(f"subject:     {edition.email.subject}")
    click.echo(f"recipients:  {plan.targets:,} (already sent: {counts['sent']:,}, unknown: {counts['unknown']:,})")
    shown = ", ".join(email for email, _ in first)
    more = f", … {plan.targets - len(first):,} more" if plan.targets > len(first) else ""
    click.echo(f"first:       {shown or '-'}{more}")
    click.echo(f"size:        {_message_size(config, edition, first[0] if first else ('reader@example.org', ''))}")
    problems = sending_problems(config, edition)
    if edition.digest.is_empty and not allow_empty:
        problems = [empty_refusal(edition.id), *problems]
    for problem in problems:
        click.echo(f"would refuse: {problem}", err=True)


def _message_size(config: Config, edition: Edition, first: tuple[str, str]) -> str:
    """One message's size, built without the secret (a made-up token of a real token's length)."""
    from digest.deliver.base import Recipient
    from digest.deliver.message import wire_message

    email, name = first
    url = f"{config.newsletter.base_url.rstrip('/')}/unsubscribe/{'x' * 56}"
    try:
        size = len(wire_message(edition, Recipient(email, name, url), config, now=edition.built_at))
    except DigestError:
        size = len(edition.email.html.encode()) + len(edition.email.text.encode())
    return f"{size / 1024:.1f} KB per message (HTML {len(edition.email.html.encode()) / 1024:.1f} KB, text {len(edition.email.text.encode()) / 1024:.1f} KB)"


def _send_test_copy(app: AppContext, ledger: Ledger, edition: Edition, to: str, *, dry_run: bool) -> None:
    from digest.deliver import send_test, transport_for
    from digest.deliver.outbox import outbox_path
    from digest.subscribers import address_key, iter_subscribers, normalise_email

    config = app.config
    address = normalise_email(to)
    key = address_key(address)
    name = next((s.name for s in iter_subscribers(config.subscribers.file) if address_key(s.email) == key), "")
    if dry_run:
        click.echo(f"dry run: would send a test copy of edition {edition.id} to {address} via {config.delivery.transport}")
        return
    transport = transport_for(config, clock=app.now)
    try:
        outcome = send_test(config, edition, address, transport, now=app.now(), name=name, ledger=ledger)
    finally:
        transport.close()
    where = (
        f" ({outbox_path(config.delivery.outbox_dir, edition.id, address, test=True)})"
        if transport.name == "outbox"
        else f" ({outcome.provider_id})" if outcome.provider_id else ""
    )
    click.echo(f"test copy of edition {edition.id} sent to {address} via {transport.name}{where}; not counted as a delivery")


@cli.command("status")
@click.option("--format", "fmt", type=click.Choice(("table", "json")), default="table", show_default=True, help="Output format.")
@pass_app
def status_command(app: AppContext, fmt: str) -> None:
    """Show the last editions with their send counts (sent, pending, failed, unknown), the last
    and next run, and sources failing run after run. The table lists who was not sent."""
    from digest.run_times import next_run_times

    config = app.config
    data: dict[str, Any] = {"editions": [], "last_run": None, "failing_sources": [], "next_run": None}
    unsettled: dict[str, list[Any]] = {}
    live = False
    if ledger_path(config.state.dir).exists():
        with Ledger.open(config.state.dir) as ledger:
            data["editions"] = ledger.edition_summaries()
            data["last_run"] = ledger.last_run()
            data["failing_sources"] = ledger.failing_sources()
            live = ledger.send_running()
            if fmt == "table":
                for summary in data["editions"]:
                    if summary["pending"] or summary["failed"] or summary["unknown"]:
                        unsettled[summary["edition"]] = ledger.deliveries(
                            summary["edition"], statuses=("pending", "in_flight", "failed", "unknown"), limit=UNSETTLED_SHOWN
                        )
    data["next_run"] = next_run_times(config, app.now(), 1)[0].isoformat()
    try:
        from digest.subscribers import count_statuses

        data["subscribers"] = count_statuses(config.subscribers.file)
    except DigestError as exc:
        log.warning("status: %s", exc)
        data["subscribers"] = None
    if fmt == "json":
        click.echo(json.dumps(data, indent=2))
        return
    _print_status_table(data, unsettled, in_flight_label="in flight" if live else "unknown")


def _print_status_table(data: dict[str, Any], unsettled: dict[str, list[Any]], *, in_flight_label: str) -> None:
    columns = ("edition", "subscribers", "sent", "pending", "failed", "unknown")
    if data["editions"]:
        rows = [[c.upper() for c in columns]] + [
            [e["edition"]] + [f"{e[c]:,}" for c in columns[1:]] for e in data["editions"]
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(len(columns))]
        for row in rows:
            click.echo("  ".join([row[0].ljust(widths[0])] + [cell.rjust(w) for cell, w in zip(row[1:], widths[1:], strict=True)]))
    else:
        click.echo("no edition has been sent yet")
    run = data["last_run"]
    if run:
        reason = f" ({run['reason']})" if run.get("reason") else ""
        click.echo(f"last run:  {run['at']}  edition {run['edition'] or '-'}: {run['outcome']}{reason}")
    else:
        click.echo("last run:  none")
    click.echo(f"next run:  {data['next_run']}")
    if data["subscribers"] is not None:
        counts = data["subscribers"]
        click.echo(
            f"subscribers: {counts['active']:,} active, {counts['pending']:,} pending (sign-ups not yet confirmed), "
            f"{counts['unsubscribed']:,} unsubscribed, {counts['bounced']:,} bounced"
        )
    if data["failing_sources"]:
        click.echo("failing sources:")
        for source in data["failing_sources"]:
            click.echo(f"  {source['url']}  failing since {source['since']} ({source['runs']} runs): {source['reason']}")
    for summary in data["editions"]:
        left = summary["pending"] + summary["failed"] + summary["unknown"]
        if not left:
            continue
        not_sent = unsettled.get(summary["edition"], [])  # those never claimed have no row to list
        click.echo(f"\nedition {summary['edition']}: {left:,} not sent")
        for delivery in not_sent:
            status = in_flight_label if delivery.status == "in_flight" else delivery.status
            click.echo(f"  {status:<9} {delivery.email}  {delivery.reason or ''}".rstrip())
        if left > len(not_sent):
            click.echo(f"  … and {left - len(not_sent):,} more")
        if summary["unknown"]:
            click.echo(unknown_hint(summary["edition"], summary["unknown"]))
