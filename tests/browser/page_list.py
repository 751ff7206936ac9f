"""Every page template of the family and staff pages, and how the browser walks reach it.

``tests/browser/test_page_list.py`` fails when a template under ``templates/web/family`` or
``templates/web/staff`` is neither visited here nor excluded with a reason; the walks
(``test_family_pages_a11y.py``, ``test_staff_pages_a11y.py``) check that each page they
visit was really rendered by that template, then run axe-core on it (and, on the family
pages, the reflow checks). docs/accessibility.md says what is checked.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Visit:
    """A page the walk opens: the address and the state it needs."""

    how: str


@dataclass(frozen=True)
class Excluded:
    """A template the walks do not open as a page, and why."""

    reason: str


PARTIAL = "a partial, included by a page that is visited (checked as part of it)"
LAYOUT = "the layout every page of its side extends (checked as part of each page)"

FAMILY_PAGES: dict[str, Visit | Excluded] = {
    "layout.html": Excluded(LAYOUT),
    "_ask.html": Excluded(PARTIAL + ": the 'ask the study team' panel of layout.html"),
    "_step_up.html": Excluded(PARTIAL + ": the fresh-code field of sign.html and withdraw.html"),
    "not_found.html": Visit("/family/<a mistyped address>, anyone"),
    "unsubscribe.html": Visit("/family/unsubscribe/<signed token>: the button, then done (POST)"),
    "start.html": Visit("/family/i/<invitation code>?lang=nl: the invitation link"),
    "code.html": Visit("/family/code: after the invitation code is accepted; a wrong code"),
    "tasks.html": Visit("/family/tasks: a signed-in parent with a consent and a child's turn"),
    "read.html": Visit("/family/records/<id>/read: the parent's consent, first part"),
    "quiz.html": Visit("/family/records/<id>/quiz: after reading; with a wrong answer explained"),
    "choices.html": Visit("/family/records/<id>/choices: after the questions"),
    "sign.html": Visit("/family/records/<id>/sign: inside the time to think, code asked"),
    "done.html": Visit("/family/records/<id>/done: after signing"),
    "child.html": Visit("/family/records/<id>/child: a 9-year-old's turn on the parent's phone"),
    "information.html": Visit("/family/information/<form>/<version>: a version's information"),
    "wallet.html": Visit("/family/wallet: a signed-in parent, their children and documents"),
    "news.html": Visit("/family/news: a signed-in parent, one publication opened"),
    "withdraw.html": Visit("/family/withdraw: a signed-in parent"),
    "signed_out.html": Visit("/family/sign-out"),
}

STAFF_PAGES: dict[str, Visit | Excluded] = {
    "layout.html": Excluded(LAYOUT),
    "_macros.html": Excluded("macros imported by the pages; renders nothing alone"),
    "_witness_panel.html": Excluded(PARTIAL + ": the witness panel of participant.html"),
    "login.html": Visit("/staff/login, signed out; a refused sign-in"),
    "setup.html": Visit("/staff/setup/<token>: a new member's setup link"),
    "recovery_codes.html": Visit("POST /staff/setup/<token> with password and code"),
    "setup_invalid.html": Visit("/staff/setup/<an unknown token>"),
    "home.html": Visit("/staff/: a signed-in investigator"),
    "dashboard.html": Visit("/staff/studies/<trial>/: the study dashboard"),
    "worklist.html": Visit("/staff/studies/<trial>/records: the worklist"),
    "enrol.html": Visit("/staff/studies/<trial>/enrol: the enrolment form, then its preview"),
    "participant.html": Visit(".../participants/<code>: records, signers, tasks"),
    "invitation.html": Visit("POST .../participants/<code>/invite: the code and QR shown once"),
    "contact.html": Visit(".../participants/<code>/signers/<id>/contact"),
    "name.html": Visit(".../participants/<code>/signers/<id>/name"),
    "withdraw.html": Visit(".../participants/<code>/withdraw: withdrawal told to staff"),
    "child_assent.html": Visit(".../records/<id>/child: a 7-year-old's assent in front of staff"),
    "attest.html": Visit(".../records/<id>/attest?signer=<id>: a parent signs in front of staff"),
    "paper.html": Visit(".../records/<id>/paper: a paper consent's scan and boxes"),
    "countersign.html": Visit(".../records/<id>/countersign: after both parents signed"),
    "witness.html": Visit(".../records/<id>/witness?witness=<id>: after the parent signed"),
    "tasks.html": Visit("/staff/studies/<trial>/tasks: an age-band task due"),
    "task_opened.html": Visit("POST .../tasks/<key>/open: the task opened and invited"),
    "questions.html": Visit("/staff/studies/<trial>/questions: a family's question"),
    "insight.html": Visit("/staff/studies/<trial>/insight: the comprehension insight"),
    "password.html": Visit("/staff/password"),
    "reauth.html": Visit("/staff/reauth"),
    "error.html": Visit("a page the member may not use: the 403 page"),
    "forms.html": Visit("/staff/studies/<trial>/forms/: a sponsor admin"),
    "forms_preview.html": Visit(".../forms/<form>/v<version>: a sponsor admin"),
    "forms_reconsent.html": Visit("/staff/studies/<trial>/reconsent: a sponsor admin"),
    "webhooks.html": Visit("/staff/studies/<trial>/webhooks: a sponsor admin"),
    "webhook.html": Visit(".../webhooks/<id>: one subscription and its deliveries"),
    "service_accounts.html": Visit("/staff/studies/<trial>/service-accounts: a sponsor admin"),
    "publications.html": Visit("/staff/studies/<trial>/publications: a sponsor admin, one news"),
}


def visited(pages: dict[str, Visit | Excluded], side: str) -> set[str]:
    """The template names (``web/<side>/<file>``) a walk must check."""
    return {f"web/{side}/{name}" for name, how in pages.items() if isinstance(how, Visit)}
