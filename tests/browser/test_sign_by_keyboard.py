"""A parent signs with the keyboard only, by typing their full name (issue 14).

Someone who cannot draw on a screen, or uses no pointer at all, signs by typing their
name with an explicit "I sign": the sign page tells them first when they can sign
without a reason, lists the choices they are signing, and every control (the method,
the name, "I sign", the code, the button) is reached with Tab and used with the keys.
A name other than the one the study team registered is refused kindly.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from backend.web.family import SCRIPT_STRINGS
from consentkit.clock import now_utc
from consentkit.i18n import gettext
from consentkit.services import access, records
from tests.browser.conftest import Outbox
from tests.browser.family_steps import LANG, sign_in
from tests.consentkit.records_helpers import STAFF, content, make_family, prepare

pytestmark = pytest.mark.browser

playwright_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
expect = playwright_api.expect

NAME = "Anna de Vries"


def _tab_to(page: Any, selector: str, limit: int = 40) -> None:
    """Press Tab until the element has the focus, as a keyboard user moves through the page."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(
            "(s) => !!document.activeElement && document.activeElement.matches(s)", selector
        ):
            return
    raise AssertionError(f"{selector} is not reachable with Tab")


def test_a_parent_signs_with_a_typed_name_using_only_the_keyboard(
    demo_study: Any, phones: Any, outbox: Outbox
) -> None:
    family = make_family(
        "NL-KEYS",
        site="NL-01",
        birth_date=now_utc().date() - timedelta(days=13 * 365 + 100),
        names=(NAME, "Pieter de Vries"),
    )
    parental = records.open_record(family.participant, form_id="parental-consent", actor=STAFF)
    text = content(parental, LANG)
    phone = phones()
    page = phone.page
    # Read, answered and chosen (all yes) just now; the browser part is the signing.
    prepare(family, parental, family.guardians[0], locale=LANG, at=now_utc())
    sign_in(
        phone,
        access.create_invitation(family.participant, family.guardians[0], actor=STAFF),
        outbox,
    )
    _tab_to(page, ".task-action")
    page.keyboard.press("Enter")
    page.wait_for_url("**/sign")

    # Before anything is typed: when signing needs no reason, and what is being signed.
    expect(page.locator("#reflection-notice")).to_be_visible()
    expect(page.locator("#justification-field")).to_be_visible()
    expect(page.locator("#choices-signed-list li")).to_have_count(len(text["items"]))
    expect(page.locator("#method-field")).to_be_visible()

    _tab_to(page, "#justification")
    page.keyboard.type("We talked it through with the doctor and we are sure.")
    _tab_to(page, "#method-drawn")  # the radio group: one Tab stop, arrows choose
    page.keyboard.press("ArrowDown")
    expect(page.locator("#method-typed")).to_be_checked()
    expect(page.locator("#typed-field")).to_be_visible()
    expect(page.locator("#drawn-field")).to_be_hidden()
    _tab_to(page, "#printed-name")
    page.keyboard.type("Someone Else")
    _tab_to(page, "#i-sign")
    page.keyboard.press("Space")
    expect(page.locator("#i-sign")).to_be_checked()
    _tab_to(page, "#send-step-up")
    page.keyboard.press("Enter")
    expect(page.locator("#step-up-field")).to_be_visible()
    _tab_to(page, "#step-up-code")
    page.keyboard.type(outbox.next_code())
    _tab_to(page, "#submit-signature")
    page.keyboard.press("Enter")

    # Another name: refused kindly, the focus back on the name, a new code needed.
    expect(page.locator("#messages")).to_contain_text(
        gettext(LANG, SCRIPT_STRINGS["new_code_needed"])
    )
    expect(page.locator("#printed-name")).to_be_focused()
    page.keyboard.press("Control+A")
    page.keyboard.type(NAME.upper())  # case does not matter
    _tab_to(page, "#send-step-up")
    page.keyboard.press("Enter")
    _tab_to(page, "#step-up-code")
    page.keyboard.type(outbox.next_code())
    _tab_to(page, "#submit-signature")
    page.keyboard.press("Enter")
    page.wait_for_url("**/done")
    phone.screenshot("keyboard-typed-signature-done")

    [signed] = [e for e in records.history(family.participant) if e["type"] == "signature.added"]
    assert signed["payload"]["signature_method"] == "typed"
    assert signed["payload"]["strokes"] == []
    assert signed["payload"]["printed_name"] == NAME.upper()
    assert signed["payload"]["early_signing_justification"]
