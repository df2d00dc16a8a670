"""Tokens in links: opaque (no address, not even encoded), signed, and expiring when they should."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime

import pytest

from digest.errors import ConfigError
from digest.tokens import (
    InvalidTokenError,
    check_form_token,
    make_confirm_token,
    make_form_token,
    make_token,
    read_confirm_token,
    read_token,
    subscriber_id,
)
from tests.support.cli import SECRET

SENT_AT = datetime(2026, 11, 26, 7, 0, tzinfo=UTC).timestamp()
DAY = 24 * 3600
# What the previous release mailed for Ann@example.org at SENT_AT with SECRET: the address, signed
# but readable. Such links must keep working until they expire.
MAILED_BEFORE_IDS = "ImFubkBleGFtcGxlLm9yZyI.awfY8A.BVjK7EHs0p4oSFkWb3wpNsRSKvM"


def at(moment: float) -> dict[str, object]:
    return {"clock": lambda: moment}


def decoded_parts(token: str) -> list[bytes]:
    """Every dot-separated part of a token, base64-decoded where it decodes."""
    parts = []
    for part in token.split("."):
        try:
            parts.append(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
        except (binascii.Error, ValueError):
            parts.append(part.encode())
    return parts


@pytest.mark.parametrize("mint", [make_token, make_confirm_token], ids=["unsubscribe", "confirm"])
def test_a_token_carries_no_address_in_any_form(mint: object) -> None:
    token = mint("Ann.Example@example.org", SECRET, **at(SENT_AT))  # type: ignore[operator]
    assert "ann" not in token.lower()
    assert all(b"ann" not in part.lower() and b"example" not in part.lower() for part in decoded_parts(token))
    assert b"ann@example.org" in decoded_parts(MAILED_BEFORE_IDS)[0]  # what this test catches: the old tokens' leak


def test_unsubscribe_token_names_the_subscriber_id_whatever_the_case() -> None:
    token = make_token("Ann@Example.org", SECRET, **at(SENT_AT))
    subject = read_token(token, SECRET, **at(SENT_AT + 399 * DAY))
    assert subject.subscriber_id == subscriber_id("ann@example.org", SECRET)
    assert subject.address is None
    assert subscriber_id("ann@example.org", SECRET) != subscriber_id("bob@example.org", SECRET)
    assert subscriber_id("ann@example.org", SECRET) != subscriber_id("ann@example.org", "another-secret")


def test_unsubscribe_token_expires_after_400_days() -> None:
    token = make_token("ann@example.org", SECRET, **at(SENT_AT))
    with pytest.raises(InvalidTokenError, match="expired") as caught:
        read_token(token, SECRET, **at(SENT_AT + 401 * DAY))
    assert caught.value.expired


def test_tokens_mailed_before_ids_keep_working_until_they_expire() -> None:
    subject = read_token(MAILED_BEFORE_IDS, SECRET, **at(SENT_AT + 399 * DAY))
    assert subject.address == "ann@example.org"
    assert subject.subscriber_id == subscriber_id("ann@example.org", SECRET)
    with pytest.raises(InvalidTokenError, match="expired"):
        read_token(MAILED_BEFORE_IDS, SECRET, **at(SENT_AT + 401 * DAY))


@pytest.mark.parametrize(
    "token",
    [
        make_token("ann@example.org", SECRET, clock=lambda: SENT_AT)[:-2] + "xx",
        make_token("ann@example.org", "another-secret", clock=lambda: SENT_AT),
        MAILED_BEFORE_IDS[:-2] + "xx",
        make_confirm_token("ann@example.org", SECRET, clock=lambda: SENT_AT),  # another purpose
        "not-a-token",
        "",
    ],
    ids=["tampered", "other-secret", "tampered-old", "confirm-token", "garbage", "empty"],
)
def test_a_bad_unsubscribe_token_is_refused(token: str) -> None:
    with pytest.raises(InvalidTokenError) as caught:
        read_token(token, SECRET, **at(SENT_AT))
    assert not caught.value.expired


def test_confirmation_token_lasts_7_days_and_is_not_an_unsubscribe_token() -> None:
    token = make_confirm_token("ann@example.org", SECRET, **at(SENT_AT))
    assert read_confirm_token(token, SECRET, **at(SENT_AT + 7 * DAY - 60)) == subscriber_id("ann@example.org", SECRET)
    with pytest.raises(InvalidTokenError) as caught:
        read_confirm_token(token, SECRET, **at(SENT_AT + 7 * DAY + 60))
    assert caught.value.expired
    with pytest.raises(InvalidTokenError):
        read_confirm_token(make_token("ann@example.org", SECRET, **at(SENT_AT)), SECRET, **at(SENT_AT))


def test_form_token_expires_after_two_hours_and_cannot_be_forged() -> None:
    token = make_form_token(SECRET, **at(SENT_AT))
    assert token != make_form_token(SECRET, **at(SENT_AT))  # a fresh nonce each time
    check_form_token(token, SECRET, **at(SENT_AT + 2 * 3600 - 1))
    with pytest.raises(InvalidTokenError):
        check_form_token(token, SECRET, **at(SENT_AT + 2 * 3600 + 1))
    with pytest.raises(InvalidTokenError):
        check_form_token(make_form_token("another-secret", **at(SENT_AT)), SECRET, **at(SENT_AT))


def test_no_secret_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"^DIGEST_SECRET is not set"):
        make_token("ann@example.org", None)
    with pytest.raises(ConfigError, match=r"^DIGEST_SECRET is not set"):
        subscriber_id("ann@example.org", "")
