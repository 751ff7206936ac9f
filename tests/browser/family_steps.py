"""What a family member does on the web pages, step by step, for the browser tests.

A Dutch family (``LANG``): sign in with the invitation and a one-time code, read,
answer the questions, choose, draw a signature and confirm it with a fresh code.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from backend.web.family import SCRIPT_STRINGS
from consentkit.i18n import gettext
from tests.browser.conftest import Outbox, Phone
from tests.consentkit.records_helpers import content

playwright_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
expect = playwright_api.expect

LANG = "nl"


# ---------------------------------------------------------------- steps, as a person does them


def sign_in(phone: Phone, code: str, outbox: Outbox, shots: str | None = None) -> None:
    page = phone.page
    page.goto(f"/family/i/{code}?lang={LANG}")
    expect(page.locator("#invitation-code")).to_have_value(code)
    if shots:
        phone.screenshot(f"{shots}-01-start")
    page.click("#redeem-form button[type=submit]")
    page.wait_for_url("**/family/code")
    page.fill("#one-time-code", outbox.next_code())
    if shots:
        phone.screenshot(f"{shots}-02-code")
    page.click("#verify-form button[type=submit]")
    page.wait_for_url("**/family/tasks")
    expect(page.locator("#task-list")).to_have_attribute("aria-busy", "false")


def read_everything(phone: Phone, shots: str | None = None) -> None:
    page = phone.page
    page.click(".task-action")
    page.wait_for_url("**/read")
    expect(page.locator("#section-title")).not_to_be_empty()
    # Mobile first: long titles wrap instead of widening the page.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    if shots:
        phone.screenshot(f"{shots}-04-read")
    while page.locator("#next-part").is_visible():
        page.click("#next-part")
    page.click("#finish-reading")


def answer_questions(phone: Phone, text: dict[str, Any], shots: str | None = None) -> None:
    """Answer the first question wrongly, see its explanation, then put it right."""
    page = phone.page
    page.wait_for_url("**/quiz")
    first = text["questions"][0]
    wrong = next(o["id"] for o in first["options"] if o["id"] != first["correct"])
    page.check(f"#q-{first['id']}-{wrong}")
    for question in text["questions"][1:]:
        page.check(f"#q-{question['id']}-{question['correct']}")
    page.click("#check-answers")
    expect(page.locator(f"#feedback-{first['id']}")).to_contain_text(first["explanation"])
    expect(page.locator(f"#feedback-{first['id']}")).to_have_class("feedback wrong")
    # A wrong answer is never "well done", even when the others are enough to pass.
    score = page.locator("#quiz-score")
    expect(score).not_to_be_empty()
    expect(score).not_to_contain_text(gettext(LANG, SCRIPT_STRINGS["quiz_passed"]))
    if shots:
        phone.screenshot(f"{shots}-05-quiz-feedback")
    page.check(f"#q-{first['id']}-{first['correct']}")
    page.click("#check-answers")
    expect(page.locator(f"#feedback-{first['id']}")).to_have_class("feedback")
    page.click("#quiz-continue")


def choose_yes_to_everything(phone: Phone, text: dict[str, Any], shots: str | None = None) -> None:
    page = phone.page
    page.wait_for_url("**/choices")
    for item in text["items"]:
        page.check(f"#item-{item['id']}-yes")
    if shots:
        phone.screenshot(f"{shots}-06-choices")
    page.click("#choices-form button[type=submit]")


def draw_signature(phone: Phone) -> None:
    page = phone.page
    canvas = page.locator("#signature-canvas")
    canvas.scroll_into_view_if_needed()  # the mouse reaches only what is on screen
    box = canvas.bounding_box()
    assert box is not None
    x, y, w, h = box["x"], box["y"], box["width"], box["height"]
    page.mouse.move(x + 0.1 * w, y + 0.7 * h)
    page.mouse.down()
    for fx, fy in ((0.25, 0.2), (0.4, 0.75), (0.55, 0.3), (0.7, 0.65)):
        page.mouse.move(x + fx * w, y + fy * h, steps=6)
    page.mouse.up()
    page.mouse.move(x + 0.3 * w, y + 0.85 * h)
    page.mouse.down()
    page.mouse.move(x + 0.85 * w, y + 0.8 * h, steps=6)
    page.mouse.up()


def confirm_with_code(phone: Phone, outbox: Outbox) -> None:
    page = phone.page
    page.click("#send-step-up")
    expect(page.locator("#step-up-field")).to_be_visible()
    page.fill("#step-up-code", outbox.next_code())


def sign(
    phone: Phone, outbox: Outbox, name: str, shots: str | None = None, *, reflection: bool = True
) -> None:
    """Sign; inside the study's 24 hours to think, say why, then confirm with a new code.

    The page tells when signing needs no reason before anything is typed, and asks the
    reason there. A child's assent has no time to think (it belongs to the guardians):
    ``reflection=False``.
    """
    page = phone.page
    page.wait_for_url(re.compile(r"/sign(\?|$)"))  # with or without the page's ?lang=
    expect(page.locator("#signature-meaning")).not_to_be_empty()
    if reflection:
        expect(page.locator("#reflection-notice")).to_be_visible()
        expect(page.locator("#justification-field")).to_be_visible()
        if shots:
            phone.screenshot(f"{shots}-08-sign-reflection-time")
        page.fill("#justification", "We talked it through with the doctor and we are sure.")
    else:
        expect(page.locator("#justification-field")).to_be_hidden()
    page.fill("#printed-name", name)
    draw_signature(phone)
    confirm_with_code(phone, outbox)
    if shots:
        phone.screenshot(f"{shots}-07-sign")
    page.click("#submit-signature")
    page.wait_for_url("**/done")
    expect(page.locator("#record-state")).not_to_be_empty()


def parent_signs(
    phone: Phone, outbox: Outbox, code: str, record: Any, name: str, shots: str | None = None
) -> None:
    text = content(record, LANG)
    sign_in(phone, code, outbox, shots)
    if shots:
        phone.screenshot(f"{shots}-03-tasks")
    read_everything(phone, shots)
    answer_questions(phone, text, shots)
    choose_yes_to_everything(phone, text, shots)
    sign(phone, outbox, name, shots)
