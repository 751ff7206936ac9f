"""POST .../records/<record_id>/paper: a paper consent and its scan, over HTTP."""

from __future__ import annotations

import io
from datetime import date, timedelta
from typing import Any

import pytest

from consentkit.clock import now_utc
from consentkit.models.document import StoredDocument
from consentkit.models.participant import Participant
from consentkit.models.staff import StaffMember, StaffSession
from consentkit.policy.age import local_date
from consentkit.policy.records import opened_event
from consentkit.services import enrolment, records
from tests.backend.staff_helpers import auth, make_member, token_for
from tests.consentkit.paper_helpers import scan_pdf

TRIAL = "DEMO-NBL-1"


@pytest.fixture
def family(client: Any, demo_study: Any) -> dict[str, Any]:
    """An NL-01 investigator and monitor, and a family whose first record is open."""
    investigator = make_member(client, "inv@example.org", "investigator", ("NL-01",))
    monitor = make_member(client, "mon@example.org", "monitor", ("NL-01",))
    nurse = make_member(client, "nurse@example.org", "site-staff", ("NL-01",))
    staff = StaffMember.objects.get(id=investigator.staff_id)
    result = enrolment.enrol(
        TRIAL,
        code="NL-01-0001",
        site_code="NL-01",
        birth_date=date(2013, 1, 15),
        signers=[
            enrolment.SignerEntry("guardian", "Parent One", email="one@example.org"),
            enrolment.SignerEntry("guardian", "Parent Two", email="two@example.org"),
            enrolment.SignerEntry("participant", "Child", email="child@example.org"),
        ],
        interviewer=staff,
        actor=enrolment.staff_actor(staff, "investigator"),
    )
    record = result.records[0]
    return {
        "investigator": token_for(client.application, investigator),
        "investigator_id": investigator.staff_id,
        "monitor": token_for(client.application, monitor),
        "site_staff": token_for(client.application, nurse),
        "record": record,
        "guardian": str(next(s.id for s in result.signers if s.role == "guardian")),
        "investigator_signer": str(next(s.id for s in result.signers if s.role == "investigator")),
        "url": f"/api/v1/staff/studies/{TRIAL}/participants/NL-01-0001/records/"
        f"{record.record_id}/paper",
    }


def _items(family: dict[str, Any]) -> list[str]:
    participant = Participant.objects.get(code="NL-01-0001")
    opened = opened_event(records.history(participant), family["record"].record_id)
    return [i["id"] for i in opened["payload"]["items"]]


def _form(family: dict[str, Any], content: bytes | None = None) -> dict[str, Any]:
    return {
        "signer_ids": [family["guardian"]],
        "items_yes": _items(family),  # every box ticked yes on the paper form
        # The family signed today where they are (the site's day, which the rule reads).
        "signed_on": local_date(
            now_utc(), Participant.objects.get(code="NL-01-0001").timezone
        ).isoformat(),
        "locale": family["record"].locale,
        "note": "tablet broken",
        "scan": (io.BytesIO(scan_pdf() if content is None else content), "scan.pdf"),
    }


def test_paper_consent_upload_works_for_an_investigator(
    client: Any, family: dict[str, Any]
) -> None:
    response = client.post(family["url"], data=_form(family), headers=auth(family["investigator"]))

    assert response.status_code == 201, response.get_json()
    assert response.get_json()["type"] == "paper.recorded"
    timeline = client.get(
        f"/api/v1/staff/studies/{TRIAL}/participants/NL-01-0001/timeline",
        headers=auth(family["investigator"]),
    ).get_json()
    event = timeline[-1]
    assert event["type"] == "paper.recorded"


def test_paper_consent_scan_can_be_downloaded(client: Any, family: dict[str, Any]) -> None:
    content = scan_pdf()
    client.post(family["url"], data=_form(family, content), headers=auth(family["investigator"]))
    from consentkit.models.document import StoredDocument

    document_id = str(StoredDocument.objects.get(kind="paper-scan").id)

    response = client.get(
        f"/api/v1/staff/studies/{TRIAL}/participants/NL-01-0001/documents/{document_id}",
        headers=auth(family["monitor"]),
    )

    assert (response.status_code, response.mimetype) == (200, "application/pdf")
    assert response.data == content


def test_paper_consent_needs_a_recent_reauthentication(client: Any, family: dict[str, Any]) -> None:
    StaffSession.objects(staff_id=family["investigator_id"]).update(
        set__reauth_at=now_utc() - timedelta(hours=2)
    )

    response = client.post(family["url"], data=_form(family), headers=auth(family["investigator"]))

    assert response.status_code == 401
    assert response.get_json()["error"] == "reauthentication-required"


def test_paper_consent_is_refused_to_a_monitor(client: Any, family: dict[str, Any]) -> None:
    response = client.post(family["url"], data=_form(family), headers=auth(family["monitor"]))

    assert response.status_code == 403


def test_paper_consent_over_the_limit_is_413(client: Any, family: dict[str, Any]) -> None:
    client.application.config["PAPER_SCAN_MAX_BYTES"] = 1024
    content = scan_pdf() + b"%" + b"x" * 80_000

    response = client.post(
        family["url"], data=_form(family, content), headers=auth(family["investigator"])
    )

    assert response.status_code == 413
    assert response.get_json()["error"] == "payload-too-large"


def test_paper_consent_of_what_is_not_a_pdf_is_422(client: Any, family: dict[str, Any]) -> None:
    response = client.post(
        family["url"], data=_form(family, b"GIF89a not a pdf"), headers=auth(family["investigator"])
    )

    assert response.status_code == 422
    assert response.get_json()["error"] == "not-a-pdf"


def test_paper_consent_without_a_scan_is_422(client: Any, family: dict[str, Any]) -> None:
    form = _form(family)
    del form["scan"]

    response = client.post(family["url"], data=form, headers=auth(family["investigator"]))

    assert response.status_code == 422


def test_paper_investigator_signature_is_refused_to_site_staff(
    client: Any, family: dict[str, Any]
) -> None:
    form = {**_form(family), "signer_ids": [family["guardian"], family["investigator_signer"]]}

    response = client.post(family["url"], data=form, headers=auth(family["site_staff"]))

    assert response.status_code == 403
    assert response.get_json()["error"] == "countersign-required"
    assert StoredDocument.objects(kind="paper-scan").count() == 0  # refused before any write
    timeline = client.get(
        f"/api/v1/staff/studies/{TRIAL}/participants/NL-01-0001/timeline",
        headers=auth(family["investigator"]),
    ).get_json()
    assert "paper.recorded" not in {e["type"] for e in timeline}


def test_paper_investigator_signature_is_recorded_by_an_investigator(
    client: Any, family: dict[str, Any]
) -> None:
    form = {**_form(family), "signer_ids": [family["guardian"], family["investigator_signer"]]}

    response = client.post(family["url"], data=form, headers=auth(family["investigator"]))

    assert response.status_code == 201, response.get_json()


def test_paper_family_signatures_are_still_recorded_by_site_staff(
    client: Any, family: dict[str, Any]
) -> None:
    response = client.post(family["url"], data=_form(family), headers=auth(family["site_staff"]))

    assert response.status_code == 201, response.get_json()
