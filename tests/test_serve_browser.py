"""A reader signs up in a real (headless) Chromium against a real `digest serve` process, confirms
from the message in the outbox, and the next `digest send` reaches them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from digest.subscribers import read_subscribers
from tests.support.browser import chromedriver_missing, headless_chromium
from tests.support.cli import EDITION, load_test_config, run_digest, start_digest, store_edition, write_config
from tests.support.serve import WAIT_SECONDS, Lines, confirmation_link, read_eml
from tests.support.smtp import free_port

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(chromedriver_missing(), reason="needs /usr/bin/chromedriver (apt-get install chromium-driver)"),
]

@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    with headless_chromium(tmp_path / "chromium-profile") as driver:
        yield driver


def test_a_reader_signs_up_confirms_and_gets_the_next_edition(tmp_path: Path, browser: WebDriver) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    config_path = write_config(tmp_path, newsletter={"base_url": url})
    config = load_test_config(config_path)
    (tmp_path / "subscribers.csv").write_text(
        "email,name,status,subscribed_at,unsubscribed_at,source,confirmed_at\n"
        "ann@example.org,Ann,active,2026-01-01T00:00:00+00:00,,cli,\n",
        encoding="utf-8",
    )
    store_edition(config)
    lines = Lines(start_digest(config_path, "serve", "--port", str(port)))
    try:
        lines.wait_for("serving on")
        browser.get(f"{url}/subscribe")
        assert not browser.find_element(By.NAME, "website").is_displayed()  # the honeypot is out of sight
        browser.find_element(By.NAME, "email").send_keys("Nina@Example.org")
        browser.find_element(By.NAME, "name").send_keys("Nina")
        browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        WebDriverWait(browser, WAIT_SECONDS).until(expected_conditions.title_contains("Check your inbox"))

        lines.wait_for("confirmation sent to Nina@example.org")
        eml = tmp_path / "outbox" / "signup" / "nina_at_example.org.eml"
        assert read_eml(eml)["To"] == "Nina@example.org"
        link = confirmation_link(eml)
        assert link.startswith(f"{url}/confirm/") and "nina" not in link.lower()

        browser.get(link)
        assert read_subscribers(tmp_path / "subscribers.csv")[-1].status == "pending"  # opening changes nothing
        browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        WebDriverWait(browser, WAIT_SECONDS).until(expected_conditions.title_contains("You are subscribed"))
        assert browser.find_element(By.LINK_TEXT, "Read past editions in the archive").get_attribute("href") == f"{url}/"
    finally:
        lines.stop()
    nina = read_subscribers(tmp_path / "subscribers.csv")[-1]
    assert (nina.email, nina.name, nina.status, nina.source) == ("Nina@example.org", "Nina", "active", "form")
    assert nina.confirmed_at

    sent = run_digest(config_path, "send", "--yes")
    assert sent.returncode == 0, sent.stderr
    copy = read_eml(tmp_path / "outbox" / EDITION / "nina_at_example.org.eml")
    assert copy["To"] == "Nina <Nina@example.org>"
    assert f"{url}/unsubscribe/" in copy["List-Unsubscribe"]
