"""Acceptance (issue 7): a Dutch 13-year-old enrolled by staff, consented by the family, on the web.

An investigator at NL-01 signs in with password and authenticator code, checks
what the rules need and enrols the child (in the Netherlands 12 to 15: both
parents and the child sign, WMO art 6), invites the three of them; each signs
through the family web pages on a phone. The dashboard shows the parental
consent partially consented after the first parent; the investigator
countersigns on the staff page, after which it shows consented; the sealed PDF
downloads from the participant page and verifies; a parent withdraws "no new
data" and the dashboard counts it. Screenshots go to test-artifacts/screenshots/.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from consentkit.clock import now_utc
from consentkit.enums import FormKind, WithdrawalScope
from consentkit.policy.roles import StaffRole
from consentkit.services import documents, participants, records
from tests.backend.staff_helpers import PASSWORD, Member, make_member
from tests.browser.conftest import DESKTOP, Outbox, Phone
from tests.browser.family_steps import confirm_with_code, draw_signature, parent_signs

pytestmark = pytest.mark.browser

playwright_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
expect = playwright_api.expect

TRIAL = "DEMO-NBL-1"
STUDY = f"/staff/studies/{TRIAL}"
CODE = "NL-ACC-013"
FAMILY = (
    ("guardian", "Anna de Vries", "anna@example.org"),
    ("guardian", "Pieter de Vries", "pieter@example.org"),
    ("participant", "Sem de Vries", "sem@example.org"),
)
NO_NEW_DATA = WithdrawalScope.NO_NEW_DATA.value
TABLET = {"width": 820, "height": 1180}


@pytest.fixture
def investigator(client: Any, demo_study: Any, tmp_path: Path, monkeypatch: Any) -> Member:
    """An investigator at NL-01, set up through the real setup link."""
    monkeypatch.setenv("CONSENTKIT_DATA_DIR", str(tmp_path))  # the development PDF seal
    return make_member(
        client, "eva.visser@example.org", StaffRole.INVESTIGATOR, ("NL-01",), name="Dr Eva Visser"
    )


# ---------------------------------------------------------------- what the staff member does


def staff_signs_in(desk: Phone, member: Member) -> None:
    page = desk.page
    page.goto("/staff/login")
    page.fill("#email", member.email)
    page.fill("#password", PASSWORD)
    page.fill("#code", member.code(1))  # setting up spent the current code
    desk.screenshot("staff-01-login")
    page.click("main form button[type=submit]")
    page.wait_for_url("**/staff/")
    expect(page.locator("main")).to_contain_text(TRIAL)
    desk.screenshot("staff-02-studies")


def staff_enrols(desk: Phone) -> None:
    page = desk.page
    page.goto(f"{STUDY}/enrol")
    page.fill("#code", CODE)
    page.select_option("#site", "NL-01")
    birth = now_utc().date() - timedelta(days=13 * 365 + 100)
    page.fill("#birth_date", birth.isoformat())
    page.select_option("#preferred_language", "nl")
    for row, (role, name, email) in enumerate(FAMILY):
        page.select_option(f"#signers-{row}-role", role)
        page.fill(f"#signers-{row}-name", name)
        page.fill(f"#signers-{row}-email", email)
        page.select_option(f"#signers-{row}-preferred_language", "nl")
    page.click("button[value=preview]")
    expect(page.locator("[data-preview=guardians]")).to_contain_text("2")
    expect(page.locator("[data-preview=minor-role]")).to_contain_text("the participant signs too")
    expect(page.locator("#code")).to_have_value(CODE)  # nothing typed is lost
    desk.screenshot("staff-03-enrol-preview")
    page.click("button[value=enrol]")
    page.wait_for_url(f"**/participants/{CODE}?notice=enrolled")
    # Parents' consent, the young person's own consent, the investigator's declaration.
    expect(page.locator("#records tbody tr")).to_have_count(3)
    desk.screenshot("staff-04-participant-enrolled")


def staff_invites(desk: Phone, name: str, shot: bool = False) -> str:
    """Invite one family member and return the code shown once."""
    page = desk.page
    page.goto(f"{STUDY}/participants/{CODE}")
    page.locator("#signers tr", has_text=name).get_by_role("button", name="Invite").click()
    # Printed in groups of four (K7Q2-M9XD-AB); the link carries it without dashes.
    code = page.inner_text("#invitation-code").strip().replace("-", "")
    expect(page.locator("#invitation-link")).to_have_attribute("href", re.compile(re.escape(code)))
    expect(page.locator(".qr-code svg")).to_be_visible()
    if shot:
        desk.screenshot("staff-05-invitation")
    return code


def dashboard_count(desk: Phone, key: str) -> Any:
    page = desk.page
    page.goto(f"{STUDY}/?site=NL-01")
    return page.locator(f'[data-count="{key}"]').locator(".count")


def staff_countersigns(desk: Phone, member: Member, record_ids: list[str]) -> None:
    page = desk.page
    first = True
    for record_id in record_ids:
        page.goto(f"{STUDY}/participants/{CODE}")
        row = page.locator(f'#records tr[data-record-id="{record_id}"]')
        row.get_by_role("link", name="Countersign").click()
        if "/staff/reauth" in page.url:  # more than five minutes since signing in
            page.fill("#password", PASSWORD)
            page.fill("#code", member.recovery[0])
            page.click("main form button[type=submit]")
        page.wait_for_url("**/countersign")
        expect(page.locator("#printed_name")).to_have_value("Dr Eva Visser")
        draw_signature(desk)
        if first:
            desk.screenshot("staff-07-countersign")
            first = False
        page.click("#submit-countersignature")
        page.wait_for_url("**notice=countersigned")
        expect(page.locator(".status")).to_be_visible()


# ---------------------------------------------------------------- the test


# The whole journey of a family (four people, two devices each way) in one browser
# session: longer than the suite's 120-second default on a busy two-core machine.
@pytest.mark.timeout(360)
def test_staff_enrol_family_signs_dashboard_pdf_and_withdrawal(
    phones: Any, outbox: Outbox, investigator: Member
) -> None:
    desk = phones(DESKTOP)
    staff_signs_in(desk, investigator)
    staff_enrols(desk)
    codes = {
        name: staff_invites(desk, name, shot=i == 0) for i, (_r, name, _e) in enumerate(FAMILY)
    }
    participant = participants.get_participant(TRIAL, CODE)
    by_kind = {r.form_kind: r for r in records.record_statuses(participant)}
    parental, young = by_kind[FormKind.PARENTAL_CONSENT], by_kind[FormKind.YOUNG_PERSON_CO_CONSENT]

    first, second, child = phones(), phones(), phones()
    parent_signs(first, outbox, codes["Anna de Vries"], parental, "Anna de Vries")
    expect(dashboard_count(desk, "partially_consented")).to_have_text("1")
    expect(dashboard_count(desk, "state-consented")).to_have_text("0")
    desk.screenshot("staff-06-dashboard-partially-consented")

    parent_signs(second, outbox, codes["Pieter de Vries"], parental, "Pieter de Vries")
    parent_signs(child, outbox, codes["Sem de Vries"], young, "Sem de Vries")
    staff_countersigns(desk, investigator, [parental.record_id, young.record_id])

    expect(dashboard_count(desk, "state-consented")).to_have_text("2")
    expect(dashboard_count(desk, "partially_consented")).to_have_text("0")
    desk.screenshot("staff-08-dashboard-consented")
    desk.page.set_viewport_size(TABLET)
    desk.screenshot("staff-09-dashboard-tablet")
    desk.page.set_viewport_size(DESKTOP)

    page = desk.page
    page.goto(f"{STUDY}/participants/{CODE}")
    expect(page.locator("#records [data-state=consented]")).to_have_count(2)
    desk.screenshot("staff-10-participant-consented")
    row = page.locator(f'#records tr[data-record-id="{parental.record_id}"]')
    with page.expect_download(timeout=60_000) as download:
        row.get_by_role("link", name="Download PDF").click()
    pdf = Path(download.value.path()).read_bytes()
    # pyHanko validates with asyncio.run(): not on this thread, where Playwright's loop runs.
    with ThreadPoolExecutor(max_workers=1) as worker:
        report = worker.submit(documents.verify_pdf, pdf).result()
    assert report.ok, report.problems
    assert report.record is not None and report.record["record_id"] == parental.record_id

    withdrawal = second.page
    withdrawal.goto("/family/withdraw")
    withdrawal.check("#choice-stop-everything-new")
    withdrawal.check("#reason-declined")
    withdrawal.click("#review-withdrawal")
    confirm_with_code(second, outbox)
    withdrawal.click("#submit-withdrawal")
    expect(withdrawal.locator("#withdraw-done")).to_be_visible()

    page.goto(f"{STUDY}/?site=NL-01")
    expect(page.locator(f'[data-count="withdrawn-{NO_NEW_DATA}"]')).to_have_text("1")
    desk.screenshot("staff-11-dashboard-withdrawn")
    page.goto(f"{STUDY}/participants/{CODE}")
    expect(page.locator("#withdrawn-scopes")).not_to_be_empty()
    expect(page.locator("#timeline")).to_contain_text("Pieter de Vries")
    desk.screenshot("staff-12-participant-timeline")
    page.goto(f"{STUDY}/records?site=NL-01")
    expect(page.locator("#worklist tbody tr")).to_have_count(3)
    desk.screenshot("staff-13-worklist")
