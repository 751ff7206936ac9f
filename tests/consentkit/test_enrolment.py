"""Enrolment by site staff: the policy decides the family and records before anything is saved."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from consentkit.errors import EligibilityError, InvalidDataError, NotFoundError
from consentkit.models.participant import Participant, Signer
from consentkit.policy.roles import Grant, StaffRole
from consentkit.services import enrolment, participants, records
from consentkit.services import staff as staff_service
from tests.consentkit.records_helpers import STROKES, T0

NL_13 = date(2013, 1, 15)  # 13 on T0 (2026-03-02)


def _investigator(email: str = "dr.visser@example.org") -> Any:
    member, _ = staff_service.create_staff(
        email=email,
        name="Dr Visser",
        grants=[Grant("DEMO-NBL-1", StaffRole.INVESTIGATOR, ("NL-01",))],
        now=T0,
    )
    return member


def _family() -> list[enrolment.SignerEntry]:
    return [
        enrolment.SignerEntry("guardian", "Anna de Vries", email="anna@example.org"),
        enrolment.SignerEntry("guardian", "Pieter de Vries", phone="+31 6 12345678"),
        enrolment.SignerEntry("participant", "Sem de Vries", email="sem@example.org"),
    ]


def _enrol(member: Any, signers: list[enrolment.SignerEntry], code: str = "NL-0001") -> Any:
    return enrolment.enrol(
        "DEMO-NBL-1",
        code=code,
        site_code="NL-01",
        birth_date=NL_13,
        signers=signers,
        interviewer=member,
        actor=enrolment.staff_actor(member, "investigator"),
        preferred_language="nl",
        now=T0,
    )


def test_preview_for_a_13_year_old_in_the_netherlands(demo_study: Any) -> None:
    shown = enrolment.preview("DEMO-NBL-1", site_code="NL-01", birth_date=NL_13, on=T0.date())
    assert shown["signers_needed"] == {"guardian": 2, "participant": 1}
    kinds = {f["kind"] for f in shown["forms"]}
    assert {"parental-consent", "young-person-co-consent"} <= kinds
    assert shown["requirements"]["age"] == 13


def test_enrolment_opens_every_record_the_rules_ask_for(demo_study: Any) -> None:
    member = _investigator()
    result = _enrol(member, _family())
    assert result.participant.country == "NL"
    roles = sorted(s.role for s in result.signers)
    assert roles == ["guardian", "guardian", "investigator", "participant"]
    opened = {r.form_id: r for r in result.records}
    assert "parental-consent" in opened and "young-person-co-consent" in opened
    states = {s.form_id: s.state.value for s in records.record_statuses(result.participant, at=T0)}
    assert states["parental-consent"] == "awaiting-information"
    investigator = enrolment.staff_signer(result.participant, member)
    assert investigator is not None
    assert participants.signer_identity(investigator)["staff_id"] == str(member.id)


def test_a_family_short_of_a_parent_is_refused_and_nothing_is_saved(demo_study: Any) -> None:
    member = _investigator()
    with pytest.raises(EligibilityError) as raised:
        _enrol(member, _family()[1:])
    assert raised.value.code == "guardian-exception-required"
    assert Participant.objects.count() == 0
    assert Signer.objects.count() == 0


def test_signers_need_a_contact_for_their_codes(demo_study: Any) -> None:
    family = _family()
    family[0] = enrolment.SignerEntry("guardian", "Anna de Vries")
    with pytest.raises(InvalidDataError) as raised:
        _enrol(_investigator(), family)
    assert raised.value.code == "signer-contact-required"


def test_invitations_go_to_family_members_only(demo_study: Any) -> None:
    member = _investigator()
    result = _enrol(member, _family())
    guardian = next(s for s in result.signers if s.role == "guardian")
    invitation = enrolment.invite(
        result.participant,
        str(guardian.id),
        actor=enrolment.staff_actor(member, "investigator"),
        now=T0,
    )
    assert len(invitation["code"]) == 10
    assert invitation["code"] in invitation["link"]
    investigator = enrolment.staff_signer(result.participant, member)
    with pytest.raises(InvalidDataError):
        enrolment.invite(
            result.participant,
            str(investigator.id),
            actor=enrolment.staff_actor(member, "investigator"),
            now=T0,
        )
    with pytest.raises(NotFoundError):
        enrolment.invite(
            result.participant,
            "0" * 24,
            actor=enrolment.staff_actor(member, "investigator"),
            now=T0,
        )


def test_only_the_interviewer_countersigns(demo_study: Any) -> None:
    member = _investigator()
    other = _investigator("dr.jansen@example.org")
    result = _enrol(member, _family())
    record = next(r for r in result.records if r.form_id == "investigator-declaration")
    from consentkit.models.study import FormVersion

    version = FormVersion.objects.get(
        trial_id="DEMO-NBL-1", form_id=record.form_id, version=record.version
    )
    args = {
        "locale": record.locale,
        "content_sha256": version.content_sha256[record.locale],
        "printed_name": "Dr Visser",
        "strokes": STROKES,
        "verified_at": T0,
        "interview_mode": "in-person",
        "now": T0 + timedelta(minutes=1),
    }
    with pytest.raises(EligibilityError) as raised:
        enrolment.countersign(result.participant, record.record_id, staff=other, **args)
    assert raised.value.code == "not-the-interviewer"
    event = enrolment.countersign(result.participant, record.record_id, staff=member, **args)
    assert event.type == "signature.added"
    assert event.actor["kind"] == "staff" and event.actor["id"] == str(member.id)
    assert event.payload["auth"]["method"] == "totp"


def test_an_informed_child_needs_no_signer_entry_of_their_own(demo_study: Any) -> None:
    # NL: an 11-year-old is informed (no assent sought) and still gets the 10-13 document.
    member = _investigator()
    born = date(2014, 6, 1)  # 11 on T0

    shown = enrolment.preview("DEMO-NBL-1", site_code="NL-01", birth_date=born, on=T0.date())
    result = enrolment.enrol(
        "DEMO-NBL-1",
        code="NL-0011",
        site_code="NL-01",
        birth_date=born,
        signers=_family()[:2],
        interviewer=member,
        actor=enrolment.staff_actor(member, "investigator"),
        now=T0,
    )

    assert shown["requirements"]["minor_role"] == "informed"
    assert "participant" not in shown["signers_needed"]
    assent = next(r for r in result.records if r.form_kind == "child-assent")
    assert [m["role"] for m in assent.missing_signers] == ["investigator"]


# The enrolment preview and what enrolment opens are one decision (requirements.forms_for).
DEMO_COUNTRY_SITES = ["FR-01", "DE-01", "IT-01", "ES-01", "NL-01", "PL-01", "LT-01", "GB-ENG-01"]


@pytest.mark.parametrize("site_code", DEMO_COUNTRY_SITES)
def test_enrolment_opens_exactly_the_forms_the_preview_showed_at_every_age(
    demo_study: Any, site_code: str
) -> None:
    member, _ = staff_service.create_staff(
        email=f"dr.{site_code.lower()}@example.org",
        name="Dr Demo",
        grants=[Grant("DEMO-NBL-1", StaffRole.INVESTIGATOR, (site_code,))],
        now=T0,
    )
    family = [
        enrolment.SignerEntry("guardian", "Parent One", email="one@example.org"),
        enrolment.SignerEntry("guardian", "Parent Two", email="two@example.org"),
        enrolment.SignerEntry("participant", "Young Person", email="young@example.org"),
    ]
    for age in range(5, 20):
        born = date(T0.year - age, 1, 15)
        shown = enrolment.preview("DEMO-NBL-1", site_code=site_code, birth_date=born, on=T0.date())

        def enrol(born: date = born, age: int = age) -> Any:
            return enrolment.enrol(
                "DEMO-NBL-1",
                code=f"{site_code}-{age}",
                site_code=site_code,
                birth_date=born,
                signers=family,
                interviewer=member,
                actor=enrolment.staff_actor(member, "investigator"),
                now=T0,
            )

        # The demo study has no adult-consent form: from 18 the preview says so and enrolment
        # is refused for the same reason (a required consent without a form could never be
        # given, so the participant could never take part; docs/regulatory-basis.md#ctr-art-28
        # CTR-28a).
        if "adult-consent" in shown["missing_form_kinds"]:
            with pytest.raises(EligibilityError) as refused:
                enrol()
            assert refused.value.details["kinds"] == ["adult-consent"], (site_code, age)
            continue
        opened = [(r.form_id, r.version) for r in enrol().records]
        assert opened == [(f["form_id"], f["version"]) for f in shown["forms"]], (site_code, age)


def _sole_custody(recorded_by: str = "Dr Visser") -> Any:
    from consentkit.enums import GuardianExceptionCode
    from consentkit.policy.guardians import GuardianException

    return GuardianException(
        code=GuardianExceptionCode.SOLE_PARENTAL_AUTHORITY,
        evidence="Extract from the custody register (gezagsregister), 2 March 2026",
        recorded_by=recorded_by,
    )


def test_enrol_nl_one_parent_without_an_exception_names_the_valid_ones(demo_study: Any) -> None:
    member = _investigator()
    with pytest.raises(EligibilityError) as raised:
        _enrol(member, _family()[1:])
    assert raised.value.code == "guardian-exception-required"
    assert raised.value.details["valid_codes"] == ["sole-parental-authority"]
    assert Participant.objects.count() == 0


def test_enrol_nl_one_parent_with_sole_authority_and_evidence(demo_study: Any) -> None:
    member = _investigator()
    result = enrolment.enrol(
        "DEMO-NBL-1",
        code="NL-0001",
        site_code="NL-01",
        birth_date=NL_13,
        signers=_family()[1:],
        interviewer=member,
        actor=enrolment.staff_actor(member, "investigator"),
        guardian_exception=_sole_custody(),
        now=T0,
    )

    parental = next(r for r in result.records if r.form_kind == "parental-consent")
    assert [m["role"] for m in parental.missing_signers] == ["guardian", "investigator"]
    [recorded] = [
        e for e in records.history(result.participant) if e["type"] == "guardian.exception-recorded"
    ]
    assert recorded["record_id"] == parental.record_id
    assert recorded["payload"]["code"] == "sole-parental-authority"
    assert recorded["payload"]["recorded_by"] == "Dr Visser"
    assert recorded["actor"]["id"] == str(member.id)


def test_enrol_nl_refuses_an_exception_not_recognised_there(demo_study: Any) -> None:
    from consentkit.enums import GuardianExceptionCode
    from consentkit.policy.guardians import GuardianException

    member = _investigator()
    with pytest.raises(InvalidDataError) as raised:
        enrolment.enrol(
            "DEMO-NBL-1",
            code="NL-0001",
            site_code="NL-01",
            birth_date=NL_13,
            signers=_family()[1:],
            interviewer=member,
            actor=enrolment.staff_actor(member, "investigator"),
            guardian_exception=GuardianException(
                code=GuardianExceptionCode.OTHER_PARENT_UNREACHABLE,
                evidence="Does not answer the phone",
                recorded_by="Dr Visser",
            ),
            now=T0,
        )
    assert raised.value.code == "guardian-exception-invalid"
    assert Participant.objects.count() == 0


def test_preview_lists_the_exceptions_valid_for_the_row(demo_study: Any) -> None:
    shown = enrolment.preview("DEMO-NBL-1", site_code="NL-01", birth_date=NL_13, on=T0.date())
    assert [o["code"] for o in shown["guardian_exceptions"]] == ["sole-parental-authority"]
    shown = enrolment.preview("DEMO-NBL-1", site_code="FR-01", birth_date=NL_13, on=T0.date())
    assert [o["code"] for o in shown["guardian_exceptions"]] == [
        "sole-parental-authority",
        "fr-l1122-2-ii",
    ]


def _countersign_args(record: Any) -> dict[str, Any]:
    from consentkit.models.study import FormVersion

    version = FormVersion.objects.get(
        trial_id="DEMO-NBL-1", form_id=record.form_id, version=record.version
    )
    return {
        "locale": record.locale,
        "content_sha256": version.content_sha256[record.locale],
        "printed_name": "Dr Visser",
        "strokes": STROKES,
        "verified_at": T0,
        "now": T0 + timedelta(minutes=1),
    }


def test_countersign_records_the_interview_mode_and_the_site_time_zone(demo_study: Any) -> None:
    member = _investigator()
    result = _enrol(member, _family())
    record = next(r for r in result.records if r.form_id == "investigator-declaration")

    event = enrolment.countersign(
        result.participant,
        record.record_id,
        staff=member,
        interview_mode="video",
        **_countersign_args(record),
    )

    # 2 March 2026: Amsterdam is UTC+1, not UTC and not "in person".
    assert event.payload["interview"] == {
        "mode": "video",
        "timezone": "Europe/Amsterdam",
        "utc_offset_minutes": 60,
    }
    assert event.payload["client_offset_minutes"] == 60
    assert event.actor["channel"] == "video"


def test_countersign_uses_the_time_zone_given(demo_study: Any) -> None:
    member = _investigator()
    result = _enrol(member, _family())
    record = next(r for r in result.records if r.form_id == "investigator-declaration")

    event = enrolment.countersign(
        result.participant,
        record.record_id,
        staff=member,
        interview_mode="phone",
        timezone="America/Curacao",
        **_countersign_args(record),
    )

    assert event.payload["interview"]["timezone"] == "America/Curacao"
    assert event.payload["interview"]["utc_offset_minutes"] == -240
    assert event.actor["channel"] == "phone"


@pytest.mark.parametrize(
    ("mode", "zone", "code"),
    [
        ("carrier-pigeon", None, "interview-mode-invalid"),
        ("video", "Mars/Olympus", "timezone-invalid"),
    ],
)
def test_countersign_refuses_an_unknown_mode_or_time_zone(
    demo_study: Any, mode: str, zone: str | None, code: str
) -> None:
    member = _investigator()
    result = _enrol(member, _family())
    record = next(r for r in result.records if r.form_id == "investigator-declaration")

    with pytest.raises(InvalidDataError) as raised:
        enrolment.countersign(
            result.participant,
            record.record_id,
            staff=member,
            interview_mode=mode,
            timezone=zone,
            **_countersign_args(record),
        )

    assert raised.value.code == code
    assert not [e for e in records.history(result.participant) if e["type"] == "signature.added"]
