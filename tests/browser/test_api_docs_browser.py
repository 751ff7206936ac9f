"""Swagger UI at /api/docs runs under its strict CSP and asks no other origin for anything."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import Phone

pytestmark = pytest.mark.browser
pytest.importorskip("playwright.sync_api", reason="pip install playwright")


def test_swagger_ui_renders_from_this_origin_only(browser: Any, live_server: str) -> None:
    phone = Phone(browser, live_server, viewport={"width": 1280, "height": 900})
    requested: list[str] = []
    phone.page.on("request", lambda req: requested.append(req.url))
    try:
        phone.page.goto("/api/docs")
        phone.page.wait_for_selector(".opblock", timeout=20_000)
        operations = phone.page.locator(".opblock").count()
    finally:
        phone.close()

    assert operations > 10
    assert phone.problems == []
    assert requested
    assert all(url.startswith(live_server) for url in requested), requested
