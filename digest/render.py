"""Digest -> Email: Jinja2 fills the MJML and text templates, MJML turns the first into HTML.

Pure: the only I/O is reading the templates. The result still holds the per-recipient
placeholders (models.NAME_PLACEHOLDER, models.UNSUBSCRIBE_URL_PLACEHOLDER); delivery replaces
them, so MJML runs once per edition, never per recipient.
"""

from __future__ import annotations

import functools
import logging
import re
import textwrap
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import jinja2
from mjml import mjml2html

from digest.config import NewsletterConfig, bundled_dir
from digest.errors import RenderError
from digest.models import (
    NAME_PLACEHOLDER,
    UNSUBSCRIBE_URL_PLACEHOLDER,
    Bullet,
    Digest,
    Email,
    Section,
    SourceRef,
    SourceReport,
    safe_text,
)

logger = logging.getLogger(__name__)

HTML_TEMPLATE = "email.mjml.j2"
TEXT_TEMPLATE = "email.txt.j2"
TEXT_WIDTH = 78
PREHEADER_LENGTH = 110

_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)
# Two or more percent signs in a row are what every placeholder marker starts and ends with.
_MARKER_RUN = re.compile(r"%{2,}")
# Only web links go into an href: no javascript:, data:, or file: (useless in a mailbox).
_WEB_URL = re.compile(r"https?://[^\s/?#\\]+\S*", re.IGNORECASE)


def neutralise_placeholders(text: str) -> str:
    """Untrusted text with every run of '%' shortened to one, so it can never hold a placeholder,
    and without the characters that break MJML or turn a line around (models.UNSAFE_CHARACTERS)."""
    return _MARKER_RUN.sub("%", safe_text(text))


def human_date(edition: str) -> str:
    """An edition id (YYYY-MM-DD) as readers see it: '26 November 2026'. Raises RenderError."""
    try:
        day = date.fromisoformat(edition)
    except ValueError:
        raise RenderError(f"edition id {edition!r} is not a YYYY-MM-DD date; rebuild the edition") from None
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


def subject_for(newsletter: NewsletterConfig, digest: Digest) -> str:
    """The subject line from [newsletter] subject, e.g. 'The Transatlantic Brief: 26 November 2026'."""
    return newsletter.subject.format(name=newsletter.name, date=human_date(digest.edition))


def render_email(digest: Digest, newsletter: NewsletterConfig, *, templates_dir: Path | None = None) -> Email:
    """Render an edition's HTML and text parts with placeholders left in. Raises RenderError."""
    templates_dir = bundled_dir("templates") if templates_dir is None else templates_dir
    environment = _environment(templates_dir)
    safe_digest = _neutralised(digest)
    subject = subject_for(newsletter, digest)
    preheader = _preheader(safe_digest, newsletter)
    context: dict[str, Any] = {
        "digest": safe_digest,
        "newsletter": newsletter,
        "subject": subject,
        "preheader": preheader,
        "edition_date": human_date(digest.edition),
        "name_placeholder": NAME_PLACEHOLDER,
        "unsubscribe_url": UNSUBSCRIBE_URL_PLACEHOLDER,
    }
    mjml_text = _fill(environment, templates_dir, HTML_TEMPLATE, context)
    text = _fill(environment, templates_dir, TEXT_TEMPLATE, context)
    try:
        html = mjml2html(mjml_text, fonts={}, disable_comments=True)
    except ValueError as exc:
        raise RenderError(f"{templates_dir / HTML_TEMPLATE}: MJML could not render it: {exc}") from exc
    logger.debug("rendered edition %s: %d bytes of HTML, %d of text", digest.edition, len(html), len(text))
    return Email(edition=digest.edition, subject=subject, preheader=preheader, html=html, text=text)


def _fill(environment: jinja2.Environment, templates_dir: Path, name: str, context: dict[str, Any]) -> str:
    try:
        return environment.get_template(name).render(context)
    except jinja2.TemplateNotFound:
        raise RenderError(f"{templates_dir / name}: template not found; reinstall digest or fix the templates folder") from None
    except jinja2.TemplateSyntaxError as exc:
        raise RenderError(f"{templates_dir / name}:{exc.lineno}: template syntax error: {exc.message}") from exc
    except jinja2.TemplateError as exc:
        raise RenderError(f"{templates_dir / name}: template failed: {exc}") from exc


@functools.lru_cache(maxsize=8)
def _environment(templates_dir: Path) -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates_dir),
        autoescape=jinja2.select_autoescape(enabled_extensions=("mjml.j2",), default=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters["wrap"] = _wrap
    environment.tests["web_url"] = _is_web_url
    return environment


def _is_web_url(url: str) -> bool:
    return _WEB_URL.fullmatch(url) is not None


def _wrap(text: str, first: str = "", rest: str = "") -> str:
    """Fill text to TEXT_WIDTH columns; URLs and other long words are never broken."""
    return textwrap.fill(
        " ".join(text.split()),
        width=TEXT_WIDTH,
        initial_indent=first,
        subsequent_indent=rest,
        break_long_words=False,
        break_on_hyphens=False,
    )


def _neutralised(digest: Digest) -> Digest:
    clean = neutralise_placeholders
    return replace(
        digest,
        title=clean(digest.title),
        sections=tuple(
            Section(
                title=clean(section.title),
                bullets=tuple(
                    Bullet(clean(b.text), _neutralised_ref(b.source), tuple(_neutralised_ref(ref) for ref in b.also))
                    for b in section.bullets
                ),
            )
            for section in digest.sections
        ),
        sources=tuple(
            SourceReport(clean(s.url), clean(s.title), s.status, clean(s.reason) if s.reason else s.reason)
            for s in digest.sources
        ),
    )


def _neutralised_ref(ref: SourceRef) -> SourceRef:
    clean = neutralise_placeholders
    return SourceRef(clean(ref.url), clean(ref.title), clean(ref.site))


def _preheader(digest: Digest, newsletter: NewsletterConfig) -> str:
    """The inbox preview line: the first bullet, or the section titles when there is none."""
    for section in digest.sections:
        for bullet in section.bullets:
            return truncate(" ".join(bullet.text.split()), PREHEADER_LENGTH)
    if digest.sections:
        return "Today: " + ", ".join(section.title for section in digest.sections)
    return f"{newsletter.name}, {human_date(digest.edition)}"


def truncate(text: str, limit: int) -> str:
    """Text cut to at most `limit` characters at a word boundary, with "…" when it was cut."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:.-—") + "…"
