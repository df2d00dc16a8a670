"""The lock files: every dependency pyproject.toml names is pinned, with hashes, in the lock that installs it.

A dependency added to pyproject.toml without `make lock` fails here (and `pip check` in make), so a
fresh clone never installs something other than what was tested.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import REPO

PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
RUNTIME_LOCK = REPO / "requirements.txt"
TEST_LOCK = REPO / "requirements-test.txt"
# One pinned package: `name==version \` then one `--hash=sha256:...` line per file of that release.
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9_.-]*)==(\S+)((?:[ \t]*\\\n[ \t]+--hash=sha256:[0-9a-f]{64})+)", re.MULTILINE)


def pins(lock: Path) -> dict[str, str]:
    """Package name (canonical) -> pinned version. Fails on a line that is neither a pin nor a comment."""
    text = lock.read_text(encoding="utf-8")
    found = {canonicalize_name(name): version for name, version, _ in _PIN.findall(text)}
    stray = [
        line for line in _PIN.sub("", text).splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert not stray, f"{lock.name}: lines that are not a hashed pin: {stray[:3]}; run `make lock`"
    return found


def requirements(*groups: list[str]) -> list[Requirement]:
    wanted = [Requirement(line) for group in groups for line in group]
    return [r for r in wanted if r.marker is None or r.marker.evaluate({"extra": "test"})]


RUNTIME = requirements(PROJECT["project"]["dependencies"], PROJECT["build-system"]["requires"])
TEST = requirements(PROJECT["project"]["optional-dependencies"]["test"])


@pytest.mark.parametrize(("lock", "needed"), [(RUNTIME_LOCK, RUNTIME), (TEST_LOCK, RUNTIME + TEST)], ids=["runtime", "test"])
def test_every_dependency_is_pinned_within_its_range(lock: Path, needed: list[Requirement]) -> None:
    pinned = pins(lock)
    for requirement in needed:
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{requirement} (pyproject.toml) is not in {lock.name}: run `make lock`"
        assert requirement.specifier.contains(pinned[name], prereleases=True), (
            f"{lock.name} pins {name}=={pinned[name]}, outside {requirement}: run `make lock`"
        )


def test_the_runtime_lock_installs_what_the_tests_ran_with() -> None:
    runtime, test = pins(RUNTIME_LOCK), pins(TEST_LOCK)
    assert runtime, "requirements.txt pins nothing"
    differing = {name: (version, test.get(name)) for name, version in runtime.items() if test.get(name) != version}
    assert not differing, f"requirements.txt and requirements-test.txt disagree: {differing}; run `make lock`"


def test_make_and_the_image_install_from_the_locks_with_hashes() -> None:
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    assert "pip install --quiet --require-hashes --no-deps -r $(LOCK)" in makefile
    assert "pip install --quiet --require-hashes --no-deps -r $(TEST_LOCK)" in makefile
    assert re.search(r"^LOCK := requirements\.txt$", makefile, re.MULTILINE)
    assert re.search(r"^TEST_LOCK := requirements-test\.txt$", makefile, re.MULTILINE)
    dockerfile = (REPO / "Dockerfile").read_text(encoding="utf-8")
    assert "--require-hashes --no-deps -r requirements.txt" in dockerfile
