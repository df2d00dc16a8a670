"""Shared test set-up: a clean environment for every test, golden files, and a checkout no test writes to."""

from __future__ import annotations

import os
import tempfile
import time
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
    parser.addoption("--update-golden", action="store_true", help="rewrite golden files from current output (or UPDATE_GOLDEN=1)")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test sees the developer's own DIGEST_*, SENDGRID_*, SMTP_* or DKIM_* settings."""
    for name in list(os.environ):
        if name.startswith(_ENV_PREFIXES):
            monkeypatch.delenv(name)
    yield


@pytest.fixture
def local_time_new_york() -> Iterator[None]:
    """The process's local time zone is New York (times in the list must still be UTC)."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "America/New_York"
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = before
        time.tzset()


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    """True only when asked: `pytest --update-golden` or `UPDATE_GOLDEN=1 pytest`."""
    return bool(request.config.getoption("--update-golden")) or os.environ.get("UPDATE_GOLDEN") == "1"


def check_golden(path: Path, actual: str, update: bool) -> None:
    """Compare with a golden file. A missing golden fails; only `update` (an explicit request) writes it."""
    if update:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
        return
    if not path.exists():
        pytest.fail(f"golden file {path} is missing: create it with UPDATE_GOLDEN=1 and review the diff before committing")
    expected = path.read_text(encoding="utf-8")
    assert actual == expected, f"output differs from {path}; if the change is intended, rerun with UPDATE_GOLDEN=1 and review the diff"


# Folders the tooling itself writes (caches, the venv, mutmut's copy); everything else in the
# checkout must be the same after the suite as before it.
_NOT_THE_CHECKOUT = {".git", ".venv", ".pytest_cache", ".mypy_cache", ".ruff_cache", "__pycache__", "mutants", ".bench"}


def checkout_snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under `root` but tool caches, with its size and modification time."""
    snapshot: dict[str, tuple[int, int]] = {}
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = [name for name in subfolders if name not in _NOT_THE_CHECKOUT]
        for name in files:
            path = Path(folder) / name
            try:
                stat = path.lstat()
            except FileNotFoundError:
                continue
            snapshot[str(path.relative_to(root))] = (stat.st_size, stat.st_mtime_ns)
    return snapshot


@pytest.fixture(scope="session", autouse=True)
def checkout_untouched() -> Iterator[None]:
    """Tests write only under tmp_path: fail the run when a file in the checkout appeared, changed or went."""
    if "MUTANT_UNDER_TEST" in os.environ:  # `make mutation` runs in its own copy, which mutmut writes to meanwhile
        yield
        return
    before = checkout_snapshot(REPO)
    yield
    after = checkout_snapshot(REPO)
    changed = sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))
    assert not changed, f"tests wrote into the checkout {REPO}: {changed[:20]}"
