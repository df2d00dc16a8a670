"""axe-core (npm, installed by `make test` into .venv/node_modules) run inside headless Chromium."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from selenium.webdriver.chrome.webdriver import WebDriver

AXE_SCRIPT = Path(__file__).resolve().parents[2] / ".venv" / "node_modules" / "axe-core" / "axe.min.js"
# WCAG 2.0, 2.1 and 2.2 at levels A and AA.
WCAG_AA_TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa")


def axe_missing() -> bool:
    """True where the accessibility tests should be skipped; in CI (CI=true) they must run, so never."""
    return not AXE_SCRIPT.is_file() and os.environ.get("CI") != "true"


def axe_violations(driver: WebDriver, tags: tuple[str, ...] = WCAG_AA_TAGS) -> list[dict[str, Any]]:
    """axe-core's violations of the page now open in `driver`, for the rules tagged `tags`."""
    driver.execute_script(AXE_SCRIPT.read_text(encoding="utf-8"))
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {runOnly: {type: 'tag', values: arguments[0]}, resultTypes: ['violations']})"
        ".then(r => done(r.violations), e => done({error: String(e)}));",
        list(tags),
    )
    if isinstance(result, dict):
        raise RuntimeError(f"axe-core failed: {result['error']}")
    return [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [(n["target"], n.get("failureSummary", "")) for n in v["nodes"]],
        }
        for v in result
    ]
