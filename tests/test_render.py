"""render: Digest -> Email (HTML via Jinja2 + MJML, and a plain-text part)."""

from __future__ import annotations

import json
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from bs4 import BeautifulSoup, Tag

from digest.config import EmailConfig, NewsletterConfig, bundled_dir
from digest.errors import RenderError
from digest.models import (
    NAME_PLACEHOLDER,
    UNSAFE_CHARACTERS,
    UNSUBSCRIBE_URL_PLACEHOLDER,
    Bullet,
    Digest,
    Section,
    SourceRef,
    SourceReport,
)
from digest.render import contrast, neutralise_placeholders, palette, render_email, subject_for
from tests.conftest import FIXTURES, check_golden

RENDER_FIXTURES = FIXTURES / "render"
NEWSLETTER = NewsletterConfig(
    name="The Transatlantic Brief",
    from_email="brief@example.org",
    postal_address="1 Example Street, London EC1A 1AA",
    base_url="https://news.example.org/brief/",
)
WHITE_HOUSE = SourceRef("https://news.example.org/white-house", "Starmer meets Trump", "The Meridian")
COALITION = SourceRef("https://www.dispatch.example/coalition?a=1&b=2", "Coalition plans")
BUDGET = SourceRef("https://ledger.example/budget", "Defence budget rises", "Daily Ledger")
DOWN = SourceReport("https://down.example.com/news", "Down News", "error", "timed out after 15s")


def make_digest(*sections: Section, sources: tuple[SourceReport, ...] | None = None) -> Digest:
    sections = sections or (
        Section("Ukraine peace", (
            Bullet("A ceasefire must come with security guarantees for Kyiv.", WHITE_HOUSE),
            Bullet("A coalition is ready to send peacekeepers after a settlement.", COALITION, (WHITE_HOUSE,)),
        )),
        Section("Defence spending", (Bullet("Spending will rise to 2.5% of GDP by 2027.", BUDGET),)),
        Section("AI/tech partnership", (Bullet("The two leaders agreed a technology partnership.", WHITE_HOUSE),)),
    )
    if sources is None:
        sources = (
            SourceReport(BUDGET.url, BUDGET.title, "ok"),
            SourceReport(WHITE_HOUSE.url, WHITE_HOUSE.title, "ok"),
            SourceReport(COALITION.url, COALITION.title, "ok"),
            DOWN,
        )
    return Digest("2026-11-26", "The Transatlantic Brief", datetime(2026, 11, 26, 7, tzinfo=UTC), sections, sources)


def fixture_digest(name: str) -> Digest:
    return Digest.from_json(json.loads((RENDER_FIXTURES / f"{name}.json").read_text(encoding="utf-8")))


def soup_of(html: str) -> BeautifulSoup:
    return BeautifulSoup(html, "html.parser")


def section_block(soup: BeautifulSoup, title: str) -> Tag:
    """What follows a section's heading: its bullet list, or the 'nothing new' paragraph."""
    heading = soup.find("h2", string=title)
    assert heading is not None, f"no heading {title!r}"
    block = heading.find_next_sibling(["ul", "ol", "p"])
    assert isinstance(block, Tag)
    return block


def visible_text(html: str) -> str:
    """What a reader sees: the body's text without the hidden preheader."""
    body = soup_of(html).body
    assert body is not None
    body.find("div").decompose()  # the preheader, display:none
    return body.get_text()


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
            assert item.get_text().startswith(bullet.text + " —\xa0")
            link = item.find("a")
            assert link["href"] == bullet.source.url

    sources = [(li.a["href"], li.get_text()) for li in section_block(soup, "Sources").find_all("li")]
    assert sources == [
        (WHITE_HOUSE.url, "Starmer meets Trump — The Meridian"),
        (COALITION.url, "Coalition plans — dispatch.example"),
        (BUDGET.url, "Defence budget rises — Daily Ledger"),
    ]

    footer_text = soup.get_text()
    assert "1 Example Street, London EC1A 1AA" in footer_text
    assert "You receive this because you subscribed to The Transatlantic Brief." in footer_text
    unsubscribe = soup.find("a", string="Unsubscribe")
    assert unsubscribe["href"] == UNSUBSCRIBE_URL_PLACEHOLDER
    assert email.html.count(UNSUBSCRIBE_URL_PLACEHOLDER) == 1
    assert email.html.count(NAME_PLACEHOLDER) == 1


def test_bullets_credit_their_publishers_by_name_and_sources_list_the_headlines_once() -> None:
    digest = fixture_digest("stress")
    email = render_email(digest, NEWSLETTER)
    soup = soup_of(email.html)
    seen = visible_text(email.html)

    headline = "Leaders agree a framework for a ceasefire monitoring mission along the entire line of contact"
    cited = sum(ref.url.endswith("line-of-contact") for s in digest.sections for b in s.bullets for ref in (b.source, *b.also))
    assert cited == 5
    for source in digest.sources:
        if source.status == "ok":
            assert seen.count(source.title) == 1, source.title
    assert seen.count(headline) == 1

    first = section_block(soup, "Ukraine peace").find("li")
    credit = first.find("span")
    assert credit.get_text() == "—\xa0The Northgate Herald, Süddeutsche Rundschau, Київський вісник"
    assert [a["href"] for a in credit.find_all("a")] == [
        digest.sections[0].bullets[0].source.url, *(ref.url for ref in digest.sections[0].bullets[0].also),
    ]
    link = credit.find("a")
    assert link["aria-label"] == f"The Northgate Herald: {headline}"
    # Two articles of one publisher: the bullet names it once.
    third = section_block(soup, "Ukraine peace").find_all("li")[2]
    assert third.find("span").get_text() == "—\xa0The Northgate Herald"
    assert len(max((li.find("span").get_text() for li in soup.find_all("li") if li.find("span")), key=len)) < 80


def test_failed_sources_are_not_shown_to_readers() -> None:
    email = render_email(fixture_digest("stress"), NEWSLETTER)
    for part in (email.html, email.text):
        assert "down.example.com" not in part
        assert "timed out" not in part
        assert "unavailable" not in part


def test_view_in_browser_link_opens_the_edition_on_the_archive() -> None:
    email = render_email(make_digest(), NEWSLETTER)
    body = soup_of(email.html).body
    first_link = body.find("a")
    assert first_link["href"] == "https://news.example.org/brief/editions/2026-11-26"
    assert first_link.get_text() == "View this edition in your browser"
    assert email.text.splitlines()[2:4] == [
        "View this edition in your browser:", "https://news.example.org/brief/editions/2026-11-26",
    ]


def test_html_loads_nothing_remote_and_mjml_left_no_unknown_tags() -> None:
    html = render_email(make_digest(), NEWSLETTER).html
    assert "fonts.googleapis" not in html
    assert "@import" not in html
    assert "<link" not in html
    assert "<mj-" not in html and "</mj-" not in html
    assert not soup_of(html).find_all(["img", "script", "iframe"])


def test_dark_mode_is_declared_and_styled() -> None:
    soup = soup_of(render_email(make_digest(), NEWSLETTER).html)
    metas = {m.get("name"): m.get("content") for m in soup.find_all("meta")}
    assert metas["color-scheme"] == "light dark"
    assert metas["supported-color-schemes"] == "light dark"
    style = "\n".join(s.get_text() for s in soup.find_all("style"))
    assert re.search(r":root \{ color-scheme: light dark;", style)
    dark_block = style.split("@media (prefers-color-scheme: dark) {", 1)[1].split("\n}\n", 1)[0]
    dark = palette(EmailConfig()).dark
    assert f".card, .card > table {{ background: {dark.card} !important;" in dark_block
    assert f".ink {{ color: {dark.ink} !important; }}" in dark_block
    assert f".heading {{ color: {dark.heading} !important; border-color: {dark.rule} !important; }}" in dark_block
    assert f"[data-ogsc] .ink {{ color: {dark.ink} !important; }}" in style
    assert f"[data-ogsb] .masthead, [data-ogsb] .masthead > table {{ background: {dark.masthead} !important;" in style
    for name in ("ink", "muted", "link", "heading", "masthead-title", "masthead-date"):
        assert soup.find(class_=name) is not None, name


@pytest.mark.parametrize(
    ("accent", "masthead"),
    [("#b4232a", "#16243d"), ("#ffff00", "#ffffff"), ("#777777", "#767676"), ("#000000", "#000000"),
     ("#00ff00", "#0000ff"), ("#ff69b4", "#ffd700"), ("#161b22", "#161b22")],
)
def test_every_scheme_keeps_text_readable_whatever_the_brand_colours(accent: str, masthead: str) -> None:
    colors = palette(EmailConfig(accent_color=accent, masthead_color=masthead))
    for scheme in (colors.light, colors.dark):
        for text, background in [
            (scheme.ink, scheme.card), (scheme.muted, scheme.card), (scheme.muted, scheme.page),
            (scheme.link, scheme.card), (scheme.heading, scheme.card),
            (scheme.masthead_ink, scheme.masthead), (scheme.masthead_muted, scheme.masthead),
        ]:
            assert contrast(text, background) >= 4.5, (text, background)
    assert contrast(colors.light.rule, colors.light.card) >= 3.0
    assert contrast(colors.dark.rule, colors.dark.card) >= 4.5
    assert colors.light.masthead == masthead  # the brand colour as given in light mode


def test_brand_colours_and_logo_are_used() -> None:
    branding = EmailConfig(
        accent_color="#0a7d55", masthead_color="#f4d03f",
        logo_url="https://news.example.org/logo.png", logo_width=120, logo_height=40, logo_alt="Brief logo",
    )
    html = render_email(make_digest(), NEWSLETTER, branding).html
    soup = soup_of(html)
    assert "background-color:#f4d03f" in html
    assert "border-bottom:2px solid #0a7d55" in soup.find("h2")["style"]
    assert "color:#000000" in soup.find("h1")["style"]  # dark text on the pale masthead
    logo = soup.find("img")
    assert (logo["src"], logo["alt"], logo["width"], logo["height"]) == ("https://news.example.org/logo.png", "Brief logo", "120", "40")


def test_preheader_summarises_each_section() -> None:
    email = render_email(make_digest(), NEWSLETTER)
    # 156 characters in full: the shortest opening stays whole, the others are cut at a word.
    assert email.preheader == (
        "A ceasefire must come with security… · Spending will rise to 2.5% of GDP by 2027."
        " · The two leaders agreed a technology…"
    )
    body = soup_of(email.html).body
    hidden = body.find("div")
    assert "display:none" in hidden["style"]
    assert hidden.get_text().startswith(email.preheader)


def test_long_openings_are_cut_at_a_word_for_the_preheader() -> None:
    preheader = render_email(fixture_digest("stress"), NEWSLETTER).preheader
    assert len(preheader) <= 140
    openings = preheader.split(" · ")
    assert len(openings) == 3  # three sections have news; the empty one is left out
    assert openings[0].startswith("The leaders agreed that") and openings[0].endswith("…")
    assert openings[1].startswith("The government will raise") and openings[2].startswith("The UK and US agreed")


def test_preheader_says_nothing_is_new_when_no_section_has_news() -> None:
    digest = make_digest(Section("Ukraine peace", ()), Section("Defence spending", ()))
    assert render_email(digest, NEWSLETTER).preheader == "Nothing new since the last edition in Ukraine peace, Defence spending"


def test_text_part_numbers_the_sources_and_lists_them_at_the_end() -> None:
    digest = make_digest()
    text = render_email(digest, NEWSLETTER).text
    lines = text.splitlines()

    assert lines[:2] == ["The Transatlantic Brief", "26 November 2026"]
    assert lines[4:6] == ["", "Hello %%name%%,"]
    assert "- A ceasefire must come with security guarantees for Kyiv. [1]" in lines
    assert "- A coalition is ready to send peacekeepers after a settlement. [2, 1]" in lines
    assert "- Spending will rise to 2.5% of GDP by 2027. [3]" in lines
    assert "- The two leaders agreed a technology partnership. [1]" in lines
    sources = lines[lines.index("Sources") + 3 : lines.index("---") - 1]
    assert sources == [
        f"[1] Starmer meets Trump — {WHITE_HOUSE.url}",
        f"[2] Coalition plans — {COALITION.url}",
        f"[3] Defence budget rises — {BUDGET.url}",
    ]
    assert text.count("Starmer meets Trump") == 1
    assert "1 Example Street, London EC1A 1AA" in lines
    assert lines[-1] == "Unsubscribe: %%unsubscribe_url%%"
    assert text.count(UNSUBSCRIBE_URL_PLACEHOLDER) == 1
    assert "&amp;" not in text and "<" not in text


def test_text_part_wraps_at_78_columns_without_breaking_urls_or_references() -> None:
    text = render_email(fixture_digest("stress"), NEWSLETTER).text
    for line in text.splitlines():
        assert len(line) <= 78 or line.lstrip().startswith("https://"), line
    assert "research.\n  [6, 7, 8]\n" in text
    assert re.search(r"\[\d+,\n", text) is None
    assert "\n    https://www.northgate-herald.example/world/2026/11/27/leaders-agree-framework" in text


def test_untrusted_markup_is_escaped_in_html_and_literal_in_text() -> None:
    hostile_text = "Tanks & <b>guns</b> <script>alert(1)</script>"
    quote_breaker = 'https://evil.example/"onmouseover="alert(1)'
    digest = make_digest(
        Section("R&D <spending>", (
            Bullet(hostile_text, SourceRef("javascript:alert(1)", "<img src=x onerror=alert(1)>")),
            Bullet("Local copy of a page.", SourceRef("file:///srv/pages/local.html", "Local page")),
            Bullet("Attribute break-out attempt.", SourceRef(quote_breaker, "Quoted", '"><script>x</script>')),
        )),
        sources=(SourceReport("javascript:alert(2)", "Evil & Co", "error", "<script>bad</script>"),),
    )
    email = render_email(digest, NEWSLETTER)
    soup = soup_of(email.html)

    assert soup.find_all(["script", "img", "b"]) == []
    assert "&amp;" in email.html and "&lt;script&gt;alert(1)&lt;/script&gt;" in email.html
    assert soup.find("h2", string="R&D <spending>") is not None
    assert section_block(soup, "R&D <spending>").find("li").get_text() == hostile_text + " —\xa0<img src=x onerror=alert(1)>"
    hrefs = [a["href"] for a in soup.find_all("a")]
    assert hrefs == [
        "https://news.example.org/brief/editions/2026-11-26", quote_breaker, quote_breaker,
        f"{NEWSLETTER.base_url.rstrip('/')}/subscribe", UNSUBSCRIBE_URL_PLACEHOLDER,
    ]
    assert all(set(a.attrs) <= {"href", "style", "class", "aria-label"} for a in soup.find_all("a"))
    assert soup.find("span", string="Local page") is not None
    assert "Evil & Co" not in soup.get_text()

    assert f"- {hostile_text} [1]" in email.text
    assert "[1] <img src=x onerror=alert(1)>" in email.text.splitlines()
    assert "[2] Local page" in email.text.splitlines()
    assert "javascript:" not in email.text and "file:" not in email.text
    assert "&amp;" not in email.text and "&lt;" not in email.text


def test_control_and_bidi_characters_from_a_page_neither_stop_the_edition_nor_reach_the_reader() -> None:
    # A stored edition, a feed or an older extractor may hand render such text; MJML's XML parser
    # refuses the ESC and U+FFFE outright, and U+202E would show "exe.gnp" as "png.exe".
    spoofed = SourceRef("https://evil.example/a", "Talks \u202egnp.exe\x1b\ufffe\x00")
    digest = make_digest(
        Section("Ukraine\x0b peace", (Bullet("A ceasefire\x1b was agreed \u2066in Geneva\u2069.", spoofed),)),
        sources=(SourceReport(spoofed.url, spoofed.title, "error", "HTTP\x07 503"),),
    )
    email = render_email(digest, NEWSLETTER)
    for part in (email.html, email.text, email.preheader):
        assert not UNSAFE_CHARACTERS.search(part)
    assert "Talks gnp.exe" in email.text and "A ceasefire was agreed in Geneva." in email.text


def test_planted_placeholders_do_not_survive_rendering() -> None:
    planted = Bullet(
        "Click %%unsubscribe_url%% now, %%name%%, or %%%name%%%.",
        SourceRef("https://evil.example/%%unsubscribe_url%%", "%%name%%", "%%unsubscribe_url%%"),
    )
    digest = make_digest(
        Section("%%name%% news", (planted,)),
        sources=(SourceReport("https://evil.example/", "%%unsubscribe_url%%", "ok"),),
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


def test_empty_section_says_nothing_is_new() -> None:
    digest = make_digest(
        Section("Ukraine peace", (Bullet("Talks resumed.", WHITE_HOUSE),)),
        Section("Defence spending", ()),
    )
    email = render_email(digest, NEWSLETTER)
    assert section_block(soup_of(email.html), "Defence spending").get_text() == "Nothing new here since the last edition."
    lines = email.text.splitlines()
    at = lines.index("Defence spending")
    assert lines[at + 1 : at + 4] == ["----------------", "", "Nothing new here since the last edition."]


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


@pytest.mark.parametrize("name", ["digest", "stress"])
def test_golden_html_and_text(name: str, update_golden: bool) -> None:
    newsletter = NewsletterConfig(
        name="The Transatlantic Brief",
        from_email="brief@example.org",
        postal_address="The Transatlantic Brief, 1 Example Street, London EC1A 1AA, United Kingdom",
        base_url="https://news.example.org",
    )
    email = render_email(fixture_digest(name), newsletter)
    stem = "email" if name == "digest" else name
    check_golden(RENDER_FIXTURES / f"{stem}.html", email.html, update_golden)
    check_golden(RENDER_FIXTURES / f"{stem}.txt", email.text, update_golden)


def test_html_stays_under_gmails_clipping_size() -> None:
    # Gmail clips messages over 102 KB; personalisation adds well under 1 KB.
    html = render_email(fixture_digest("stress"), NEWSLETTER).html
    assert len(html.encode("utf-8")) < 100_000


def test_template_dir_overrides_one_template_and_the_other_falls_back(tmp_path: Path) -> None:
    (tmp_path / "email.txt.j2").write_text("{{ newsletter.name }} in brief: {{ sources | length }} sources\n", encoding="utf-8")
    email = render_email(make_digest(), NEWSLETTER, EmailConfig(template_dir=tmp_path))
    assert email.text == "The Transatlantic Brief in brief: 3 sources\n"
    assert soup_of(email.html).find("h1").get_text() == "The Transatlantic Brief"

    both = tmp_path / "both"
    shutil.copytree(bundled_dir("templates"), both)
    mjml = (both / "email.mjml.j2").read_text(encoding="utf-8")
    (both / "email.mjml.j2").write_text(mjml.replace("Hello {{ name_placeholder }},", "Dear {{ name_placeholder }},"), encoding="utf-8")
    html = render_email(make_digest(), NEWSLETTER, EmailConfig(template_dir=both)).html
    assert "Dear %%name%%," in html and "Hello" not in html


def test_broken_mjml_template_raises_render_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "email.mjml.j2").write_text("<mjml><mj-body><mj-section>", encoding="utf-8")
    with pytest.raises(RenderError, match=rf"^{re.escape(str(tmp_path / 'email.mjml.j2'))}: MJML could not render it"):
        render_email(make_digest(), NEWSLETTER, EmailConfig(template_dir=tmp_path))


def test_template_errors_name_the_template(tmp_path: Path) -> None:
    undefined, syntax = tmp_path / "undefined", tmp_path / "syntax"
    undefined.mkdir()
    syntax.mkdir()
    (undefined / "email.txt.j2").write_text("{{ nonsense.field }}", encoding="utf-8")
    (syntax / "email.mjml.j2").write_text("<mjml>\n{% if %}</mjml>", encoding="utf-8")
    with pytest.raises(RenderError, match=rf"^{re.escape(str(undefined / 'email.txt.j2'))}: template failed: 'nonsense' is undefined"):
        render_email(make_digest(), NEWSLETTER, EmailConfig(template_dir=undefined))
    with pytest.raises(RenderError, match=rf"^{re.escape(str(syntax / 'email.mjml.j2'))}:2: template syntax error"):
        render_email(make_digest(), NEWSLETTER, EmailConfig(template_dir=syntax))
    shutil.rmtree(syntax)
    with pytest.raises(RenderError, match=r"template_dir is not a folder"):
        render_email(make_digest(), NEWSLETTER, EmailConfig(template_dir=syntax))
