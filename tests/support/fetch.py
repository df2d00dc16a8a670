"""Fetching one page in a gather test, at a fixed time."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from digest.config import GatherConfig
from digest.errors import SourceError
from digest.gather import fetch_page

NOW = datetime(2025, 2, 27, 7, 0, tzinfo=UTC)


def clock() -> datetime:
    return NOW


def fetch_error(url: str, config: GatherConfig) -> str:
    """Why fetching `url` fails: the reason of the SourceError it raises, which names that URL."""
    with pytest.raises(SourceError) as caught:
        fetch_page(url, config, clock=clock)
    assert caught.value.url == url
    return caught.value.reason
