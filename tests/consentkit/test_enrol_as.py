"""Enrolling on behalf of a staff member: one service for the API and the staff page (real db).

Both faces used to choose the investigator signer themselves and then call
``enrol``; ``enrolment.enrol_as`` is now the one place that does both.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from consentkit.errors import InvalidDataError
from consentkit.models.participant import Participant
from consentkit.policy.roles import Grant, StaffRole
from consentkit.services import enrolment
from consentkit.services import staff as staff_service
from tests.consentkit.records_helpers import T0

NL_13 = date(2013, 1, 15)  # 13 on T0 (2026-03-02)
FAMILY = [
    enrolment.SignerEntry("guardian", "Anna de Vries", email="anna@example.org"),
    enrolment.SignerEntry("guardian", "Pieter de Vries", phone="+31 6 12345678"),
    enrolment.SignerEntry("participant", "Sem de Vries", email="sem@example.org"),
]


def _member(email: str, role: StaffRole) -> Any:
    member, _ = staff_service.create_staff(
        email=email, name=email, grants=[Grant("DEMO-NBL-1", role, ("NL-01",))], now=T0
    )
    return member


def _enrol_as(member: Any, investigator_id: str | None = None) -> enrolment.Enrolment:
    return enrolment.enrol_as(
        member,
        "DEMO-NBL-1",
        code="NL-0001",
        site_code="NL-01",
        birth_date=NL_13,
        signers=FAMILY,
        actor=enrolment.staff_actor(member, "site-staff"),
        investigator_id=investigator_id,
        now=T0,
    )


def test_enrol_as_an_investigator_makes_them_the_investigator_signer(demo_study: Any) -> None:
    doctor = _member("dr.visser@example.org", StaffRole.INVESTIGATOR)

    made = _enrol_as(doctor)

    assert enrolment.staff_signer(made.participant, doctor) is not None


def test_enrol_as_site_staff_naming_the_investigator_makes_them_the_signer(
    demo_study: Any,
) -> None:
    doctor = _member("dr.visser@example.org", StaffRole.INVESTIGATOR)
    nurse = _member("nurse@example.org", StaffRole.SITE_STAFF)

    made = _enrol_as(nurse, investigator_id=str(doctor.id))

    assert enrolment.staff_signer(made.participant, doctor) is not None
    assert enrolment.staff_signer(made.participant, nurse) is None


def test_enrol_as_site_staff_naming_nobody_is_refused_before_any_write(demo_study: Any) -> None:
    nurse = _member("nurse@example.org", StaffRole.SITE_STAFF)

    with pytest.raises(InvalidDataError) as raised:
        _enrol_as(nurse)

    assert raised.value.code == "investigator-required"
    assert Participant.objects(code="NL-0001").count() == 0
