"""A Dutch family of a 13-year-old consents in the browser: both parents and the child sign.

In the Netherlands a child of 12 to 15 co-signs with both parents (WMO art 6),
so the parental consent needs two parents and the investigator, and the child
signs an assent of their own. Each signer goes through the web pages on a
phone-sized screen: invitation, one-time code, reading, questions, choices,
signature on the canvas with a fresh code, then the sealed PDF and a withdrawal.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from consentkit.clock import now_utc
from consentkit.labels import label
from consentkit.services import access, documents, records
from tests.browser.conftest import Outbox, Phone
from tests.consentkit.records_helpers import STAFF, Family, content, make_family, prepare
from tests.consentkit.records_helpers import sign as library_sign

pytestmark = pytest.mark.browser

playwright_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
expect = playwright_api.expect

LANG = "nl"


@dataclass
class Dutch13:
    family: Family
    parental: Any
    assent: Any


@pytest.fixture
def dutch_family(demo_study: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Dutch13:
    """A 13-year-old at NL-01 with an open parental consent and an open assent."""
    monkeypatch.setenv("CONSENTKIT_DATA_DIR", str(tmp_path))  # the development PDF seal
    family = make_family(
        "NL-013",
        site="NL-01",
        birth_date=now_utc().date() - timedelta(days=13 * 365 + 100),
        names=("Anna de Vries", "Pieter de Vries"),
    )
    parental = records.open_record(family.participant, form_id="parental-consent", actor=STAFF)
    assent = records.open_record(family.participant, form_id="assent-10-13", actor=STAFF)
    return Dutch13(family, parental, assent)


def invite(family: Family, signer: Any) -> str:
    return access.create_invitation(family.participant, signer, actor=STAFF)


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


def sign(phone: Phone, outbox: Outbox, name: str, shots: str | None = None) -> None:
    """Sign; inside the study's 24 hours to think, say why and confirm with a new code."""
    page = phone.page
    page.wait_for_url("**/sign")
    expect(page.locator("#signature-meaning")).not_to_be_empty()
    page.fill("#printed-name", name)
    draw_signature(phone)
    confirm_with_code(phone, outbox)
    if shots:
        phone.screenshot(f"{shots}-07-sign")
    page.click("#submit-signature")
    expect(page.locator("#justification-field")).to_be_visible()
    expect(page.locator("#messages")).not_to_be_empty()
    expect(page.locator("#step-up-field")).to_be_hidden()  # that code was spent
    if shots:
        phone.screenshot(f"{shots}-08-sign-reflection-time")
    page.fill("#justification", "We talked it through with the doctor and we are sure.")
    confirm_with_code(phone, outbox)
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


# ---------------------------------------------------------------- tests


def test_family_flow_one_parent_signs_and_sees_who_must_still_sign(
    phones: Any, outbox: Outbox, dutch_family: Dutch13
) -> None:
    family = dutch_family.family
    phone = phones()

    parent_signs(
        phone,
        outbox,
        invite(family, family.guardians[0]),
        dutch_family.parental,
        "Anna de Vries",
        shots="parent",
    )

    page = phone.page
    expect(page.locator("#record-state")).to_have_text(
        label("record_state", "awaiting-signatures", LANG)
    )
    waiting = page.locator("#waiting-for")
    expect(waiting).to_contain_text(label("signer_role", "guardian", LANG))
    expect(waiting).to_contain_text(label("signer_role", "investigator", LANG))
    expect(page.locator("#download-panel")).to_be_hidden()
    phone.screenshot("parent-09-done-waiting")
    [signed] = [e for e in records.history(family.participant) if e["type"] == "signature.added"]
    assert signed["payload"]["printed_name"] == "Anna de Vries"
    assert signed["payload"]["locale"] == LANG
    assert len(signed["payload"]["strokes"]) == 2
    assert signed["payload"]["early_signing_justification"]


def test_family_flow_parents_and_child_sign_download_the_sealed_pdf_and_withdraw(
    phones: Any, outbox: Outbox, dutch_family: Dutch13
) -> None:
    family = dutch_family.family
    parental, assent = dutch_family.parental, dutch_family.assent
    first, second, child = phones(), phones(), phones()

    parent_signs(first, outbox, invite(family, family.guardians[0]), parental, "Anna de Vries")
    parent_signs(second, outbox, invite(family, family.guardians[1]), parental, "Pieter de Vries")
    sign_in(child, invite(family, family.child), outbox)
    read_everything(child)  # the assent has questions, but they are not required
    choose_yes_to_everything(child, content(assent, LANG), shots="child")
    sign(child, outbox, "Sem de Vries", shots="child")
    for record in (parental, assent):  # the investigator countersigns at the site
        library_sign(family, record, family.investigator, at=now_utc(), locale=LANG)

    page = second.page
    page.click("#check-again")
    expect(page.locator("#record-state")).to_have_text(label("record_state", "consented", LANG))
    expect(page.locator("#download-panel")).to_be_visible()
    second.screenshot("parent-10-done-complete")
    with page.expect_download(timeout=60_000) as download:
        page.click("#download-pdf")
    pdf = Path(download.value.path()).read_bytes()
    # pyHanko validates with asyncio.run(): not on this thread, where Playwright's loop runs.
    with ThreadPoolExecutor(max_workers=1) as worker:
        report = worker.submit(documents.verify_pdf, pdf).result()
    assert report.ok, report.problems
    assert report.record is not None
    assert report.record["record_id"] == parental.record_id
    assert report.record["state"] == "consented"

    page.goto("/family/withdraw")
    page.check("#choice-stop-everything-new")
    page.check("#reason-declined")
    page.click("#review-withdrawal")
    # What it means is shown back before the family confirms.
    expect(page.locator("#withdraw-summary")).to_contain_text("stops taking part")
    confirm_with_code(second, outbox)
    page.click("#submit-withdrawal")
    expect(page.locator("#withdraw-done")).to_be_visible()
    expect(page.locator("#withdraw-form")).to_be_hidden()
    second.screenshot("parent-11-withdrawn")
    [withdrawal] = [
        e for e in records.history(family.participant) if e["type"] == "withdrawal.recorded"
    ]
    assert withdrawal["payload"]["scopes"] == ["full", "no-new-data"]
    assert withdrawal["payload"]["choices"] == ["stop-everything-new"]
    assert withdrawal["payload"]["reason_declined"] is True
    page.goto("/family/tasks")
    expect(page.locator("#withdrawals")).to_be_visible()
    expect(page.locator("#withdrawal-list")).to_contain_text("stops taking part")


def test_family_flow_reading_again_goes_on_to_the_step_the_server_names(
    phones: Any, outbox: Outbox, dutch_family: Dutch13
) -> None:
    # This parent read, answered and chose on the app before; the questions are not asked
    # again after reading in the browser: the page follows the server's next_step.
    family, parental = dutch_family.family, dutch_family.parental
    prepare(family, parental, family.guardians[0], locale=LANG, at=now_utc())
    phone = phones()
    sign_in(phone, invite(family, family.guardians[0]), outbox)
    page = phone.page
    expect(page.locator(".task-action").first).to_have_attribute(
        "href", f"/family/records/{parental.record_id}/sign"
    )

    page.goto(f"/family/records/{parental.record_id}/read")
    expect(page.locator("#section-title")).not_to_be_empty()
    while page.locator("#next-part").is_visible():
        page.click("#next-part")
    page.click("#finish-reading")

    page.wait_for_url("**/sign")
    expect(page.locator("#signature-meaning")).not_to_be_empty()
