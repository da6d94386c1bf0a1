"""Headless Chromium for the browser tests: the system's own (Debian's ``chromium``) driven by Playwright.

Playwright never downloads a browser here (no ``playwright install``): it
launches the executable the system package installed. Without one, the
browser tests are skipped with one line, except under CI (``CI=true``),
where a missing browser is a failure: .ci/run installs it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
DOCS_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
# Set to write the screenshots into docs/images/ (docs/dashboard.md shows them); else they go to a temporary dir.
WRITE_SCREENSHOTS = os.environ.get("AIBRIDGE_WRITE_SCREENSHOTS") == "1"


def chromium_or_skip() -> str:
    """The Chromium executable; skips the calling module (fails under CI) when there is none."""
    found = os.environ.get("AIBRIDGE_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    message = "no Chromium (apt-get install chromium): browser tests skipped"
    if os.environ.get("CI") == "true":
        pytest.fail(message.replace("skipped", "cannot run under CI"), pytrace=False)
    pytest.skip(message, allow_module_level=True)


def launch(playwright, executable: str):
    return playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)


class ConsoleErrors:
    """Errors a page reported: console errors, uncaught exceptions, and requests that failed."""

    def __init__(self):
        self.found: list[str] = []

    def watch(self, page) -> None:
        page.on("console", lambda message: message.type == "error" and self.found.append(message.text))
        page.on("pageerror", lambda error: self.found.append(str(error)))
        page.on("requestfailed", lambda request: self.found.append(f"{request.url}: {request.failure}"))

    def take(self) -> list[str]:
        found, self.found = self.found, []
        return found
