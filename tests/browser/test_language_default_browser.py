"""A family reads in the language recorded for them, else their phone's (issue 14).

The study team records a parent's language at enrolment; a phone set to English then
still shows that parent's pages in their own language, and the language menu offers
only the languages of the family's site. Nobody typed ``?lang=``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from consentkit.clock import now_utc
from consentkit.services import access, participants, records
from tests.browser.conftest import Outbox
from tests.consentkit.records_helpers import STAFF, make_family

pytestmark = pytest.mark.browser

playwright_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
expect = playwright_api.expect


def _signed_in(page: Any, code: str, outbox: Outbox) -> None:
    page.goto(f"/family/i/{code}")
    page.click("#redeem-form button[type=submit]")
    page.wait_for_url("**/family/code")
    page.fill("#one-time-code", outbox.next_code())
    page.click("#verify-form button[type=submit]")
    page.wait_for_url("**/family/tasks**")
    expect(page.locator("#task-list")).to_have_attribute("aria-busy", "false")


def test_the_recorded_language_comes_before_the_phones_and_the_menu_is_the_sites(
    demo_study: Any, phones: Any, outbox: Outbox
) -> None:
    family = make_family(
        "DE-LANG", site="DE-01", birth_date=now_utc().date() - timedelta(days=8 * 365)
    )
    recorded = participants.add_signer(
        family.participant,
        role="guardian",
        identity={"name": "Jana Weber", "email": "jana@example.org"},
        actor=STAFF,
        preferred_language="de",
    )
    records.open_record(family.participant, form_id="parental-consent", actor=STAFF)
    phone = phones()  # an English phone (en-GB)
    page = phone.page

    _signed_in(page, access.create_invitation(family.participant, recorded, actor=STAFF), outbox)

    expect(page.locator("html")).to_have_attribute("lang", "de")
    offered = page.locator(".language-switcher li:not([hidden]) a[hreflang]")
    expect(offered).to_have_count(2)
    assert sorted(offered.evaluate_all("(links) => links.map((a) => a.hreflang)")) == ["de", "en"]
