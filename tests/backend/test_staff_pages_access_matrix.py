"""Every staff HTML page x role x own/other site: the role policy holds on the pages too.

The JSON API has its matrix (``test_staff_access_matrix.py``); the pages ask the same
policy (``consentkit.policy.roles``) through their own helpers, so they get their own.
Sponsor admin (all sites, no site work), investigator (own sites, countersigns), site
staff (own sites, no countersigning), monitor (own sites, read-only). Anonymous visitors
are sent to the sign-in page; another site's participant is the same 404 page as a code
that does not exist; a page the member may not use is the 403 page. A row per route and
method of the ``staff_web`` blueprint; the test fails when a page exists without a row.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import quote, urlsplit

import pytest

from backend.auth.staff import COOKIE
from consentkit.clock import now_utc
from consentkit.models.outbox import OutboxMessage
from consentkit.models.staff import StaffMember
from consentkit.models.task import ConsentTask
from consentkit.policy.roles import StaffRole
from consentkit.services import (
    access,
    audit,
    enrolment,
    evidence,
    participants,
    service_accounts,
    webhooks,
)
from tests.backend.staff_helpers import csrf_of, make_member, token_for

TRIAL = "DEMO-NBL-1"
ROLES = ("sponsor-admin", "investigator", "site-staff", "monitor")
EVERYONE = set(ROLES)
SITE_WORK = {"investigator", "site-staff"}
ADMIN = {"sponsor-admin"}
STUDY = "/staff/studies/<trial_id>"
PERSON = f"{STUDY}/participants/<path:code>"
RECORD = f"{PERSON}/records/<record_id>"
FORM = f"{STUDY}/forms/<form_id>/v<int:version>"
HOOK = f"{STUDY}/webhooks/<subscription_id>"
ACCOUNT = f"{STUDY}/service-accounts/<client_id>"


@dataclass(frozen=True)
class Row:
    rule: str  # the url_map rule this row covers
    method: str
    #: "public" (no sign-in), "member" (any signed-in member), "study" or "participant".
    scope: str
    allowed: set[str] = field(default_factory=set)  # roles allowed at their own site
    #: Whether the page names a site (query, form or participant), so "other site" differs.
    sited: bool = True
    #: For public and member pages: the status everyone (signed in or not) gets.
    status: int | None = None


ROWS = [
    Row("/staff/login", "GET", "public", status=200),
    Row("/staff/login", "POST", "public", status=400),  # no form cookie: refused first
    Row("/staff/setup/<token>", "GET", "public", status=404),  # an unknown link
    Row("/staff/setup/<token>", "POST", "public", status=400),
    Row("/staff/logout", "POST", "member", EVERYONE, status=302),
    Row("/staff/", "GET", "member", EVERYONE, status=200),
    Row("/staff/digest", "POST", "member", EVERYONE, status=302),  # back to the home page
    Row("/staff/password", "GET", "member", EVERYONE, status=200),
    Row("/staff/password", "POST", "member", EVERYONE, status=422),  # empty form
    Row("/staff/reauth", "GET", "member", EVERYONE, status=200),
    Row("/staff/reauth", "POST", "member", EVERYONE, status=401),  # no password
    Row(f"{STUDY}/", "GET", "study", EVERYONE),
    Row(f"{STUDY}/records", "GET", "study", EVERYONE),
    Row(f"{STUDY}/records/export.<fmt>", "GET", "study", EVERYONE),
    Row(f"{STUDY}/reconsent", "GET", "study", EVERYONE),
    Row(f"{STUDY}/tasks", "GET", "study", EVERYONE),
    Row(f"{STUDY}/questions", "GET", "study", EVERYONE),
    # No answer text: an allowed member gets 422; the question exists (``world``).
    Row(f"{PERSON}/questions/<int:seq>/answer", "POST", "participant", SITE_WORK),
    # The first allowed member closes it; the next get 409 (closed already).
    Row(f"{PERSON}/questions/<int:seq>/close", "POST", "participant", SITE_WORK),
    Row(f"{STUDY}/enrol", "GET", "study", SITE_WORK, sited=False),
    Row(f"{STUDY}/enrol", "POST", "study", SITE_WORK),
    Row(f"{STUDY}/forms/", "GET", "study", ADMIN, sited=False),
    Row(f"{STUDY}/forms/import", "POST", "study", ADMIN, sited=False),
    Row(FORM, "GET", "study", ADMIN, sited=False),
    Row(f"{FORM}/approve", "POST", "study", ADMIN, sited=False),
    Row(f"{FORM}/publish", "POST", "study", ADMIN, sited=False),
    Row(f"{STUDY}/webhooks", "GET", "study", ADMIN, sited=False),
    Row(f"{STUDY}/webhooks", "POST", "study", ADMIN, sited=False),  # 422: no address given
    Row(f"{HOOK}", "GET", "study", ADMIN, sited=False),
    Row(f"{HOOK}/active", "POST", "study", ADMIN, sited=False),
    Row(f"{HOOK}/secret", "POST", "study", ADMIN, sited=False),
    # Queued again by the first allowed request: 409 for the next ones.
    Row(f"{HOOK}/deliveries/<delivery_id>/redeliver", "POST", "study", ADMIN, sited=False),
    Row(f"{STUDY}/publications", "GET", "study", EVERYONE, sited=False),
    Row(f"{STUDY}/publications", "POST", "study", ADMIN, sited=False),  # 422: no kind given
    Row(f"{STUDY}/insight", "GET", "study", EVERYONE),
    Row(f"{STUDY}/insight/export.csv", "GET", "study", EVERYONE),
    Row(f"{STUDY}/service-accounts", "GET", "study", ADMIN, sited=False),
    Row(f"{STUDY}/service-accounts", "POST", "study", ADMIN, sited=False),  # 422: no name given
    Row(f"{ACCOUNT}/secret", "POST", "study", ADMIN, sited=False),
    Row(f"{ACCOUNT}/revocation", "POST", "study", ADMIN, sited=False),
    Row(PERSON, "GET", "participant", EVERYONE),
    Row(f"{PERSON}/invite", "POST", "participant", SITE_WORK),
    Row(f"{PERSON}/invitations/<invitation_id>/revoke", "POST", "participant", SITE_WORK),
    Row(f"{PERSON}/invitations/<invitation_id>/resend", "POST", "participant", SITE_WORK),
    Row(f"{PERSON}/signers/<signer_id>/end-sessions", "POST", "participant", SITE_WORK),
    Row(f"{PERSON}/signers/<signer_id>/contact", "GET", "participant", SITE_WORK),
    Row(f"{PERSON}/signers/<signer_id>/contact", "POST", "participant", SITE_WORK),
    Row(f"{PERSON}/signers/<signer_id>/name", "GET", "participant", SITE_WORK),
    Row(f"{PERSON}/signers/<signer_id>/name", "POST", "participant", SITE_WORK),
    Row(f"{PERSON}/dissent", "POST", "participant", SITE_WORK),
    Row(f"{PERSON}/dissent/review", "POST", "participant", {"investigator"}),
    # The task is due in years: an allowed member gets the "not due yet" page (409).
    Row(f"{PERSON}/tasks/<task_key>/open", "POST", "participant", SITE_WORK),
    Row(f"{PERSON}/witnesses", "POST", "participant", SITE_WORK),  # 422: no name given
    Row(f"{PERSON}/withdraw", "GET", "participant", SITE_WORK),
    Row(f"{PERSON}/withdraw", "POST", "participant", SITE_WORK),
    Row(f"{RECORD}/countersign", "GET", "participant", {"investigator"}),
    Row(f"{RECORD}/countersign", "POST", "participant", {"investigator"}),
    Row(f"{RECORD}/attest", "GET", "participant", SITE_WORK),
    Row(f"{RECORD}/attest", "POST", "participant", SITE_WORK),
    # 409 for an allowed member: these families' children are past the own-invitation age.
    Row(f"{RECORD}/child", "GET", "participant", SITE_WORK),
    Row(f"{RECORD}/child", "POST", "participant", SITE_WORK),
    Row(f"{RECORD}/document.pdf", "GET", "participant", EVERYONE),
    Row(f"{RECORD}/paper", "GET", "participant", SITE_WORK),
    Row(f"{RECORD}/paper", "POST", "participant", SITE_WORK),
    Row(f"{RECORD}/witness", "GET", "participant", SITE_WORK),  # 409: no witness due
    Row(f"{RECORD}/witness", "POST", "participant", SITE_WORK),
]


@pytest.fixture
def world(client: Any, demo_study: Any) -> dict[str, Any]:
    """Members of each role at NL-01 (an admin sees all), families at NL-01 and FR-01."""
    members = {
        role: make_member(
            client, f"{role}@example.org", role, () if role == "sponsor-admin" else ("NL-01",)
        )
        for role in ROLES
    }
    fr_investigator = make_member(client, "fr@example.org", StaffRole.INVESTIGATOR, ("FR-01",))
    families = {}
    for site, interviewer, born in (
        ("NL-01", members["investigator"], date(2013, 1, 15)),
        ("FR-01", fr_investigator, date(2017, 5, 4)),
    ):
        staff = StaffMember.objects.get(id=interviewer.staff_id)
        result = enrolment.enrol(
            TRIAL,
            code=f"{site}-0001",
            site_code=site,
            birth_date=born,
            signers=[
                enrolment.SignerEntry("guardian", "Parent One", email="one@example.org"),
                enrolment.SignerEntry("guardian", "Parent Two", email="two@example.org"),
                enrolment.SignerEntry("participant", "Child", email="child@example.org"),
            ],
            interviewer=staff,
            actor=enrolment.staff_actor(staff, "investigator"),
        )
        task = ConsentTask(
            key=f"matrix-{site}",
            trial_id=TRIAL,
            participant_id=str(result.participant.id),
            participant_code=result.participant.code,
            site_code=site,
            reason="age-band",
            form_kind="child-assent",
            due_date=date(2099, 1, 1),
            created_at=now_utc(),
        )
        task.save()
        question = audit.append(
            result.participant,
            lambda _e: audit.Draft(
                type="question.asked",
                actor={"kind": "signer", "id": "0" * 24, "role": "guardian"},
                payload={"text": "Can we call the nurse?"},
            ),
        )
        families[site] = {
            "question": question.seq,
            "task": task.key,
            "code": result.participant.code,
            "record": result.records[0].record_id,
            "guardian": str(next(s.id for s in result.signers if s.role == "guardian")),
        }
    # A public address given as an IP (nothing is resolved or sent) and one finished delivery.
    subscription, _secret = webhooks.create_subscription(
        TRIAL, url="https://93.184.215.14/hooks", event_types=["consent.withdrawn"], created_by="t"
    )
    delivery = OutboxMessage(
        dedupe_key="matrix-delivery",
        kind="webhook",
        recipient={"subscription_id": str(subscription.id)},
        channel=webhooks.CHANNEL,
        params={"event_type": "consent.withdrawn", "participant_id": "-", "seq": 1},
        status="sent",
        due_at=now_utc(),
        created_at=now_utc(),
    )
    delivery.save()
    hook = {"subscription": str(subscription.id), "delivery": str(delivery.id)}
    account, _client_secret = service_accounts.create_service_account(
        TRIAL, name="Biobank", scopes=["permissions:read"], sites=["NL-01"], created_by="t"
    )
    return {"members": members, "families": families, "hook": hook, "client": account.client_id}


def _path(row: Row, site: str, world: dict[str, Any]) -> str:
    family = world["families"][site]
    path = (
        row.rule.replace("<trial_id>", TRIAL)
        .replace("<path:code>", quote(family["code"], safe=""))
        .replace("<record_id>", family["record"])
        .replace("<form_id>", "parental-consent")
        .replace("<int:version>", "1")
        .replace("<fmt>", "csv")
        .replace("<token>", "not-a-setup-link")
        .replace("<signer_id>", family["guardian"])
        .replace("<task_key>", family["task"])
        .replace("<int:seq>", str(family["question"]))
        .replace("<subscription_id>", world["hook"]["subscription"])
        .replace("<delivery_id>", world["hook"]["delivery"])
        .replace("<client_id>", world["client"])
    )
    if "<invitation_id>" in path:
        # A fresh invitation per request: revoking or resending one spends it.
        participant = participants.get_participant(TRIAL, family["code"])
        enrolment.invite(participant, family["guardian"], actor=evidence.SYSTEM)
        latest = access.invitations_of(participant)[-1].invitation_id
        path = path.replace("<invitation_id>", latest)
    return path


def _request(client: Any, row: Row, site: str, world: dict[str, Any], role: str | None) -> Any:
    client.delete_cookie(COOKIE, path="/staff")
    data: dict[str, Any] = {}
    if role is not None:
        # A session of its own per request: signing out must not end the next row's.
        token = token_for(client.application, world["members"][role])
        client.set_cookie(COOKIE, token, path="/staff")
        data["csrf_token"] = csrf_of(client.get("/staff/"))
    path = _path(row, site, world)
    query: dict[str, str] = {}
    if row.scope == "study" and row.sited and row.method == "GET":
        query = {"site": site}
    if row.rule.endswith("/enrol") and row.method == "POST":
        data.update({"site": site, "birth_date": "2013-01-15"})
    if row.rule.endswith("/invite"):
        data["signer_id"] = world["families"][site]["guardian"]
    if row.rule.endswith("/witnesses"):
        data["for_signer_id"] = world["families"][site]["guardian"]
    if row.rule.endswith("/attest"):  # who signs in front of the member
        query["signer"] = data["signer"] = world["families"][site]["guardian"]
    if row.rule.endswith("/dissent"):
        data["confirm"] = "yes"
    if row.rule.endswith("/dissent/review"):
        data.update({"decision": "uphold", "reason": "heard the child again"})
    if row.method == "GET":
        response = client.get(path, query_string=query)
    else:
        response = client.post(path, query_string=query, data=data)
    response.get_data()  # a streamed export keeps its request context until read and closed
    response.close()
    return response


def _to_login(response: Any) -> bool:
    return response.status_code == 302 and urlsplit(response.location).path == "/staff/login"


def test_every_staff_page_has_a_row(app: Any) -> None:
    rules = {
        (rule.rule, method)
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("staff_web.")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert rules == {(row.rule, row.method) for row in ROWS}


@pytest.mark.parametrize("row", ROWS, ids=[f"{r.method} {r.rule[7:] or '/'}" for r in ROWS])
def test_role_and_site_matrix_of_the_pages(client: Any, world: dict[str, Any], row: Row) -> None:
    anonymous = _request(client, row, "NL-01", world, None)
    if row.scope == "public":
        assert anonymous.status_code == row.status, "anonymous"
    else:
        assert _to_login(anonymous), ("anonymous", anonymous.status_code, anonymous.location)
    wrong = []
    for role, site in itertools.product(ROLES, ("NL-01", "FR-01")):
        response = _request(client, row, site, world, role)
        got = response.status_code
        if row.status is not None:
            if got != row.status:
                wrong.append((role, site, got, row.status))
            continue
        own = site == "NL-01" or role == "sponsor-admin" or not row.sited
        # Another site's participant is the page of a code that does not exist.
        hidden = row.scope == "participant" and not own
        expected = 404 if hidden else (None if role in row.allowed and own else 403)
        if expected is None:
            ok = got < 500 and got not in (403, 404) and not _to_login(response)
        else:
            ok = got == expected and response.mimetype == "text/html"
        if not ok:
            wrong.append((role, site, got, expected or "allowed"))
    assert not wrong, wrong
