"""A 9-year-old's assent on a parent's phone (390x844), in two languages (issue 14).

The parent signs in with their invitation and code; their task list offers "your
child's turn"; the child reads in short parts, says yes (no "required" badge), writes
their name and draws, and agrees: no one-time code of their own, no "why sign today".
The signature is the child's, with the parent recorded as present. Screenshots of
each step go to test-artifacts/screenshots/child-turn-<lang>-*.png.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from consentkit.clock import now_utc
from consentkit.models.audit import AuditEvent
from consentkit.services import access, records
from tests.browser.conftest import Outbox
from tests.browser.family_steps import draw_signature
from tests.consentkit.records_helpers import STAFF, content, make_family

pytestmark = pytest.mark.browser

playwright_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
expect = playwright_api.expect


def _no_sideways_scroll(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


@pytest.mark.parametrize(("lang", "site"), [("fr", "FR-01"), ("nl", "NL-01")])
def test_child_assent_on_the_parents_phone(
    demo_study: Any, phones: Any, outbox: Outbox, lang: str, site: str
) -> None:
    family = make_family(
        f"{site}-9",
        site=site,
        birth_date=now_utc().date() - timedelta(days=9 * 365 + 40),
        child_name="Léa Martin",
        at=now_utc() - timedelta(days=1),
    )
    assent = records.open_record(family.participant, form_id="assent-6-9", actor=STAFF)
    code = access.create_invitation(family.participant, family.guardians[0], actor=STAFF)
    text = content(assent, lang)
    shots = f"child-turn-{lang}"
    phone = phones()
    page = phone.page

    page.goto(f"/family/i/{code}?lang={lang}")
    page.click("#redeem-form button[type=submit]")
    page.wait_for_url("**/family/code")
    page.fill("#one-time-code", outbox.next_code())
    page.click("#verify-form button[type=submit]")
    page.wait_for_url("**/family/tasks")
    expect(page.locator("#task-list")).to_have_attribute("aria-busy", "false")
    turn = page.locator(".child-turn .task-action")
    expect(turn).to_be_visible()
    phone.screenshot(f"{shots}-01-parent-tasks")

    turn.click()
    page.wait_for_url("**/child")
    expect(page.locator("#section-title")).to_have_text(text["sections"][0]["title"])
    assert page.evaluate("document.body.classList.contains('band-pictorial')")
    # The pictorial band's pictures: drawn (loaded, not broken) with the alt text of this language.
    picture = page.locator("#section-image")
    expect(picture).to_be_visible()
    expect(picture).to_have_attribute("alt", text["sections"][0]["media"]["alt"])
    assert page.evaluate("document.getElementById('section-image').naturalWidth") > 0
    assert _no_sideways_scroll(page)
    phone.screenshot(f"{shots}-02-read")
    for number, section in enumerate(text["sections"]):
        expect(picture).to_have_attribute("alt", section["media"]["alt"])
        if number == 2:
            phone.screenshot(f"{shots}-02b-read-picture")
        page.click("#next-part")
    expect(page.locator("#child-choose")).to_be_visible()
    # The child is asked plainly: no "required" badge, no code, no adult reason to sign early.
    expect(page.locator("#child-choose .badge")).to_have_count(0)
    expect(page.locator("#step-up-field")).to_have_count(0)
    expect(page.locator("#justification")).to_have_count(0)
    phone.screenshot(f"{shots}-03-choose")

    page.check(f"#item-{text['items'][0]['id']}-no")
    page.click("#child-choose button[type=submit]")
    expect(page.locator("#child-no")).to_be_visible()
    phone.screenshot(f"{shots}-04-saying-no-explained")
    page.click("#child-no-back")  # the child changes their mind: nothing was recorded

    page.check(f"#item-{text['items'][0]['id']}-yes")
    page.click("#child-choose button[type=submit]")
    expect(page.locator("#child-sign")).to_be_visible()
    page.fill("#child-name", "Léa")
    draw_signature(phone)
    assert _no_sideways_scroll(page)
    phone.screenshot(f"{shots}-05-sign")
    page.click("#child-submit")
    expect(page.locator("#child-done")).to_be_visible()
    phone.screenshot(f"{shots}-06-thank-you")

    signature = AuditEvent.objects(record_id=assent.record_id, type="signature.added").get()
    assert signature.payload["role"] == "participant"
    assert signature.payload["signer_id"] == str(family.child.id)
    assert signature.payload["present"]["signer_id"] == str(family.guardians[0].id)
    assert not AuditEvent.objects(type="assent.dissent").count()
