"""A real browser for the web front door: Debian's Chromium driven by Playwright, axe-core.

The browser is started once per session; every test gets a fresh context (no cookies, no
storage) and a page in it. The tests run on the async Playwright API in one session-wide
event loop (see `pytestmark` in the test modules), because the helpers that seed data are
coroutines too.

What they need: `/usr/bin/chromium` (Debian's `chromium` package; `.ci/run` installs it) and
axe-core in `tests/browser/node_modules` (`make setup` runs `npm ci --prefix tests/browser`).
Locally, without them, the browser tests are skipped with the reason; under CI (`CI=true`)
a missing browser or axe-core is an error, so a green CI always means the tests ran.
No browser is ever downloaded: Playwright drives the Chromium the machine has.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, async_playwright

from tests.browser.a11y import AXE_JS

CHROMIUM = Path(os.environ.get("WOMENTO_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def missing_tools() -> list[str]:
    missing = []
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        missing.append(f"Chromium at {CHROMIUM} (Debian: apt-get install chromium)")
    if not AXE_JS.is_file():
        missing.append(f"axe-core at {AXE_JS} (make setup, or npm ci --prefix tests/browser)")
    return missing


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser() -> AsyncIterator[Browser]:
    missing = missing_tools()
    if missing:
        reason = "browser tests need " + " and ".join(missing)
        if in_ci():
            pytest.fail(f"{reason}; under CI they must run, not be skipped", pytrace=False)
        pytest.skip(reason)
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        yield chromium
        await chromium.close()


@pytest_asyncio.fixture(loop_scope="session")
async def page(browser: Browser) -> AsyncIterator[Page]:
    """A page in a fresh context (desktop size); script errors on it fail the test."""
    context = await browser.new_context(viewport=DESKTOP, locale="fi-FI")
    context.set_default_timeout(15_000)
    opened = await context.new_page()
    script_errors: list[str] = []
    opened.on("pageerror", lambda error: script_errors.append(str(error)))
    yield opened
    await context.close()
    assert not script_errors, f"JavaScript errors on the page: {script_errors}"
