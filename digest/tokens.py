"""Signed, opaque tokens for the links digest mails and serves: unsubscribe, sign-up confirmation, form.

A token names a subscriber by an opaque id, a keyed hash (HMAC-SHA256 with a key derived from
DIGEST_SECRET) of the normalised address, never by the address itself: proxy logs and browser
histories hold no addresses. `digest serve` maps the id back by hashing the addresses on the list
(digest.serve.lookup). Minting needs no list in memory: one HMAC for the id, one for the signature.

    unsubscribe  <id>.<time>.<signature>   valid 400 days   {base_url}/unsubscribe/TOKEN
    confirm      <id>.<time>.<signature>   valid 7 days     {base_url}/confirm/TOKEN
    form         <nonce>.<time>.<signature>                 hidden input of the sign-up form

Unsubscribe tokens mailed before ids (the address signed, readable as base64) keep working until
they expire; read_token returns their address as well as its id.
"""

from __future__ import annotations

import base64
import functools
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from digest.errors import ConfigError

# RFC 8058 asks that one-click links keep working well after the mail is sent; readers unsubscribe
# from old mails. 400 days covers a year of archived editions with margin.
TOKEN_MAX_AGE_SECONDS = 400 * 24 * 3600
CONFIRM_MAX_AGE_SECONDS = 7 * 24 * 3600
FORM_MAX_AGE_SECONDS = 2 * 3600  # a sign-up form older than this is refused (replayed bot posts)
ID_BYTES = 16

_LEGACY_SALT = "digest.unsubscribe.v1"
_UNSUBSCRIBE_SALT = "digest.unsubscribe.v2"
_CONFIRM_SALT = "digest.confirm.v1"
_FORM_SALT = "digest.form.v1"
_ID_KEY_LABEL = b"digest.subscriber-id.v1"


class InvalidTokenError(ValueError):
    """The token is tampered, malformed, signed with another secret, or expired."""

    def __init__(self, message: str, *, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


@dataclass(frozen=True, slots=True)
class TokenSubject:
    """Who a valid token was made for: an opaque subscriber id and, for tokens mailed before ids, the address."""

    subscriber_id: str
    address: str | None = None


def _secret(secret: str | None) -> str:
    if not secret:
        raise ConfigError("DIGEST_SECRET is not set: export a long random value (it signs unsubscribe links)")
    return secret


@functools.lru_cache(maxsize=8)
def _id_key(secret: str) -> bytes:
    """The key of the address hash: derived, so the id reveals nothing about the signing key."""
    return hmac.digest(secret.encode("utf-8"), _ID_KEY_LABEL, "sha256")


def subscriber_digest(email: str, secret: str | None) -> bytes:
    """The 16 bytes an address's id encodes: a keyed hash of it, compared case-insensitively.

    Raises ConfigError when the secret is missing.
    """
    return hmac.digest(_id_key(_secret(secret)), email.strip().lower().encode("utf-8"), "sha256")[:ID_BYTES]


def subscriber_id(email: str, secret: str | None) -> str:
    """The opaque id of an address: its digest as 22 URL-safe characters. Raises ConfigError without a secret."""
    return base64.urlsafe_b64encode(subscriber_digest(email, secret)).rstrip(b"=").decode("ascii")


def id_digest(identifier: str) -> bytes | None:
    """The digest an id encodes, or None when it is not one."""
    try:
        raw = base64.urlsafe_b64decode(identifier + "=" * (-len(identifier) % 4))
    except ValueError:
        return None
    return raw if len(raw) == ID_BYTES else None


@functools.lru_cache(maxsize=16)
def _signer(secret: str, salt: str, clock: Callable[[], float]) -> TimestampSigner:
    """One signer per (secret, purpose, clock): building it costs more than signing a token."""

    class ClockedSigner(TimestampSigner):
        def get_timestamp(self) -> int:  # itsdangerous' seam for "now", used to sign and to check age
            return int(clock())

    return ClockedSigner(secret, salt=salt)


@functools.lru_cache(maxsize=8)
def _legacy_serializer(secret: str, clock: Callable[[], float]) -> URLSafeTimedSerializer:
    class ClockedSigner(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(clock())

    return URLSafeTimedSerializer(secret, salt=_LEGACY_SALT, signer=ClockedSigner)


def _unsign(token: str, secret: str, salt: str, max_age: int, clock: Callable[[], float], what: str) -> str:
    try:
        return _signer(secret, salt, clock).unsign(token, max_age=max_age).decode("ascii")
    except SignatureExpired as exc:
        raise InvalidTokenError(f"this {what} link has expired", expired=True) from exc
    except (BadSignature, UnicodeDecodeError) as exc:
        raise InvalidTokenError(f"this {what} link is not valid") from exc


def make_token(email: str, secret: str | None, *, clock: Callable[[], float] = time.time) -> str:
    """The unsubscribe token of `email`: its opaque id, signed with the time. Raises ConfigError without a secret."""
    key = _secret(secret)
    return _signer(key, _UNSUBSCRIBE_SALT, clock).sign(subscriber_id(email, key)).decode("ascii")


def read_token(
    token: str,
    secret: str | None,
    *,
    max_age: int = TOKEN_MAX_AGE_SECONDS,
    clock: Callable[[], float] = time.time,
) -> TokenSubject:
    """Who an unsubscribe token was made for. Raises InvalidTokenError, or ConfigError without a secret."""
    key = _secret(secret)
    try:
        return TokenSubject(_signer(key, _UNSUBSCRIBE_SALT, clock).unsign(token, max_age=max_age).decode("ascii"))
    except SignatureExpired as exc:
        raise InvalidTokenError("this unsubscribe link has expired", expired=True) from exc
    except (BadSignature, UnicodeDecodeError):
        pass  # perhaps a token mailed before ids
    try:
        value = _legacy_serializer(key, clock).loads(token, max_age=max_age)
    except SignatureExpired as exc:
        raise InvalidTokenError("this unsubscribe link has expired", expired=True) from exc
    except BadSignature as exc:
        raise InvalidTokenError("this unsubscribe link is not valid") from exc
    if not isinstance(value, str) or "@" not in value:
        raise InvalidTokenError("this unsubscribe link is not valid")
    return TokenSubject(subscriber_id(value, key), value)


def unsubscribe_url(base_url: str, email: str, secret: str | None, *, clock: Callable[[], float] = time.time) -> str:
    return f"{base_url.rstrip('/')}/unsubscribe/{make_token(email, secret, clock=clock)}"


def make_confirm_token(email: str, secret: str | None, *, clock: Callable[[], float] = time.time) -> str:
    """The token of a sign-up confirmation link for `email`. Raises ConfigError without a secret."""
    key = _secret(secret)
    return _signer(key, _CONFIRM_SALT, clock).sign(subscriber_id(email, key)).decode("ascii")


def read_confirm_token(token: str, secret: str | None, *, clock: Callable[[], float] = time.time) -> str:
    """The subscriber id a confirmation token names, if it is at most 7 days old.

    Raises InvalidTokenError (with `expired` set when it is only too old), or ConfigError.
    """
    return _unsign(token, _secret(secret), _CONFIRM_SALT, CONFIRM_MAX_AGE_SECONDS, clock, "confirmation")


def make_form_token(secret: str | None, *, clock: Callable[[], float] = time.time) -> str:
    """A fresh token for the hidden input of the sign-up form. Raises ConfigError without a secret."""
    return _signer(_secret(secret), _FORM_SALT, clock).sign(secrets.token_urlsafe(9)).decode("ascii")


def check_form_token(token: str, secret: str | None, *, clock: Callable[[], float] = time.time) -> None:
    """Accept a form token this server issued less than two hours ago. Raises InvalidTokenError."""
    _unsign(token, _secret(secret), _FORM_SALT, FORM_MAX_AGE_SECONDS, clock, "form")
