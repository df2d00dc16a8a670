"""Sign-up on the subscriber list: pending rows, confirmation, expiry, and what the CLI shows of them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from digest.errors import ConfigError, InvalidEmailError
from digest.models import Subscriber
from digest.run import remove_old_files
from digest.signup import confirm_signup, confirmation_notice, expire_pending, request_signup
from digest.subscribers import add_subscriber, read_subscribers, write_subscribers
from tests.support.cli import EDITION, invoke, load_test_config, store_edition, write_config

NOW = datetime(2026, 11, 26, 7, 0, tzinfo=UTC)
STAMP = "2026-11-26T07:00:00+00:00"
OLD = "2026-01-01T00:00:00+00:00"
OLD_FORMAT = "email,name,status,subscribed_at,unsubscribed_at,source\n"


def rows(path: Path) -> dict[str, Subscriber]:
    return {s.email: s for s in read_subscribers(path)}


@pytest.fixture
def listing(tmp_path: Path) -> Path:
    path = tmp_path / "subscribers.csv"
    write_subscribers(path, [
        Subscriber("active@example.org", "Ann", "active", OLD, "", "cli"),
        Subscriber("gone@example.org", "Gus", "unsubscribed", OLD, "2026-06-01T00:00:00+00:00", "cli"),
        Subscriber("bounced@example.org", "", "bounced", OLD, "", "cli"),
    ])
    return path


def test_a_new_address_is_stored_pending_with_source_form_and_time(listing: Path) -> None:
    change = request_signup(listing, " New@Example.ORG ", "  Nina\r\nBcc: x ", NOW)
    assert change.awaits_confirmation
    assert rows(listing)["New@example.org"] == Subscriber("New@example.org", "Nina Bcc: x", "pending", STAMP, "", "form", "")


def test_an_unsubscribed_address_becomes_pending_and_keeps_its_withdrawal_on_record(listing: Path) -> None:
    change = request_signup(listing, "gone@example.org", "", NOW)
    assert change.awaits_confirmation
    gone = rows(listing)["gone@example.org"]
    assert (gone.status, gone.subscribed_at, gone.unsubscribed_at, gone.source, gone.name) == (
        "pending", STAMP, "2026-06-01T00:00:00+00:00", "form", "Gus",
    )


@pytest.mark.parametrize("address", ["active@example.org", "bounced@example.org"])
def test_an_active_or_bounced_address_is_left_alone_even_its_name(listing: Path, address: str) -> None:
    before = listing.read_bytes()
    change = request_signup(listing, address.upper(), "Mallory", NOW)
    assert not change.awaits_confirmation
    assert listing.read_bytes() == before


def test_a_pending_address_asking_again_stays_pending_from_its_first_request(listing: Path) -> None:
    request_signup(listing, "new@example.org", "Nina", NOW)
    again = request_signup(listing, "new@example.org", "Other", NOW + timedelta(days=2))
    assert again.awaits_confirmation and again.before == again.after
    assert rows(listing)["new@example.org"].subscribed_at == STAMP


def test_an_invalid_address_is_refused_and_nothing_written(listing: Path) -> None:
    before = listing.read_bytes()
    with pytest.raises(InvalidEmailError, match="not a valid email address"):
        request_signup(listing, "not-an-address", "", NOW)
    assert listing.read_bytes() == before


def test_confirming_makes_a_pending_address_active_with_confirmed_at(listing: Path) -> None:
    request_signup(listing, "gone@example.org", "", NOW)
    change = confirm_signup(listing, "GONE@example.org", NOW + timedelta(hours=1))
    gone = rows(listing)["gone@example.org"]
    assert change.after == gone
    assert (gone.status, gone.confirmed_at, gone.unsubscribed_at, gone.source) == ("active", "2026-11-26T08:00:00+00:00", "", "form")


@pytest.mark.parametrize("address", ["gone@example.org", "bounced@example.org", "stranger@example.org"])
def test_confirming_never_activates_a_row_that_is_not_pending(listing: Path, address: str) -> None:
    before = listing.read_bytes()
    change = confirm_signup(listing, address, NOW)
    assert change.after is None or change.after.status != "active"
    assert listing.read_bytes() == before


def test_unconfirmed_sign_ups_expire_after_30_days_and_withdrawals_stay(listing: Path) -> None:
    request_signup(listing, "new@example.org", "", NOW)
    request_signup(listing, "gone@example.org", "", NOW)
    request_signup(listing, "later@example.org", "", NOW + timedelta(days=5))

    assert expire_pending(listing, NOW + timedelta(days=29)) == 0
    assert expire_pending(listing, NOW + timedelta(days=31)) == 2

    after = rows(listing)
    assert "new@example.org" not in after
    assert (after["gone@example.org"].status, after["gone@example.org"].unsubscribed_at) == ("unsubscribed", "2026-06-01T00:00:00+00:00")
    assert after["later@example.org"].status == "pending"
    assert after["active@example.org"].status == "active"


def test_a_run_s_housekeeping_expires_old_sign_ups(tmp_path: Path) -> None:
    config = load_test_config(write_config(tmp_path))
    request_signup(config.subscribers.file, "new@example.org", "", NOW)
    remove_old_files(config, NOW + timedelta(days=31))
    assert read_subscribers(config.subscribers.file) == ()


def test_a_list_without_confirmed_at_loads_and_is_rewritten_with_it(tmp_path: Path) -> None:
    path = tmp_path / "subscribers.csv"
    path.write_text(OLD_FORMAT + f"ann@example.org,Ann,active,{OLD},,cli\n", encoding="utf-8")
    assert read_subscribers(path) == (Subscriber("ann@example.org", "Ann", "active", OLD, "", "cli", ""),)
    request_signup(path, "new@example.org", "", NOW)
    assert path.read_text(encoding="utf-8").splitlines() == [
        "email,name,status,subscribed_at,unsubscribed_at,source,confirmed_at",
        f"ann@example.org,Ann,active,{OLD},,cli,",
        f"new@example.org,,pending,{STAMP},,form,",
    ]


def test_the_operator_adding_a_pending_address_activates_it(listing: Path) -> None:
    request_signup(listing, "new@example.org", "", NOW)
    before, after = add_subscriber(listing, "new@example.org", NOW, source="phone call")
    assert before is not None and before.status == "pending"
    assert (after.status, after.source) == ("active", "phone call")


def test_pending_rows_are_listed_counted_and_never_sent_an_edition(tmp_path: Path) -> None:
    config_path = write_config(tmp_path)
    config = load_test_config(config_path)
    write_subscribers(config.subscribers.file, [Subscriber("ann@example.org", "Ann", "active", OLD, "", "cli")])
    request_signup(config.subscribers.file, "new@example.org", "", NOW)
    store_edition(config)

    listed = invoke(config_path, "subscribers", "list", "--status", "pending", "--format", "csv")
    assert listed.stdout.splitlines()[1:] == [f"new@example.org,,pending,{STAMP},,form,"]
    status = invoke(config_path, "status", "--format", "json")
    assert json.loads(status.stdout)["subscribers"] == {"active": 1, "unsubscribed": 0, "bounced": 0, "pending": 1}
    assert "1 active, 1 pending (sign-ups not yet confirmed)" in invoke(config_path, "status").stdout

    sent = invoke(config_path, "send", "--yes")
    assert sent.exit_code == 0, sent.stderr
    assert sorted(p.name for p in (tmp_path / "outbox" / EDITION).glob("*.eml")) == ["ann_at_example.org.eml"]


def test_the_confirmation_message_holds_the_link_and_nothing_the_visitor_typed(tmp_path: Path) -> None:
    config = load_test_config(write_config(tmp_path))
    notice = confirmation_notice(config, "new@example.org", "https://news.example.org/confirm/TOKEN", "https://news.example.org/")
    assert (notice.kind, notice.to, notice.subject) == ("signup", "new@example.org", "Confirm your subscription to The Transatlantic Brief")
    assert "https://news.example.org/confirm/TOKEN" in notice.text
    assert notice.html is not None and 'href="https://news.example.org/confirm/TOKEN"' in notice.html
    assert "once a day, at 07:00 (Europe/London time)" in notice.text


@pytest.mark.parametrize(
    ("table", "line", "message"),
    [
        ("signup", 'confirm_subject = "Confirm {newsletter}"', "[signup] confirm_subject: only {name} may be used"),
        ("serve", "rate_limit_per_minute = 0", "[serve] rate_limit_per_minute: must be at least 1, got 0"),
        ("serve", "max_request_bytes = 100", "[serve] max_request_bytes: must be at least 1024, got 100"),
        ("serve", 'trust_proxy = "yes"', "[serve] trust_proxy: expected true or false, got str 'yes'"),
    ],
)
def test_bad_signup_and_serve_settings_name_the_file_line_and_key(tmp_path: Path, table: str, line: str, message: str) -> None:
    config_path = write_config(tmp_path)
    text = config_path.read_text(encoding="utf-8") + f"\n[{table}]\n{line}\n"
    config_path.write_text(text, encoding="utf-8")
    number = text.splitlines().index(line) + 1
    with pytest.raises(ConfigError) as caught:
        load_test_config(config_path)
    assert str(caught.value) == f"{config_path}:{number}: {message}"
