"""A family reads the study team's answer, asks again, and changes an optional choice in the wallet.

In a real browser, on a 320 px wide phone, by keyboard where a person would use one.
"""

from __future__ import annotations

from typing import Any

import pytest

from backend.web.family import SCRIPT_STRINGS
from consentkit.i18n import gettext
from consentkit.services import access, audit, permissions, questions
from tests.browser.conftest import Outbox
from tests.browser.family_steps import LANG, sign_in
from tests.consentkit.records_helpers import STAFF, Family, consented_family

pytestmark = pytest.mark.browser

playwright_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
expect = playwright_api.expect

ANSWER = "Yes, the nurse calls you on Monday."


@pytest.fixture
def answered(demo_study: Any) -> tuple[Family, Any]:
    """A consented family whose question the study team has answered."""
    family, record = consented_family("FR-WALLET")
    asked = audit.append(
        family.participant,
        lambda _e: audit.Draft(
            type="question.asked",
            actor={"kind": "signer", "id": str(family.guardians[0].id), "role": "guardian"},
            payload={"text": "Can we talk to the nurse?"},
        ),
    )
    questions.answer_question(family.participant, asked.seq, text=ANSWER, locale="en", actor=STAFF)
    return family, record


def _sample_storage() -> str:
    answer = permissions.permissions_for("DEMO-NBL-1", "FR-WALLET", activities=["sample-storage"])
    return str(answer["answers"][0]["decision"])


def test_family_reads_the_answer_asks_again_and_changes_a_choice_in_the_wallet(
    phones: Any, outbox: Outbox, answered: tuple[Family, Any]
) -> None:
    family, record = answered
    phone = phones({"width": 320, "height": 720})
    page = phone.page
    code = access.create_invitation(family.participant, family.guardians[0], actor=STAFF)
    sign_in(phone, code, outbox)

    # The team's answer is shown under the question, and the family asks again.
    expect(page.locator("#ask-thread")).to_contain_text(ANSWER)
    page.fill("#ask-text", "Thank you. Can my husband come too?")
    page.click("#ask-send")
    expect(page.locator("#ask-thread")).to_contain_text("Can my husband come too?")
    expect(page.locator("#ask-thread")).to_contain_text(
        gettext(LANG, SCRIPT_STRINGS["question_open"])
    )
    phone.screenshot("family-wallet-01-answer")

    page.click("#wallet-link")
    page.wait_for_url("**/family/wallet")
    expect(page.locator("#wallet-children")).to_have_attribute("aria-busy", "false")
    expect(page.locator(".wallet-child")).to_have_count(1)
    card = page.locator(f'[data-record="{record.record_id}"]')
    expect(card.locator(".state")).not_to_be_empty()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    phone.screenshot("family-wallet-02-wallet")
    assert _sample_storage() == "permit"

    # By keyboard: the change button, then the panel with its fresh code.
    card.locator('[data-item="sample-storage"] .wallet-change').focus()
    page.keyboard.press("Enter")
    expect(page.locator("#change-choice")).to_be_visible()
    expect(page.locator("#change-choice-title")).to_be_focused()
    expect(page.locator("#new-choice-no")).to_be_checked()
    page.click("#send-step-up")
    expect(page.locator("#step-up-field")).to_be_visible()
    page.fill("#step-up-code", outbox.next_code())
    phone.screenshot("family-wallet-03-change")
    page.click("#submit-choice")

    expect(page.locator("#status")).to_have_text(gettext(LANG, SCRIPT_STRINGS["wallet_changed"]))
    expect(page.locator("#change-choice")).to_be_hidden()
    answer = card.locator('[data-item="sample-storage"] .wallet-answer')
    expect(answer).to_contain_text(gettext(LANG, SCRIPT_STRINGS["no"]))
    expect(answer).to_be_focused()
    assert audit.chain_dicts(str(family.participant.id))[-1]["type"] == "items.changed"
    assert _sample_storage() == "deny"
    phone.screenshot("family-wallet-04-changed")
