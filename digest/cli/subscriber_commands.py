"""`digest subscribers ...`: list, add, unsubscribe, remove, import, export and sync subscribers.csv."""

from __future__ import annotations

import csv
import json
import re
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import click

from digest.cli import AppContext, cli, pass_app
from digest.config import Config
from digest.errors import SubscribersError
from digest.ledger import Ledger, ledger_path
from digest.models import SUBSCRIBER_STATUSES, Subscriber
from digest.subscribers import (
    HEADER,
    add_subscriber,
    export_subscribers,
    export_to_file,
    import_subscribers,
    iter_subscribers,
    normalise_email,
    remove_subscriber,
    row_cells,
    unsubscribe_subscriber,
)

STATUS_CHOICES = (*SUBSCRIBER_STATUSES, "all")
TABLE_COLUMNS = ("email", "name", "status", "subscribed_at", "source")
TABLE_CELL_MAX = 40
# Control characters (C0, DEL, C1) could move the cursor or recolour a terminal: never print them raw.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _statuses(choice: str) -> tuple[str, ...]:
    return tuple(SUBSCRIBER_STATUSES) if choice == "all" else (choice,)


def _selected(config: Config, statuses: tuple[str, ...]) -> Iterator[Subscriber]:
    return (s for s in iter_subscribers(config.subscribers.file) if s.status in statuses)


def _count_line(counts: Counter[str], statuses: tuple[str, ...]) -> str:
    total = sum(counts.values())
    noun = "subscriber" if total == 1 else "subscribers"
    if len(statuses) == 1:
        return f"{total} {statuses[0]} {noun}"
    return f"{total} {noun} (" + ", ".join(f"{counts[s]} {s}" for s in SUBSCRIBER_STATUSES) + ")"


@cli.group("subscribers")
def subscribers_group() -> None:
    """Manage the subscriber list ([subscribers] file, subscribers.csv).

    Unsubscribed and bounced rows stay as consent records; only `remove` erases an address.
    Every change is written atomically under `<file>.lock`, so commands and `digest serve`
    can run at the same time.
    """


@subscribers_group.command("list")
@click.option("--status", "status", type=click.Choice(STATUS_CHOICES), default="all", show_default=True, help="Which rows to show.")
@click.option("--format", "fmt", type=click.Choice(("table", "csv", "json")), default="table", show_default=True, help="table for people; csv or json for scripts (the count line then goes to stderr).")
@pass_app
def list_command(app: AppContext, status: str, fmt: str) -> None:
    """List subscribers, then a count line."""
    statuses = _statuses(status)
    counts: Counter[str] = Counter()
    if fmt == "table":
        widths = {column: len(column) for column in TABLE_COLUMNS}
        for subscriber in _selected(app.config, statuses):
            for column in TABLE_COLUMNS:
                widths[column] = max(widths[column], len(_table_cell(getattr(subscriber, column))))
        click.echo("  ".join(column.ljust(widths[column]) for column in TABLE_COLUMNS).rstrip())
        for subscriber in _selected(app.config, statuses):
            counts[subscriber.status] += 1
            click.echo("  ".join(_table_cell(getattr(subscriber, c)).ljust(widths[c]) for c in TABLE_COLUMNS).rstrip())
        click.echo(_count_line(counts, statuses))
        return
    stdout = sys.stdout
    if fmt == "csv":
        writer = csv.writer(stdout, lineterminator="\r\n")
        writer.writerow(HEADER)
        for subscriber in _selected(app.config, statuses):
            counts[subscriber.status] += 1
            writer.writerow(row_cells(subscriber))
    else:
        stdout.write('{"subscribers": [')
        for subscriber in _selected(app.config, statuses):
            stdout.write(("\n  " if not counts else ",\n  ") + json.dumps(dict(zip(HEADER, row_cells(subscriber), strict=True)), ensure_ascii=False))
            counts[subscriber.status] += 1
        stdout.write(f"\n], \"count\": {sum(counts.values())}}}\n")
    click.echo(_count_line(counts, statuses), err=True)


def _table_cell(value: str) -> str:
    value = _CONTROL.sub(" ", value)
    return value if len(value) <= TABLE_CELL_MAX else value[: TABLE_CELL_MAX - 1] + "…"


@subscribers_group.command("add", short_help="Add an address (or update its name).")
@click.argument("email")
@click.option("--name", default=None, help="The name used in the greeting.")
@click.option("--source", default=None, help="Where the consent came from (e.g. 'signup form'). Default: cli.")
@click.option("--resubscribe", is_flag=True, help="Re-activate an unsubscribed or bounced address (they asked again).")
@pass_app
def add_command(app: AppContext, email: str, name: str | None, source: str | None, resubscribe: bool) -> None:
    """Add EMAIL (validated offline, domain normalised, stored once)."""
    before, after = add_subscriber(
        app.config.subscribers.file, email, app.now(), name=name, source=source, resubscribe=resubscribe
    )
    if before is None:
        click.echo(f"added {after.email}")
    elif before.status != "active":
        click.echo(f"re-subscribed {after.email} (was {before.status})")
    elif before != after:
        click.echo(f"updated {after.email}")
    else:
        click.echo(f"{after.email} is already subscribed")


@subscribers_group.command("unsubscribe")
@click.argument("email")
@pass_app
def unsubscribe_command(app: AppContext, email: str) -> None:
    """Mark EMAIL unsubscribed (the row stays, as a consent record)."""
    before, after = unsubscribe_subscriber(app.config.subscribers.file, email, app.now())
    if before == after:
        click.echo(f"{after.email} is already unsubscribed (since {after.unsubscribed_at or 'unknown'})")
    else:
        click.echo(f"unsubscribed {after.email}")


@dataclass(frozen=True, slots=True)
class Erasure:
    row: Subscriber | None
    ledger_rows: int
    outbox_files: int


def erase_address(config: Config, email: str) -> Erasure:
    """Erase an address from the list, the send ledger (hashed) and the outbox."""
    from digest.deliver.outbox import outbox_path  # the mail-building stack loads only for an erasure

    row = remove_subscriber(config.subscribers.file, email)
    address = row.email if row is not None else email.strip()
    ledger_rows = 0
    if ledger_path(config.state.dir).exists():  # erasing must not create a state dir as a side effect
        with Ledger.open(config.state.dir) as ledger:
            ledger_rows = ledger.forget_address(address)
    outbox_files = 0
    outbox = config.delivery.outbox_dir
    editions = [folder.name for folder in outbox.iterdir() if folder.is_dir()] if outbox.is_dir() else []
    for edition in editions:
        for copy in (outbox_path(outbox, edition, address), outbox_path(outbox, edition, address, test=True)):
            if copy.is_file():
                copy.unlink()
                outbox_files += 1
    return Erasure(row, ledger_rows, outbox_files)


@subscribers_group.command("remove", short_help="Erase an address everywhere (erasure request).")
@click.argument("email")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_app
def remove_command(app: AppContext, email: str, yes: bool) -> None:
    """Erase EMAIL everywhere (erasure request): its row, its send-ledger rows (kept as a
    one-way hash so counts stay right) and its outbox files. Use `unsubscribe` to keep a consent record."""
    try:
        shown = normalise_email(email)
    except SubscribersError:
        shown = email.strip()
    if not yes:
        click.confirm(f"Erase {shown} from the list, the send ledger and the outbox? This cannot be undone", abort=True)
    erasure = erase_address(app.config, shown)
    if erasure.row is None and not erasure.ledger_rows and not erasure.outbox_files:
        raise SubscribersError(f"{shown} is not on the list, in the send ledger or in the outbox; nothing erased")
    click.echo(
        f"erased {shown}: {'1 row' if erasure.row else 'no row'} in {app.config.subscribers.file.name}, "
        f"{erasure.ledger_rows} send-ledger rows, {erasure.outbox_files} outbox files"
    )


@subscribers_group.command("import")
@click.argument("file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Check and count, write nothing.")
@pass_app
def import_command(app: AppContext, file: Path, dry_run: bool) -> None:
    """Merge a CSV FILE into the list.

    FILE needs an `email` column; `name`, `status`, `subscribed_at` and `source` are used when
    present, other columns ignored (UTF-8 with or without BOM, CRLF or LF). Addresses are
    compared after normalisation, case-insensitively; duplicates merge into one row. An address
    that is unsubscribed or bounced stays so; an `unsubscribed` row in FILE wins over `active`
    ones. Rejected rows are printed as FILE:LINE: reason, then a summary counted by address.
    """
    report = import_subscribers(
        app.config.subscribers.file,
        file,
        app.now(),
        dry_run=dry_run,
        on_reject=lambda line, reason: click.echo(f"{file}:{line}: {reason}", err=True),
    )
    click.echo(report.summary)
    if dry_run:
        click.echo(f"dry run: {app.config.subscribers.file} not changed", err=True)


@subscribers_group.command("export")
@click.option("--status", "status", type=click.Choice(STATUS_CHOICES), default="all", show_default=True, help="Which rows to export.")
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False, allow_dash=True), default="-", show_default=True, help="Where to write ('-' for stdout).")
@pass_app
def export_command(app: AppContext, status: str, out: Path) -> None:
    """Export the list as CSV that is safe to open in a spreadsheet.

    Cells starting with =, +, -, @, tab or CR get a leading ' so they are not run as formulas
    (OWASP CSV injection); every cell is quoted. A file gets a UTF-8 BOM so spreadsheets read
    accents right. subscribers.csv itself keeps the values as entered.
    """
    source = app.config.subscribers.file
    if str(out) == "-":
        count = export_subscribers(source, sys.stdout, _statuses(status))
        click.echo(f"exported {count} subscribers", err=True)
    else:
        count = export_to_file(source, out, _statuses(status))
        click.echo(f"exported {count} subscribers to {out}", err=True)


@subscribers_group.command("sync", short_help="Mark those SendGrid suppresses as unsubscribed or bounced.")
@pass_app
def sync_command(app: AppContext) -> None:
    """Pull SendGrid's suppressions (unsubscribes, spam reports, bounces, invalid emails) and mark
    those subscribers unsubscribed or bounced. Needs SENDGRID_API_KEY."""
    from digest.suppressions import sync_suppressions  # httpx loads only for a sync

    report = sync_suppressions(app.config, app.now())
    for change in report.changes:
        click.echo(f"{change.email}: {change.before} -> {change.after} ({change.reason})")
    click.echo(report.summary)

