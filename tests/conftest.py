"""Shared test set-up: a clean environment for every test, golden-file updates."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.configuration import set_hypothesis_home_dir

pytest_plugins = ["tests.support.http", "tests.support.sendgrid_server"]

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"

_ENV_PREFIXES = ("DIGEST_", "SENDGRID_", "SMTP_", "DKIM_")

# Fuzz tests (tests/support/fuzz.py) run the same fixed examples on every run: no example database,
# and hypothesis's own cache goes to the temp folder, never into the checkout.
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "digest-hypothesis")
settings.register_profile(
    "digest",
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=False,
    suppress_health_check=(HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large),
)
settings.load_profile("digest")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", help="rewrite golden files from current output")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test sees the developer's own DIGEST_*, SENDGRID_*, SMTP_* or DKIM_* settings."""
    for name in list(os.environ):
        if name.startswith(_ENV_PREFIXES):
            monkeypatch.delenv(name)
    yield


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


def check_golden(path: Path, actual: str, update: bool) -> None:
    """Compare with a golden file, or rewrite it when --update-golden is given."""
    if update or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
    assert actual == path.read_text(encoding="utf-8"), f"output differs from {path}; rerun with --update-golden to review"
