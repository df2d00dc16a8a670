"""The `digest` command line: the only module that prints or exits.

Each command group lives in its own module below and registers itself on `cli`.
"""

from __future__ import annotations

import importlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import click

from digest import __version__
from digest.config import Config, Secrets, load_config
from digest.errors import ConfigError, DigestError

log = logging.getLogger("digest")


@dataclass
class AppContext:
    """What every command gets: the config (loaded once, on first use) and the clock."""

    config_path: Path | None
    debug: bool
    _config: Config | None = field(default=None, repr=False)

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(self.config_path)
        return self._config

    def now(self) -> datetime:
        """Now, in UTC. $DIGEST_NOW (ISO 8601) pins it: for tests and for rebuilding a past day."""
        pinned = os.environ.get("DIGEST_NOW")
        if not pinned:
            return datetime.now(UTC)
        try:
            value = datetime.fromisoformat(pinned)
        except ValueError:
            raise ConfigError(f"DIGEST_NOW: expected an ISO 8601 time like 2026-11-26T07:00:00+00:00, got {pinned!r}") from None
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)


# Each command lives in the module named here and registers itself on `cli` when imported.
# Importing only the module a command needs keeps `digest subscribers add` from loading
# trafilatura and the whole pipeline (about 0.7 s a process).
COMMAND_MODULES = {
    "preview": "edition_commands",
    "extract": "edition_commands",
    "sources": "edition_commands",
    "send": "send_commands",
    "status": "send_commands",
    "run": "schedule_commands",
    "schedule": "schedule_commands",
    "subscribers": "subscriber_commands",
    "serve": "serve_commands",
}


class DigestGroup(click.Group):
    """Loads command modules on first use, and turns a DigestError into `error: <message>` on
    stderr and its exit code (--debug re-raises)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self.commands) | set(COMMAND_MODULES))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMAND_MODULES:
            importlib.import_module(f"digest.cli.{COMMAND_MODULES[cmd_name]}")
        return self.commands.get(cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DigestError as exc:
            app = ctx.obj if isinstance(ctx.obj, AppContext) else None
            if app is not None and app.debug:
                raise
            click.echo(f"error: {exc}", err=True)
            ctx.exit(exc.exit_code)


class RedactingFormatter(logging.Formatter):
    """Timestamped plain lines with every secret value masked: a library's debug line (-vv) may
    print a request's headers, which carry the API key."""

    def __init__(self, secrets: tuple[str, ...]) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%S%z")
        self._secrets = secrets

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        for secret in self._secrets:
            line = line.replace(secret, "***")
        return line


def _secret_values(env: Mapping[str, str]) -> tuple[str, ...]:
    secrets = Secrets.from_env(env)
    values = (secrets.sendgrid_api_key, secrets.smtp_password, secrets.digest_secret, secrets.dkim_private_key)
    # Longest first, so a secret that contains another is masked whole.
    return tuple(sorted({v for v in values if v and len(v) >= 4}, key=len, reverse=True))


def setup_logging(verbose: int, quiet: bool) -> None:
    """Plain timestamped lines on stderr; a terminal gets progress bars instead of per-step lines.

    Default: digest's info lines. -q: warnings and errors only. -v: digest's debug lines too.
    -vv: the libraries' debug lines as well.
    """
    level = logging.WARNING if quiet else logging.DEBUG if verbose else logging.INFO
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter(_secret_values(os.environ)))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose > 1 and not quiet else logging.WARNING)
    logging.getLogger("digest").setLevel(level)


@click.group(cls=DigestGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Config file. Default: $DIGEST_CONFIG, then ./digest.toml, then the bundled sample config.",
)
@click.option("-v", "--verbose", count=True, help="More log lines: -v adds digest's debug lines, -vv the libraries' too.")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors.")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.version_option(__version__, prog_name="digest")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None, verbose: int, quiet: bool, debug: bool) -> None:
    """Build a sectioned news digest from web pages and feeds, and mail it to your subscribers.

    Typical day: `digest preview` to look at today's edition, `digest send` to mail it,
    or `digest schedule` to do both every day at [schedule] time.
    Exit codes: 0 ok, 1 error, 2 usage error, 3 send finished with recipients not sent.
    """
    setup_logging(verbose, quiet)
    ctx.obj = AppContext(config_path=config_path, debug=debug)


pass_app = click.make_pass_decorator(AppContext)


@contextmanager
def stop_on_signals(stop: threading.Event, stopping: str) -> Iterator[None]:
    """While inside, SIGINT/SIGTERM set `stop` and say `stopping`; a second signal interrupts at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def request_stop(name: str) -> None:
        stop.set()
        click.echo(f"\n{name}: {stopping} (again to interrupt at once)", err=True)

    def handle(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        # Set from another thread: the code interrupted may be inside `stop.wait()`, holding its lock.
        threading.Thread(target=request_stop, args=(signal.Signals(signum).name,), daemon=True).start()

    previous = {signum: signal.signal(signum, handle) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def main() -> None:
    cli(prog_name="digest")
