"""Golden files never write themselves, and the checkout guard sees what a test writes there."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import check_golden, checkout_snapshot


def test_a_missing_golden_fails_and_is_not_created(tmp_path: Path) -> None:
    golden = tmp_path / "render" / "email.html"
    with pytest.raises(pytest.fail.Exception, match="is missing: create it with UPDATE_GOLDEN=1"):
        check_golden(golden, "<p>new output</p>", update=False)
    assert not golden.exists()


def test_a_changed_output_fails_and_leaves_the_golden_as_it_was(tmp_path: Path) -> None:
    golden = tmp_path / "email.txt"
    golden.write_text("old\n", encoding="utf-8")
    with pytest.raises(AssertionError, match="rerun with UPDATE_GOLDEN=1"):
        check_golden(golden, "new\n", update=False)
    assert golden.read_text(encoding="utf-8") == "old\n"
    check_golden(golden, "old\n", update=False)


def test_only_an_explicit_update_writes_the_golden(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    golden = tmp_path / "new" / "digest.json"
    monkeypatch.setenv("UPDATE_GOLDEN", "1")
    assert request.getfixturevalue("update_golden") is True
    check_golden(golden, "{}\n", update=True)
    assert golden.read_text(encoding="utf-8") == "{}\n"


def test_the_checkout_snapshot_sees_a_new_or_changed_file_but_not_caches(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("a", encoding="utf-8")
    before = checkout_snapshot(tmp_path)
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "x.pyc").write_bytes(b"")
    assert checkout_snapshot(tmp_path) == before
    (tmp_path / "preview.html").write_text("<p>", encoding="utf-8")
    assert set(checkout_snapshot(tmp_path)) - set(before) == {"preview.html"}
