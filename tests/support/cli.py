"""Run the real `digest` command line: in-process (click's CliRunner) or as a separate process.

Also writes a throwaway digest.toml (state, outbox and subscribers.csv inside the folder given)
whose one source is the bundled sample page, so building an edition needs no network.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

REPO = Path(__file__).resolve().parents[2]
SAMPLE_PAGE = REPO / "samples" / "pages" / "starmer-white-house.html"
NOW = "2026-11-26T08:00:00+00:00"  # edition 2026-11-26 in Europe/London
EDITION = "2026-11-26"
SECRET = "test-secret-for-unsubscribe-links"
_CLEARED_PREFIXES = ("DIGEST_", "SENDGRID_", "SMTP_", "DKIM_")


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_config(
    folder: Path,
    *,
    postal_address: str | None = "The Transatlantic Brief, 1 Example Street, London EC1A 1AA",
    delivery: Mapping[str, Any] | None = None,
    newsletter: Mapping[str, Any] | None = None,
    source: Path | str = SAMPLE_PAGE,
) -> Path:
    """Write `folder/digest.toml` and return its path. `delivery`/`newsletter` add or override keys."""
    news: dict[str, Any] = {
        "name": "The Transatlantic Brief",
        "from_email": "brief@example.org",
        "from_name": "The Transatlantic Brief",
        "reply_to": "editor@example.org",
        "base_url": "https://news.example.org",
        "timezone": "Europe/London",
    }
    if postal_address is not None:
        news["postal_address"] = postal_address
    news.update(newsletter or {})
    deliver: dict[str, Any] = {"transport": "outbox", "outbox_dir": "outbox"}
    deliver.update(delivery or {})
    lines = ["[newsletter]", *(f"{k} = {_toml_value(v)}" for k, v in news.items())]
    lines += ["", "[[sources]]", f"url = {_toml_value(source)}", "follow_related = true"]
    lines += ["", "[delivery]", *(f"{k} = {_toml_value(v)}" for k, v in deliver.items())]
    lines += ["", "[subscribers]", 'file = "subscribers.csv"', "", "[state]", 'dir = "state"', ""]
    path = folder / "digest.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def write_subscribers(folder: Path, rows: Sequence[tuple[str, str] | tuple[str, str, str]]) -> Path:
    """Write `folder/subscribers.csv` from (email, name[, status]) rows."""
    path = folder / "subscribers.csv"
    lines = ["email,name,status,subscribed_at,unsubscribed_at,source"]
    for row in rows:
        email, name = row[0], row[1]
        status = row[2] if len(row) > 2 else "active"
        lines.append(f"{email},{name},{status},2026-01-01T00:00:00+00:00,,test")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def cli_env(**extra: str) -> dict[str, str]:
    """Environment for a CLI run: the test clock and secret, plus `extra`."""
    return {"DIGEST_NOW": NOW, "DIGEST_SECRET": SECRET, **extra}


def invoke(config: Path, *args: str, env: Mapping[str, str] | None = None, input: str | None = None) -> Result:
    """Run `digest --config CONFIG ARGS...` in this process and return click's Result (stdout, stderr, exit_code)."""
    from digest.cli import cli

    return CliRunner().invoke(
        cli, ["--config", str(config), *args], env=dict(cli_env() if env is None else env), input=input, catch_exceptions=False
    )


def digest_command() -> list[str]:
    """How to start the real `digest` executable: the venv's script when installed, else `python -m digest`."""
    script = Path(sys.executable).parent / "digest"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "digest"]


def process_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """This environment without the developer's digest settings, the repo importable, plus `env`."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(_CLEARED_PREFIXES)}
    base["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), base.get("PYTHONPATH", "")]))
    base.update(cli_env() if env is None else env)
    return base


def start_digest(config: Path, *args: str, env: Mapping[str, str] | None = None, **popen: Any) -> subprocess.Popen[str]:
    """Start `digest --config CONFIG ARGS...` as its own process (stdout and stderr piped, text)."""
    return subprocess.Popen(
        [*digest_command(), "--config", str(config), *args],
        env=process_env(env),
        cwd=config.parent,
        stdout=popen.pop("stdout", subprocess.PIPE),
        stderr=popen.pop("stderr", subprocess.PIPE),
        text=True,
        **popen,
    )


def run_digest(config: Path, *args: str, env: Mapping[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run `digest --config CONFIG ARGS...` as its own process to the end."""
    return subprocess.run(
        [*digest_command(), "--config", str(config), *args],
        env=process_env(env),
        cwd=config.parent,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def load_test_config(config: Path, **env: str) -> Any:
    """The Config the CLI would load from `config`, with the test secret and `env`."""
    from digest.config import load_config

    return load_config(config, env={"DIGEST_SECRET": SECRET, **env})


def store_edition(config: Any, *, edition_id: str = EDITION) -> Any:
    """Render tests/fixtures/render/digest.json with `config` and store it as edition `edition_id`
    (fast: no gathering). Returns the Edition."""
    import json
    from dataclasses import replace

    from digest.editions import EditionStore
    from digest.models import Digest, Edition
    from digest.render import render_email

    data = json.loads((REPO / "tests" / "fixtures" / "render" / "digest.json").read_text(encoding="utf-8"))
    digest = replace(Digest.from_json(data), edition=edition_id)
    edition = Edition(id=edition_id, digest=digest, email=render_email(digest, config.newsletter, config.email), built_at=digest.generated_at)
    EditionStore(config.state.dir).save(edition)
    return edition
