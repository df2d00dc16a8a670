"""render: Digest -> Email (HTML via Jinja2 + MJML, and a plain-text part)."""

from __future__ import annotations

import json
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from bs4 import BeautifulSoup, Tag

from digest.config import NewsletterConfig, bundled_dir
from digest.errors import RenderError
from digest.models import (
    NAME_PLACEHOLDER,
    UNSUBSCRIBE_URL_PLACEHOLDER,
    Bullet,
    Digest,
    Section,
    SourceRef,
    SourceReport,
)
from digest.render import neutralise_placeholders, render_email, subject_for
from tests.conftest import FIXTURES, check_golden

RENDER_FIXTURES = FIXTURES / "render"
NEWSLETTER = NewsletterConfig(
    name="The Transatlantic Brief",
    from_email="brief@example.org",
    postal_address="1 Example Street, London EC1A 1AA",
)
WHITE_HOUSE = SourceRef("https://news.example.org/white-house", "Starmer meets Trump")
COALITION = SourceRef("https://news.example.org/coalition?a=1&b=2", "Coalition plans")
BUDGET = SourceRef("https://news.example.org/budget", "Defence budget rises")


def make_digest(*sections: Section, sources: tuple[SourceReport, ...] | None = None) -> Digest:
    sections = sections or (
        Section("Ukraine peace", (
            Bullet("A ceasefire must come with security guarantees for Kyiv.", WHITE_HOUSE),
            Bullet("A coalition is ready to send peacekeepers after a settlement.", COALITION),
        )),
        Section("Defence spending", (Bullet("Spending will rise to 2.5% of GDP by 2027.", BUDGET),)),
        Section("AI/tech partnership", (Bullet("The two leaders agreed a technology partnership.", WHITE_HOUSE),)),
    )
    if sources is None:
        sources = (
            SourceReport(WHITE_HOUSE.url, WHITE_HOUSE.title, "ok"),
            SourceReport(COALITION.url, COALITION.title, "ok"),
            SourceReport(BUDGET.url, BUDGET.title, "ok"),
            SourceReport("https://down.example.com/news", "Down News", "error", "HTTP 503"),
        )
    return Digest("2026-11-26", "The Transatlantic Brief", datetime(2026, 11, 26, 7, tzinfo=UTC), sections, sources)


def soup_of(html: str) -> BeautifulSoup:
    return BeautifulSoup(html, "html.parser")


def section_block(soup: BeautifulSoup, title: str) -> Tag:
    """What follows a section's heading: its bullet list, or the 'no news' paragraph."""
    heading = soup.find("h2", string=title)
    assert heading is not None, f"no heading {title!r}"
    block = heading.find_next_sibling(["ul", "p"])
    assert isinstance(block, Tag)
    return block


def text_without_urls(text: str) -> str:
    return re.sub(r"<https?://[^\s>]+>", "", text)


def test_html_shows_header_greeting_sections_sources_and_footer() -> None:
    digest = make_digest()
    email = render_email(digest, NEWSLETTER)
    soup = soup_of(email.html)

    assert email.html.lower().startswith("<!doctype html>")
    assert soup.html is not None and soup.html["lang"] == "en"
    assert soup.title is not None and soup.title.string == email.subject
    assert soup.find("h1").get_text() == "The Transatlantic Brief"
    assert "26 November 2026" in soup.get_text()
    assert "Hello %%name%%," in soup.get_text()
    assert [h.get_text() for h in soup.find_all("h2")] == [
        "Ukraine peace", "Defence spending", "AI/tech partnership", "Sources",
    ]
    for section in digest.sections:
        items = section_block(soup, section.title).find_all("li")
        assert len(items) == len(section.bullets)
        for item, bullet in zip(items, section.bullets, strict=True):
            assert item.get_text().startswith(bullet.text + "\xa0—\xa0")
            link = item.find("a")
            assert (link["href"], link.get_text()) == (bullet.source.url, bullet.source.title)

    source_items = section_block(soup, "Sources").find_all("li")
    assert [(li.a["href"], li.a.get_text()) for li in source_items] == [(s.url, s.title) for s in digest.sources]
    assert source_items[-1].get_text() == "Down News — unavailable: HTTP 503"

    footer_text = soup.get_text()
    assert "1 Example Street, London EC1A 1AA" in footer_text
    assert "You receive this because you subscribed to The Transatlantic Brief." in footer_text
    unsubscribe = soup.find("a", string="Unsubscribe")
    assert unsubscribe["href"] == UNSUBSCRIBE_URL_PLACEHOLDER
    assert email.html.count(UNSUBSCRIBE_URL_PLACEHOLDER) == 1
    assert email.html.count(NAME_PLACEHOLDER) == 1


def test_html_loads_nothing_remote_and_mjml_left_no_unknown_tags() -> None:
    html = render_email(make_digest(), NEWSLETTER).html
    assert "fonts.googleapis" not in html
    assert "@import" not in html
    assert "<link" not in html
    assert "<mj-" not in html and "</mj-" not in html
    assert not soup_of(html).find_all(["img", "script", "iframe"])


def test_preheader_is_the_first_bullet_hidden_at_the_top_of_the_body() -> None:
    email = render_email(make_digest(), NEWSLETTER)
    assert email.preheader == "A ceasefire must come with security guarantees for Kyiv."
    body = soup_of(email.html).body
    hidden = body.find("div")
    assert "display:none" in hidden["style"]
    assert hidden.get_text().startswith(email.preheader)


def test_long_first_bullet_is_cut_at_a_word_for_the_preheader() -> None:
    words = "Leaders agreed that peacekeepers would be deployed along the line of contact once a ceasefire holds for thirty days and monitors confirm it."
    digest = make_digest(Section("Ukraine peace", (Bullet(words, WHITE_HOUSE),)))
    preheader = render_email(digest, NEWSLETTER).preheader
    assert len(preheader) <= 110
    assert preheader.endswith("…")
    assert words.startswith(preheader[:-1]) and words[len(preheader) - 1] == " "


def test_preheader_lists_the_sections_when_there_is_no_news() -> None:
    digest = make_digest(Section("Ukraine peace", ()), Section("Defence spending", ()))
    assert render_email(digest, NEWSLETTER).preheader == "Today: Ukraine peace, Defence spending"


def test_text_part_is_a_readable_version_of_the_same_edition() -> None:
    digest = make_digest()
    text = render_email(digest, NEWSLETTER).text
    lines = text.splitlines()

    assert lines[:5] == ["The Transatlantic Brief", "26 November 2026", "", "Hello %%name%%,", ""]
    for section in digest.sections:
        at = lines.index(section.title)
        assert lines[at + 1] == "-" * len(section.title)
        for bullet in section.bullets:
            assert f"- {bullet.text}" in lines
            assert f"  Source: {bullet.source.title} <{bullet.source.url}>" in lines
    assert "- Down News <https://down.example.com/news>" in lines
    assert "  unavailable: HTTP 503" in lines
    assert "1 Example Street, London EC1A 1AA" in lines
    assert lines[-1] == "Unsubscribe: %%unsubscribe_url%%"
    assert text.count(UNSUBSCRIBE_URL_PLACEHOLDER) == 1
    assert "<" not in text_without_urls(text) and ">" not in text_without_urls(text)
    assert "&amp;" not in text


def test_text_part_wraps_at_78_columns_without_breaking_urls() -> None:
    long_url = "https://news.example.org/2026/11/26/" + "very-long-slug-" * 8 + "end?ref=brief&lang=en"
    bullet = Bullet("Ministers said " + "the talks went on late into the night and " * 5 + "ended well.", SourceRef(long_url, "Long read"))
    text = render_email(make_digest(Section("Ukraine peace", (bullet,))), NEWSLETTER).text
    assert f"  Source: Long read\n    <{long_url}>\n" in text
    for line in text.splitlines():
        assert len(line) <= 78 or "://" in line, line
    bullet_lines = text[text.index("- Ministers"):].splitlines()
    assert all(line.startswith("  ") for line in bullet_lines[1:3])


def test_untrusted_markup_is_escaped_in_html_and_literal_in_text() -> None:
    hostile_text = "Tanks & <b>guns</b> <script>alert(1)</script>"
    quote_breaker = 'https://evil.example/"onmouseover="alert(1)'
    digest = make_digest(
        Section("R&D <spending>", (
            Bullet(hostile_text, SourceRef("javascript:alert(1)", "<img src=x onerror=alert(1)>")),
            Bullet("Local copy of a page.", SourceRef("file:///srv/pages/local.html", "Local page")),
            Bullet("Attribute break-out attempt.", SourceRef(quote_breaker, "Quoted")),
        )),
        sources=(SourceReport("javascript:alert(2)", "Evil & Co", "error", "<script>bad</script>"),),
    )
    email = render_email(digest, NEWSLETTER)
    soup = soup_of(email.html)

    assert soup.find_all(["script", "img", "b"]) == []
    assert "&amp;" in email.html and "&lt;script&gt;alert(1)&lt;/script&gt;" in email.html
    assert soup.find("h2", string="R&D <spending>") is not None
    assert section_block(soup, "R&D <spending>").find("li").get_text() == (
        hostile_text + "\xa0—\xa0<img src=x onerror=alert(1)>"
    )
    hrefs = [a["href"] for a in soup.find_all("a")]
    assert hrefs == [quote_breaker, f"{NEWSLETTER.base_url}/subscribe", UNSUBSCRIBE_URL_PLACEHOLDER]
    assert all(set(a.attrs) == {"href", "style"} for a in soup.find_all("a"))
    assert soup.find("span", string="Local page") is not None
    assert "Evil & Co — unavailable: <script>bad</script>" in soup.get_text()

    assert hostile_text in email.text
    assert "  Source: <img src=x onerror=alert(1)>" in email.text.splitlines()
    assert "  Source: Local page" in email.text.splitlines()
    assert "javascript:" not in email.text and "file:" not in email.text
    assert "&amp;" not in email.text and "&lt;" not in email.text


def test_planted_placeholders_do_not_survive_rendering() -> None:
    planted = Bullet(
        "Click %%unsubscribe_url%% now, %%name%%, or %%%name%%%.",
        SourceRef("https://evil.example/%%unsubscribe_url%%", "%%name%%"),
    )
    digest = make_digest(
        Section("%%name%% news", (planted,)),
        sources=(SourceReport("https://evil.example/", "%%unsubscribe_url%%", "error", "%%name%%"),),
    )
    email = render_email(digest, NEWSLETTER)
    for part in (email.html, email.text):
        assert part.count(UNSUBSCRIBE_URL_PLACEHOLDER) == 1
        assert part.count(NAME_PLACEHOLDER) == 1
    assert "%%" not in email.preheader
    assert "Click %unsubscribe_url% now" in email.text


@pytest.mark.parametrize(
    ("untrusted", "expected"),
    [
        ("%%unsubscribe_url%%", "%unsubscribe_url%"),
        ("%%%name%%%", "%name%"),
        ("up 50% on the year", "up 50% on the year"),
        ("%%%%%%", "%"),
    ],
)
def test_neutralise_placeholders_leaves_no_double_percent(untrusted: str, expected: str) -> None:
    assert neutralise_placeholders(untrusted) == expected


def test_empty_section_says_there_is_no_news() -> None:
    digest = make_digest(
        Section("Ukraine peace", (Bullet("Talks resumed.", WHITE_HOUSE),)),
        Section("Defence spending", ()),
    )
    email = render_email(digest, NEWSLETTER)
    assert section_block(soup_of(email.html), "Defence spending").get_text() == "No news in this section today."
    lines = email.text.splitlines()
    at = lines.index("Defence spending")
    assert lines[at + 1 : at + 4] == ["----------------", "", "No news in this section today."]


def test_footer_leaves_out_a_missing_postal_address() -> None:
    newsletter = NewsletterConfig(name="Brief", from_email="brief@example.org")
    email = render_email(make_digest(), newsletter)
    footer = soup_of(email.html).find("a", string="Unsubscribe").find_parent("div")
    subscribe = f"Forwarded this? Subscribe at {newsletter.base_url}/subscribe"
    assert [p.get_text() for p in footer.find_all("p")] == [
        "You receive this because you subscribed to Brief.", subscribe, "Unsubscribe",
    ]
    assert email.text.splitlines()[-4:] == [
        "---", "You receive this because you subscribed to Brief.", subscribe, "Unsubscribe: %%unsubscribe_url%%",
    ]


@pytest.mark.parametrize(
    ("template", "edition", "expected"),
    [
        ("{name}: {date}", "2026-11-26", "The Transatlantic Brief: 26 November 2026"),
        ("{date} | {name}", "2027-01-05", "5 January 2027 | The Transatlantic Brief"),
        ("Daily news", "2026-11-26", "Daily news"),
    ],
)
def test_subject_fills_name_and_human_date(template: str, edition: str, expected: str) -> None:
    newsletter = NewsletterConfig(name="The Transatlantic Brief", from_email="b@example.org", subject=template)
    digest = Digest(edition, "", datetime(2026, 1, 1, tzinfo=UTC), (), ())
    assert subject_for(newsletter, digest) == expected
    assert render_email(digest, newsletter).subject == expected


def test_golden_html_and_text(update_golden: bool) -> None:
    digest = Digest.from_json(json.loads((RENDER_FIXTURES / "digest.json").read_text(encoding="utf-8")))
    newsletter = NewsletterConfig(
        name="The Transatlantic Brief",
        from_email="brief@example.org",
        postal_address="The Transatlantic Brief, 1 Example Street, London EC1A 1AA, United Kingdom",
    )
    email = render_email(digest, newsletter)
    check_golden(RENDER_FIXTURES / "email.html", email.html, update_golden)
    check_golden(RENDER_FIXTURES / "email.txt", email.text, update_golden)


def test_broken_mjml_template_raises_render_error(tmp_path: Path) -> None:
    shutil.copy(bundled_dir("templates") / "email.txt.j2", tmp_path)
    (tmp_path / "email.mjml.j2").write_text("<mjml><mj-body><mj-section>", encoding="utf-8")
    with pytest.raises(RenderError, match=r"email\.mjml\.j2: MJML could not render it"):
        render_email(make_digest(), NEWSLETTER, templates_dir=tmp_path)


def test_template_errors_name_the_template(tmp_path: Path) -> None:
    undefined, syntax = tmp_path / "undefined", tmp_path / "syntax"
    undefined.mkdir()
    syntax.mkdir()
    (undefined / "email.mjml.j2").write_text("<mjml>{{ nonsense.field }}</mjml>", encoding="utf-8")
    (syntax / "email.mjml.j2").write_text("<mjml>\n{% if %}</mjml>", encoding="utf-8")
    with pytest.raises(RenderError, match=r"email\.mjml\.j2: template failed: 'nonsense' is undefined"):
        render_email(make_digest(), NEWSLETTER, templates_dir=undefined)
    with pytest.raises(RenderError, match=r"email\.mjml\.j2:2: template syntax error"):
        render_email(make_digest(), NEWSLETTER, templates_dir=syntax)
    with pytest.raises(RenderError, match=r"email\.mjml\.j2: template not found"):
        render_email(make_digest(), NEWSLETTER, templates_dir=tmp_path / "missing")
