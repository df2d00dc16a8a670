"""`make screenshots`: the sample and stress editions at phone and desktop widths, light and dark.

    python -m tests.support.screenshots build/screenshots

Writes `<edition>-<width>-<scheme>.png`, as the reader Ann gets it, for a person to look at;
nothing here is asserted.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from digest.config import EmailConfig, NewsletterConfig
from digest.deliver.base import Recipient
from digest.deliver.message import personalise
from digest.models import Digest
from digest.render import render_email
from tests.support.browser import (
    DESKTOP,
    PHONE,
    headless_chromium,
    save_full_page_screenshot,
    set_color_scheme,
    set_viewport,
)

RENDER_FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "render"
EDITIONS = {"sample": RENDER_FIXTURES / "digest.json", "stress": RENDER_FIXTURES / "stress.json"}
NEWSLETTER = NewsletterConfig(
    name="The Transatlantic Brief",
    from_email="brief@example.org",
    postal_address="The Transatlantic Brief, 1 Example Street, London EC1A 1AA, United Kingdom",
    base_url="https://news.example.org",
)
READER = Recipient("ann@example.org", "Ann", "https://news.example.org/unsubscribe/token")


def take_screenshots(folder: Path, email: EmailConfig | None = None) -> list[Path]:
    """Render each edition and screenshot it at both widths in both schemes; returns the files."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory() as scratch, headless_chromium(Path(scratch) / "profile") as browser:
        for name, fixture in EDITIONS.items():
            digest = Digest.from_json(json.loads(fixture.read_text(encoding="utf-8")))
            page = Path(scratch) / f"{name}.html"
            html, _ = personalise(render_email(digest, NEWSLETTER, email), READER)
            page.write_text(html, encoding="utf-8")
            for viewport in (PHONE, DESKTOP):
                for scheme in ("light", "dark"):
                    set_viewport(browser, viewport)
                    set_color_scheme(browser, scheme)
                    browser.get(page.as_uri())
                    path = folder / f"{name}-{viewport.width}-{scheme}.png"
                    save_full_page_screenshot(browser, viewport, path)
                    written.append(path)
    return written


def main(argv: list[str]) -> int:
    folder = Path(argv[1]) if len(argv) > 1 else Path("build/screenshots")
    for path in take_screenshots(folder):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
