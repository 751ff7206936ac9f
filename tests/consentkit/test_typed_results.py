"""Service results are typed: the declared shapes match what the services return (real db).

Callers (the API, the pages, the CLI, other systems) read these results by
attribute or key; a declared type that drifts from the value returned would let
mypy pass code that fails at run time.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import timedelta
from typing import get_type_hints

from consentkit.policy.records import RecordStatus
from consentkit.services import ceremony, documents, participants, records
from tests.consentkit.records_helpers import (
    STAFF,
    T0,
    content,
    make_family,
    prepare,
    sign,
    signer_actor,
)


def test_profile_keys_are_exactly_the_declared_participation_profile(demo_study: object) -> None:
    family = make_family()
    records.open_record(family.participant, form_id="parental-consent", actor=STAFF, now=T0)

    profile = records.profile(family.participant, at=T0 + timedelta(days=1))

    typed = records.participation(family.participant, at=T0 + timedelta(days=1))
    assert set(profile) == {"trial_id", "participant", "at"} | {f.name for f in fields(typed)}
    assert set(profile["permissions"]) == {f.name for f in fields(typed.permissions)}


def test_record_statuses_returns_record_status_values(demo_study: object) -> None:
    family = make_family()
    opened = records.open_record(
        family.participant, form_id="parental-consent", actor=STAFF, now=T0
    )

    [status] = records.record_statuses(family.participant, at=T0)

    assert isinstance(status, RecordStatus)
    assert status.record_id == opened.record_id


def test_answer_questions_feedback_json_keeps_the_signer_api_shape(demo_study: object) -> None:
    family = make_family()
    record = records.open_record(
        family.participant, form_id="parental-consent", actor=STAFF, now=T0
    )
    guardian = family.guardians[0]
    text = content(record, "fr")
    ceremony.record_views(
        family.participant,
        record.record_id,
        signer_id=str(guardian.id),
        locale="fr",
        sections=[{"id": s["id"], "seconds": 30} for s in text["sections"]],
        actor=signer_actor(guardian),
        now=T0,
    )
    [first, *rest] = text["questions"]
    answers = {q["id"]: q["correct"] for q in rest} | {first["id"]: "not-an-option"}

    feedback = ceremony.answer_questions(
        family.participant,
        record.record_id,
        signer_id=str(guardian.id),
        locale="fr",
        answers=answers,
        actor=signer_actor(guardian),
        now=T0,
    )

    assert feedback.to_dict() == {
        "score": len(rest),
        "passed": feedback.passed,
        "pass_mark": feedback.pass_mark,
        "all_correct": False,
        "results": [
            {"id": first["id"], "correct": False, "explanation": first["explanation"]},
            *({"id": q["id"], "correct": True, "explanation": None} for q in rest),
        ],
    }


def test_signer_identity_keys_are_declared_in_signer_identity(demo_study: object) -> None:
    family = make_family()

    for signer in participants.signers_of(family.participant):
        identity = participants.signer_identity(signer)
        assert identity["name"]
        assert set(identity) <= set(get_type_hints(participants.SignerIdentity))


def test_consent_record_payload_keys_are_the_declared_record_format(demo_study: object) -> None:
    family = make_family()
    record = records.open_record(
        family.participant, form_id="parental-consent", actor=STAFF, now=T0
    )
    for guardian in family.guardians:
        prepare(family, record, guardian)
    signed_at = T0 + timedelta(hours=25)
    for signer in (*family.guardians, family.investigator):
        event = sign(family, record, signer, at=signed_at)

    payload = documents.consent_record_payload(
        family.participant, record.record_id, "fr", event.seq
    )

    declared = set(get_type_hints(documents.ConsentRecordPayload))
    # An e-signed record has no paper, nor a single-parent exception, nor (opened without a
    # consent task) a purpose; signatures made through ceremony.sign alone carry neither an
    # interview nor a witness attestation, no one was present for a child, none was attested
    # by staff, and signed after the time to think they give no reason to sign early.
    assert set(payload) == declared - {"paper_signatures", "guardian_exception", "opened_for"}
    assert {frozenset(s) for s in payload["signatures"]} == {
        frozenset(get_type_hints(documents.RecordSignature))
        - {"interview", "attestation", "present", "attested_by", "early_signing_justification"}
    }
    assert set(payload["requirements"]) == set(get_type_hints(documents.RecordRequirements))
