"""The README and --help document the whole outside surface, and the set-up is two commands."""

from __future__ import annotations

import re
from dataclasses import fields

import click
import pytest
from click.testing import CliRunner

from digest import config as config_module
from digest.cli import cli
from tests.conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")


def all_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []
    context = click.Context(group)
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        assert command is not None, name
        found.append((*prefix, name))
        if isinstance(command, click.Group):
            found.extend(all_commands(command, (*prefix, name)))
    return found


COMMANDS = all_commands(cli)


def test_the_interface_commands_exist() -> None:
    names = {" ".join(c) for c in COMMANDS}
    for expected in ("preview", "send", "run", "schedule", "status", "serve", "extract", "sources check",
                     "subscribers list", "subscribers add", "subscribers remove", "subscribers unsubscribe",
                     "subscribers import", "subscribers export", "subscribers sync"):
        assert expected in names


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c))
def test_every_command_has_help_and_is_in_the_readme(command: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
    assert f"digest {' '.join(command)}" in README, f"README does not mention `digest {' '.join(command)}`"


def test_every_option_is_in_the_readme() -> None:
    missing = []
    for command in COMMANDS:
        obj: click.Command | None = cli
        for name in command:
            assert isinstance(obj, click.Group)
            obj = obj.get_command(click.Context(obj), name)
        assert obj is not None
        for param in obj.params:
            if isinstance(param, click.Option):
                longest = max(param.opts, key=len)
                if longest != "--help" and longest not in README:
                    missing.append(f"{' '.join(command)} {longest}")
    assert not missing, f"options not documented in README: {missing}"


def test_every_config_key_is_in_the_readme() -> None:
    tables = {
        "newsletter": config_module.NewsletterConfig, "schedule": config_module.ScheduleConfig,
        "sources": config_module._SourceTable, "sections": config_module.SectionConfig,
        "delivery": config_module.DeliveryConfig, "subscribers": config_module.SubscribersConfig,
        "state": config_module.StateConfig, "gather": config_module.GatherConfig,
        "novelty": config_module.NoveltyConfig, "email": config_module.EmailConfig,
        "signup": config_module.SignupConfig, "serve": config_module.ServeConfig,
    }
    for table, cls in tables.items():
        assert f"[{table}]" in README or f"[[{table}]]" in README
        for field in fields(cls):
            assert re.search(rf"^\s*{field.name}\s*=", README, re.M), f"[{table}] {field.name} not documented in README"


def test_quick_start_is_exactly_make_demo_then_make_test() -> None:
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```[a-z]*\n(.*?)```", section, re.S)
    assert block is not None
    commands = [line.split("#")[0].strip() for line in block.group(1).splitlines() if line.split("#")[0].strip()]
    assert commands == ["make demo", "make test"]
    assert "make test" in (REPO / ".ci" / "run").read_text(encoding="utf-8")
