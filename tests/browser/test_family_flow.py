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
from consentkit.i18n import gettext
from consentkit.labels import label
from consentkit.services import access, documents, records
from tests.browser.conftest import Outbox
from tests.browser.family_steps import (
    LANG,
    choose_yes_to_everything,
    confirm_with_code,
    parent_signs,
    read_everything,
    sign,
    sign_in,
)
from tests.consentkit.records_helpers import STAFF, Family, content, make_family, prepare
from tests.consentkit.records_helpers import sign as library_sign

pytestmark = pytest.mark.browser

playwright_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
expect = playwright_api.expect


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
        child_name="Sem de Vries",
    )
    parental = records.open_record(family.participant, form_id="parental-consent", actor=STAFF)
    assent = records.open_record(family.participant, form_id="assent-10-13", actor=STAFF)
    return Dutch13(family, parental, assent)


def invite(family: Family, signer: Any) -> str:
    return access.create_invitation(family.participant, signer, actor=STAFF)


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
    # In the parent's words: whom it waits for, not the record's state.
    state = page.locator("#record-state")
    expect(state).to_contain_text(label("family_waiting_for", "other-parent", LANG))
    expect(state).to_contain_text(label("family_waiting_for", "study-doctor", LANG))
    expect(state).not_to_contain_text(label("record_state", "awaiting-signatures", LANG))
    # Their own signed copy at once, said to be interim until everyone has signed.
    expect(page.locator("#download-panel")).to_be_visible()
    expect(page.locator("#interim-copy")).to_be_visible()
    phone.screenshot("parent-09-done-waiting")
    with page.expect_download(timeout=60_000) as download:
        page.click("#download-pdf")
    assert "-interim-" in download.value.suggested_filename
    pdf = Path(download.value.path()).read_bytes()
    with ThreadPoolExecutor(max_workers=1) as worker:
        report = worker.submit(documents.verify_pdf, pdf).result()
    assert report.ok, report.problems
    assert report.record is not None and report.record["state"] == "awaiting-signatures"
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
    sign(child, outbox, "Sem de Vries", shots="child", reflection=False)
    for record in (parental, assent):  # the investigator countersigns at the site
        library_sign(family, record, family.investigator, at=now_utc(), locale=LANG)

    page = second.page
    page.click("#check-again")
    expect(page.locator("#record-state")).to_have_text(label("family_status", "consented", LANG))
    expect(page.locator("#download-panel")).to_be_visible()
    expect(page.locator("#interim-copy")).to_be_hidden()
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
    expect(page.locator("#withdraw-summary")).to_contain_text(
        gettext(LANG, "Your child stops taking part in the study.")
    )
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
    expect(page.locator("#withdrawal-list")).to_contain_text(
        gettext(LANG, "Your child stops taking part in the study.")
    )


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
