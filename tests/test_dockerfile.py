"""The Dockerfile, checked by reading it (no Docker engine here): hadolint, then what it promises.

Promises: a python:3.11-slim image that installs the locked packages and this repo's package, runs `digest schedule`
as a non-root user, keeps state in the /data volume and stops promptly on `docker stop`.
"""

from __future__ import annotations

import fnmatch
import json
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.conftest import REPO

DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"

Instruction = tuple[str, str]


def parse_dockerfile(text: str) -> list[Instruction]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    instructions: list[Instruction] = []
    pending = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        keyword, _, arguments = (pending + stripped).partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        pending = ""
    assert pending == "", "the Dockerfile ends inside a continuation line"
    return instructions


def exec_form(instruction: str, arguments: str) -> list[str]:
    try:
        value = json.loads(arguments)
    except json.JSONDecodeError:
        pytest.fail(f"{instruction} {arguments}: use the JSON (exec) form so signals reach digest")
    assert isinstance(value, list) and all(isinstance(part, str) for part in value)
    return value


def values_of(instructions: list[Instruction], keyword: str) -> list[str]:
    return [arguments for name, arguments in instructions if name == keyword]


def copy_sources(instructions: list[Instruction]) -> list[str]:
    sources: list[str] = []
    for name, arguments in instructions:
        if name not in ("COPY", "ADD"):
            continue
        parts = json.loads(arguments) if arguments.startswith("[") else shlex.split(arguments)
        paths = [part for part in parts if not part.startswith("--")]
        assert len(paths) >= 2, f"{name} {arguments}: needs a source and a destination"
        sources += [path.rstrip("/") for path in paths[:-1]]
    return sources


def is_ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule, closely enough for our patterns: the last matching pattern wins, parents count."""
    parents = [path, *(str(parent) for parent in Path(path).parents if str(parent) != ".")]
    ignored = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        cleaned = pattern.lstrip("!").strip("/")
        if any(fnmatch.fnmatchcase(candidate, cleaned) for candidate in parents):
            ignored = not negated
    return ignored


@pytest.fixture(scope="module")
def instructions() -> list[Instruction]:
    return parse_dockerfile(DOCKERFILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def ignore_patterns() -> list[str]:
    lines = DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def find_hadolint() -> str:
    beside_python = Path(sys.executable).parent / "hadolint"
    found = str(beside_python) if beside_python.is_file() else shutil.which("hadolint")
    assert found, "hadolint not found: install the test extras (.venv/bin/pip install -e '.[test]')"
    return found


def test_hadolint_finds_nothing(tmp_path: Path) -> None:
    # A bare environment and HOME keep a developer's own hadolint config and HADOLINT_* out of it.
    result = subprocess.run(
        [find_hadolint(), "--no-color", str(DOCKERFILE)],
        cwd=tmp_path,
        env={"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_image_builds_on_python_311_slim(instructions: list[Instruction]) -> None:
    assert values_of(instructions, "FROM") == ["python:3.11-slim"]


def test_every_copied_path_exists_and_reaches_the_build_context(
    instructions: list[Instruction], ignore_patterns: list[str]
) -> None:
    sources = copy_sources(instructions)
    assert sources
    for source in sources:
        assert (REPO / source).exists(), f"COPY {source}: no such file in the repo"
        assert not is_ignored(source, ignore_patterns), f"COPY {source}: excluded by .dockerignore"


def test_everything_the_wheel_builds_from_is_copied(instructions: list[Instruction]) -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    wheel = project["tool"]["hatch"]["build"]["targets"]["wheel"]
    needed = {"pyproject.toml", project["project"]["readme"], *wheel["packages"], *wheel["force-include"]}
    assert needed <= set(copy_sources(instructions))


def test_the_image_installs_exactly_the_locked_packages_then_digest_without_resolving(
    instructions: list[Instruction],
) -> None:
    """What `make demo` does: the lock with its hashes, then the package with nothing added."""
    assert "requirements.txt" in copy_sources(instructions)
    runs = values_of(instructions, "RUN")
    locked = [i for i, run in enumerate(runs) if "pip install --no-cache-dir --require-hashes --no-deps -r requirements.txt" in run]
    package = [i for i, run in enumerate(runs) if "pip install --no-cache-dir --no-deps --no-build-isolation ." in run]
    assert locked and package and locked[0] < package[0], runs
    assert "pip check" in runs[package[0]]
    assert all("pip install" not in run or "--no-deps" in run for run in runs), "a pip install that resolves on its own"


def test_local_state_and_subscriber_data_stay_out_of_the_image(ignore_patterns: list[str]) -> None:
    for path in (".git", ".venv", ".digest", "outbox", "subscribers.csv", "digest.toml", "digest/__pycache__"):
        assert is_ignored(path, ignore_patterns), f"{path} would be sent to the Docker build"
    assert not is_ignored("samples/digest.toml", ignore_patterns)


def test_runs_as_a_non_root_user_that_the_image_creates(instructions: list[Instruction]) -> None:
    names = [name for name, _ in instructions]
    users = values_of(instructions, "USER")
    assert users, "no USER: the container would run as root"
    assert names.index("USER") < names.index("CMD")
    user, _, group = users[-1].partition(":")
    assert user not in ("root", "0") and group not in ("root", "0")
    runs = " ".join(values_of(instructions, "RUN"))
    created = f"--uid {user}" if user.isdigit() else f" {user}"
    assert "useradd" in runs and created in runs, f"USER {users[-1]} is never created"


def test_default_command_is_digest_schedule(instructions: list[Instruction]) -> None:
    entrypoint = [exec_form("ENTRYPOINT", value) for value in values_of(instructions, "ENTRYPOINT")]
    cmd = [exec_form("CMD", value) for value in values_of(instructions, "CMD")]
    assert cmd, "no CMD"
    assert (entrypoint[-1] if entrypoint else []) + cmd[-1] == ["digest", "schedule"]


def test_state_lives_in_a_writable_data_volume(instructions: list[Instruction]) -> None:
    volumes = [path for value in values_of(instructions, "VOLUME") for path in exec_form("VOLUME", value)]
    assert volumes == ["/data"]
    # digest looks for ./digest.toml and keeps the sample's state beside it, so /data is the workdir.
    assert values_of(instructions, "WORKDIR")[-1] == "/data"
    names = [name for name, _ in instructions]
    chown = next(
        i for i, (name, value) in enumerate(instructions) if name == "RUN" and "chown" in value and "/data" in value
    )
    assert chown < names.index("VOLUME"), "changes to /data after VOLUME are discarded"


def test_logs_are_unbuffered_and_docker_stop_reaches_python(instructions: list[Instruction]) -> None:
    env = dict(pair.split("=", 1) for value in values_of(instructions, "ENV") for pair in shlex.split(value))
    assert env.get("PYTHONUNBUFFERED") == "1"
    # As PID 1 Python has no SIGTERM handler, so the kernel drops docker's default stop signal.
    assert values_of(instructions, "STOPSIGNAL") == ["SIGINT"]
