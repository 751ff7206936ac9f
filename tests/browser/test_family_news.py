"""The family news page in a real browser: markup shown as text, opening one counts it read."""

from __future__ import annotations

import time
from typing import Any

import pytest

from consentkit.models.publication import PublicationReceipt
from consentkit.services import access, news
from tests.browser.conftest import Outbox
from tests.consentkit.records_helpers import STAFF, consented_family

MARKUP = '<img src=x onerror="window.ckInjected=1">'


@pytest.mark.browser
def test_family_opens_the_news_in_their_language_and_it_counts_as_read(
    phones: Any, outbox: Outbox, demo_study: Any
) -> None:
    family, _record = consented_family("P-001")
    published = news.publish_news(
        "DEMO-NBL-1",
        kind="news",
        texts={"fr": {"title": f"Nouvelles {MARKUP}", "body": "Premier.\n\nSecond."}},
        by="admin-1",
    )
    code = access.create_invitation(family.participant, family.guardians[0], actor=STAFF)
    page = phones().page
    page.goto(f"/family/i/{code}?lang=fr")
    page.click("#redeem-form button[type=submit]")
    page.wait_for_url("**/family/code")
    page.fill("#one-time-code", outbox.next_code())
    page.click("#verify-form button[type=submit]")
    page.wait_for_url("**/family/tasks")

    page.click("#account-nav a[href='/family/news']")
    page.wait_for_selector("#news-list[aria-busy=false]")
    page.click("#news-list summary")

    assert MARKUP in page.inner_text("#news-list summary")
    assert page.evaluate("window.ckInjected") is None
    assert page.locator("#news-list details p").all_inner_texts() == ["Premier.", "Second."]
    deadline = time.monotonic() + 5
    while not PublicationReceipt.objects(publication_id=published.id).count():
        assert time.monotonic() < deadline, "no read receipt"
        time.sleep(0.1)
    assert PublicationReceipt.objects(publication_id=published.id).get().signer_id == str(
        family.guardians[0].id
    )
