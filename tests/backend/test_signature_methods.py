"""Drawn, typed or attested: each signature recorded as what it is, with the signer's own name.

A family member signs on their phone by drawing or by typing their full name with an
explicit "I sign"; or in front of staff, who attest it after re-authenticating. The
form says which ways are allowed; the printed name must be the registered one.
"""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from pypdf import PdfReader

from consentkit.clock import now_utc
from consentkit.models.participant import Participant, Signer
from consentkit.models.staff import StaffMember, StaffSession
from consentkit.models.study import ConsentForm
from consentkit.policy.roles import StaffRole
from consentkit.services import (
    attested,
    audit,
    ceremony,
    documents,
    participants,
    records,
    timeline,
)
from tests.backend.signer_helpers import read_and_prepare
from tests.backend.staff_helpers import BASE, auth, enrol, make_member, token_for
from tests.consentkit.records_helpers import (
    STAFF,
    STROKES,
    T0,
    content,
    make_family,
    prepare,
    sign,
    signature,
    signer_actor,
)

NAME = "Ελένη Παπαδοπούλου"  # the phone's guardian, as the study team registered her


def _sign(phone: Any, **body: Any) -> Any:
    text = read_and_prepare(phone)
    phone.step_up()
    return phone.post(
        f"/api/v1/me/records/{phone.rec.record_id}/signature",
        json={
            "locale": "fr",
            "content_sha256": text["sha"],
            "early_signing_justification": "We travelled far to come today",
            **body,
        },
    )


def _signature_event(participant: Participant) -> dict[str, Any]:
    return next(e for e in records.history(participant)[::-1] if e["type"] == "signature.added")


@pytest.fixture
def typed_only(demo_study: Any) -> None:
    """The parental consent form allows typed signatures only (set before records open)."""
    ConsentForm.objects(form_id="parental-consent").update(set__signature_methods=["typed"])


@pytest.fixture
def attested_allowed(demo_study: Any) -> None:
    ConsentForm.objects(form_id="parental-consent").update(
        set__signature_methods=["drawn", "typed", "attested"]
    )


def test_a_typed_name_with_i_sign_is_a_signature_recorded_as_typed(phone: Any) -> None:
    signed = _sign(phone, printed_name=NAME, signature_method="typed", i_sign=True)

    assert signed.status_code == 200, signed.get_json()
    event = _signature_event(phone.fam.participant)
    assert event["payload"]["signature_method"] == "typed"
    assert event["payload"]["strokes"] == []
    assert event["payload"]["image_svg"] is None
    [said] = [
        t.summary
        for t in timeline.participant_timeline(phone.fam.participant, locale="en")
        if t.type == "signature.added"
    ]
    assert 'how: Typed full name, with "I sign"' in said
    assert "because: We travelled far to come today" in said


def test_a_typed_name_without_i_sign_is_refused(phone: Any) -> None:
    refused = _sign(phone, printed_name=NAME, signature_method="typed")

    assert refused.status_code == 422
    assert refused.get_json()["error"] == "typed-signature-not-confirmed"


def test_a_drawn_signature_is_recorded_as_drawn(phone: Any) -> None:
    signed = _sign(phone, printed_name=NAME, strokes=STROKES)

    assert signed.status_code == 200, signed.get_json()
    assert _signature_event(phone.fam.participant)["payload"]["signature_method"] == "drawn"


def test_a_method_the_form_does_not_allow_is_refused(typed_only: None, phone: Any) -> None:
    [task] = phone.get("/api/v1/me/tasks").get_json()
    drawn = _sign(phone, printed_name=NAME, strokes=STROKES)

    assert task["signature_methods"] == ["typed"]
    assert drawn.status_code == 422
    assert drawn.get_json()["error"] == "signature-method-not-allowed"


def test_the_family_cannot_claim_an_attested_signature(phone: Any) -> None:
    claimed = _sign(phone, printed_name=NAME, signature_method="attested")

    assert claimed.status_code == 422


def test_another_name_is_refused_with_a_kind_message(phone: Any) -> None:
    refused = _sign(phone, printed_name="Ελένη", strokes=STROKES)

    assert refused.status_code == 422
    body = refused.get_json()
    assert body["error"] == "printed-name-mismatch"
    assert "ask them to correct it" in body["message"]


def test_the_name_is_matched_without_case_or_accents(phone: Any) -> None:
    signed = _sign(phone, printed_name="ελενη  παπαδοπουλου", signature_method="typed", i_sign=True)

    assert signed.status_code == 200, signed.get_json()


def test_the_task_tells_when_signing_needs_no_reason(phone: Any) -> None:
    before = phone.get("/api/v1/me/tasks").get_json()[0]
    read_and_prepare(phone)
    after = phone.get("/api/v1/me/tasks").get_json()[0]

    assert before["reflection_until"] is None
    assert before["reflection_hours"] == 24
    first_read = next(
        e["at"] for e in records.history(phone.fam.participant) if e["type"] == "information.viewed"
    )
    assert after["reflection_until"].startswith(
        (first_read + timedelta(hours=24)).strftime("%Y-%m-%dT%H:%M")
    )
    assert after["choices"] and all(after["choices"].values())


# ---------------------------------------------------------------- staff: attested, names


@pytest.fixture
def investigator(client: Any, demo_study: Any) -> dict[str, str]:
    member = make_member(
        client, "visser@example.org", StaffRole.INVESTIGATOR, ("NL-01",), name="Dr Eva Visser"
    )
    return auth(token_for(client.application, member))


def _enrolled_and_prepared(client: Any, investigator: dict[str, str]) -> tuple[Any, Signer, str]:
    made = enrol(client, investigator).get_json()
    participant = Participant.objects.get(code="NL-0001")
    anna = Signer.objects.get(
        participant_id=str(participant.id), id=made["signers"][0]["signer_id"]
    )
    record = next(r for r in made["records"] if r["form_kind"] == "parental-consent")
    rec = SimpleNamespace(
        record_id=record["record_id"], form_id=record["form_id"], version=record["version"]
    )
    prepare(SimpleNamespace(participant=participant), rec, anna, locale="nl", at=T0)
    return participant, anna, record["record_id"]


def _attest(client: Any, headers: dict[str, str], record_id: str, **body: Any) -> Any:
    return client.post(
        f"{BASE}/participants/NL-0001/records/{record_id}/attested-signature",
        json={"locale": "nl", "early_signing_justification": "Surgery is tomorrow", **body},
        headers=headers,
    )


def _sha(participant: Participant, record_id: str) -> str:
    opened = next(
        e
        for e in records.history(participant)
        if e["type"] == "record.opened" and e["record_id"] == record_id
    )
    return str(opened["payload"]["content_sha256"]["nl"])


def test_staff_attest_a_signature_given_in_front_of_them(
    client: Any, attested_allowed: None, investigator: dict[str, str]
) -> None:
    participant, anna, record_id = _enrolled_and_prepared(client, investigator)

    attested = _attest(
        client,
        investigator,
        record_id,
        signer_id=str(anna.id),
        content_sha256=_sha(participant, record_id),
        printed_name="anna de vries",
        witness_name="Joost Getuige",
    )

    assert attested.status_code == 200, attested.get_json()
    payload = _signature_event(participant)["payload"]
    assert payload["signature_method"] == "attested"
    assert payload["signer_id"] == str(anna.id)
    assert payload["attested_by"]["staff_name"] == "Dr Eva Visser"
    assert payload["attested_by"]["witness_name"] == "Joost Getuige"
    assert payload["auth"]["method"] == "staff-attested"
    assert audit.verify_participant(participant).ok


def test_attesting_needs_a_fresh_password_and_code(
    client: Any, attested_allowed: None, investigator: dict[str, str]
) -> None:
    participant, anna, record_id = _enrolled_and_prepared(client, investigator)
    StaffSession.objects.update(set__reauth_at=now_utc() - timedelta(hours=1))

    stale = _attest(
        client,
        investigator,
        record_id,
        signer_id=str(anna.id),
        content_sha256=_sha(participant, record_id),
        printed_name="Anna de Vries",
    )

    assert stale.status_code == 401
    assert stale.get_json()["error"] == "reauthentication-required"
    assert not [e for e in records.history(participant) if e["type"] == "signature.added"]


def test_attesting_is_refused_when_the_form_does_not_allow_it(
    client: Any, demo_study: Any, investigator: dict[str, str]
) -> None:
    participant, anna, record_id = _enrolled_and_prepared(client, investigator)

    refused = _attest(
        client,
        investigator,
        record_id,
        signer_id=str(anna.id),
        content_sha256=_sha(participant, record_id),
        printed_name="Anna de Vries",
    )

    assert refused.status_code == 422
    assert refused.get_json()["error"] == "signature-method-not-allowed"


def test_staff_correct_a_registered_name_as_an_audited_event(
    client: Any, attested_allowed: None, investigator: dict[str, str]
) -> None:
    participant, anna, record_id = _enrolled_and_prepared(client, investigator)
    url = f"{BASE}/participants/NL-0001/signers/{anna.id}/name"
    body = {"signer_id": str(anna.id), "content_sha256": _sha(participant, record_id)}

    wrong_before = _attest(client, investigator, record_id, printed_name="Anne de Vries", **body)
    corrected = client.put(
        url, json={"name": "Anne de Vries", "reason": "Typo at enrolment"}, headers=investigator
    )
    old_after = _attest(client, investigator, record_id, printed_name="Anna de Vries", **body)
    new_after = _attest(client, investigator, record_id, printed_name="ANNE DE VRIES", **body)

    assert wrong_before.get_json()["error"] == "printed-name-mismatch"
    assert corrected.status_code == 200, corrected.get_json()
    assert corrected.get_json() == {"signer_id": str(anna.id), "changed": True}
    event = next(e for e in records.history(participant) if e["type"] == "signer.name-corrected")
    assert event["payload"]["reason"] == "Typo at enrolment"
    assert event["payload"]["spelling_only"] is False
    assert "Anne" not in str(event["payload"])  # names stay encrypted, out of the trail
    assert audit.verify_participant(participant).ok
    assert participants.signer_identity(Signer.objects.get(id=anna.id))["name"] == "Anne de Vries"
    assert old_after.get_json()["error"] == "printed-name-mismatch"
    assert new_after.status_code == 200, new_after.get_json()


def test_correcting_a_name_needs_a_fresh_password_and_code(
    client: Any, demo_study: Any, investigator: dict[str, str]
) -> None:
    _participant, anna, _record_id = _enrolled_and_prepared(client, investigator)
    StaffSession.objects.update(set__reauth_at=now_utc() - timedelta(hours=1))

    stale = client.put(
        f"{BASE}/participants/NL-0001/signers/{anna.id}/name",
        json={"name": "Anne de Vries", "reason": "Typo"},
        headers=investigator,
    )

    assert stale.status_code == 401
    assert participants.signer_identity(Signer.objects.get(id=anna.id))["name"] == "Anna de Vries"


def test_the_sealed_pdf_says_how_each_signature_was_made(
    client: Any, attested_allowed: None
) -> None:
    member = make_member(client, "moreau@example.org", StaffRole.INVESTIGATOR, ("FR-01",))
    staff = StaffMember.objects.get(id=member.staff_id)
    family = make_family()
    record = records.open_record(family.participant, form_id="parental-consent", actor=STAFF)
    for guardian in family.guardians:
        prepare(family, record, guardian, at=T0)
    at = now_utc()
    typed = replace(
        signature(record, family.guardians[0], at=at),
        strokes=[],
        method="typed",
        i_sign=True,
        early_signing_justification="Talked it through at the visit",
    )
    ceremony.sign(
        family.participant, record.record_id, typed, actor=signer_actor(family.guardians[0]), now=at
    )
    attested.sign_attested(
        family.participant,
        record.record_id,
        signer_id=str(family.guardians[1].id),
        staff=staff,
        staff_role="investigator",
        locale="fr",
        content_sha256=content(record, "fr")["sha"],
        printed_name="иван петров",
        verified_at=at,
        early_signing_justification="Surgery is tomorrow",
        now=at,
    )
    sign(family, record, family.investigator, at=at)

    pdf = documents.consent_document(family.participant, record.record_id, locale="en").content
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)

    assert 'Typed full name, with "I sign"' in text
    assert "Given in front of the study team" in text
    assert "Drawn on the screen" in text
    assert staff.name in text
    assert "Surgery is tomorrow" in text
