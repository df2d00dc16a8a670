"""The rendered email in a real (headless) Chromium, at phone and desktop widths."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By

from digest.config import NewsletterConfig
from digest.models import UNSUBSCRIBE_URL_PLACEHOLDER, Bullet, Digest, Section, SourceRef, SourceReport
from digest.render import render_email
from tests.conftest import FIXTURES
from tests.support.browser import (
    DESKTOP,
    PHONE,
    Viewport,
    chromedriver_missing,
    headless_chromium,
    save_full_page_screenshot,
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


@pytest.fixture(scope="module")
def fixture_digest() -> Digest:
    return Digest.from_json(json.loads((FIXTURES / "render" / "digest.json").read_text(encoding="utf-8")))


def open_email(browser: WebDriver, html: str, folder: Path, viewport: Viewport) -> None:
    page = folder / "email.html"
    page.write_text(html, encoding="utf-8")
    set_viewport(browser, viewport)
    browser.get(page.as_uri())


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
def test_email_fits_the_screen_and_shows_what_matters(
    browser: WebDriver, fixture_digest: Digest, tmp_path: Path, viewport: Viewport
) -> None:
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
    bullet = Bullet("Unbroken: " + "Donaudampfschifffahrtsgesellschaft" * 4 + " then more words.", SourceRef(long_url, long_url))
    digest = Digest(
        digest.edition, digest.title, digest.generated_at,
        (Section("Ukraine peace", (bullet,)),),
        (SourceReport(long_url, long_url, "error", "x" * 200),),
    )
    open_email(browser, render_email(digest, NEWSLETTER).html, tmp_path, PHONE)
    assert horizontal_overflow(browser, PHONE) == 0
