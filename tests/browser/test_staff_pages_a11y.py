"""axe-core on every staff page, in one walk of a new member, an investigator and an admin.

A new member opens their setup link and finishes it (recovery codes); an investigator of
NL-01 and FR-01 signs in with password and authenticator code and opens each page of
their site work: dashboard, worklist, enrolment (with its preview), a participant with
an invitation, corrections, withdrawal, a signature in front of them, paper consent,
countersigning, an impartial witness's turn, tasks, questions, their password and
re-authentication, and a page they may not use; a sponsor admin opens the forms,
re-consent, webhooks and service accounts. On each page axe-core (WCAG 2.x A/AA and best
practice) must find nothing serious or critical, and at 320 CSS px and at 200% text the
page must not scroll sideways (a wide table scrolls inside its own region, which WCAG
1.4.10 allows); every finding is printed at the end.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pyotp
import pytest

from backend.auth.staff import COOKIE
from consentkit.clock import now_utc
from consentkit.models.study import ConsentForm
from consentkit.policy.roles import Grant, StaffRole
from consentkit.services import audit, news, records, webhooks, witness
from consentkit.services import staff as staff_service
from consentkit.services.tasks import create_due_tasks
from tests.backend.staff_helpers import PASSWORD, STUDY, family, make_member, token_for
from tests.browser.axe import A11yReport, RenderedTemplates
from tests.browser.conftest import DESKTOP, Phone
from tests.browser.page_list import STAFF_PAGES, visited
from tests.consentkit.records_helpers import STAFF, make_family, prepare, sign

pytestmark = pytest.mark.browser

playwright_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
expect = playwright_api.expect

REASON = "The family came from far away and asked to sign at the visit."


class StaffWalk:
    """Check each page the desk shows: the right template, axe, reflow."""

    def __init__(self, rendered: RenderedTemplates) -> None:
        self.rendered = rendered
        self.report = A11yReport()
        self.seen: set[str] = set()

    def check(self, page: Any, template: str, label: str | None = None) -> None:
        name = f"web/staff/{template}"
        shown = self.rendered.take()
        assert name in shown, (name, shown, page.url)
        self.seen.add(name)
        page.wait_for_load_state("networkidle")
        self.report.axe(page, label or template)
        self.report.reflow(page, label or template)


def _birthday(years_ago: int, days_ago: int) -> date:
    day = now_utc().date() - timedelta(days=days_ago)
    if (day.month, day.day) == (2, 29):
        day -= timedelta(days=1)
    return day.replace(year=day.year - years_ago)


def _world(client: Any) -> dict[str, Any]:
    """An investigator and families in every state the pages need."""
    # A parent may sign in front of the team (attested) on this form: the attest page.
    ConsentForm.objects(form_id="parental-consent").update(
        set__signature_methods=["drawn", "typed", "attested"]
    )
    investigator = make_member(
        client, "eva@example.org", StaffRole.INVESTIGATOR, ("NL-01", "FR-01"), name="Dr Eva"
    )
    enrolled = family(investigator, "NL-A11Y-1", "NL-01")
    audit.append(
        enrolled,
        lambda _e: audit.Draft(
            type="question.asked",
            actor={"kind": "signer", "id": "0" * 24, "role": "guardian"},
            payload={"text": "Can we call the nurse at night?"},
        ),
    )
    witnessed = make_family("FR-A11Y-W")
    record = records.open_record(witnessed.participant, form_id="parental-consent", actor=STAFF)
    witness.register_witness(
        witnessed.participant,
        for_signer_id=str(witnessed.guardians[0].id),
        name="Jeanne Témoin",
        actor=STAFF,
    )
    at = now_utc()
    for guardian in witnessed.guardians:
        prepare(witnessed, record, guardian, at=at)
        sign(witnessed, record, guardian, at=at, early_signing_justification=REASON)
    sign(witnessed, record, witnessed.investigator, at=at)
    make_family("FR-A11Y-BAND", birth_date=_birthday(10, days_ago=5))
    # A 7-year-old whose assent can be given in front of the team: the child's page.
    young = make_family("FR-A11Y-7", birth_date=_birthday(7, days_ago=40), child_name="Léa")
    records.open_record(young.participant, form_id="assent-6-9", actor=STAFF)
    create_due_tasks(on=now_utc().date() - timedelta(days=30))
    return {"investigator": investigator, "enrolled": enrolled.code}


def _sign_in(page: Any, member: Any, walk: StaffWalk) -> None:
    page.goto("/staff/login")
    walk.check(page, "login.html")
    page.fill("#email", member.email)
    page.fill("#password", "not the password")
    page.fill("#code", "000000")
    page.click("main form button[type=submit]")
    expect(page.locator("#form-error")).to_be_visible()
    walk.check(page, "login.html", "login.html (refused)")
    page.fill("#email", member.email)
    page.fill("#password", PASSWORD)
    page.fill("#code", member.code(1))  # setting up spent the current code
    page.click("main form button[type=submit]")
    page.wait_for_url("**/staff/")


def _follow(page: Any, selector: str) -> None:
    href = page.locator(selector).first.get_attribute("href")
    assert href, selector
    page.goto(href)


@pytest.mark.timeout(300)
def test_every_staff_page_passes_axe(app: Any, client: Any, phones: Any, demo_study: Any) -> None:
    world = _world(client)
    _newcomer, setup_token = staff_service.create_staff(
        email="new@example.org",
        name="New Member",
        grants=[Grant("DEMO-NBL-1", StaffRole.MONITOR, ("NL-01",))],
    )
    admin = make_member(client, "admin@example.org", StaffRole.SPONSOR_ADMIN)
    person = f"{STUDY}/participants/{world['enrolled']}"
    with RenderedTemplates().recording(app) as rendered:
        walk = StaffWalk(rendered)

        newcomer: Phone = phones(DESKTOP)
        page = newcomer.page
        page.goto("/staff/setup/not-a-setup-link")
        walk.check(page, "setup_invalid.html")
        page.goto(f"/staff/setup/{setup_token}")
        walk.check(page, "setup.html")
        secret = page.get_attribute("#totp-secret", "data-secret")
        page.fill("#password", PASSWORD)
        page.fill("#password_repeat", PASSWORD)
        page.fill("#code", pyotp.TOTP(secret).now())
        page.click("main form button[type=submit]")
        walk.check(page, "recovery_codes.html")

        desk: Phone = phones(DESKTOP)
        page = desk.page
        _sign_in(page, world["investigator"], walk)
        walk.check(page, "home.html")
        page.goto(f"{STUDY}/?site=NL-01")
        walk.check(page, "dashboard.html")
        page.goto(f"{STUDY}/records?site=NL-01")
        walk.check(page, "worklist.html")
        page.goto(f"{STUDY}/enrol")
        walk.check(page, "enrol.html")
        page.fill("#code", "NL-A11Y-2")
        page.select_option("#site", "NL-01")
        page.fill("#birth_date", (now_utc().date() - timedelta(days=13 * 365)).isoformat())
        page.click("button[value=preview]")
        expect(page.locator("[data-preview=guardians]")).to_be_visible()
        walk.check(page, "enrol.html", "enrol.html (preview)")

        page.goto(person)
        walk.check(page, "participant.html")
        page.locator("#signers tr", has_text="Anna Jansen").get_by_role(
            "button", name="Invite"
        ).click()
        expect(page.locator("#invitation-code")).to_be_visible()
        walk.check(page, "invitation.html")
        page.goto(person)
        _follow(page, "#signers a[href$='/contact']")
        walk.check(page, "contact.html")
        page.goto(person)
        _follow(page, "#signers a[href$='/name']")
        walk.check(page, "name.html")
        page.goto(f"{person}/withdraw")
        walk.check(page, "withdraw.html")
        page.goto(person)
        _follow(page, "#records a[href*='/attest']")
        walk.check(page, "attest.html")
        page.goto(person)
        _follow(page, "#records a[href*='/paper']")
        walk.check(page, "paper.html")
        page.goto(person)
        _follow(page, "#records a[href*='/countersign']")
        expect(page.locator("#signature-canvas")).to_be_visible()
        walk.check(page, "countersign.html")

        page.goto(f"{STUDY}/participants/FR-A11Y-7")
        _follow(page, "#records a[href*='/child']")
        expect(page.locator("#child-assent-form")).to_be_visible()
        walk.check(page, "child_assent.html")

        page.goto(f"{STUDY}/participants/FR-A11Y-W")
        walk.check(page, "participant.html", "participant.html (a witness registered)")
        _follow(page, "a[href*='/witness?']")
        walk.check(page, "witness.html")

        page.goto(f"{STUDY}/tasks?site=FR-01")
        walk.check(page, "tasks.html")
        page.goto(f"{STUDY}/participants/FR-A11Y-BAND")
        rendered.take()
        page.get_by_role("button", name="Open and invite").first.click()
        expect(page.locator("main h1")).to_be_visible()
        walk.check(page, "task_opened.html")

        page.goto(f"{STUDY}/questions?site=NL-01")
        walk.check(page, "questions.html")
        page.goto(f"{STUDY}/insight?site=NL-01")
        walk.check(page, "insight.html")
        page.goto("/staff/password")
        walk.check(page, "password.html")
        page.goto("/staff/reauth")
        walk.check(page, "reauth.html")
        page.goto(f"{STUDY}/forms/")  # sponsor admins only: the 403 page
        walk.check(page, "error.html")

        office: Phone = phones(DESKTOP)
        office.context.add_cookies(
            [
                {
                    "name": COOKIE,
                    "value": token_for(app, admin),
                    "url": page.url.split("/staff/")[0] + "/staff",
                }
            ]
        )
        page = office.page
        page.goto(f"{STUDY}/forms/")
        walk.check(page, "forms.html")
        page.goto(f"{STUDY}/forms/parental-consent/v1")
        walk.check(page, "forms_preview.html")
        page.goto(f"{STUDY}/reconsent")
        walk.check(page, "forms_reconsent.html")
        subscription, _secret = webhooks.create_subscription(
            "DEMO-NBL-1",
            url="https://93.184.215.14/hooks",
            event_types=["consent.withdrawn"],
            created_by="tests",
        )
        page.goto(f"{STUDY}/webhooks")
        walk.check(page, "webhooks.html")
        page.goto(f"{STUDY}/webhooks/{subscription.id}")
        walk.check(page, "webhook.html")
        page.goto(f"{STUDY}/service-accounts")
        walk.check(page, "service_accounts.html")
        news.publish_news(
            "DEMO-NBL-1",
            kind="news",
            texts={"fr": {"title": "Nouvelles", "body": "Le recrutement est terminé."}},
            by="tests",
        )
        page.goto(f"{STUDY}/publications")
        walk.check(page, "publications.html")

    assert walk.seen == visited(STAFF_PAGES, "staff")
    walk.report.assert_clean()
