"""Fixtures of the browser tests: Debian's chromium driven by Playwright against real tellers.

Playwright's own browser download cannot work here, so the system chromium is launched
(`make test-deps` installs it; missing, it skips the tests locally and fails them in CI). One
browser per test module; every page opened through `open_page` fails its test if the page
logged a Content-Security-Policy violation or threw an uncaught error. Screenshots go to
test-output/screenshots/ (kept out of git).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.http.running_teller import TellerLauncher, reap_stopping
from tests.peers import CHROMIUM_HINT, PLAYWRIGHT_HINT, require_peer

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
EXPECT_TIMEOUT_MS = 10_000  # for conditions the page reaches on its own (polling every 5 s)

try:
    from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright
except ImportError:  # pragma: no cover - the dev extra installs it
    sync_playwright = None  # type: ignore[assignment]


def _require_browser() -> None:
    """Skip (locally) or fail (in CI) when Playwright or chromium is missing."""
    if sync_playwright is None:
        require_peer("the Python package playwright", PLAYWRIGHT_HINT)
    if not CHROMIUM.exists() and shutil.which("chromium") is None:
        require_peer("chromium (Debian package `chromium`)", CHROMIUM_HINT)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    _require_browser()
    executable = CHROMIUM if CHROMIUM.exists() else Path(shutil.which("chromium") or "")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(executable), headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def launcher(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TellerLauncher]:
    """Starts tellers (in threads, dummy mode) shared by a module's tests."""
    started = TellerLauncher(tmp_path_factory.mktemp("tellers"))
    yield started
    started.stop_all()
    problems = reap_stopping(wait=True)
    assert not problems, "\n".join(problems)


@dataclass
class PageProblems:
    """What a page must never do: break its CSP or throw."""

    messages: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.messages.append(f"uncaught: {error}"))

    def _console(self, message: Any) -> None:
        if "Content Security Policy" in message.text or "Refused to" in message.text:
            self.messages.append(f"CSP: {message.text}")


OpenPage = Callable[..., Page]


@pytest.fixture
def open_page(browser: Browser) -> Iterator[OpenPage]:
    """open_page(url, phone=False, clipboard=False, admin_token=None) -> a new page in its own
    context, once the page has rendered what it first loads (it then marks <body
    data-ready>); with admin_token, the admin dashboard's sign-in form is filled in first."""
    contexts: list[BrowserContext] = []
    problems = PageProblems()

    def open_(
        url: str, *, phone: bool = False, clipboard: bool = False, admin_token: str | None = None
    ) -> Page:
        options: dict[str, Any] = {"viewport": PHONE if phone else DESKTOP}
        if phone:
            options.update(is_mobile=True, has_touch=True, device_scale_factor=2)
        if clipboard:
            options["permissions"] = ["clipboard-read", "clipboard-write"]
        context = browser.new_context(**options)
        context.set_default_timeout(EXPECT_TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        problems.watch(page)
        page.goto(url)
        page.wait_for_selector("body[data-ready=true]", state="attached")  # first render done
        if admin_token is not None:
            sign_in(page, admin_token)
        return page

    yield open_
    for context in contexts:
        context.close()
    assert not problems.messages, "\n".join(problems.messages)


def sign_in(page: Page, token: str) -> None:
    """Sign in to the admin dashboard as an operator does: the token in the form."""
    page.locator("#token").fill(token)
    page.locator("#login-form button[type=submit]").click()
    page.wait_for_selector("body[data-signed-in=true]", state="attached")


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
