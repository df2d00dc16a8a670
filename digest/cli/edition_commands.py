"""`digest preview`, `digest extract` and `digest sources check`: build and look, never send."""

from __future__ import annotations

import functools
import http.server
import json
import sys
import webbrowser
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import click

from digest.atomic import write_atomic
from digest.cli import AppContext, cli, pass_app
from digest.config import Config
from digest.editions import EditionStore, get_edition
from digest.errors import NoSourcesError
from digest.history import read_history
from digest.ledger import Ledger
from digest.models import Edition
from digest.tokens import unsubscribe_url

PREVIEW_ADDRESS = "preview@example.org"
FORMATS = ("html", "text", "json", "eml")


def progress_printer() -> Callable[[str], None] | None:
    """One line per fetched page on a terminal; elsewhere the log lines say it."""
    if not sys.stderr.isatty():
        return None
    return lambda line: click.echo(click.style(f"  {line}", dim=True), err=True)


def load_or_build_edition(
    app: AppContext, ledger: Ledger, *, edition_id: str | None = None, rebuild: bool = False
) -> tuple[Edition, bool]:
    """Today's stored edition (or `edition_id`), built and stored first when there is none.

    Returns (edition, built now); says where a newly built edition is stored.
    """
    config = app.config
    store = EditionStore(config.state.dir)
    edition, built = get_edition(
        config,
        store,
        app.now(),
        edition_id=edition_id,
        rebuild=rebuild,
        must_exist=edition_id is not None and not rebuild,
        is_frozen=ledger.has_sent,
        on_progress=progress_printer(),
        history_of=lambda built_id: read_history(store, ledger.has_sent, built_id, config.novelty.window_days),
    )
    if built:
        click.echo(f"built edition {edition.id} ({store.folder(edition.id)})", err=True)
    return edition, built


def preview_document(edition: Edition, config: Config, fmt: str, now: datetime) -> bytes:
    """The edition as a reader would see it, addressed to the preview address."""
    # Each command loads the heavy stages it uses when it runs: `digest --help` imports every command module.
    from digest.deliver.base import Recipient
    from digest.deliver.message import personalise, wire_message

    if fmt == "json":
        return (json.dumps(edition.digest.to_json(), indent=2, ensure_ascii=False) + "\n").encode()
    if fmt == "eml":
        url = unsubscribe_url(config.newsletter.base_url, PREVIEW_ADDRESS, config.secrets.digest_secret)
        return wire_message(edition, Recipient(PREVIEW_ADDRESS, "Preview", url), config, now=now)
    url = f"{config.newsletter.base_url.rstrip('/')}/unsubscribe/preview"
    html_part, text_part = personalise(edition.email, Recipient(PREVIEW_ADDRESS, "", url))
    return (html_part if fmt == "html" else text_part).encode("utf-8")


@cli.command()
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="html", show_default=True, help="What to write.")
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False, allow_dash=True), help="Where to write ('-' for stdout). Default: ./preview.FORMAT")
@click.option("--rebuild", is_flag=True, help="Gather and build today's edition again (refused once it has been sent).")
@click.option("--edition", "edition_id", help="Show a stored edition instead of today's.")
@click.option("--open", "open_browser", is_flag=True, help="Open the written file in the default browser.")
@click.option("--serve", is_flag=True, help="Serve the preview on 127.0.0.1 until Ctrl-C.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="Port for --serve.")
@pass_app
def preview(app: AppContext, fmt: str, out: Path | None, rebuild: bool, edition_id: str | None, open_browser: bool, serve: bool, port: int) -> None:
    """Show today's edition, building and storing it if needed. Sends nothing.

    The stored edition is what `digest send` will send. Prints the path it wrote.
    """
    with Ledger.open(app.config.state.dir) as ledger:
        edition, built = load_or_build_edition(app, ledger, edition_id=edition_id, rebuild=rebuild)
    if not built:
        click.echo(f"using stored edition {edition.id} ({EditionStore(app.config.state.dir).folder(edition.id)})", err=True)
    document = preview_document(edition, app.config, fmt, app.now())
    if out is not None and str(out) == "-":
        sys.stdout.buffer.write(document)
        sys.stdout.flush()
        return
    target = (out or Path(f"preview.{fmt}")).resolve()
    write_atomic(target, document)
    click.echo(str(target))
    if open_browser:
        webbrowser.open(target.as_uri())
    if serve:
        serve_file(target, port)


def serve_file(path: Path, port: int) -> None:
    """Serve one file at / on 127.0.0.1 until Ctrl-C."""
    handler = functools.partial(_OneFileHandler, path)
    with http.server.ThreadingHTTPServer(("127.0.0.1", port), handler) as server:
        click.echo(f"serving {path.name} on http://127.0.0.1:{server.server_address[1]}/ (Ctrl-C to stop)", err=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            click.echo("stopped", err=True)


class _OneFileHandler(http.server.BaseHTTPRequestHandler):
    def __init__(self, path: Path, *args: object, **kwargs: object) -> None:
        self.path_to_serve = path
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def do_GET(self) -> None:
        body = self.path_to_serve.read_bytes()
        kind = {".html": "text/html", ".json": "application/json", ".eml": "message/rfc822"}.get(self.path_to_serve.suffix, "text/plain")
        self.send_response(200)
        self.send_header("Content-Type", f"{kind}; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@cli.command()
@click.argument("location")
@click.option("--format", "fmt", type=click.Choice(("json", "text")), default="json", show_default=True)
@pass_app
def extract(app: AppContext, location: str, fmt: str) -> None:
    """Show what extraction gets from one page (URL or FILE): title, text, date, author, related links."""
    from digest.extract import extract_article
    from digest.gather import fetch_page

    page = fetch_page(location if "://" in location else str(Path(location).resolve()), app.config.gather)
    article = extract_article(page)
    if fmt == "text":
        click.echo(f"{article.title}\n\n{article.text}")
        return
    data = {
        "title": article.title,
        "text": article.text,
        "date": article.date,
        "author": article.author,
        "url": article.url,
        "related": list(article.related),
    }
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


@cli.group()
def sources() -> None:
    """Configured sources."""


@sources.command("check")
@pass_app
def sources_check(app: AppContext) -> None:
    """Fetch every source (and its related links) and report status, size, time, links found.

    Exits 1 when no configured source could be fetched.
    """
    from digest.gather import check_sources

    checks = check_sources(app.config.sources, app.config.gather)
    rows = [("SOURCE", "STATUS", "HTTP", "BYTES", "TIME", "RELATED", "REASON")]
    for check in checks:
        rows.append((
            ("  ↳ " if check.via else "") + check.url,
            check.status,
            str(check.http_status or "-"),
            f"{check.bytes:,}",
            f"{check.seconds:.2f}s",
            str(check.related_found),
            check.reason or "",
        ))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    configured = [c for c in checks if not c.via]
    ok = sum(c.status == "ok" for c in configured)
    click.echo(f"{ok} of {len(configured)} sources ok")
    if configured and ok == 0:
        raise NoSourcesError("no configured source could be fetched")
