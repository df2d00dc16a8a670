"""Stored editions: built once, read back byte for byte, frozen once sent."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from digest.editions import EditionStore, build_edition, edition_id_for, get_edition
from digest.errors import EditionError, NoSourcesError, StateError
from tests.support.cli import load_test_config, store_edition, write_config

NOW = datetime(2026, 11, 26, 8, tzinfo=UTC)


def test_edition_id_is_the_date_in_the_newsletter_time_zone() -> None:
    late_evening_utc = datetime(2026, 11, 26, 23, 30, tzinfo=UTC)
    assert edition_id_for(late_evening_utc, "Europe/London") == "2026-11-26"
    assert edition_id_for(late_evening_utc, "Asia/Tokyo") == "2026-11-27"
    assert edition_id_for(late_evening_utc, "America/Los_Angeles") == "2026-11-26"


def test_a_stored_edition_reads_back_identically(tmp_path: Path) -> None:
    config = load_test_config(write_config(tmp_path))
    edition = store_edition(config)
    loaded = EditionStore(config.state.dir).load(edition.id)
    assert loaded == edition
    assert EditionStore(config.state.dir).ids() == [edition.id]


def test_stored_edition_is_used_and_a_frozen_one_is_not_rebuilt(tmp_path: Path) -> None:
    config = load_test_config(write_config(tmp_path))
    stored = store_edition(config)
    store = EditionStore(config.state.dir)
    now = datetime(2026, 11, 26, 8, tzinfo=UTC)
    edition, built = get_edition(config, store, now)
    assert (edition, built) == (stored, False)
    with pytest.raises(EditionError, match="edition 2026-11-26 has been sent to subscribers and is frozen; --rebuild refused"):
        get_edition(config, store, now, rebuild=True, is_frozen=lambda _id: True)
    rebuilt, built = get_edition(config, store, now, rebuild=True)
    assert built and rebuilt.digest.sections != stored.digest.sections  # gathered from the sample pages
    assert store.load("2026-11-26") == rebuilt


def test_a_named_edition_must_be_stored(tmp_path: Path) -> None:
    config = load_test_config(write_config(tmp_path))
    store_edition(config)
    with pytest.raises(EditionError, match=r"edition 2026-01-01 is not stored .* \(stored: 2026-11-26\)"):
        get_edition(config, EditionStore(config.state.dir), datetime.now(UTC), edition_id="2026-01-01", must_exist=True)
    with pytest.raises(EditionError, match="not a valid edition id"):
        EditionStore(config.state.dir).load("../../etc")
    with pytest.raises(EditionError, match=r"^edition 2026-01-01 is not stored in .* \(build it with `digest preview`\)$"):
        EditionStore(config.state.dir).load("2026-01-01")


def test_housekeeping_removes_editions_older_than_the_cutoff(tmp_path: Path) -> None:
    config = load_test_config(write_config(tmp_path))
    for edition_id in ("2026-08-01", "2026-11-01", "2026-11-26"):
        store_edition(config, edition_id=edition_id)
    store = EditionStore(config.state.dir)
    assert store.remove_older_than("2026-09-01") == ["2026-08-01"]
    assert store.ids() == ["2026-11-26", "2026-11-01"]


def test_an_unreadable_stored_edition_names_the_fix(tmp_path: Path) -> None:
    config = load_test_config(write_config(tmp_path))
    store_edition(config)
    (config.state.dir / "editions" / "2026-11-26" / "digest.json").write_text("{", encoding="utf-8")
    with pytest.raises(EditionError, match=r"stored edition is unreadable .*digest preview --rebuild"):
        EditionStore(config.state.dir).load("2026-11-26")


def test_a_page_without_article_text_is_listed_as_a_failed_source_and_the_rest_is_built(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    empty = tmp_path / "empty.html"
    empty.write_text("<html><body><nav><a href='/'>Home</a></nav></body></html>", encoding="utf-8")
    path = write_config(tmp_path)
    with path.open("a", encoding="utf-8") as toml:
        toml.write(f'\n[[sources]]\nurl = "{empty}"\nfollow_related = false\n')
    config = load_test_config(path)
    edition = build_edition(config, "2026-11-26", NOW)
    url = empty.as_uri()
    assert {"url": url, "title": url, "status": "error", "reason": "no readable article text"} in edition.digest.to_json()["sources"]
    assert f"skipping {url}: {url}: no readable article text found" in caplog.text
    assert edition.digest.sections  # the readable sample pages still make the edition


def test_when_no_page_has_article_text_nothing_is_built_and_each_is_named(tmp_path: Path) -> None:
    empty, blank = tmp_path / "empty.html", tmp_path / "blank.html"
    for page in (empty, blank):
        page.write_text("<html><body><nav><a href='/'>Home</a></nav></body></html>", encoding="utf-8")
    path = write_config(tmp_path, source=empty)
    with path.open("a", encoding="utf-8") as toml:
        toml.write(f'\n[[sources]]\nurl = "{blank}"\n')
    config = load_test_config(path)
    with pytest.raises(NoSourcesError) as caught:
        get_edition(config, EditionStore(config.state.dir), NOW)
    assert str(caught.value) == (
        f"no source could be read: {empty.as_uri()}: no readable article text; {blank.as_uri()}: no readable article text"
    )
    assert EditionStore(config.state.dir).ids() == []


def test_only_complete_editions_are_listed(tmp_path: Path) -> None:
    config = load_test_config(write_config(tmp_path))
    store_edition(config, edition_id="2026-11-26")
    root = config.state.dir / "editions"
    (root / ".2026-11-27.new").mkdir()  # a save that was interrupted
    (root / ".2026-11-27.new" / "meta.json").write_text("{}", encoding="utf-8")
    (root / "2026-11-25").mkdir()  # a folder without its meta.json
    (root / "notes.txt").write_text("not an edition", encoding="utf-8")
    assert EditionStore(config.state.dir).ids() == ["2026-11-26"]


def test_saving_again_replaces_the_edition_and_leaves_no_leftovers(tmp_path: Path) -> None:
    config = load_test_config(write_config(tmp_path))
    root = config.state.dir / "editions"
    store_edition(config)
    for leftover in (".2026-11-26.old", ".2026-11-26.new"):  # left by a save that died part way
        (root / leftover).mkdir()
        (root / leftover / "meta.json").write_text("{}", encoding="utf-8")
    second = store_edition(config)
    assert sorted(p.name for p in root.iterdir()) == ["2026-11-26"]
    assert EditionStore(config.state.dir).load("2026-11-26") == second


def test_an_edition_that_cannot_be_stored_names_the_folder_and_the_reason(tmp_path: Path) -> None:
    config = load_test_config(write_config(tmp_path))
    config.state.dir.mkdir()
    (config.state.dir / "editions").write_text("a file where the folder should be", encoding="utf-8")
    with pytest.raises(StateError) as caught:
        store_edition(config)
    assert str(caught.value) == f"{config.state.dir / 'editions' / '2026-11-26'}: cannot store edition: Not a directory"


def test_a_named_edition_that_is_not_stored_lists_the_five_newest_that_are(tmp_path: Path) -> None:
    config = load_test_config(write_config(tmp_path))
    store = EditionStore(config.state.dir)
    with pytest.raises(EditionError, match=r"\(stored: none\)$"):
        get_edition(config, store, NOW, edition_id="2026-01-01", must_exist=True)
    for day in range(20, 26):
        store_edition(config, edition_id=f"2026-11-{day}")
    with pytest.raises(EditionError, match=r"\(stored: 2026-11-25, 2026-11-24, 2026-11-23, 2026-11-22, 2026-11-21\)$"):
        get_edition(config, store, NOW, edition_id="2026-01-01", must_exist=True)


def test_building_reports_each_page_as_it_is_fetched(tmp_path: Path) -> None:
    config = load_test_config(write_config(tmp_path))
    lines: list[str] = []
    get_edition(config, EditionStore(config.state.dir), NOW, on_progress=lines.append)
    assert any(line.startswith("fetched ") and "starmer-white-house.html" in line for line in lines)
    assert len(lines) == 3  # the page and its two related pages
