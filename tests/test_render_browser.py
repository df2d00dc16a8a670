"""The rendered email in a real (headless) Chromium, at phone and desktop widths, light and dark."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By

from digest.config import EmailConfig, NewsletterConfig
from digest.models import UNSUBSCRIBE_URL_PLACEHOLDER, Bullet, Digest, Section, SourceRef, SourceReport
from digest.render import palette, render_email
from tests.conftest import FIXTURES
from tests.support.axe import axe_missing, axe_violations
from tests.support.browser import (
    DESKTOP,
    PHONE,
    Viewport,
    chromedriver_missing,
    headless_chromium,
    save_full_page_screenshot,
    set_color_scheme,
    set_viewport,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(chromedriver_missing(), reason="needs /usr/bin/chromedriver (apt-get install chromium-driver)"),
]

NEWSLETTER = NewsletterConfig(
    name="The Transatlantic Brief",
    from_email="brief@example.org",
    postal_address="The Transatlantic Brief, 1 Example Street, London EC1A 1AA, United Kingdom",
)
VIEWPORTS = [pytest.param(PHONE, id="phone-375"), pytest.param(DESKTOP, id="desktop-800")]


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    with headless_chromium(tmp_path_factory.mktemp("chromium-profile")) as driver:
        yield driver


def open_email(browser: WebDriver, html: str, folder: Path, viewport: Viewport, scheme: str = "light") -> None:
    page = folder / "email.html"
    page.write_text(html, encoding="utf-8")
    set_viewport(browser, viewport)
    set_color_scheme(browser, scheme)
    browser.get(page.as_uri())


def fixture(name: str) -> Digest:
    return Digest.from_json(json.loads((FIXTURES / "render" / f"{name}.json").read_text(encoding="utf-8")))


def rgb(color: str) -> str:
    return f"rgb({int(color[1:3], 16)}, {int(color[3:5], 16)}, {int(color[5:7], 16)})"


def horizontal_overflow(browser: WebDriver, viewport: Viewport) -> int:
    """Pixels of content beyond the screen's width (0 when it fits).

    Compared with the device width, not just window.innerWidth: a mobile browser zooms out
    to fit a page that is too wide, which widens innerWidth along with the page.
    """
    scroll_width, inner_width = browser.execute_script(
        "return [document.documentElement.scrollWidth, window.innerWidth]"
    )
    return max(int(scroll_width), int(inner_width)) - viewport.width


@pytest.mark.parametrize("viewport", VIEWPORTS)
@pytest.mark.parametrize("edition", ["digest", "stress"])
def test_email_fits_the_screen_and_shows_what_matters(
    browser: WebDriver, tmp_path: Path, edition: str, viewport: Viewport
) -> None:
    fixture_digest = fixture(edition)
    email = render_email(fixture_digest, NEWSLETTER)
    open_email(browser, email.html, tmp_path, viewport)

    assert horizontal_overflow(browser, viewport) == 0
    headings = {h.text: h for h in browser.find_elements(By.TAG_NAME, "h2")}
    for section in fixture_digest.sections:
        heading = headings[section.title]
        assert heading.is_displayed()
        assert heading.size["width"] > 0 and heading.size["height"] > 0
    preheader = browser.find_element(By.XPATH, "/html/body/div[1]")
    assert preheader.get_attribute("textContent").startswith(email.preheader)
    assert not preheader.is_displayed()
    unsubscribe = browser.find_element(By.CSS_SELECTOR, f'a[href="{UNSUBSCRIBE_URL_PLACEHOLDER}"]')
    assert unsubscribe.is_displayed() and unsubscribe.text == "Unsubscribe"
    content_width = browser.find_element(By.TAG_NAME, "h1").size["width"]
    assert content_width <= 600 - 2 * 24
    save_full_page_screenshot(browser, viewport, tmp_path / f"email-{viewport.width}.png")
    assert (tmp_path / f"email-{viewport.width}.png").stat().st_size > 10_000


def test_long_unbroken_words_do_not_widen_the_phone_layout(browser: WebDriver, tmp_path: Path) -> None:
    long_url = "https://news.example.org/" + "a-very-long-path-segment-" * 10
    digest = Digest.from_json({
        "edition": "2026-11-26", "title": "", "generated_at": "2026-11-26T07:00:00+00:00",
        "sections": [], "sources": [],
    })
    bullet = Bullet("Unbroken: " + "Donaudampfschifffahrtsgesellschaft" * 4 + " then more words.", SourceRef(long_url, long_url, "x" * 60))
    digest = Digest(
        digest.edition, digest.title, digest.generated_at,
        (Section("Ukraine peace", (bullet,)),),
        (SourceReport(long_url, long_url, "ok"), SourceReport(long_url + "2", long_url, "error", "x" * 200)),
    )
    open_email(browser, render_email(digest, NEWSLETTER).html, tmp_path, PHONE)
    assert horizontal_overflow(browser, PHONE) == 0


@pytest.mark.skipif(axe_missing(), reason="needs axe-core in .venv/node_modules (make test installs it with npm)")
@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("edition", ["digest", "stress"])
def test_axe_finds_no_serious_accessibility_violation(browser: WebDriver, tmp_path: Path, edition: str, scheme: str) -> None:
    open_email(browser, render_email(fixture(edition), NEWSLETTER).html, tmp_path, PHONE, scheme)
    violations = axe_violations(browser)
    assert [v for v in violations if v["impact"] in ("serious", "critical")] == []


def test_dark_scheme_repaints_the_email_and_fits_the_phone(browser: WebDriver, tmp_path: Path) -> None:
    branding = EmailConfig(accent_color="#ffd700", masthead_color="#fafafa")
    open_email(browser, render_email(fixture("stress"), NEWSLETTER, branding).html, tmp_path, PHONE, "dark")
    dark = palette(branding).dark

    def computed(selector: str, prop: str) -> str:
        return str(browser.execute_script(
            "return getComputedStyle(document.querySelector(arguments[0]))[arguments[1]]", selector, prop,
        ))

    assert computed("body", "backgroundColor") == rgb(dark.page)
    assert computed(".card > table", "backgroundColor") == rgb(dark.card)
    assert computed(".masthead > table", "backgroundColor") == rgb(dark.masthead)
    assert computed("h1", "color") == rgb(dark.masthead_ink)
    assert computed("h2", "color") == rgb(dark.heading)
    assert computed("li a", "color") == rgb(dark.link)
    assert horizontal_overflow(browser, PHONE) == 0
