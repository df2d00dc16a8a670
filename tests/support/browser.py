"""Headless Chromium for layout tests: Debian's /usr/bin/chromium driven by /usr/bin/chromedriver.

Paths are given explicitly so Selenium Manager (which downloads drivers) never runs.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")

_ARGUMENTS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
)


def chromedriver_missing() -> bool:
    """True where the browser tests should be skipped; in CI (CI=true) they must run, so never."""
    return not CHROMEDRIVER.is_file() and os.environ.get("CI") != "true"


@dataclass(frozen=True, slots=True)
class Viewport:
    width: int
    height: int
    mobile: bool


PHONE = Viewport(375, 812, mobile=True)
DESKTOP = Viewport(800, 1000, mobile=False)


@contextmanager
def headless_chromium(user_data_dir: Path) -> Iterator[webdriver.Chrome]:
    """One Chromium with a fresh profile, quit on exit."""
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (*_ARGUMENTS, f"--user-data-dir={user_data_dir}"):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
    try:
        yield driver
    finally:
        driver.quit()


def set_viewport(driver: webdriver.Chrome, viewport: Viewport) -> None:
    """Emulate the device's viewport (a real window cannot be made narrower than ~500px)."""
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": viewport.width, "height": viewport.height, "deviceScaleFactor": 1, "mobile": viewport.mobile},
    )


def save_full_page_screenshot(driver: webdriver.Chrome, viewport: Viewport, path: Path) -> None:
    """Grow the viewport to the page's height, screenshot it, and restore the viewport."""
    height = int(driver.execute_script("return document.documentElement.scrollHeight"))
    set_viewport(driver, Viewport(viewport.width, max(height, viewport.height), viewport.mobile))
    driver.save_screenshot(str(path))
    set_viewport(driver, viewport)


def set_color_scheme(driver: webdriver.Chrome, scheme: str) -> None:
    """Emulate the reader's `prefers-color-scheme` ("light" or "dark")."""
    driver.execute_cdp_cmd(
        "Emulation.setEmulatedMedia",
        {"media": "", "features": [{"name": "prefers-color-scheme", "value": scheme}]},
    )
