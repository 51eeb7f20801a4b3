"""Browser fixtures: one headless Chromium per module, a fresh watched page per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Playwright, sync_playwright

from tests.web.browser import CHROMIUM, CHROMIUM_ARGS, Watched


@pytest.fixture(scope="module")
def playwright_driver() -> Iterator[Playwright]:
    """The Playwright driver of the module."""
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright_driver: Playwright) -> Iterator[Browser]:
    """Debian's Chromium, headless, with nothing that talks to the internet."""
    b = playwright_driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    yield b
    b.close()


@pytest.fixture
def watched(browser: Browser) -> Iterator[Watched]:
    """A fresh browser context (no cookies) with one watched page, desktop-sized, Chinese locale."""
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
    w = Watched(context.new_page())
    yield w
    context.close()
