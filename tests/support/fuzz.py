"""Hypothesis strategies for the fuzz tests: hostile text, TOML values, CSV rows, HTML pages.

Every fuzz test runs a fixed, derandomized example budget (the `digest` profile registered in
tests/conftest.py, and `budget`), so CI sees the same cases on every run. A case that found a bug
is kept as an `@example` beside the test that found it.
"""

from __future__ import annotations

import datetime as dt
import os
import types
from pathlib import Path
from typing import Any, Union, get_args, get_origin

from hypothesis import strategies as st


def budget(examples: int) -> int:
    """A test's example count: fixed for CI, times $DIGEST_FUZZ_SCALE for a longer hunt (make fuzz)."""
    return examples * max(1, int(os.environ.get("DIGEST_FUZZ_SCALE", "1")))


# Characters that have broken headers, markup or parsers somewhere: line breaks of every kind,
# NUL and other C0/C1 controls, bidi overrides, XML non-characters, quotes and markup.
NASTY_CHARACTERS = (
    "\r", "\n", "\r\n", "\x00", "\x0b", "\x0c", "\x1b", "\x7f", "\x85", "\u2028", "\u2029", "\ufeff",
    "\u202e", "\u202d", "\u2066", "\u200f", "\ufffe", "\uffff", "\t", '"', "'", "<", ">", "&", ";", ",",
    ":", "=", "%", "%%", "{", "}", "\\", "@", " ", "é", "漢", "😀",
)
NASTY_STRINGS = (
    "", " ", "\r\nBcc: evil@example.com", "x\r\nX-Injected: 1", "\u202emoc.elpmaxe@evil",
    "<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "{{ 7*7 }}", "{name.__class__}",
    "%%name%%", "%%unsubscribe_url%%", "=cmd|' /C calc'!A0", "javascript:alert(1)", "../../etc/passwd",
    "A" * 10_240, "word " * 2_048,
)


def hostile_text(max_size: int = 60) -> st.SearchStrategy[str]:
    """Short text mixing ordinary letters with the characters above, or one of the strings above."""
    pieces = st.one_of(st.sampled_from(NASTY_CHARACTERS), st.text(max_size=8), st.sampled_from(("a", "Brief", "news")))
    return st.one_of(
        st.sampled_from(NASTY_STRINGS),
        st.lists(pieces, max_size=max_size // 4).map("".join),
        st.text(max_size=max_size),
    )


def toml_values(depth: int = 2) -> st.SearchStrategy[Any]:
    """Any value a TOML file can hold: scalars, dates and times, arrays and tables."""
    scalars = st.one_of(
        st.booleans(),
        st.integers(min_value=-(2**63), max_value=2**63 - 1),
        st.floats(allow_nan=True, allow_infinity=True),
        hostile_text(),
        st.datetimes(timezones=st.none() | st.just(dt.UTC)),
        st.dates(),
        st.times(),
    )
    if depth <= 0:
        return scalars
    inner = toml_values(depth - 1)
    return st.one_of(scalars, st.lists(inner, max_size=3), st.dictionaries(st.text(min_size=1, max_size=6), inner, max_size=3))


def values_for(hint: Any) -> st.SearchStrategy[Any]:
    """Values of the type a config key declares (often out of range), or of any other TOML type."""
    return st.one_of(_typed(hint), _typed(hint), toml_values())


def _typed(hint: Any) -> st.SearchStrategy[Any]:
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        return st.one_of(*(_typed(arg) for arg in get_args(hint) if arg is not type(None)), st.just(""))
    if origin is tuple:
        return st.lists(_typed(get_args(hint)[0]), max_size=4)
    if hint is bool:
        return st.booleans()
    if hint is int:
        return st.one_of(st.sampled_from((0, 1, -1, 2**31, 2**63 - 1, -(2**63))), st.integers(min_value=-1000, max_value=10**6))
    if hint is float:
        return st.one_of(
            st.sampled_from((0.0, -1.0, 0.001, 1e308, float("inf"), float("-inf"), float("nan"))),
            st.floats(min_value=-1000, max_value=10**6),
        )
    if hint in (str, Path):
        return hostile_text()
    raise TypeError(f"no strategy for config type {hint!r}: add one to tests/support/fuzz.py")


def csv_cells() -> st.SearchStrategy[str]:
    """A cell of a subscriber file: addresses good and bad, statuses, times, or hostile text."""
    addresses = st.sampled_from((
        "ann@example.org", "ANN@Example.ORG", " bob@example.org ", "bad-address", "@example.org", "a@b", "",
        "x@\u202eexample.org", "名前@example.org", "c@example.org\r\nBcc: d@example.org",
    ))
    statuses = st.sampled_from(("active", "unsubscribed", "bounced", "pending", "Active", " unsubscribed ", "deleted"))
    times = st.sampled_from(("2026-01-01T00:00:00+00:00", "2026-01-01", "2026-13-01T00:00:00", "yesterday", "", "2026-01-01T00:00:00"))
    return st.one_of(addresses, statuses, times, hostile_text(30))


def csv_rows(width: int) -> st.SearchStrategy[list[list[str]]]:
    """Rows of about `width` cells (sometimes fewer or more)."""
    row = st.lists(csv_cells(), min_size=max(0, width - 2), max_size=width + 2)
    return st.lists(row, max_size=8)


_TAGS = ("p", "div", "span", "h1", "h2", "h3", "ul", "li", "a", "article", "main", "section", "table", "td",
         "script", "style", "iframe", "nav", "aside", "footer", "title", "meta", "br", "img", "form", "svg")
_ATTRIBUTES = ("class", "id", "href", "src", "charset", "content", "property", "name", "onload", "style")
_ATTRIBUTE_VALUES = ("related", "article", "og:title", "og:site_name", "utf-8", "x-unknown-charset",
                     "javascript:alert(1)", "file:///etc/passwd", "http://127.0.0.1:1/", "//evil", "../a.html",
                     "mailto:a@b", "#top", "http://[::1", "http://a b/")
_TEXT = ("Related Sources", "See also", "Most read", "Comments", "The ceasefire talks resumed in Geneva on Monday.",
         "Defence spending rose to 2.5% of GDP, the ministry said.", "AI partnership", "&amp;", "&#0;", "&#x202e;",
         "&nbsp;", "]]>", "<!--", "-->", "<![CDATA[", "U.S.", "Dr.", "3.5", "“quoted”")
# Character references a parser turns into characters that raw bytes could not carry.
_REFERENCES = ("&#0;", "&#7;", "&#27;", "&#x1b;", "&#127;", "&#x85;", "&#xFFFE;", "&#xD800;", "&#x202E;", "&#x2066;", "&#xFEFF;")


_SENTENCES = (
    "The ceasefire talks in Geneva resumed on Monday with Ukrainian and Russian negotiators present.",
    "Defence spending will rise to 2.5% of GDP by 2027, the ministry said in its annual report.",
    "The new AI partnership will fund semiconductor research and a shared data centre in Manchester.",
)


def spliced_sentences() -> st.SearchStrategy[str]:
    """A sentence that would make a bullet, with hostile characters spliced in: it reaches the email."""
    return st.builds(
        lambda sentence, pieces, at: sentence[:at] + "".join(pieces) + sentence[at:],
        st.sampled_from(_SENTENCES),
        st.lists(st.sampled_from(NASTY_CHARACTERS + NASTY_STRINGS[:10] + _REFERENCES), min_size=1, max_size=3),
        st.integers(min_value=0, max_value=90),
    )


def html_documents() -> st.SearchStrategy[str]:
    """Random markup: nested tags with attributes and text, stray brackets and entities, half-closed tags."""
    text = st.one_of(st.sampled_from(_TEXT + _REFERENCES), hostile_text(40), spliced_sentences())
    attribute = st.tuples(st.sampled_from(_ATTRIBUTES), st.one_of(st.sampled_from(_ATTRIBUTE_VALUES), hostile_text(20)))

    def element(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.builds(
            _element, st.sampled_from(_TAGS), st.lists(attribute, max_size=3), st.lists(children, max_size=4), st.booleans()
        )

    body = st.recursive(text, element, max_leaves=25)
    return st.lists(body, max_size=6).map("".join)


def _element(tag: str, attributes: list[tuple[str, str]], children: list[str], close: bool) -> str:
    attrs = "".join(f' {name}="{value.replace(chr(34), "&quot;")}"' for name, value in attributes)
    return f"<{tag}{attrs}>{''.join(children)}" + (f"</{tag}>" if close else "")
