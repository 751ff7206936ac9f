"""The signing ceremony of a consent record, on the demo study in a real database.

Site FR-01: both parents consent (CSP L1122-2 II), the study asks for 24 h to
think, a record is open for 30 days; parental-consent v2 is in force at T0.
"""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import date, datetime, timedelta
from typing import Any

import pytest

from consentkit.authoring.reader import canonical_json
from consentkit.errors import ConflictError, EligibilityError, InvalidDataError
from consentkit.models.audit import ConsentRecord
from consentkit.policy.records import opened_event
from consentkit.services import audit, ceremony, participants, participation, records
from consentkit.services.evidence import AuthEvidence
from tests.consentkit.records_helpers import (
    STAFF,
    T0,
    Family,
    content,
    make_family,
    prepare,
    projection_and_chain,
    sign,
    signature,
    signer_actor,
)

#: After the 24 h the demo study asks for between reading and signing.
REFLECTED = T0 + timedelta(hours=25)


def _open(family: Family, *, at: datetime = T0, version: int | None = None) -> Any:
    return records.open_record(
        family.participant, form_id="parental-consent", actor=STAFF, version=version, now=at
    )


def _consent(family: Family, record: Any, *, at: datetime = T0) -> None:
    """Both parents read, answer and choose at ``at``, then all sign 25 h later."""
    for guardian in family.guardians:
        prepare(family, record, guardian, at=at)
    for guardian in family.guardians:
        sign(family, record, guardian, at=at + timedelta(hours=25))
    sign(family, record, family.investigator, at=at + timedelta(hours=25))


def _state(family: Family, record: Any, *, at: datetime) -> str:
    statuses = {s.record_id: s for s in records.record_statuses(family.participant, at=at)}
    return str(statuses[record.record_id].state.value)


def _progress(family: Family, record: Any, signer: Any, *, at: datetime) -> Any:
    statuses = {s.record_id: s for s in records.record_statuses(family.participant, at=at)}
    return statuses[record.record_id].signers[str(signer.id)]


def _read(family: Family, record: Any, signer: Any, *, at: datetime = T0) -> None:
    ceremony.record_views(
        family.participant,
        record.record_id,
        signer_id=str(signer.id),
        locale="fr",
        sections=[{"id": s["id"], "seconds": 40} for s in content(record, "fr")["sections"]],
        actor=signer_actor(signer),
        now=at,
    )


def _answer(
    family: Family, record: Any, signer: Any, *, wrong: int = 0, at: datetime = T0
) -> ceremony.ComprehensionFeedback:
    """Answer the quiz, the first ``wrong`` questions with a wrong option."""
    answers = {}
    for index, question in enumerate(content(record, "fr")["questions"]):
        options = [o["id"] for o in question["options"]]
        wrong_option = next(o for o in options if o != question["correct"])
        answers[question["id"]] = wrong_option if index < wrong else question["correct"]
    return ceremony.answer_questions(
        family.participant,
        record.record_id,
        signer_id=str(signer.id),
        locale="fr",
        answers=answers,
        actor=signer_actor(signer),
        now=at,
    )


def _all_yes(record: Any) -> dict[str, bool]:
    return {i["id"]: True for i in content(record, "fr")["items"]}


def _sign_with(family: Family, record: Any, signer: Any, submitted: Any, *, at: datetime) -> Any:
    return ceremony.sign(
        family.participant, record.record_id, submitted, actor=signer_actor(signer), now=at
    )


def _signature_events(family: Family, record: Any) -> list[dict[str, Any]]:
    return [
        e
        for e in records.history(family.participant)
        if e["type"] == "signature.added" and e["record_id"] == record.record_id
    ]


# ---------------------------------------------------------------- completing the ceremony


def test_sign_record_is_consented_only_after_both_guardians_and_the_investigator(
    demo_study: Any,
) -> None:
    family = make_family()
    record = _open(family)
    first, second = family.guardians
    prepare(family, record, first)
    prepare(family, record, second)

    after_first = sign(family, record, first, at=REFLECTED)
    after_investigator = sign(family, record, family.investigator, at=REFLECTED)
    after_second = sign(family, record, second, at=REFLECTED)

    assert [e.state_after for e in (after_first, after_investigator, after_second)] == [
        "awaiting-signatures",
        "awaiting-signatures",
        "consented",
    ]
    assert _state(family, record, at=REFLECTED) == "consented"


def test_sign_exactly_one_event_marks_the_record_consented(demo_study: Any) -> None:
    family = make_family()
    record = _open(family)

    _consent(family, record)

    consenting = [e for e in records.history(family.participant) if e["state_after"] == "consented"]
    assert len(consenting) == 1
    assert consenting[0]["type"] == "signature.added"


def test_open_record_uses_the_version_in_force_and_both_parents_in_france(
    demo_study: Any,
) -> None:
    family = make_family()

    record = _open(family)

    progress = records.record_statuses(family.participant, at=T0)[0].signers
    assert record.version == 2
    assert sorted(progress) == sorted(str(s.id) for s in (*family.guardians, family.investigator))


# ---------------------------------------------------------------- ceremony order (11.10(f))


def test_sign_before_reading_is_refused_as_information_incomplete(demo_study: Any) -> None:
    family = make_family()
    record = _open(family)

    with pytest.raises(EligibilityError) as error:
        sign(family, record, family.guardians[0], at=REFLECTED)

    assert error.value.code == "information-incomplete"


def test_choose_items_before_passing_the_required_quiz_is_refused(demo_study: Any) -> None:
    family = make_family()
    record = _open(family)
    guardian = family.guardians[0]
    _read(family, record, guardian)

    with pytest.raises(EligibilityError) as error:
        ceremony.choose_items(
            family.participant,
            record.record_id,
            signer_id=str(guardian.id),
            choices=_all_yes(record),
            actor=signer_actor(guardian),
            now=T0,
        )

    assert error.value.code == "comprehension-required"


def test_answer_questions_wrong_answers_fail_with_explanations(demo_study: Any) -> None:
    family = make_family()
    record = _open(family)
    guardian = family.guardians[0]
    _read(family, record, guardian)

    feedback = _answer(family, record, guardian, wrong=2)

    questions = content(record, "fr")["questions"]
    wrong = [r for r in feedback.results if not r.correct]
    assert feedback.passed is False
    assert feedback.score == len(questions) - 2
    assert [r.explanation for r in wrong] == [q["explanation"] for q in questions[:2]]
    assert all(r.explanation is None for r in feedback.results if r.correct)


def test_answer_questions_retry_passes_and_attempts_are_counted(demo_study: Any) -> None:
    family = make_family()
    record = _open(family)
    guardian = family.guardians[0]
    _read(family, record, guardian)
    _answer(family, record, guardian, wrong=2)

    feedback = _answer(family, record, guardian)

    progress = _progress(family, record, guardian, at=T0)
    assert feedback.passed is True
    assert (progress.comprehension_passed, progress.comprehension_attempts) == (True, 2)


# ---------------------------------------------------------------- reflection time


def test_sign_within_24_hours_without_justification_is_refused(demo_study: Any) -> None:
    family = make_family()
    record = _open(family)
    prepare(family, record, family.guardians[0])

    with pytest.raises(EligibilityError) as error:
        sign(family, record, family.guardians[0], at=T0 + timedelta(hours=23))

    assert error.value.code == "reflection-time"


def test_sign_within_24_hours_with_justification_is_accepted_and_stored(
    demo_study: Any,
) -> None:
    family = make_family()
    record = _open(family)
    prepare(family, record, family.guardians[0])
    reason = "Traitement à débuter demain ; la famille a eu l'information orale il y a 3 jours."

    event = sign(
        family,
        record,
        family.guardians[0],
        at=T0 + timedelta(hours=2),
        early_signing_justification=reason,
    )

    assert event.type == "signature.added"
    assert event.payload["early_signing_justification"] == reason


# ---------------------------------------------------------------- authentication (11.200)


def test_sign_with_a_stale_one_time_code_is_refused(demo_study: Any) -> None:
    family = make_family()
    record = _open(family)
    guardian = family.guardians[0]
    prepare(family, record, guardian)
    stale = AuthEvidence(factors=("session", "otp"), verified_at=REFLECTED - timedelta(minutes=11))
    submitted = dataclasses.replace(signature(record, guardian, at=REFLECTED), auth=stale)

    with pytest.raises(EligibilityError) as error:
        _sign_with(family, record, guardian, submitted, at=REFLECTED)

    assert error.value.code == "fresh-code-required"


def test_sign_with_a_single_factor_is_refused(demo_study: Any) -> None:
    family = make_family()
    record = _open(family)
    guardian = family.guardians[0]
    prepare(family, record, guardian)
    single = AuthEvidence(factors=("otp",), verified_at=REFLECTED - timedelta(minutes=1))
    submitted = dataclasses.replace(signature(record, guardian, at=REFLECTED), auth=single)

    with pytest.raises(EligibilityError) as error:
        _sign_with(family, record, guardian, submitted, at=REFLECTED)

    assert error.value.code == "fresh-code-required"


# ---------------------------------------------------------------- binding to what was shown


@dataclasses.dataclass
class _Ref:
    """Stands for a record of parental-consent at ``version`` (to look up its text)."""

    version: int
    form_id: str = "parental-consent"


@pytest.mark.parametrize(
    ("locale", "version"), [("en", 2), ("fr", 1)], ids=["other-locale", "other-version"]
)
def test_sign_with_the_hash_of_other_content_is_a_content_mismatch(
    demo_study: Any, locale: str, version: int
) -> None:
    family = make_family()
    record = _open(family)
    guardian = family.guardians[0]
    prepare(family, record, guardian)
    other = content(_Ref(version), locale)
    submitted = dataclasses.replace(
        signature(record, guardian, at=REFLECTED), content_sha256=other["sha"]
    )

    with pytest.raises(ConflictError) as error:
        _sign_with(family, record, guardian, submitted, at=REFLECTED)

    assert error.value.code == "content-mismatch"


def test_sign_investigator_cannot_countersign_before_any_family_signature(
    demo_study: Any,
) -> None:
    family = make_family()
    record = _open(family)
    for guardian in family.guardians:
        prepare(family, record, guardian)

    with pytest.raises(EligibilityError) as error:
        sign(family, record, family.investigator, at=REFLECTED)

    assert error.value.code == "countersign-too-early"


# ---------------------------------------------------------------- refusing


def test_sign_with_a_required_item_answered_no_is_refused(demo_study: Any) -> None:
    family = make_family()
    record = _open(family)
    guardian = family.guardians[0]
    prepare(family, record, guardian, choices={"participation": False})

    with pytest.raises(EligibilityError) as error:
        sign(family, record, guardian, at=REFLECTED)

    assert error.value.code == "required-item-refused"
    assert error.value.details["items"] == ["participation"]


def test_decline_after_refusing_a_required_item_closes_the_record_as_declined(
    demo_study: Any,
) -> None:
    family = make_family()
    record = _open(family)
    guardian = family.guardians[0]
    prepare(family, record, guardian, choices={"participation": False})

    event = ceremony.decline(
        family.participant,
        record.record_id,
        signer_id=str(guardian.id),
        actor=signer_actor(guardian),
        now=REFLECTED,
    )

    assert event.state_after == "declined"
    assert _state(family, record, at=REFLECTED) == "declined"


# ---------------------------------------------------------------- idempotency and duplicates


def test_sign_twice_with_the_same_key_returns_the_first_signature(demo_study: Any) -> None:
    family = make_family()
    record = _open(family)
    guardian = family.guardians[0]
    prepare(family, record, guardian)

    first = sign(family, record, guardian, at=REFLECTED, key="tap-1")
    again = sign(family, record, guardian, at=REFLECTED + timedelta(seconds=3), key="tap-1")

    assert again.seq == first.seq
    assert len(_signature_events(family, record)) == 1


def test_sign_reusing_a_key_for_another_signer_is_refused(demo_study: Any) -> None:
    family = make_family()
    record = _open(family)
    first, second = family.guardians
    prepare(family, record, first)
    prepare(family, record, second)
    sign(family, record, first, at=REFLECTED, key="tap-1")

    with pytest.raises(ConflictError) as error:
        sign(family, record, second, at=REFLECTED, key="tap-1")

    assert error.value.code == "idempotency-key-reused"


def test_sign_twice_with_different_keys_is_refused_as_already_signed(demo_study: Any) -> None:
    family = make_family()
    record = _open(family)
    guardian = family.guardians[0]
    prepare(family, record, guardian)
    sign(family, record, guardian, at=REFLECTED, key="tap-1")

    with pytest.raises(ConflictError) as error:
        sign(family, record, guardian, at=REFLECTED, key="tap-2")

    assert error.value.code == "already-signed"
    assert len(_signature_events(family, record)) == 1


def test_choose_items_after_signing_is_refused_and_keeps_the_signed_choices(
    demo_study: Any,
) -> None:
    family = make_family()
    record = _open(family)
    guardian = family.guardians[0]
    prepare(family, record, guardian)
    sign(family, record, guardian, at=REFLECTED)

    with pytest.raises(ConflictError) as error:
        ceremony.choose_items(
            family.participant,
            record.record_id,
            signer_id=str(guardian.id),
            choices={**_all_yes(record), "genetic-analysis": False},
            actor=signer_actor(guardian),
            now=REFLECTED + timedelta(minutes=1),
        )

    assert error.value.code == "already-signed"
    progress = _progress(family, record, guardian, at=REFLECTED + timedelta(minutes=2))
    assert progress.choices == _all_yes(record)


# ---------------------------------------------------------------- signature manifestation (11.50)


def test_sign_stores_the_meaning_in_the_signing_locale(demo_study: Any) -> None:
    family = make_family()
    record = _open(family)
    guardian = family.guardians[0]
    prepare(family, record, guardian)

    event = sign(family, record, guardian, at=REFLECTED)

    assert event.payload["locale"] == "fr"
    assert event.payload["meaning"] == content(record, "fr")["signature_meanings"]["guardian"]


def test_sign_stores_printed_name_server_time_and_client_time(demo_study: Any) -> None:
    family = make_family()
    record = _open(family)
    guardian = family.guardians[0]
    prepare(family, record, guardian)
    client_at = REFLECTED - timedelta(seconds=42)
    submitted = dataclasses.replace(signature(record, guardian, at=REFLECTED), client_at=client_at)

    event = _sign_with(family, record, guardian, submitted, at=REFLECTED)

    assert event.payload["printed_name"] == "Ελένη Παπαδοπούλου"
    assert event.payload["signed_at"] == REFLECTED.isoformat(timespec="milliseconds")
    assert event.at == REFLECTED
    assert event.payload["client_at"] == client_at.isoformat()


def test_sign_binding_hash_covers_text_choices_signer_meaning_and_time(demo_study: Any) -> None:
    family = make_family()
    record = _open(family)
    guardian = family.guardians[0]
    prepare(family, record, guardian, choices={"genetic-analysis": False})
    text = content(record, "fr")

    payload = sign(family, record, guardian, at=REFLECTED).payload

    # The fields services/ceremony.py binds, rebuilt from what the family was shown and did.
    binding = {
        "trial_id": "DEMO-NBL-1",
        "form_id": "parental-consent",
        "version": 2,
        "locale": "fr",
        "content_sha256": text["sha"],
        "item_choices": {**_all_yes(record), "genetic-analysis": False},
        "signer_id": str(guardian.id),
        "role": "guardian",
        "printed_name": "Ελένη Παπαδοπούλου",
        "meaning": text["signature_meanings"]["guardian"],
        "signed_at": REFLECTED.isoformat(timespec="milliseconds"),
    }
    expected = hashlib.sha256(canonical_json(binding).encode()).hexdigest()
    assert payload["binding_sha256"] == expected


# ---------------------------------------------------------------- record life cycle


def test_record_statuses_record_expires_31_days_after_opening_with_no_action(
    demo_study: Any,
) -> None:
    family = make_family()
    record = _open(family)
    later = T0 + timedelta(days=31)

    profile = records.profile(family.participant, at=later)

    assert _state(family, record, at=later) == "expired"
    assert [r["state"] for r in profile["records"]] == ["expired"]


def test_record_statuses_record_is_still_open_on_day_29(demo_study: Any) -> None:
    family = make_family()
    record = _open(family)

    assert _state(family, record, at=T0 + timedelta(days=29)) == "awaiting-information"


def test_sign_after_the_record_expired_is_refused(demo_study: Any) -> None:
    family = make_family()
    record = _open(family)
    prepare(family, record, family.guardians[0])

    with pytest.raises(ConflictError) as error:
        sign(family, record, family.guardians[0], at=T0 + timedelta(days=31))

    assert error.value.code == "record-closed"


def test_open_record_again_after_the_first_expired(demo_study: Any) -> None:
    family = make_family()
    first = _open(family)

    second = _open(family, at=T0 + timedelta(days=31))

    assert second.record_id != first.record_id
    assert _state(family, second, at=T0 + timedelta(days=31)) == "awaiting-information"


def test_open_record_twice_for_the_same_version_is_a_conflict(demo_study: Any) -> None:
    family = make_family()
    _open(family)

    with pytest.raises(ConflictError) as error:
        _open(family, at=T0 + timedelta(hours=1))

    assert error.value.code == "record-exists"


def test_open_record_parental_consent_with_one_guardian_in_france_is_refused(
    demo_study: Any,
) -> None:
    participant = participants.enrol_participant(
        trial_id="DEMO-NBL-1",
        code="P-ONE",
        site_code="FR-01",
        birth_date=date(2017, 5, 4),
        actor=STAFF,
        now=T0,
    )
    for role, name in (("guardian", "Marie Dupont"), ("investigator", "Dr Demo")):
        participants.add_signer(
            participant, role=role, identity={"name": name}, actor=STAFF, now=T0
        )

    with pytest.raises(EligibilityError) as error:
        records.open_record(participant, form_id="parental-consent", actor=STAFF, now=T0)

    assert error.value.code == "signers-missing"


#: While version 1 of the demo parental consent was in force (v2 takes effect 2025-10-01): a
#: version is signed while it is the one in force (ceremony.check_version_in_force).
V1_IN_FORCE = datetime(2025, 9, 1, 9, 0, tzinfo=T0.tzinfo)


def _consented_v1_then_v2(family_at: datetime = V1_IN_FORCE) -> tuple[Family, Any, Any]:
    family = make_family(at=family_at)
    v1 = _open(family, at=V1_IN_FORCE, version=1)
    _consent(family, v1, at=V1_IN_FORCE)
    v2 = _open(family, at=T0)
    _consent(family, v2, at=T0)
    return family, v1, v2


def test_record_statuses_consent_to_v2_supersedes_the_consented_v1(demo_study: Any) -> None:
    family, v1, v2 = _consented_v1_then_v2()
    at = REFLECTED + timedelta(days=2)

    assert (v1.version, v2.version) == (1, 2)
    assert (_state(family, v1, at=at), _state(family, v2, at=at)) == ("superseded", "consented")


def test_consent_record_projection_of_v1_is_superseded_once_v2_is_consented(
    demo_study: Any,
) -> None:
    _, v1, _ = _consented_v1_then_v2()

    assert ConsentRecord.objects.get(record_id=v1.record_id).state == "superseded"


def test_each_projection_after_a_reconsent_is_what_the_whole_chain_says(demo_study: Any) -> None:
    # The signature completing v2 moves v1 from its projection, without reading the chain.
    family, v1, v2 = _consented_v1_then_v2()

    projected, derived = projection_and_chain(family, at=T0 + timedelta(days=2))

    assert projected == derived
    assert (projected[v1.record_id], projected[v2.record_id]) == ("superseded", "consented")


# ---------------------------------------------------------------- reaching legal competence


COMPETENT_ON = datetime(2026, 12, 2, 9, 0, tzinfo=T0.tzinfo)


def _seventeen_year_old_with_parental_consent() -> tuple[Family, Any]:
    family = make_family("P-017", birth_date=date(2008, 12, 1))
    record = _open(family)
    _consent(family, record)
    return family, record


def test_record_statuses_parental_consent_is_suspended_at_legal_competence(
    demo_study: Any,
) -> None:
    family, record = _seventeen_year_old_with_parental_consent()

    assert _state(family, record, at=REFLECTED) == "consented"
    assert _state(family, record, at=COMPETENT_ON) == "suspended-awaiting-own-consent"


def test_profile_at_legal_competence_is_blocked_awaiting_own_consent(demo_study: Any) -> None:
    family, _record = _seventeen_year_old_with_parental_consent()

    profile = records.profile(family.participant, at=COMPETENT_ON)

    assert profile["participating"] is False
    assert "awaiting-own-consent" in profile["blocked_by"]


# ---------------------------------------------------------------- birth-date correction


def test_change_birth_date_appends_an_audited_event(demo_study: Any) -> None:
    family = make_family()
    before = len(records.history(family.participant))

    participation.change_birth_date(
        family.participant,
        date(2008, 12, 1),
        reason="Typo at enrolment; checked against the passport.",
        actor=STAFF,
        now=T0,
    )

    events = records.history(family.participant)
    assert len(events) == before + 1
    assert events[-1]["type"] == "participant.birth-date-changed"
    assert events[-1]["payload"] == {
        "before": "2017-05-04",
        "after": "2008-12-01",
        "reason": "Typo at enrolment; checked against the passport.",
    }
    assert events[-1]["actor"]["id"] == STAFF.id


def test_change_birth_date_returns_the_re_evaluated_requirements(demo_study: Any) -> None:
    family = make_family()

    requirements = participation.change_birth_date(
        family.participant,
        date(2008, 12, 1),
        reason="Typo at enrolment.",
        actor=STAFF,
        now=T0,
    )

    assert requirements.age == 17
    assert requirements.age_band is not None
    assert requirements.age_band.id == "assent-14-17"
    assert participants.get_participant("DEMO-NBL-1", "P-001").birth_date == date(2008, 12, 1)


def test_change_birth_date_in_the_future_is_refused_and_changes_nothing(
    demo_study: Any,
) -> None:
    family = make_family()
    before = len(records.history(family.participant))

    with pytest.raises(InvalidDataError):
        participation.change_birth_date(
            family.participant, date(2030, 1, 1), reason="Typo.", actor=STAFF, now=T0
        )

    assert len(records.history(family.participant)) == before
    assert participants.get_participant("DEMO-NBL-1", "P-001").birth_date == date(2017, 5, 4)


def _next_step(family: Family, record: Any, signer: Any) -> ceremony.Step:
    events = audit.chain_dicts(str(family.participant.id))
    (status,) = [
        s
        for s in records.record_statuses(family.participant, at=T0, events=events)
        if s.record_id == record.record_id
    ]
    return ceremony.next_step(status, str(signer.id), opened_event(events, record.record_id))


def test_next_step_is_the_step_the_ceremony_asks_for_before_signing(demo_study: Any) -> None:
    """The task list's next step and the ceremony's refusal are one rule (issue 12)."""
    family = make_family()
    record = _open(family)
    guardian = family.guardians[0]
    text = content(record, "fr")
    refusals = {
        ceremony.Step.READ: "information-incomplete",
        ceremony.Step.QUESTIONS: "comprehension-required",
        ceremony.Step.CHOICES: "items-required",
    }
    steps = [
        lambda: ceremony.record_views(
            family.participant,
            record.record_id,
            signer_id=str(guardian.id),
            locale="fr",
            sections=[{"id": s["id"], "seconds": 30} for s in text["sections"]],
            actor=signer_actor(guardian),
            now=T0,
        ),
        lambda: ceremony.answer_questions(
            family.participant,
            record.record_id,
            signer_id=str(guardian.id),
            locale="fr",
            answers={q["id"]: q["correct"] for q in text["questions"]},
            actor=signer_actor(guardian),
            now=T0,
        ),
        lambda: ceremony.choose_items(
            family.participant,
            record.record_id,
            signer_id=str(guardian.id),
            choices={i["id"]: True for i in text["items"]},
            actor=signer_actor(guardian),
            now=T0,
        ),
    ]

    seen = []
    for expected, take_step in zip(refusals, steps, strict=True):
        seen.append(_next_step(family, record, guardian))
        with pytest.raises(EligibilityError) as error:
            sign(family, record, guardian, at=REFLECTED, key=f"early-{expected}")
        assert error.value.code == refusals[seen[-1]]
        take_step()
    seen.append(_next_step(family, record, guardian))
    sign(family, record, guardian, at=REFLECTED)
    seen.append(_next_step(family, record, guardian))

    assert seen == ["read", "questions", "choices", "sign", "done"]
