"""Browser tests: Debian's headless Chromium, driven by Playwright, against a live test server.

Playwright's Python package drives the system browser (``/usr/bin/chromium``,
from ``apt-get install chromium``); no browser build is ever downloaded, so
``playwright install`` is never run. Without Chromium the tests are skipped.
Screenshots of the key pages go to ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
#: A closed network: nothing in the background may try to reach the internet.
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: A phone-sized window: the pages are mobile first.
PHONE = {"width": 390, "height": 844}
#: The staff pages are for a desktop browser or a tablet.
DESKTOP = {"width": 1280, "height": 900}


def chromium_path() -> str | None:
    """Return Debian's Chromium (or ``CONSENTKIT_CHROMIUM``), if installed."""
    explicit = os.environ.get("CONSENTKIT_CHROMIUM")
    if explicit:
        return explicit if Path(explicit).is_file() else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium per test module (a fresh profile each launch)."""
    executable = chromium_path()
    if executable is None:
        pytest.skip("Chromium is not installed: apt-get install chromium")
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=LAUNCH_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def live_server(app: Any) -> Iterator[str]:
    """Serve the test app over HTTP on 127.0.0.1 (a free port), in a thread."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()


class Phone:
    """A browser context (own sessionStorage and cookies) that records script failures."""

    def __init__(self, browser: Any, base_url: str, viewport: dict[str, int] | None = None) -> None:
        self.context = browser.new_context(
            base_url=base_url, viewport=viewport or PHONE, accept_downloads=True, locale="en-GB"
        )
        self.context.set_default_timeout(15_000)
        self.page = self.context.new_page()
        self.problems: list[str] = []
        # Failed API calls log "Failed to load resource" on purpose (409, 401): only
        # uncaught exceptions and policy violations are problems.
        self.page.on("pageerror", lambda error: self.problems.append(str(error)))
        self.page.on("console", self._console)

    def _console(self, message: Any) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            self.problems.append(message.text)

    def screenshot(self, name: str) -> None:
        """Save the whole page as test-artifacts/screenshots/<name>.png."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def phones(browser: Any, live_server: str) -> Iterator[Any]:
    """Open phones (browser contexts) on the live server; each is checked for script errors."""
    opened: list[Phone] = []

    def open_phone(viewport: dict[str, int] | None = None) -> Phone:
        phone = Phone(browser, live_server, viewport)
        opened.append(phone)
        return phone

    yield open_phone
    problems = [problem for phone in opened for problem in phone.problems]
    for phone in opened:
        phone.close()
    assert not problems, problems


class Outbox:
    """One-time codes as the console sender prints them (the family's phone or inbox)."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys

    def next_code(self, timeout: float = 10.0) -> str:
        """Return the next code sent (the server prints it before it answers)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.findall(r"one-time code\] to .*: (\d{6})", self.capsys.readouterr().out)
            if found:
                return str(found[-1])
            time.sleep(0.05)
        pytest.fail("no one-time code was sent")


@pytest.fixture
def outbox(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Outbox:
    """Codes go to the console sender, read back from captured output."""
    monkeypatch.setenv("CONSENTKIT_OTP_SENDER", "console")
    return Outbox(capsys)
