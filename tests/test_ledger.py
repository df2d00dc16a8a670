"""The send ledger on a real SQLite file: counts that add up, crash recovery, runs, source health, erasure."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from digest import ledger as ledger_module
from digest.errors import StateError, SubscribersError
from digest.ledger import MIGRATIONS, RECOVERED_REASON, Ledger, erased_address, ledger_path
from digest.locks import send_lock
from digest.models import Batch
from tests.support.cli import REPO, StderrLines

NOW = datetime(2026, 11, 26, 7, 0, tzinfo=UTC)
LIST = ("alice@example.org", "Bob@Example.org", "carol@example.org", "dave@example.org")


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    with Ledger.open(tmp_path / "state") as opened:
        yield opened


def test_a_new_ledger_is_created_migrated_and_in_wal_mode(tmp_path: Path) -> None:
    with Ledger.open(tmp_path / "state"):
        pass
    with Ledger.open(tmp_path / "state"):  # opening again migrates nothing
        pass
    db = sqlite3.connect(ledger_path(tmp_path / "state"))
    assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


def test_a_ledger_from_a_newer_digest_is_refused_naming_the_file(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    db = sqlite3.connect(ledger_path(state))
    db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    db.close()
    with pytest.raises(StateError, match=r"ledger\.sqlite3: written by a newer digest.*upgrade digest"):
        Ledger.open(state)


def test_a_corrupt_ledger_is_a_state_error_naming_the_file(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    ledger_path(state).write_bytes(b"this is not a database" * 100)
    with pytest.raises(StateError, match=str(ledger_path(state))):
        Ledger.open(state)


def test_counts_add_up_to_the_list_through_a_whole_send(ledger: Ledger) -> None:
    assert ledger.add_pending("2026-11-26", LIST, NOW) == 4
    assert ledger.add_pending("2026-11-26", ["bob@example.org"], NOW) == 0  # addresses compare case-insensitively
    claim_first(ledger, "2026-11-26", 3, "batch-1")
    ledger.record_outcomes(
        "2026-11-26",
        [
            ("alice@example.org", "sent", "msg-1", None, False),
            ("bob@example.org", "failed", None, "550 no such user", True),
            ("carol@example.org", "unknown", None, "answer lost", False),
        ],
        NOW,
    )
    counts = ledger.counts("2026-11-26")
    assert counts == {"subscribers": 4, "sent": 1, "pending": 1, "failed": 1, "unknown": 1}
    assert counts["sent"] + counts["pending"] + counts["failed"] + counts["unknown"] == len(LIST)
    assert ledger.counts("2026-11-27") == {"subscribers": 0, "sent": 0, "pending": 0, "failed": 0, "unknown": 0}
    alice = ledger.deliveries("2026-11-26", statuses=("sent",))
    assert [(d.email, d.provider_id, d.batch, d.attempts) for d in alice] == [("alice@example.org", "msg-1", "batch-1", 1)]


def audience(*emails: str) -> list[tuple[str, str]]:
    return [(email, f"name of {email}") for email in emails]


def in_address_order(claim: Batch | None) -> list[tuple[str, str]]:
    """The recipients of a claim (which come in no particular order) in address order; [] for none."""
    return sorted(claim.recipients, key=lambda row: row[0].lower()) if claim else []


def claim_first(ledger: Ledger, edition: str, count: int, batch: str) -> list[tuple[str, str]]:
    """Claim the first `count` of LIST (in address order) as batch `batch`, as a send would."""
    ledger.load_audience(audience(*LIST))
    return in_address_order(ledger.claim_next(edition, batch, NOW, size=count))


def test_settled_addresses_are_never_sent_again_and_unknown_only_on_request(ledger: Ledger) -> None:
    ledger.add_pending("e", LIST, NOW)
    ledger.record_outcomes(
        "e",
        [
            ("alice@example.org", "sent", "m", None, False),
            ("bob@example.org", "failed", None, "550", True),
            ("carol@example.org", "unknown", None, "lost", False),
            ("dave@example.org", "failed", None, "451 try later", False),
        ],
        NOW,
    )
    assert ledger.load_audience(audience(*LIST, "erin@example.org")) == 5
    assert ledger.targets("e") == audience("dave@example.org", "erin@example.org")  # erin has no row yet
    assert ledger.count_targets("e") == 2
    assert ledger.targets("e", resend_unknown=True) == audience("carol@example.org", "dave@example.org", "erin@example.org")
    assert ledger.count_targets("e", resend_unknown=True) == 3


def test_the_audience_holds_each_address_once_and_is_walked_in_address_order(ledger: Ledger) -> None:
    rows = [("zoe@example.org", "Zoe"), ("Bob@Example.org", "Bob"), ("bob@example.org", "second Bob"), ("amy@example.org", "Amy")]
    assert ledger.load_audience(rows) == 3
    assert ledger.targets("e") == [("amy@example.org", "Amy"), ("Bob@Example.org", "Bob"), ("zoe@example.org", "Zoe")]
    assert ledger.plan("e") == 3
    assert ledger.load_audience(audience("new@example.org")) == 1  # a new audience replaces the old
    assert ledger.targets("e") == audience("new@example.org")


def test_the_first_row_of_an_address_wins_when_the_list_is_read_in_chunks(ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ledger_module, "AUDIENCE_CHUNK_ROWS", 2)  # each row pair is read while the one before is stored
    rows = [("zoe@example.org", "Zoe"), ("Bob@Example.org", "Bob"), ("amy@example.org", "Amy"), ("bob@example.org", "second Bob"),
            ("carl@example.org", "Carl")]
    assert ledger.load_audience(rows) == 4
    assert ledger.targets("e") == [("amy@example.org", "Amy"), ("Bob@Example.org", "Bob"), ("carl@example.org", "Carl"),
                                   ("zoe@example.org", "Zoe")]


def test_a_list_that_fails_while_it_is_read_raises_its_error_and_can_be_staged_again(ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ledger_module, "AUDIENCE_CHUNK_ROWS", 2)

    def malformed() -> Iterator[tuple[str, str]]:
        yield from audience("amy@example.org", "bob@example.org", "carl@example.org")
        raise SubscribersError("subscribers.csv:5: status must be one of ...")

    with pytest.raises(SubscribersError, match=r"subscribers\.csv:5"):
        ledger.load_audience(malformed())
    assert ledger.load_audience(audience("dan@example.org")) == 1
    assert ledger.targets("e") == audience("dan@example.org")


def claim_all(ledger: Ledger, edition: str, size: int, *, resend_unknown: bool = False) -> Iterator[tuple[str, list[tuple[str, str]]]]:
    """(batch id, batch) of each claim_next until none is left, as the send walks them."""
    after, number = "", 0
    while claim := ledger.claim_next(edition, f"b{number + 1}", NOW, after=after, size=size, resend_unknown=resend_unknown):
        number += 1
        yield f"b{number}", in_address_order(claim)
        after = claim.last


def test_a_batch_found_before_the_ledger_changed_under_it_is_not_claimed(ledger: Ledger) -> None:
    ledger.load_audience(audience(*LIST))
    ledger.plan("e")
    batch = ledger.next_batch("e", size=2)  # alice and Bob, found while requests are in flight
    assert batch is not None and (batch.first, batch.last, batch.new) == ("alice@example.org", "Bob@Example.org", 2)
    ledger.add_pending("e", ["bob@example.org"], NOW)  # then Bob is sent by something else than this send
    ledger.record_outcomes("e", [("bob@example.org", "sent", "m", None, False)], NOW)
    with pytest.raises(StateError, match="would claim 1 rows for 2 recipients"):
        ledger.claim("e", "b1", batch, NOW)
    assert {d.email: d.status for d in ledger.deliveries("e")} == {"bob@example.org": "sent"}  # nothing half claimed


def test_a_large_audience_is_planned_and_claimed_in_batches_in_address_order(ledger: Ledger) -> None:
    emails = [f"reader{i:05d}@example.org" for i in range(25_000)]
    assert ledger.load_audience(audience(*reversed(emails))) == len(emails)
    assert ledger.plan("e") == len(emails)
    assert ledger.counts("e") == {"subscribers": len(emails), "sent": 0, "pending": len(emails), "failed": 0, "unknown": 0}
    walked: list[str] = []
    for batch_id, batch in claim_all(ledger, "e", 1000):
        walked.extend(email for email, _ in batch)
        if batch_id == "b1":  # claimed, not yet recorded: still pending while the send runs, unknown if it died
            assert ledger.counts("e") | {"unknown": 0} == {
                "subscribers": len(emails), "sent": 0, "pending": len(emails) - 1000, "failed": 0, "unknown": 0,
            }
        ledger.record_outcomes("e", ((email, "sent", "m", None, False) for email, _ in batch), NOW, batch=batch_id)
    assert walked == emails
    assert ledger.counts("e") == {"subscribers": len(emails), "sent": len(emails), "pending": 0, "failed": 0, "unknown": 0}
    assert ledger.count_targets("e") == 0 == ledger.plan("e")


def prepared(ledger: Ledger, *, resend_unknown: bool = False) -> None:
    """An edition half settled, then a new audience staged and planned, as a send starts.

    The audience is alice, bob, carol, dave, erin, gina and hugo; frank left the list."""
    ledger.add_pending("e", [*LIST, "frank@example.org", "gina@example.org", "hugo@example.org"], NOW)
    ledger.record_outcomes("e", [
        ("alice@example.org", "sent", "m", None, False),
        ("bob@example.org", "failed", None, "550", True),
        ("carol@example.org", "unknown", None, "lost", False),
        ("dave@example.org", "failed", None, "451 try later", False),
        ("frank@example.org", "unknown", None, "lost", False),
        ("gina@example.org", "sent", "m", None, False),
    ], NOW)
    ledger.load_audience(audience(*LIST, "erin@example.org", "gina@example.org", "hugo@example.org"))
    ledger.drop_unsendable("e")


@pytest.mark.parametrize("resend_unknown", [False, True])
def test_claims_take_exactly_who_is_still_to_be_sent_around_those_settled(ledger: Ledger, resend_unknown: bool) -> None:
    prepared(ledger)
    wanted = ["carol@example.org"] * resend_unknown + ["dave@example.org", "erin@example.org", "hugo@example.org"]
    assert ledger.count_targets("e", resend_unknown=resend_unknown) == len(wanted)
    assert ledger.plan("e", resend_unknown=resend_unknown) == len(wanted)
    batches = list(claim_all(ledger, "e", 2, resend_unknown=resend_unknown))
    assert [email for _, batch in batches for email, _ in batch] == wanted
    assert batches[0][1][0] == (wanted[0], f"name of {wanted[0]}")
    in_flight = {d.email: (d.batch, d.attempts) for d in ledger.deliveries("e", statuses=("in_flight",))}
    assert in_flight == {email: (f"b{1 + i // 2}", 1) for i, email in enumerate(wanted)}
    # Frank is unknown and no longer on the list: never claimed, even when resending unknown ones.
    assert [d.status for d in ledger.deliveries("e") if d.email == "frank@example.org"] == ["unknown"]


def test_a_batch_is_recorded_in_full_whatever_mix_of_outcomes_came_back(ledger: Ledger) -> None:
    prepared(ledger)
    ledger.plan("e")
    [(batch_id, batch)] = claim_all(ledger, "e", 10)
    ledger.record_outcomes("e", [
        ("dave@example.org", "sent", "m2", None, False),
        ("erin@example.org", "failed", None, "550 no such user", True),
        ("hugo@example.org", "sent", "m2", None, False),
    ], NOW, batch=batch_id)
    statuses = {d.email: (d.status, d.provider_id) for d in ledger.deliveries("e")}
    assert {email: statuses[email] for email, _ in batch} == {
        "dave@example.org": ("sent", "m2"), "erin@example.org": ("failed", None), "hugo@example.org": ("sent", "m2"),
    }
    assert statuses["alice@example.org"] == ("sent", "m") and statuses["carol@example.org"] == ("unknown", None)
    assert claims_left(ledger) == 0  # settled with its batch: the next send's recovery has nothing to read


def claims_left(ledger: Ledger) -> int:
    """Batches the ledger still holds as in flight (what recovery at the next send reads)."""
    db = sqlite3.connect(ledger.path)
    try:
        return int(db.execute("SELECT COUNT(*) FROM claims").fetchone()[0])
    finally:
        db.close()


def test_a_batch_recorded_with_an_address_missing_changes_nothing(ledger: Ledger) -> None:
    prepared(ledger)
    ledger.plan("e")
    [(batch_id, _)] = claim_all(ledger, "e", 10)
    with pytest.raises(StateError, match="batch b1 has 2 rows in flight, 1 outcomes"):
        ledger.record_outcomes(
            "e", [("dave@example.org", "sent", "m2", None, False), ("hugo@example.org", "failed", None, "550", True)],
            NOW, batch=batch_id,
        )
    assert {d.email for d in ledger.deliveries("e", statuses=("in_flight",))} == {
        "dave@example.org", "erin@example.org", "hugo@example.org",
    }


def test_a_claim_never_takes_a_row_of_an_address_outside_the_audience(ledger: Ledger) -> None:
    ledger.add_pending("e", LIST, NOW)
    ledger.load_audience(audience("alice@example.org", "dave@example.org"))  # bob and carol wait, between them
    assert in_address_order(ledger.claim_next("e", "b1", NOW)) == audience("alice@example.org", "dave@example.org")
    assert {d.email: d.status for d in ledger.deliveries("e")} == {
        "alice@example.org": "in_flight", "Bob@Example.org": "pending", "carol@example.org": "pending", "dave@example.org": "in_flight",
    }


def test_those_planned_but_never_claimed_stay_pending_after_a_send_stops_or_dies(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with Ledger.open(state) as ledger:
        ledger.load_audience(audience(*LIST))
        assert ledger.plan("2026-11-27") == 4  # planned, then the process died before its first claim
        assert ledger.plan("2026-11-26") == 4
        batches = claim_all(ledger, "2026-11-26", 1)
        batch_id, batch = next(batches)
        ledger.record_outcomes("2026-11-26", [(batch[0][0], "sent", "m", None, False)], NOW, batch=batch_id)
        next(batches)  # claimed, then the process died
    with Ledger.open(state) as ledger:  # `digest status`, later
        assert ledger.edition_summaries() == [
            {"edition": "2026-11-27", "subscribers": 4, "sent": 0, "pending": 4, "failed": 0, "unknown": 0},
            {"edition": "2026-11-26", "subscribers": 4, "sent": 1, "pending": 2, "failed": 0, "unknown": 1},
        ]


def test_batches_left_in_flight_by_an_older_digest_are_still_recovered(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    db = sqlite3.connect(ledger_path(state), isolation_level=None)
    for statement in MIGRATIONS[0]:
        db.execute(statement)
    db.execute("PRAGMA user_version = 1")
    db.executemany(
        "INSERT INTO deliveries (edition, email, status, batch, updated_at) VALUES ('e', ?, ?, ?, '2026-11-26T07:00:00+00:00')",
        [("alice@example.org", "in_flight", "b1"), ("Bob@Example.org", "in_flight", "b1"),
         ("carol@example.org", "pending", None), ("dave@example.org", "in_flight", "b2")],
    )
    db.close()
    with Ledger.open(state) as ledger:
        assert ledger.recover_in_flight() == 3
        assert ledger.counts("e") == {"subscribers": 4, "sent": 0, "pending": 1, "failed": 0, "unknown": 3}


def test_rows_in_flight_of_a_process_that_died_count_as_unknown_and_are_recovered(tmp_path: Path) -> None:
    state = tmp_path / "state"
    # A real process claims a batch (and holds the send lock), then dies without recording it.
    script = f"""
import os, sys
from datetime import datetime, UTC
from pathlib import Path
from digest.ledger import Ledger
from digest.locks import send_lock
state = Path({str(state)!r})
with send_lock(state):
    ledger = Ledger.open(state)
    ledger.add_pending("e", {list(LIST)!r}, datetime.now(UTC))
    ledger.load_audience([(email, "") for email in {list(LIST)!r}])
    ledger.claim_next("e", "b1", datetime.now(UTC), size=2)
    os._exit(9)
"""
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 9, result.stderr
    with Ledger.open(state) as ledger:
        assert ledger.counts("e") == {"subscribers": 4, "sent": 0, "pending": 2, "failed": 0, "unknown": 2}
        assert ledger.has_sent("e")  # it may have reached someone: the edition is frozen
        assert ledger.recover_in_flight() == 2
        unknown = ledger.deliveries("e", statuses=("unknown",))
        assert {d.email for d in unknown} == {"alice@example.org", "Bob@Example.org"}
        assert {d.reason for d in unknown} == {RECOVERED_REASON}
        assert ledger.recover_in_flight() == 0
        assert claims_left(ledger) == 0


def test_in_flight_rows_of_the_running_send_count_as_pending(ledger: Ledger, tmp_path: Path) -> None:
    from digest.locks import send_lock

    ledger.add_pending("e", LIST, NOW)
    claim_first(ledger, "e", 2, "b1")
    with send_lock(tmp_path / "state"):
        assert ledger.counts("e")["pending"] == 4
    assert ledger.counts("e")["unknown"] == 2


def test_rows_of_addresses_no_longer_active_are_dropped_unless_they_are_history(ledger: Ledger) -> None:
    ledger.add_pending("e", LIST, NOW)
    ledger.record_outcomes(
        "e",
        [("alice@example.org", "sent", "m", None, False), ("bob@example.org", "failed", None, "451", False)],
        NOW,
    )
    ledger.load_audience(audience("carol@example.org"))
    assert ledger.drop_unsendable("e") == 2  # bob (temporary failure) and dave (pending)
    assert {d.email for d in ledger.deliveries("e")} == {"alice@example.org", "carol@example.org"}


def test_editions_are_summarised_newest_first_and_frozen_once_sent(ledger: Ledger) -> None:
    for day in ("2026-11-24", "2026-11-26", "2026-11-25"):
        ledger.add_pending(day, LIST[:2], NOW)
    ledger.record_outcomes("2026-11-25", [("alice@example.org", "sent", "m", None, False)], NOW)
    summaries = ledger.edition_summaries(limit=2)
    assert summaries == [
        {"edition": "2026-11-26", "subscribers": 2, "sent": 0, "pending": 2, "failed": 0, "unknown": 0},
        {"edition": "2026-11-25", "subscribers": 2, "sent": 1, "pending": 1, "failed": 0, "unknown": 0},
    ]
    assert ledger.has_sent("2026-11-25") and not ledger.has_sent("2026-11-26")
    assert ledger.last_sent_edition() == "2026-11-25"


def test_test_sends_are_logged_but_never_count(ledger: Ledger) -> None:
    ledger.record_test_send(NOW, "e", "me@example.org", "sent", "m", None)
    assert ledger.counts("e")["subscribers"] == 0
    assert not ledger.has_sent("e")
    assert ledger.edition_summaries() == []


def test_runs_are_logged_and_the_last_one_reported(ledger: Ledger) -> None:
    assert ledger.last_run() is None
    ledger.record_run(NOW, "2026-11-26", "sent")
    ledger.record_run(NOW + timedelta(days=1), None, "failed", "no source could be read")
    assert ledger.last_run() == {
        "at": "2026-11-27T07:00:00+00:00", "edition": None, "outcome": "failed", "reason": "no source could be read",
    }


def test_a_source_failing_run_after_run_is_reported_until_it_works_again(ledger: Ledger) -> None:
    url, other = "https://news.example.org/feed", "https://other.example.org/"
    ledger.record_source_results(NOW, [other], {url: "HTTP 503"})
    assert ledger.failing_sources() == []  # one failed run is not a pattern
    assert ledger.failing_sources(min_runs=1) == [{"url": url, "since": "2026-11-26", "runs": 1, "reason": "HTTP 503"}]
    ledger.record_source_results(NOW + timedelta(days=1), [], {url: "timed out", other: "HTTP 500"})
    ledger.record_source_results(NOW + timedelta(days=2), [other], {url: "timed out"})
    assert ledger.failing_sources() == [{"url": url, "since": "2026-11-26", "runs": 3, "reason": "timed out"}]
    ledger.record_source_results(NOW + timedelta(days=3), [url], {})
    assert ledger.failing_sources(min_runs=1) == []


def test_erasing_an_address_keeps_the_counts_and_leaves_no_trace_of_it(ledger: Ledger, tmp_path: Path) -> None:
    ledger.add_pending("e1", LIST, NOW)
    ledger.add_pending("e2", LIST, NOW)
    ledger.record_outcomes("e1", [("bob@example.org", "sent", "m", None, False)], NOW)
    ledger.record_test_send(NOW, "e1", "bob@example.org", "sent", "m", None)
    before = (ledger.counts("e1"), ledger.counts("e2"))
    assert ledger.forget_address("BOB@example.org") == 3
    assert (ledger.counts("e1"), ledger.counts("e2")) == before
    assert erased_address("bob@example.org") in {d.email for d in ledger.deliveries("e1")}
    assert erased_address("bob@example.org").startswith("erased:") and len(erased_address("x@y.z")) == len("erased:") + 16
    db = sqlite3.connect(ledger_path(tmp_path / "state"))
    rows = db.execute("SELECT email FROM deliveries UNION ALL SELECT email FROM test_sends").fetchall()
    db.close()
    assert not [r for r in rows if "bob" in r[0].lower()]


# -- found by `make mutation` ----------------------------------------------------------------------


def test_deliveries_lists_every_row_whatever_its_status_with_all_its_fields(ledger: Ledger) -> None:
    ledger.add_pending("2026-11-26", LIST, NOW)
    claim_first(ledger, "2026-11-26", 3, "b1")  # alice, Bob and carol
    later = NOW + timedelta(minutes=1)
    ledger.record_outcomes("2026-11-26", [
        ("alice@example.org", "sent", "msg-1", None, False),
        ("Bob@Example.org", "unknown", None, "answer lost", False),
    ], later)
    rows = {d.email: d for d in ledger.deliveries("2026-11-26")}
    assert {email: d.status for email, d in rows.items()} == {
        "alice@example.org": "sent", "Bob@Example.org": "unknown", "carol@example.org": "in_flight", "dave@example.org": "pending",
    }
    alice = rows["alice@example.org"]
    assert (alice.edition, alice.batch, alice.provider_id, alice.reason, alice.updated_at, alice.attempts) == (
        "2026-11-26", "b1", "msg-1", None, later, 1,
    )
    assert rows["Bob@Example.org"].reason == "answer lost"


def test_edition_summaries_are_the_ten_newest(ledger: Ledger) -> None:
    for day in range(1, 13):
        ledger.add_pending(f"2026-11-{day:02}", ["alice@example.org"], NOW)
    assert [s["edition"] for s in ledger.edition_summaries()] == [f"2026-11-{day:02}" for day in range(12, 2, -1)]


def test_in_flight_rows_count_as_pending_while_a_send_runs_and_unknown_after(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with Ledger.open(state) as ledger:
        ledger.add_pending("2026-11-26", LIST, NOW)
        claim_first(ledger, "2026-11-26", 2, "b1")  # alice and Bob
        assert ledger.edition_summaries()[0] | {"edition": "-"} == {
            "edition": "-", "subscribers": 4, "sent": 0, "pending": 2, "failed": 0, "unknown": 2,
        }
        with send_lock(state):
            assert ledger.edition_summaries()[0]["pending"] == 4
            assert ledger.edition_summaries()[0]["unknown"] == 0


def test_the_state_dir_is_created_with_its_parents(tmp_path: Path) -> None:
    with Ledger.open(tmp_path / "a" / "b" / "state") as opened:
        opened.add_pending("2026-11-26", ["alice@example.org"], NOW)
    assert (tmp_path / "a" / "b" / "state" / "ledger.sqlite3").is_file()


def test_a_state_dir_that_cannot_be_made_or_a_ledger_that_cannot_be_opened_is_named(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("", encoding="utf-8")
    with pytest.raises(StateError) as caught:
        Ledger.open(tmp_path / "file" / "state")
    assert str(caught.value) == f"{tmp_path / 'file' / 'state'}: cannot create state dir: Not a directory"
    (tmp_path / "state" / "ledger.sqlite3").mkdir(parents=True)
    with pytest.raises(StateError) as caught:
        Ledger.open(tmp_path / "state")
    assert str(caught.value) == f"{tmp_path / 'state' / 'ledger.sqlite3'}: cannot open the send ledger: unable to open database file"


def test_times_in_the_ledger_are_utc_whatever_the_local_time_zone(ledger: Ledger, local_time_new_york: None) -> None:
    ledger.record_run(NOW, "2026-11-26", "sent", "2 sent")
    assert ledger.last_run() == {"at": "2026-11-26T07:00:00+00:00", "edition": "2026-11-26", "outcome": "sent", "reason": "2 sent"}


def test_a_send_running_in_another_process_is_seen_and_left_alone(tmp_path: Path) -> None:
    state = tmp_path / "state"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys; from pathlib import Path; from digest.locks import send_lock\n"
         "with send_lock(Path(sys.argv[1])):\n    print('locked', flush=True); sys.stdin.read()",
         str(state)],
        cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    lines = StderrLines(holder, holder.stdout)
    try:
        lines.wait_for("locked")
        with Ledger.open(state) as opened:
            assert opened.send_running()
        assert holder.poll() is None  # asking did not signal it
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)
        lines.close()
    with Ledger.open(state) as opened:
        assert not opened.send_running()  # its pid is gone
