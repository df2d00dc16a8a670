"""The one error tree of digest; the CLI turns each into ``error: <message>`` and its exit code.

DigestError (exit 1)
├── ConfigError            bad or missing digest.toml, key, type or environment variable
├── SourceError            one source could not be fetched or read (a warning during gather)
├── NoSourcesError         every source failed: nothing to build
├── ExtractError           a page held no readable text
├── RenderError            the template or MJML failed
├── EditionError           an edition is missing, frozen, empty (send), or its files are unreadable
├── SubscribersError       subscribers.csv (or an imported file) is malformed or cannot be written
│   └── InvalidEmailError  one address failed validation
├── StateError             the state dir (ledger, job store, locks) cannot be read or written
│   └── LockedError        another process holds the send or schedule lock
└── DeliveryError          a transport refused or could not be set up
    └── ProviderRejectedError  the provider refused a request for good (e.g. SendGrid 4xx)

Messages are one line naming the file, line, key or address, and what to do.
"""

from __future__ import annotations


class DigestError(Exception):
    """Base of every error digest reports to a user."""

    exit_code: int = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(DigestError):
    """The configuration is missing, malformed, or names a bad value."""


class SourceError(DigestError):
    """One source could not be fetched or read."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason


class NoSourcesError(DigestError):
    """Every configured source failed, so there is nothing to build."""


class ExtractError(DigestError):
    """A page held no readable article text."""


class RenderError(DigestError):
    """The email template could not be rendered."""


class EditionError(DigestError):
    """A stored edition is missing, frozen or unreadable."""


class SubscribersError(DigestError):
    """The subscriber list or an imported file is malformed or cannot be written."""


class InvalidEmailError(SubscribersError):
    """An email address failed validation."""


class StateError(DigestError):
    """A state file (ledger, job store, lock) cannot be read or written."""


class LockedError(StateError):
    """Another process holds a lock we need."""


class DeliveryError(DigestError):
    """A transport could not be set up or refused to send."""


class ProviderRejectedError(DeliveryError):
    """The provider refused a request for good; retrying the same request will not help."""
