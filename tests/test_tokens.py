"""Unsubscribe tokens, through the public functions only: what a link carries and how long it works."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from digest.errors import ConfigError
from digest.tokens import InvalidTokenError, make_token, read_token, unsubscribe_url

SECRET = "test-secret-for-unsubscribe-links"
SENT_AT = datetime(2026, 11, 26, 7, 0, tzinfo=UTC).timestamp()
DAY = 24 * 3600


def test_a_token_reads_back_as_its_address_lowercased() -> None:
    token = make_token("Ann@Example.org", SECRET, clock=lambda: SENT_AT)
    assert read_token(token, SECRET, clock=lambda: SENT_AT) == "ann@example.org"


def test_a_link_works_for_400_days_to_the_second_then_expires() -> None:
    token = make_token("ann@example.org", SECRET, clock=lambda: SENT_AT)
    assert read_token(token, SECRET, clock=lambda: SENT_AT + 400 * DAY) == "ann@example.org"
    with pytest.raises(InvalidTokenError, match=r"^this unsubscribe link has expired$"):
        read_token(token, SECRET, clock=lambda: SENT_AT + 400 * DAY + 1)


@pytest.mark.parametrize(
    "mangle",
    [lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"), lambda t: t[: len(t) // 2], lambda t: "x" + t],
    ids=["tampered", "truncated", "prefixed"],
)
def test_a_changed_token_is_refused(mangle: object) -> None:
    token = make_token("ann@example.org", SECRET, clock=lambda: SENT_AT)
    assert callable(mangle)
    with pytest.raises(InvalidTokenError, match=r"^this unsubscribe link is not valid$"):
        read_token(mangle(token), SECRET, clock=lambda: SENT_AT)


def test_a_token_signed_with_another_secret_is_refused() -> None:
    token = make_token("ann@example.org", "another-secret", clock=lambda: SENT_AT)
    with pytest.raises(InvalidTokenError, match=r"^this unsubscribe link is not valid$"):
        read_token(token, SECRET, clock=lambda: SENT_AT)


def test_without_a_secret_nothing_is_signed_or_read() -> None:
    with pytest.raises(ConfigError, match=r"^DIGEST_SECRET is not set"):
        make_token("ann@example.org", None)
    with pytest.raises(ConfigError, match=r"^DIGEST_SECRET is not set"):
        read_token("anything", "")


def test_the_unsubscribe_url_carries_a_token_for_the_address() -> None:
    url = unsubscribe_url("https://news.example.org/brief/", "ann@example.org", SECRET, clock=lambda: SENT_AT)
    prefix = "https://news.example.org/brief/unsubscribe/"
    assert url.startswith(prefix) and "/" not in url[len(prefix):]
    assert read_token(url[len(prefix):], SECRET, clock=lambda: SENT_AT) == "ann@example.org"
    assert "ann@example.org" not in url


def test_a_signed_value_that_is_not_an_address_is_refused() -> None:
    token = make_token("not-an-address", SECRET, clock=lambda: SENT_AT)
    with pytest.raises(InvalidTokenError, match=r"^this unsubscribe link is not valid$"):
        read_token(token, SECRET, clock=lambda: SENT_AT)
