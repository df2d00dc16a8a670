"""Digest -> Email: Jinja2 fills the MJML and text templates, MJML turns the first into HTML.

Pure: the only I/O is reading the templates ([email] template_dir first, then the bundled ones).
The result still holds the per-recipient placeholders (models.NAME_PLACEHOLDER,
models.UNSUBSCRIBE_URL_PLACEHOLDER); delivery replaces them, so MJML runs once per edition, never
per recipient. Readers see news, operators see errors: failed sources are left out of the email
and stay in the digest's JSON, `digest status` and the log.
"""

from __future__ import annotations

import functools
import logging
import re
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

import jinja2
from mjml import mjml2html

from digest.config import EmailConfig, NewsletterConfig, bundled_dir
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
    host_label,
    safe_text,
)

logger = logging.getLogger(__name__)

HTML_TEMPLATE = "email.mjml.j2"
TEXT_TEMPLATE = "email.txt.j2"
TEXT_WIDTH = 78
PREHEADER_LENGTH = 140
# WCAG 2.x AA: text needs 4.5:1 against its background; lines and other graphics 3:1.
TEXT_CONTRAST = 4.5
GRAPHIC_CONTRAST = 3.0

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


def edition_url(newsletter: NewsletterConfig, edition: str) -> str:
    """Where `digest serve` shows an edition: the email's "view in browser" link."""
    return f"{newsletter.base_url.rstrip('/')}/editions/{edition}"


def _rgb(color: str) -> tuple[int, int, int]:
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def contrast(foreground: str, background: str) -> float:
    """WCAG 2.x contrast ratio of two #rrggbb colours, from 1 to 21."""
    lighter, darker = sorted(
        (0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b) for r, g, b in map(_rgb, (foreground, background))),
        reverse=True,
    )
    return (lighter + 0.05) / (darker + 0.05)


def _mix(color: str, toward: str, amount: float) -> str:
    return "#" + "".join(f"{round(a + (b - a) * amount):02x}" for a, b in zip(_rgb(color), _rgb(toward), strict=True))


def readable(color: str, background: str, ratio: float = TEXT_CONTRAST) -> str:
    """`color` itself when it has `ratio` against `background`, else the closest tint or shade that has.

    Moves toward white on a dark background and toward black on a light one; the far end (white or
    black) always has at least 4.5:1, so there is always an answer.
    """
    if contrast(color, background) >= ratio:
        return color
    toward = "#ffffff" if contrast("#ffffff", background) > contrast("#000000", background) else "#000000"
    low, high = 0.0, 1.0
    for _ in range(16):
        middle = (low + high) / 2
        if contrast(_mix(color, toward, middle), background) >= ratio:
            high = middle
        else:
            low = middle
    return _mix(color, toward, high)


@dataclass(frozen=True, slots=True)
class Scheme:
    """The colours of one colour scheme (light or dark); every text colour has 4.5:1 on its background."""

    page: str  # around the content, and behind the footer
    card: str  # behind the content
    ink: str  # body text
    muted: str  # secondary text on card and page
    link: str
    heading: str  # section headings
    rule: str  # the line under each section heading
    masthead: str
    masthead_ink: str
    masthead_muted: str


@dataclass(frozen=True, slots=True)
class Palette:
    light: Scheme
    dark: Scheme


def palette(email: EmailConfig) -> Palette:
    """Light colours from [email] accent_color and masthead_color, dark ones derived from them."""
    accent, masthead = email.accent_color, email.masthead_color
    light = _scheme(
        page="#eef1f5", card="#ffffff", ink="#1f2937", muted="#4b5563", link="#1d4ed8",
        accent=accent, masthead=masthead, rule_contrast=GRAPHIC_CONTRAST,
    )
    # A bright masthead would glare in a dark inbox: shade it until white text has 4.5:1 on it.
    dark_masthead = readable(masthead, "#ffffff")
    dark = _scheme(
        page="#0d1117", card="#161b22", ink="#e6edf3", muted="#a5b0be", link="#8cb4ff",
        accent=accent, masthead=dark_masthead, rule_contrast=TEXT_CONTRAST,
        heading=_mix(masthead, "#ffffff", 0.85),  # a pale tint of the brand: dark brand colours vanish on dark
    )
    return Palette(light, dark)


def _scheme(
    *, page: str, card: str, ink: str, muted: str, link: str, accent: str, masthead: str, rule_contrast: float,
    heading: str | None = None,
) -> Scheme:
    masthead_ink = "#ffffff" if contrast("#ffffff", masthead) >= contrast("#000000", masthead) else "#000000"
    return Scheme(
        page=page,
        card=card,
        ink=readable(ink, page),
        muted=readable(readable(muted, card), page),
        link=readable(link, card),
        heading=readable(heading or masthead, card),
        rule=readable(accent, card, rule_contrast),
        masthead=masthead,
        masthead_ink=masthead_ink,
        masthead_muted=readable(_mix(masthead_ink, masthead, 0.25), masthead),
    )


@dataclass(frozen=True, slots=True)
class Credit:
    """One source as the reader sees it: named in a few words by a bullet, in full in Sources."""

    number: int  # its place in the Sources list, [1] in the text part
    site: str  # the publisher's name
    title: str  # the article's headline
    url: str

    @property
    def name(self) -> str:
        """What a bullet shows: the publisher, else the headline (a local file has no host)."""
        return self.site or self.title or self.url

    @property
    def linked(self) -> bool:
        return _is_web_url(self.url)


@dataclass(frozen=True, slots=True)
class Attribution:
    """Every source of an edition, numbered in the order a reader meets them."""

    sources: tuple[Credit, ...]

    def credits(self, bullet: Bullet) -> tuple[Credit, ...]:
        """A bullet's source, then its `also` sources, each publisher named once."""
        by_url = {credit.url: credit for credit in self.sources}
        return _distinct(by_url[ref.url] for ref in (bullet.source, *bullet.also))


def attribution(digest: Digest) -> Attribution:
    """Sources in the order the bullets credit them, then the other sources that were read."""
    refs: dict[str, SourceRef] = {}
    for ref in _cited(digest.sections):
        known = refs.get(ref.url)
        if known is None:
            refs[ref.url] = ref
        elif not known.site and ref.site:
            refs[ref.url] = replace(known, site=ref.site)
    for report in digest.sources:
        if report.status == "ok" and report.url not in refs:
            refs[report.url] = SourceRef(report.url, report.title)
    unnumbered = {url: Credit(0, ref.site or host_label(ref.url), ref.title, ref.url) for url, ref in refs.items()}
    order = {
        credit.url: None
        for section in digest.sections
        for bullet in section.bullets
        for credit in _distinct(unnumbered[ref.url] for ref in (bullet.source, *bullet.also))
    } | dict.fromkeys(refs)
    return Attribution(tuple(replace(unnumbered[url], number=n) for n, url in enumerate(order, start=1)))


def _distinct(credits: Iterable[Credit]) -> tuple[Credit, ...]:
    """Credits without repeats: one per URL, and one per publisher name."""
    chosen: list[Credit] = []
    for credit in credits:
        if all(credit.url != c.url and credit.name.casefold() != c.name.casefold() for c in chosen):
            chosen.append(credit)
    return tuple(chosen)


def _cited(sections: Iterable[Section]) -> Iterable[SourceRef]:
    for section in sections:
        for bullet in section.bullets:
            yield bullet.source
            yield from bullet.also


def render_email(
    digest: Digest,
    newsletter: NewsletterConfig,
    email: EmailConfig | None = None,
) -> Email:
    """Render an edition's HTML and text parts with placeholders left in. Raises RenderError."""
    email = EmailConfig() if email is None else email
    folders = _template_folders(email.template_dir)
    environment = _environment(folders)
    safe_digest = _for_readers(_neutralised(digest))
    subject = subject_for(newsletter, digest)
    preheader = _preheader(safe_digest)
    sources = attribution(safe_digest)
    context: dict[str, Any] = {
        "digest": safe_digest,
        "newsletter": newsletter,
        "subject": subject,
        "preheader": preheader,
        "edition_date": human_date(digest.edition),
        "view_url": edition_url(newsletter, digest.edition),
        "sources": sources.sources,
        "credits": sources.credits,
        "colors": palette(email),
        "logo": email if email.logo_url else None,
        "name_placeholder": NAME_PLACEHOLDER,
        "unsubscribe_url": UNSUBSCRIBE_URL_PLACEHOLDER,
    }
    mjml_text = _fill(environment, folders, HTML_TEMPLATE, context)
    text = _fill(environment, folders, TEXT_TEMPLATE, context)
    try:
        html = mjml2html(mjml_text, fonts={}, disable_comments=True)
    except ValueError as exc:
        raise RenderError(f"{_template_path(folders, HTML_TEMPLATE)}: MJML could not render it: {exc}") from exc
    logger.debug("rendered edition %s: %d bytes of HTML, %d of text", digest.edition, len(html), len(text))
    return Email(edition=digest.edition, subject=subject, preheader=preheader, html=html, text=text)


def template_environment(template_dir: Path | None) -> jinja2.Environment:
    """Jinja over `[email] template_dir` first, then the bundled templates: the email's, and the
    sign-up emails and pages of `digest serve`. MJML, HTML and XML templates are autoescaped.
    Raises RenderError when template_dir is not a folder."""
    return _environment(_template_folders(template_dir))


def _template_folders(template_dir: Path | None) -> tuple[Path, ...]:
    bundled = bundled_dir("templates")
    if template_dir is None:
        return (bundled,)
    if not template_dir.is_dir():
        raise RenderError(f"{template_dir}: [email] template_dir is not a folder; fix the path in the config")
    return (template_dir, bundled)


def _template_path(folders: tuple[Path, ...], name: str) -> Path:
    """The file a template name resolves to: the first folder that holds it."""
    return next((folder / name for folder in folders if (folder / name).is_file()), folders[-1] / name)


def _fill(environment: jinja2.Environment, folders: tuple[Path, ...], name: str, context: dict[str, Any]) -> str:
    path = _template_path(folders, name)
    try:
        return environment.get_template(name).render(context)
    except jinja2.TemplateNotFound:
        raise RenderError(f"{path}: template not found; reinstall digest or fix the templates folder") from None
    except jinja2.TemplateSyntaxError as exc:
        raise RenderError(f"{exc.filename or path}:{exc.lineno}: template syntax error: {exc.message}") from exc
    except jinja2.TemplateError as exc:
        raise RenderError(f"{path}: template failed: {exc}") from exc


@functools.lru_cache(maxsize=8)
def _environment(folders: tuple[Path, ...]) -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(folders),
        autoescape=jinja2.select_autoescape(enabled_extensions=("mjml.j2", "html", "html.j2", "xml.j2"), default=False),
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


def _wrap(text: str, first: str = "", rest: str = "", end: str = "") -> str:
    """Fill text to TEXT_WIDTH columns; URLs and other long words are never broken, nor is `end`."""
    words = " ".join(text.split())
    if end:
        words += " " + end.replace(" ", "\0")  # NUL is not whitespace to textwrap: `end` stays one word
    return textwrap.fill(
        words,
        width=TEXT_WIDTH,
        initial_indent=first,
        subsequent_indent=rest,
        break_long_words=False,
        break_on_hyphens=False,
    ).replace("\0", " ")


def _for_readers(digest: Digest) -> Digest:
    """The digest without the sources that failed: fetch errors are for the operator, not readers."""
    return replace(digest, sources=tuple(s for s in digest.sources if s.status == "ok"))


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


def _preheader(digest: Digest) -> str:
    """The inbox preview line: the opening words of each section's first bullet."""
    openings = [" ".join(s.bullets[0].text.split()) for s in digest.sections if s.bullets]
    if not openings:
        titles = ", ".join(section.title for section in digest.sections)
        return truncate(f"Nothing new since the last edition in {titles}" if titles else digest.title, PREHEADER_LENGTH)
    separator = " · "
    budget = PREHEADER_LENGTH - len(separator) * (len(openings) - 1)
    # Fair shares: a short opening keeps all its words and leaves the rest of its share to longer ones.
    limits = [0] * len(openings)
    for done, index in enumerate(sorted(range(len(openings)), key=lambda i: len(openings[i]))):
        limits[index] = min(len(openings[index]), budget // (len(openings) - done))
        budget -= limits[index]
    return separator.join(truncate(text, limit) for text, limit in zip(openings, limits, strict=True))


def truncate(text: str, limit: int) -> str:
    """Text cut to at most `limit` characters at a word boundary, with "…" when it was cut."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:.-—·") + "…"
