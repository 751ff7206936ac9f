"""The impartial witness of a signer who cannot read (CTR Art 29(1)): required, in order, sealed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from markupsafe import escape

from consentkit.errors import ConflictError, EligibilityError
from consentkit.models.staff import StaffMember
from consentkit.policy.roles import Grant, StaffRole
from consentkit.services import audit, documents, records, witness
from consentkit.services import staff as staff_service
from tests.consentkit.records_helpers import (
    STAFF,
    STROKES,
    T0,
    content,
    make_family,
    prepare,
    sign,
)


def _nurse() -> StaffMember:
    found = StaffMember.objects(email="nurse@example.org").first()
    if found is not None:
        return found
    member, _ = staff_service.create_staff(
        email="nurse@example.org",
        name="Nurse Martin",
        grants=[Grant("DEMO-NBL-1", StaffRole.SITE_STAFF, ("FR-01",))],
        now=T0,
    )
    return member


def _witnessed_record() -> tuple[Any, Any, Any]:
    family = make_family()  # FR, both parents sign
    record = records.open_record(
        family.participant, form_id="parental-consent", actor=STAFF, now=T0
    )
    made = witness.register_witness(
        family.participant,
        for_signer_id=str(family.guardians[0].id),
        name="Jeanne Témoin",
        actor=STAFF,
        now=T0,
    )
    return family, record, made


def _witness_signs(family: Any, record: Any, made: Any, at: Any) -> Any:
    return witness.sign_as_witness(
        family.participant,
        record.record_id,
        witness_signer_id=str(made.id),
        staff=_nurse(),
        locale="fr",
        content_sha256=content(record, "fr")["sha"],
        printed_name="Jeanne Témoin",
        strokes=STROKES,
        verified_at=at - timedelta(minutes=1),
        now=at,
    )


def test_register_witness_makes_the_open_record_need_the_witness(demo_study: Any) -> None:
    family, _, made = _witnessed_record()

    [status] = records.record_statuses(family.participant, at=T0)

    assert {"signer_id": str(made.id), "role": "witness"} in status.missing_signers


def test_records_opened_later_need_the_witness_too(demo_study: Any) -> None:
    family = make_family()
    made = witness.register_witness(
        family.participant,
        for_signer_id=str(family.guardians[0].id),
        name="Jeanne Témoin",
        actor=STAFF,
        now=T0,
    )

    record = records.open_record(
        family.participant, form_id="parental-consent", actor=STAFF, now=T0
    )

    assert str(made.id) in [m["signer_id"] for m in record.missing_signers]


def test_a_second_witness_for_the_same_person_is_refused(demo_study: Any) -> None:
    family, _, _ = _witnessed_record()
    with pytest.raises(ConflictError) as raised:
        witness.register_witness(
            family.participant,
            for_signer_id=str(family.guardians[0].id),
            name="Other",
            actor=STAFF,
            now=T0,
        )
    assert raised.value.code == "witness-exists"


def test_the_witness_signs_after_the_person_who_cannot_read(demo_study: Any) -> None:
    family, record, made = _witnessed_record()
    at = T0 + timedelta(hours=25)

    with pytest.raises(EligibilityError) as early:
        _witness_signs(family, record, made, at)
    assert early.value.code == "witness-too-early"

    prepare(family, record, family.guardians[0], at=T0)
    sign(family, record, family.guardians[0], at=at)
    event = _witness_signs(family, record, made, at + timedelta(minutes=1))

    assert event.payload["role"] == "witness"
    assert event.payload["attestation"]["for_signer_id"] == str(family.guardians[0].id)
    assert event.payload["attestation"]["witnessed_name"] == "Ελένη Παπαδοπούλου"
    assert event.payload["printed_name"] == "Jeanne Témoin"


def test_the_record_completes_only_with_the_witness_and_the_pdf_shows_the_attestation(
    demo_study: Any,
) -> None:
    family, record, made = _witnessed_record()
    at = T0 + timedelta(hours=25)
    for guardian in family.guardians:
        prepare(family, record, guardian, at=T0)
    for guardian in family.guardians:
        sign(family, record, guardian, at=at)
    sign(family, record, family.investigator, at=at + timedelta(minutes=1))
    [status] = records.record_statuses(family.participant, at=at + timedelta(minutes=2))
    assert status.state.value != "consented"  # the witness has not signed yet

    _witness_signs(family, record, made, at + timedelta(minutes=3))

    [status] = records.record_statuses(family.participant, at=at + timedelta(minutes=4))
    assert status.state.value == "consented"
    last = audit.chain_dicts(str(family.participant.id))[-1]["seq"]
    payload = documents.consent_record_payload(family.participant, record.record_id, "fr", last)
    [signed] = [s for s in payload["signatures"] if s["role"] == "witness"]
    assert signed["attestation"]["witnessed_name"] == "Ελένη Παπαδοπούλου"
    html = documents._consent_html(family.participant, payload, False, "0" * 64)
    assert "Jeanne Témoin" in html
    assert escape(signed["attestation"]["statement"]) in html  # the PDF escapes user text


def test_enrol_with_a_parent_who_cannot_read_registers_their_witness(demo_study: Any) -> None:
    from datetime import date

    from consentkit.services import enrolment

    member, _ = staff_service.create_staff(
        email="dr.fr@example.org",
        name="Dr Martin",
        grants=[Grant("DEMO-NBL-1", StaffRole.INVESTIGATOR, ("FR-01",))],
        now=T0,
    )
    result = enrolment.enrol(
        "DEMO-NBL-1",
        code="FR-0042",
        site_code="FR-01",
        birth_date=date(2017, 5, 4),
        signers=[
            enrolment.SignerEntry(
                "guardian", "Amina Diallo", phone="+33 6 12345678", witness_name="Paul Témoin"
            ),
            enrolment.SignerEntry("guardian", "Moussa Diallo", phone="+33 6 87654321"),
            enrolment.SignerEntry("participant", "Awa Diallo", phone="+33 6 11111111"),
        ],
        interviewer=member,
        actor=enrolment.staff_actor(member, "investigator"),
        now=T0,
    )

    parental = next(r for r in result.records if r.form_kind == "parental-consent")
    [status] = [
        s
        for s in records.record_statuses(result.participant, at=T0)
        if s.record_id == parental.record_id
    ]
    assert "witness" in [m["role"] for m in status.missing_signers]
    shown = {s["name"]: s for s in enrolment.signer_details(result.participant)}
    assert shown["Amina Diallo"]["witness_signer_id"] == shown["Paul Témoin"]["signer_id"]
    assert shown["Paul Témoin"]["witness_for"] == shown["Amina Diallo"]["signer_id"]
