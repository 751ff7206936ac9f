"""axe-core and reflow on every family page, in one walk of a Dutch parent (issue 14).

A parent of a 9-year-old at NL-01 opens the invitation, signs in, reads, answers,
chooses and signs the parents' consent, opens the child's turn, the information of a
version, withdrawal, sign-out, a mistyped address and the unsubscribe link. On each page
axe-core (WCAG 2.x A/AA and best practice) must find nothing serious or critical, and at
320 CSS px and at 200% text the page must not scroll sideways, with the signature area
inside the screen. Every problem of the walk is printed together at the end.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from consentkit.clock import now_utc
from consentkit.services import access, news, records
from consentkit.services import outbox as messages
from tests.browser.axe import A11yReport, RenderedTemplates
from tests.browser.conftest import Outbox, Phone
from tests.browser.family_steps import LANG, draw_signature
from tests.browser.page_list import FAMILY_PAGES, visited
from tests.consentkit.records_helpers import STAFF, content, make_family

pytestmark = pytest.mark.browser

playwright_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
expect = playwright_api.expect


#: A question as long as one can be, with a word longer than the screen (German, Dutch and
#: Lithuanian compounds are): the card wraps it, the page does not widen.
LONG_TEXT = (
    "Begrijpt u dat de kinderoncologiebehandelingsonderzoeksdeelnemersinformatiebrochure "
    "en alle bijbehorende toestemmingsformulierenverzameling op elk moment kan veranderen? " * 3
)


class FamilyWalk:
    """Check each page the phone shows: the right template, axe, reflow."""

    def __init__(self, phone: Phone, rendered: RenderedTemplates) -> None:
        self.phone = phone
        self.page = phone.page
        self.rendered = rendered
        self.report = A11yReport()
        self.seen: set[str] = set()

    def long_texts(self, selector: str, label: str) -> None:
        """Put LONG_TEXT in each ``selector`` of the page, then check its reflow."""
        self.page.evaluate(
            "([selector, text]) => document.querySelectorAll(selector)"
            ".forEach((el) => { el.textContent = text; })",
            [selector, LONG_TEXT],
        )
        self.report.reflow(self.page, label)

    def check(self, template: str, label: str | None = None) -> None:
        name = f"web/family/{template}"
        shown = self.rendered.take()
        assert name in shown, (name, shown)
        self.seen.add(name)
        self.page.wait_for_load_state("networkidle")
        self.report.axe(self.page, label or template)
        self.report.reflow(self.page, label or template)


@pytest.mark.timeout(240)
def test_every_family_page_passes_axe_and_reflows(
    app: Any, phones: Any, outbox: Outbox, demo_study: Any
) -> None:
    family = make_family(
        "NL-A11Y-9",
        site="NL-01",
        birth_date=now_utc().date() - timedelta(days=9 * 365 + 40),
        names=("Anna de Vries", "Pieter de Vries"),
        child_name="Sem",
        at=now_utc() - timedelta(hours=1),
    )
    parental = records.open_record(family.participant, form_id="parental-consent", actor=STAFF)
    assent = records.open_record(family.participant, form_id="assent-6-9", actor=STAFF)
    code = access.create_invitation(family.participant, family.guardians[0], actor=STAFF)
    text = content(parental, LANG)
    phone = phones()
    page = phone.page
    with RenderedTemplates().recording(app) as rendered:
        walk = FamilyWalk(phone, rendered)

        page.goto(f"/family/no-such-page?lang={LANG}")
        walk.check("not_found.html")
        page.goto(f"/family/unsubscribe/{messages.unsubscribe_token(str(family.guardians[1].id))}")
        walk.check("unsubscribe.html")
        page.click("#unsubscribe")
        expect(page.locator("#unsubscribe-status")).to_be_visible()
        walk.check("unsubscribe.html", "unsubscribe.html (done)")

        page.goto(f"/family/i/{code}?lang={LANG}")
        walk.check("start.html")
        page.click("#redeem-form button[type=submit]")
        page.wait_for_url("**/family/code")
        walk.check("code.html")
        sent = outbox.next_code()
        page.fill("#one-time-code", "000000" if sent != "000000" else "111111")
        page.click("#verify-form button[type=submit]")
        expect(page.locator("#messages")).not_to_be_empty()
        walk.report.axe(page, "code.html (a wrong code)")
        walk.report.reflow(page, "code.html (a wrong code)")
        page.fill("#one-time-code", sent)
        page.click("#verify-form button[type=submit]")
        page.wait_for_url("**/family/tasks")
        expect(page.locator("#task-list")).to_have_attribute("aria-busy", "false")
        expect(page.locator(".child-turn .task-action")).to_be_visible()
        walk.check("tasks.html")

        page.goto(f"/family/records/{parental.record_id}/read")
        expect(page.locator("#section-title")).not_to_be_empty()
        walk.check("read.html")
        while page.locator("#next-part").is_visible():
            page.click("#next-part")
        page.click("#finish-reading")

        page.wait_for_url("**/quiz")
        first = text["questions"][0]
        wrong = next(o["id"] for o in first["options"] if o["id"] != first["correct"])
        page.check(f"#q-{first['id']}-{wrong}")
        for question in text["questions"][1:]:
            page.check(f"#q-{question['id']}-{question['correct']}")
        page.click("#check-answers")
        expect(page.locator(f"#feedback-{first['id']}")).to_have_class("feedback wrong")
        walk.check("quiz.html", "quiz.html (a wrong answer explained)")
        page.reload()  # the long questions below are only shown, never sent
        expect(page.locator(".question legend").first).not_to_be_empty()
        walk.long_texts(".question legend, .question label", "quiz.html (long questions)")
        page.reload()
        expect(page.locator(".question legend").first).not_to_be_empty()
        for question in text["questions"]:
            page.check(f"#q-{question['id']}-{question['correct']}")
        page.click("#check-answers")
        page.click("#quiz-continue")

        page.wait_for_url("**/choices")
        walk.check("choices.html")
        walk.long_texts(".item .item-text", "choices.html (long points)")
        for item in text["items"]:
            page.check(f"#item-{item['id']}-yes")
        page.click("#choices-form button[type=submit]")

        page.wait_for_url("**/sign")
        expect(page.locator("#justification-field")).to_be_visible()
        walk.check("sign.html")
        page.fill("#justification", "We talked it through with the doctor and we are sure.")
        page.fill("#printed-name", "Anna de Vries")
        draw_signature(phone)
        page.click("#send-step-up")
        expect(page.locator("#step-up-field")).to_be_visible()
        page.fill("#step-up-code", outbox.next_code())
        walk.report.axe(page, "sign.html (drawn, code asked)")
        walk.report.reflow(page, "sign.html (drawn, code asked)")
        page.click("#submit-signature")
        page.wait_for_url("**/done")
        expect(page.locator("#record-state")).not_to_be_empty()
        walk.check("done.html")

        page.goto("/family/tasks")
        expect(page.locator("#task-list")).to_have_attribute("aria-busy", "false")
        rendered.take()
        page.click(".child-turn .task-action")
        page.wait_for_url("**/child")
        expect(page.locator("#section-title")).not_to_be_empty()
        walk.check("child.html")
        for _section in content(assent, LANG)["sections"]:
            page.click("#next-part")
        expect(page.locator("#child-choose")).to_be_visible()
        walk.report.axe(page, "child.html (yes or no)")
        walk.report.reflow(page, "child.html (yes or no)")
        page.check(f"#item-{content(assent, LANG)['items'][0]['id']}-yes")
        page.click("#child-choose button[type=submit]")
        expect(page.locator("#child-sign")).to_be_visible()
        walk.report.axe(page, "child.html (name and drawing)")
        walk.report.reflow(page, "child.html (name and drawing)")

        page.goto(f"/family/information/parental-consent/{parental.version}")
        walk.check("information.html")
        page.goto("/family/wallet")
        expect(page.locator("#wallet-children")).to_have_attribute("aria-busy", "false")
        walk.check("wallet.html")
        news.publish_news(
            "DEMO-NBL-1",
            kind="news",
            texts={LANG: {"title": "Nieuws over de studie", "body": "Eerste.\n\nTweede."}},
            by="tests",
        )
        page.goto("/family/news")
        expect(page.locator("#news-list")).to_have_attribute("aria-busy", "false")
        page.click("#news-list summary")
        walk.check("news.html")
        page.goto("/family/withdraw")
        walk.check("withdraw.html")
        page.check("#choice-stop-everything-new")
        page.check("#reason-declined")
        page.click("#review-withdrawal")
        expect(page.locator("#send-step-up")).to_be_visible()
        walk.report.axe(page, "withdraw.html (review, code asked)")
        walk.report.reflow(page, "withdraw.html (review, code asked)")
        page.goto("/family/sign-out")
        walk.check("signed_out.html")

    assert walk.seen == visited(FAMILY_PAGES, "family")
    walk.report.assert_clean()
