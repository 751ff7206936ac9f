"""Who must have agreed before a child takes part: the gate, the child's "no", the version signed.

Against the demo study and a real database. Expectations are written from
docs/regulatory-basis.md (each comment citing its anchor).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from consentkit.errors import ConflictError, EligibilityError, InvalidDataError
from consentkit.models.audit import AuditEvent, ConsentRecord
from consentkit.models.participant import Participant
from consentkit.models.study import FormVersion, Study
from consentkit.policy.roles import Grant, StaffRole
from consentkit.services import ceremony, enrolment, forms, participation, records
from consentkit.services import staff as staff_service
from tests.consentkit.records_helpers import (
    STAFF,
    T0,
    Family,
    make_family,
    prepare,
    projection_and_chain,
    sign,
    signer_actor,
)

REFLECTED = timedelta(hours=25)  # the demo study asks for 24 h between reading and signing
#: While version 1 of the demo parental consent was in force (v2 takes effect 2025-10-01),
#: and the day after v2 took effect (the record's 30-day window still open).
V1_IN_FORCE = datetime(2025, 9, 20, 9, 0, tzinfo=UTC)
V2_IN_FORCE = datetime(2025, 10, 2, 9, 0, tzinfo=UTC)


def _consent(family: Family, record: Any, *, at: datetime = T0, locale: str = "fr") -> None:
    """Every required signer of ``record`` reads and says yes; all sign 25 h later."""
    by_id = {str(s.id): s for s in (*family.guardians, family.child, family.investigator)}
    required = [by_id[m["signer_id"]] for m in record.missing_signers]
    for signer in required:
        if signer.role != "investigator":
            prepare(family, record, signer, at=at, locale=locale)
    for signer in sorted(required, key=lambda s: s.role == "investigator"):
        sign(family, record, signer, at=at + REFLECTED, locale=locale)


def _open(family: Family, form_id: str, *, at: datetime = T0, version: int | None = None) -> Any:
    return records.open_record(
        family.participant, form_id=form_id, actor=STAFF, version=version, now=at
    )


def _decline(family: Family, record: Any, signer: Any, *, at: datetime) -> AuditEvent:
    return ceremony.decline(
        family.participant,
        record.record_id,
        signer_id=str(signer.id),
        actor=signer_actor(signer),
        reason="I don't want to",
        now=at,
    )


def _profile(family: Family, at: datetime) -> tuple[bool, list[str]]:
    profile = records.participation(family.participant, at=at)
    return profile.participating, list(profile.blocked_by)


# ---------------------------------------------------------------- the gate, on the day asked


def test_participation_nl_child_turning_12_is_out_until_they_co_sign(demo_study: Any) -> None:
    # docs/regulatory-basis.md#country-nl NL: "child turning 12 during study must give explicit
    # consent to continue" (V).
    family = make_family("NL-11", site="NL-01", birth_date=date(2014, 6, 10))
    parental = _open(family, "parental-consent")
    _consent(family, parental, locale="en")
    birthday = datetime(2026, 6, 10, 9, 0, tzinfo=UTC)

    assert _profile(family, birthday - timedelta(days=1)) == (True, [])
    assert _profile(family, birthday) == (False, ["missing:young-person-co-consent"])


def test_participation_nl_13_with_the_co_consent_takes_part(demo_study: Any) -> None:
    family = make_family("NL-13", site="NL-01", birth_date=date(2013, 1, 15))
    for day, form_id in enumerate(("parental-consent", "young-person-co-consent")):
        at = T0 + timedelta(days=2 * day)
        _consent(family, _open(family, form_id, at=at), at=at, locale="en")

    assert _profile(family, T0 + timedelta(days=4)) == (True, [])


# ---------------------------------------------------------------- enrolment


def _investigator() -> Any:
    member, _ = staff_service.create_staff(
        email="dr.visser@example.org",
        name="Dr Visser",
        grants=[Grant("DEMO-NBL-1", StaffRole.INVESTIGATOR, ("NL-01",))],
        now=T0,
    )
    return member


def _retire_adult_consent() -> None:
    """Leave the demo study without an adult-consent form in force."""
    FormVersion.objects(trial_id="DEMO-NBL-1", form_id="adult-consent").update(status="retired")
    forms.forget_catalogs()


def test_enrol_a_required_form_kind_the_study_lacks_is_refused_before_any_write(
    demo_study: Any,
) -> None:
    # Without an adult-consent form in force an 18-year-old could never take part
    # (docs/regulatory-basis.md#ctr-art-28 CTR-28a: enrolment is blocked until a valid consent can
    # exist).
    _retire_adult_consent()
    member = _investigator()
    with pytest.raises(EligibilityError) as refused:
        enrolment.enrol(
            "DEMO-NBL-1",
            code="NL-ADULT",
            site_code="NL-01",
            birth_date=date(2007, 1, 15),
            signers=[enrolment.SignerEntry("participant", "Sem", email="sem@example.org")],
            interviewer=member,
            actor=enrolment.staff_actor(member, "investigator"),
            now=T0,
        )

    assert refused.value.code == "form-kind-missing"
    assert refused.value.details["kinds"] == ["adult-consent"]
    assert Participant.objects.count() == 0


# ---------------------------------------------------------------- the child's "no"


def test_decline_by_the_child_on_their_assent_is_dissent(demo_study: Any) -> None:
    # docs/regulatory-basis.md#ctr-art-32 CTR-32c: the minor's explicit refusal overrides the
    # parents' consent.
    family = make_family()  # FR, 8 years old
    _consent(family, _open(family, "parental-consent"))
    assent = _open(family, "assent-6-9", at=T0 + REFLECTED)

    event = _decline(family, assent, family.child, at=T0 + REFLECTED + timedelta(hours=1))

    assert (event.type, event.record_id, event.state_after) == (
        "assent.dissent",
        assent.record_id,
        "dissent",
    )
    assert ConsentRecord.objects.get(record_id=assent.record_id).state == "dissent"
    assert _profile(family, T0 + timedelta(days=3)) == (False, ["dissent"])


def test_decline_by_a_parent_is_a_decline_not_dissent(demo_study: Any) -> None:
    family = make_family()
    parental = _open(family, "parental-consent")

    event = _decline(family, parental, family.guardians[0], at=T0 + timedelta(hours=1))

    assert (event.type, event.state_after) == ("consent.declined", "declined")


def test_binding_dissent_is_lifted_only_by_the_childs_own_later_agreement(
    demo_study: Any,
) -> None:
    # docs/regulatory-basis.md#country-fr FR L1122-2: the refusal "cannot be overridden"; the child
    # may change their mind.
    family = make_family()
    _consent(family, _open(family, "parental-consent"))
    first = _open(family, "assent-6-9", at=T0 + REFLECTED)
    _decline(family, first, family.child, at=T0 + REFLECTED + timedelta(hours=1))
    with pytest.raises(ConflictError) as refused:
        participation.review_dissent(
            family.participant, actor=STAFF, reason="parents insist", decision="continue"
        )
    assert refused.value.code == "dissent-binding"

    again = _open(family, "assent-6-9", at=T0 + timedelta(days=3))
    _consent(family, again, at=T0 + timedelta(days=3))

    assert _profile(family, T0 + timedelta(days=5)) == (True, [])


def test_the_childs_later_agreement_moves_every_projection_to_what_the_chain_says(
    demo_study: Any,
) -> None:
    # The refused assent stays refused; the parental consent, in dissent while the refusal
    # stood, is consented again once the child agrees on a new assent.
    family = make_family()
    parental = _open(family, "parental-consent")
    _consent(family, parental)
    first = _open(family, "assent-6-9", at=T0 + REFLECTED)
    _decline(family, first, family.child, at=T0 + REFLECTED + timedelta(hours=1))
    in_dissent, _ = projection_and_chain(family, at=T0 + timedelta(days=2))
    again = _open(family, "assent-6-9", at=T0 + timedelta(days=3))
    _consent(family, again, at=T0 + timedelta(days=3))

    projected, derived = projection_and_chain(family, at=T0 + timedelta(days=5))

    assert in_dissent[parental.record_id] == "dissent"
    assert projected == derived
    assert projected[parental.record_id] == "consented"
    assert projected[again.record_id] == "consented"


def _gb_child_with_dissent() -> Family:
    family = make_family("GB-8", site="GB-ENG-01")
    _consent(family, _open(family, "parental-consent"), locale="en")
    participation.record_dissent(family.participant, actor=STAFF, now=T0 + timedelta(days=2))
    return family


def test_review_dissent_where_not_binding_records_who_when_why_and_lifts(
    demo_study: Any,
) -> None:
    # docs/regulatory-basis.md#country-gb-eng GB-ENG CTIMP: the wish to refuse is "considered"
    # (minor_refusal_binding false);
    # docs/regulatory-basis.md#ctr-art-32 CTR-32c: never overruled without an audit-trailed
    # investigator note.
    family = _gb_child_with_dissent()
    assert _profile(family, T0 + timedelta(days=3)) == (False, ["dissent"])
    at = T0 + timedelta(days=3)

    event = participation.review_dissent(
        family.participant,
        actor=STAFF,
        reason="Heard the child with the psychologist: afraid of one test, now explained.",
        decision="continue",
        now=at,
    )

    assert event.type == "dissent.reviewed"
    assert event.actor["id"] == STAFF.id and event.at == at
    assert event.payload["reason"].startswith("Heard the child")
    assert _profile(family, at + timedelta(hours=1)) == (True, [])


def test_review_dissent_upholding_keeps_the_block(demo_study: Any) -> None:
    family = _gb_child_with_dissent()
    at = T0 + timedelta(days=3)

    participation.review_dissent(
        family.participant, actor=STAFF, reason="The child is sure.", decision="uphold", now=at
    )

    assert _profile(family, at + timedelta(hours=1)) == (False, ["dissent"])


def test_review_dissent_needs_a_dissent_and_a_reason(demo_study: Any) -> None:
    family = make_family("GB-9", site="GB-ENG-01")
    with pytest.raises(ConflictError) as nothing:
        participation.review_dissent(
            family.participant, actor=STAFF, reason="why", decision="continue"
        )
    with pytest.raises(InvalidDataError) as no_reason:
        participation.review_dissent(
            family.participant, actor=STAFF, reason="  ", decision="continue"
        )

    assert (nothing.value.code, no_reason.value.code) == ("no-dissent", "review-reason-required")


# ---------------------------------------------------------------- the version signed


def _v1_read_before_v2(code: str = "P-V1") -> tuple[Family, Any]:
    family = make_family(code, at=V1_IN_FORCE)
    record = _open(family, "parental-consent", at=V1_IN_FORCE, version=1)
    for guardian in family.guardians:
        prepare(family, record, guardian, at=V1_IN_FORCE)
    return family, record


def test_sign_a_version_superseded_at_the_site_is_refused_naming_the_current(
    demo_study: Any,
) -> None:
    # A signature is bound to the version in force (docs/regulatory-basis.md#ctr-art-29 CTR-29e:
    # the approved
    # information); v2 took effect on 2025-10-01.
    family, record = _v1_read_before_v2()

    with pytest.raises(ConflictError) as refused:
        sign(family, record, family.guardians[0], at=V2_IN_FORCE)

    assert refused.value.code == "version-superseded"
    assert refused.value.details["current_version"] == 2


def test_sign_an_older_version_within_the_studys_window_is_allowed(demo_study: Any) -> None:
    Study.objects(trial_id="DEMO-NBL-1").update(set__settings__finish_older_version_days=5)
    forms.forget_catalogs()
    try:
        family, record = _v1_read_before_v2()
        event = sign(family, record, family.guardians[0], at=V2_IN_FORCE)
    finally:
        Study.objects(trial_id="DEMO-NBL-1").update(set__settings__finish_older_version_days=0)
        forms.forget_catalogs()

    assert event.type == "signature.added"


def test_countersign_of_what_the_family_signed_before_v2_is_not_blocked(
    demo_study: Any,
) -> None:
    family, record = _v1_read_before_v2()
    for guardian in family.guardians:
        sign(family, record, guardian, at=V1_IN_FORCE + REFLECTED)

    event = sign(family, record, family.investigator, at=V2_IN_FORCE)

    assert event.state_after == "consented"
