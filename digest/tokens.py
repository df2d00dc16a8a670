"""Signed unsubscribe tokens: `{base_url}/unsubscribe/{token}` carries the address, signed with DIGEST_SECRET."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from digest.errors import ConfigError

# RFC 8058 asks that one-click links keep working well after the mail is sent; readers unsubscribe
# from old mails. 400 days covers a year of archived editions with margin.
TOKEN_MAX_AGE_SECONDS = 400 * 24 * 3600
_SALT = "digest.unsubscribe.v1"


class InvalidTokenError(ValueError):
    """The token is tampered, malformed, signed with another secret, or expired."""


def _serializer(secret: str | None, clock: Callable[[], float]) -> URLSafeTimedSerializer:
    if not secret:
        raise ConfigError("DIGEST_SECRET is not set: export a long random value (it signs unsubscribe links)")
    return _cached_serializer(secret, clock)


@functools.lru_cache(maxsize=8)
def _cached_serializer(secret: str, clock: Callable[[], float]) -> URLSafeTimedSerializer:
    """One serializer per (secret, clock): building it costs more than signing a token."""

    class ClockedSigner(TimestampSigner):
        def get_timestamp(self) -> int:  # itsdangerous' seam for "now", used to sign and to check age
            return int(clock())

    return URLSafeTimedSerializer(secret, salt=_SALT, signer=ClockedSigner)


def make_token(email: str, secret: str | None, *, clock: Callable[[], float] = time.time) -> str:
    """A URL-safe token for `email`. Raises ConfigError when the secret is missing."""
    return _serializer(secret, clock).dumps(email.lower())


def read_token(
    token: str,
    secret: str | None,
    *,
    max_age: int = TOKEN_MAX_AGE_SECONDS,
    clock: Callable[[], float] = time.time,
) -> str:
    """The address a token was made for. Raises InvalidTokenError, or ConfigError without a secret."""
    serializer = _serializer(secret, clock)
    try:
        value = serializer.loads(token, max_age=max_age)
    except SignatureExpired as exc:
        raise InvalidTokenError("this unsubscribe link has expired") from exc
    except BadSignature as exc:
        raise InvalidTokenError("this unsubscribe link is not valid") from exc
    if not isinstance(value, str) or "@" not in value:
        raise InvalidTokenError("this unsubscribe link is not valid")
    return value


def unsubscribe_url(base_url: str, email: str, secret: str | None, *, clock: Callable[[], float] = time.time) -> str:
    return f"{base_url.rstrip('/')}/unsubscribe/{make_token(email, secret, clock=clock)}"
