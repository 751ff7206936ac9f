"""Every staff route x role x own/other site: the role policy holds at the HTTP boundary.

Sponsor admin (all sites, no site work), investigator (own sites, countersigns),
site staff (own sites, no countersigning), monitor (own sites, read-only).
A row per route; the test fails when a staff route exists without a row. Another
site's participant answers 404, like a code that does not exist (never 403).
"""

from __future__ import annotations

import io
import itertools
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest

from consentkit.clock import now_utc
from consentkit.models.staff import StaffMember
from consentkit.policy.roles import StaffRole
from consentkit.services import enrolment, evidence, participants
from tests.backend.staff_helpers import auth, make_member, token_for
from tests.consentkit.paper_helpers import scan_pdf
from tests.consentkit.records_helpers import STROKES

TRIAL = "DEMO-NBL-1"
BASE = f"/api/v1/staff/studies/{TRIAL}"
ROLES = ("sponsor-admin", "investigator", "site-staff", "monitor")
READ = {"sponsor-admin", "investigator", "site-staff", "monitor"}
SITE_WORK = {"investigator", "site-staff"}
DENIED = {403}
ADMIN = {"sponsor-admin"}  # Action.MANAGE_FORMS: the study as a whole
FORMS = "/api/v1/staff/studies/<trial_id>/forms"
ACCOUNTS = "/api/v1/staff/studies/<trial_id>/service-accounts"
PUBLICATIONS = "/api/v1/staff/studies/<trial_id>/publications"
INSIGHT = "/api/v1/staff/studies/<trial_id>/insight"


@dataclass(frozen=True)
class Row:
    rule: str  # the url_map rule this row covers
    method: str
    allowed: set[str]  # roles allowed at their own site
    admin_everywhere: bool  # the sponsor admin's all-site scope applies
    #: False: the route concerns the study as a whole (no site in it), so "other site" is moot.
    sited: bool = True


ROWS = [
    Row("/api/v1/staff/studies/<trial_id>/dashboard", "GET", READ, True),
    Row("/api/v1/staff/studies/<trial_id>/records", "GET", READ, True),
    Row("/api/v1/staff/studies/<trial_id>/records/export", "GET", READ, True),
    Row("/api/v1/staff/studies/<trial_id>/participants/preview", "POST", SITE_WORK, False),
    Row("/api/v1/staff/studies/<trial_id>/participants", "POST", SITE_WORK, False),
    Row("/api/v1/staff/studies/<trial_id>/participants/<code>", "GET", READ, True),
    Row("/api/v1/staff/studies/<trial_id>/participants/<code>/timeline", "GET", READ, True),
    Row("/api/v1/staff/studies/<trial_id>/participants/<code>/participation", "GET", READ, True),
    Row("/api/v1/staff/studies/<trial_id>/participants/<code>/messages", "GET", READ, True),
    Row(
        "/api/v1/staff/studies/<trial_id>/participants/<code>/invitations", "POST", SITE_WORK, False
    ),
    Row("/api/v1/staff/studies/<trial_id>/participants/<code>/invitations", "GET", READ, True),
    Row(
        "/api/v1/staff/studies/<trial_id>/participants/<code>/invitations/<invitation_id>",
        "DELETE",
        SITE_WORK,
        False,
    ),
    Row(
        "/api/v1/staff/studies/<trial_id>/participants/<code>/invitations/<invitation_id>/resend",
        "POST",
        SITE_WORK,
        False,
    ),
    Row(
        "/api/v1/staff/studies/<trial_id>/participants/<code>/signers/<signer_id>/sessions",
        "DELETE",
        SITE_WORK,
        False,
    ),
    Row(
        "/api/v1/staff/studies/<trial_id>/participants/<code>/signers/<signer_id>/contact",
        "PUT",
        SITE_WORK,
        False,
    ),
    Row(
        "/api/v1/staff/studies/<trial_id>/participants/<code>/records/<record_id>/countersign",
        "GET",
        {"investigator"},
        False,
    ),
    Row(
        "/api/v1/staff/studies/<trial_id>/participants/<code>/records/<record_id>/countersign",
        "POST",
        {"investigator"},
        False,
    ),
    Row(
        "/api/v1/staff/studies/<trial_id>/participants/<code>/signers/<signer_id>/witness",
        "POST",
        SITE_WORK,
        False,
    ),
    Row(
        "/api/v1/staff/studies/<trial_id>/participants/<code>/records/<record_id>/witness-signature",
        "POST",
        SITE_WORK,
        False,
    ),
    Row(
        "/api/v1/staff/studies/<trial_id>/participants/<code>/records/<record_id>/attested-signature",
        "POST",
        SITE_WORK,
        False,
    ),
    Row(
        "/api/v1/staff/studies/<trial_id>/participants/<code>/signers/<signer_id>/name",
        "PUT",
        SITE_WORK,
        False,
    ),
    Row(
        "/api/v1/staff/studies/<trial_id>/participants/<code>/withdrawals", "POST", SITE_WORK, False
    ),
    Row("/api/v1/staff/studies/<trial_id>/participants/<code>/dissent", "POST", SITE_WORK, False),
    Row(
        "/api/v1/staff/studies/<trial_id>/participants/<code>/dissent/review",
        "POST",
        {"investigator"},
        False,
    ),
    Row(
        "/api/v1/staff/studies/<trial_id>/participants/<code>/records/<record_id>/document",
        "GET",
        READ,
        True,
    ),
    Row(f"{FORMS}/import", "POST", ADMIN, True),
    Row(f"{FORMS}/<form_id>/versions/<int:version>/preview", "GET", ADMIN, True),
    Row(f"{FORMS}/<form_id>/versions/<int:version>/approve", "POST", ADMIN, True),
    Row(f"{FORMS}/<form_id>/versions/<int:version>/publish", "POST", ADMIN, True),
    Row("/api/v1/staff/studies/<trial_id>/reconsent", "GET", READ, True),
    Row(
        "/api/v1/staff/studies/<trial_id>/participants/<code>/records/<record_id>/paper",
        "GET",
        SITE_WORK,
        False,
    ),
    Row(
        "/api/v1/staff/studies/<trial_id>/participants/<code>/records/<record_id>/paper",
        "POST",
        SITE_WORK,
        False,
    ),
    Row(
        "/api/v1/staff/studies/<trial_id>/participants/<code>/documents/<document_id>",
        "GET",
        READ,
        True,
    ),
    Row(
        "/api/v1/staff/studies/<trial_id>/participants/<code>/withdrawals/<int:seq>/document",
        "GET",
        READ,
        True,
    ),
    Row("/api/v1/staff/studies/<trial_id>/tasks", "GET", READ, True),
    Row("/api/v1/staff/studies/<trial_id>/participants/<code>/tasks", "GET", READ, True),
    Row(
        "/api/v1/staff/studies/<trial_id>/participants/<code>/tasks/<task_key>/open",
        "POST",
        SITE_WORK,
        False,
    ),
    Row("/api/v1/staff/studies/<trial_id>/questions", "GET", READ, True),
    Row(
        "/api/v1/staff/studies/<trial_id>/participants/<code>/questions/<int:seq>/answer",
        "POST",
        SITE_WORK,
        False,
    ),
    Row(
        "/api/v1/staff/studies/<trial_id>/participants/<code>/questions/<int:seq>/close",
        "POST",
        SITE_WORK,
        False,
    ),
    Row(ACCOUNTS, "GET", ADMIN, True),
    Row(ACCOUNTS, "POST", ADMIN, True),
    Row(f"{ACCOUNTS}/<client_id>/secret", "POST", ADMIN, True),
    Row(f"{ACCOUNTS}/<client_id>/revocation", "POST", ADMIN, True),
    Row(PUBLICATIONS, "GET", READ, True, sited=False),
    Row(PUBLICATIONS, "POST", ADMIN, True),
    Row(INSIGHT, "GET", READ, True),
    Row(f"{INSIGHT}/export", "GET", READ, True),
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
    tokens = {role: token_for(client.application, m) for role, m in members.items()}
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
        record = result.records[0]
        guardian = next(s for s in result.signers if s.role == "guardian")
        enrolment.invite(
            result.participant, str(guardian.id), actor=enrolment.staff_actor(staff, "investigator")
        )
        families[site] = {
            "code": result.participant.code,
            "record": record,
            "guardian": str(next(s.id for s in result.signers if s.role == "guardian")),
        }
    return {"tokens": tokens, "families": families}


def _request(client: Any, row: Row, site: str, world: dict[str, Any], token: str | None) -> Any:
    family = world["families"][site]
    record = family["record"]
    path = (
        row.rule.replace("<trial_id>", TRIAL)
        .replace("<code>", family["code"])
        .replace("<record_id>", record.record_id)
        .replace("<form_id>", "parental-consent")
        .replace("<int:version>", "1")
        .replace("<document_id>", "0" * 24)
        .replace("<signer_id>", family["guardian"])
        .replace("<int:seq>", "1")  # not a withdrawal nor a question: 404 once allowed
        .replace("<task_key>", "no-such-task")  # 404 once role and site allow it
        .replace("<client_id>", "no-such-client")  # 404 once the role allows it
    )
    if "<invitation_id>" in path:
        # A fresh invitation per request: revoking or resending one spends it.
        from consentkit.services import access
        from consentkit.services import enrolment as enrolling

        participant = participants.get_participant(TRIAL, family["code"])
        enrolling.invite(participant, family["guardian"], actor=evidence.SYSTEM)
        latest = access.invitations_of(participant)[-1].invitation_id
        path = path.replace("<invitation_id>", latest)
    query: dict[str, str] = {}
    body: dict[str, Any] | None = None
    if row.rule.endswith(
        (
            "/dashboard",
            "/records",
            "/export",
            "/reconsent",
            "/studies/<trial_id>/tasks",
            "/studies/<trial_id>/questions",
            "/insight",
        )
    ):
        query = {"site": site}
    if row.rule.endswith("/preview"):
        body = {"site": site, "birth_date": "2013-01-15"}
    elif row.rule.endswith("/participants"):
        body = {
            "code": f"{site}-{next(_codes):04d}",
            "site": site,
            "birth_date": "2013-01-15",
            "signers": [
                {"role": "guardian", "name": "A", "email": "a@example.org"},
                {"role": "guardian", "name": "B", "email": "b@example.org"},
                {"role": "participant", "name": "C", "email": "c@example.org"},
            ],
        }
    elif row.rule.endswith("/invitations"):
        body = {"signer_id": family["guardian"]}
    elif row.rule.endswith("/countersign"):
        body = {
            "locale": record.locale,
            "content_sha256": "0" * 64,
            "printed_name": "Dr",
            "strokes": STROKES,
        }
    elif row.rule.endswith("/witness"):
        body = {"name": "Impartial Witness"}
    elif row.rule.endswith("/witness-signature"):
        body = {
            "witness_signer_id": "0" * 24,
            "locale": record.locale,
            "content_sha256": "0" * 64,
            "printed_name": "W",
            "strokes": STROKES,
        }
    elif row.rule.endswith("/attested-signature"):
        body = {
            "signer_id": family["guardian"],
            "locale": record.locale,
            "content_sha256": "0" * 64,
            "printed_name": "Parent One",
        }
    elif row.rule.endswith("/name"):
        body = {"name": "Parent One", "reason": "spelling checked with the passport"}
    elif row.rule.endswith("/withdrawals"):
        body = {"scopes": ["stop-imp"], "channel": "phone", "reason": "moving abroad"}
    elif row.rule.endswith("/dissent"):
        body = {"note": "said no"}
    elif row.rule.endswith("/dissent/review"):
        body = {"decision": "uphold", "reason": "heard the child again"}
    elif row.rule.endswith("/contact"):
        body = {"email": f"fixed{next(_codes)}@example.org", "reason": "typo"}
    elif row.rule.endswith("/service-accounts"):
        body = {"name": "Biobank", "scopes": ["permissions:read"], "sites": [site]}
    elif row.rule.endswith("/approve"):
        body = {"ethics_reference": "EC-1"}
    elif row.rule.endswith("/answer"):
        body = {"text": "Yes, the nurse can call you."}
    elif row.rule.endswith("/publish"):
        body = {"change": "minor", "effective_from": "2026-06-01"}
    elif row.rule.endswith("/publications"):
        body = {"kind": "news", "texts": {"fr": {"title": "Nouvelles", "body": "Merci."}}}
    headers = auth(token) if token else {}
    if row.rule.endswith("/paper"):
        form = {
            "signer_ids": [family["guardian"]],
            "signed_on": now_utc().date().isoformat(),
            "locale": record.locale,
            "scan": (io.BytesIO(scan_pdf()), "scan.pdf", "application/pdf"),
        }
        response = client.post(path, data=form, headers=headers)
    elif row.method == "GET":
        response = client.get(path, query_string=query, headers=headers)
    elif row.method == "DELETE":
        response = client.delete(path, headers=headers)
    elif row.method == "PUT":
        response = client.put(path, json=body, headers=headers)
    else:
        response = client.post(path, json=body or {}, headers=headers)
    response.get_data()  # a streamed export keeps its request context until read and closed
    response.close()
    return response


_codes = itertools.count(100)


def test_every_staff_route_has_a_row(app: Any) -> None:
    rules = {
        (rule.rule, method)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/staff/studies")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert rules == {(row.rule, row.method) for row in ROWS}


@pytest.mark.parametrize("row", ROWS, ids=[f"{r.method} {r.rule.split('>')[-1]}" for r in ROWS])
def test_role_and_site_matrix(client: Any, world: dict[str, Any], row: Row) -> None:
    anonymous = _request(client, row, "NL-01", world, None)
    assert anonymous.status_code == 401, "anonymous"
    wrong = []
    for role, site in itertools.product(ROLES, ("NL-01", "FR-01")):
        own = site == "NL-01" or role == "sponsor-admin" or not row.sited
        expect_allowed = role in row.allowed and (
            own if role != "sponsor-admin" else row.admin_everywhere
        )
        response = _request(client, row, site, world, world["tokens"][role])
        # A participant the member cannot see answers like a code that does not exist.
        hidden = "<code>" in row.rule and not own
        refused = (404,) if hidden else (401, 403)
        allowed = response.status_code not in refused
        if allowed != expect_allowed or response.status_code >= 500:
            wrong.append((role, site, response.status_code, response.get_json(silent=True)))
        if not allowed:
            assert response.mimetype == "application/problem+json"
    assert not wrong, wrong
