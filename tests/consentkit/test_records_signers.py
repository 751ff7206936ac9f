"""Who must sign follows the country's rules unless staff record an exception the rules know."""

from __future__ import annotations

from typing import Any

import pytest

from consentkit.enums import GuardianExceptionCode, OtherParentAgreement
from consentkit.errors import EligibilityError, InvalidDataError
from consentkit.policy.guardians import GuardianException
from consentkit.services import records
from tests.consentkit.records_helpers import STAFF, T0, make_family


def test_open_record_refuses_one_parent_in_france_without_an_exception(demo_study: Any) -> None:
    family = make_family()
    one_parent = [str(family.guardians[0].id), str(family.investigator.id)]

    with pytest.raises(EligibilityError) as refused:
        records.open_record(
            family.participant,
            form_id="parental-consent",
            actor=STAFF,
            signer_ids=one_parent,
            now=T0,
        )

    assert refused.value.code == "guardian-exception-required"
    assert refused.value.details["valid_codes"] == ["sole-parental-authority", "fr-l1122-2-ii"]


def _one_parent(family: Any, exception: GuardianException) -> Any:
    return records.open_record(
        family.participant,
        form_id="parental-consent",
        actor=STAFF,
        now=T0,
        signer_ids=[str(family.guardians[0].id), str(family.investigator.id)],
        guardian_exception=exception,
    )


def test_open_record_in_france_accepts_one_parent_under_l1122_2_ii(demo_study: Any) -> None:
    family = make_family()
    exception = GuardianException(
        code=GuardianExceptionCode.FR_L1122_2_II,
        evidence="Father abroad on a ship until June; minimal-risk arm per protocol 4.2",
        recorded_by="Dr Demo",
    )

    record = _one_parent(family, exception)

    events = records.history(family.participant)
    [opened] = [e for e in events if e["type"] == "record.opened"]
    [recorded] = [e for e in events if e["type"] == "guardian.exception-recorded"]
    assert opened["payload"]["guardian_exception"]["code"] == "fr-l1122-2-ii"
    assert "minimal risks" in opened["payload"]["guardian_exception"]["statement"]
    assert recorded["record_id"] == record.record_id
    assert recorded["payload"]["evidence"].startswith("Father abroad")
    assert recorded["payload"]["recorded_by"] == "Dr Demo"
    assert [s["role"] for s in record.missing_signers] == ["guardian", "investigator"]


def test_open_record_refuses_an_exception_the_row_does_not_recognise(demo_study: Any) -> None:
    family = make_family()  # FR: "other parent unreachable" alone is not L1122-2 II
    exception = GuardianException(
        code=GuardianExceptionCode.OTHER_PARENT_UNREACHABLE,
        evidence="Phone off",
        recorded_by="Dr Demo",
    )

    with pytest.raises(InvalidDataError) as refused:
        _one_parent(family, exception)

    assert refused.value.code == "guardian-exception-invalid"
    assert "fr-l1122-2-ii" in refused.value.message
    assert not [e for e in records.history(family.participant) if e["type"] == "record.opened"]


def test_open_record_refuses_an_exception_without_evidence(demo_study: Any) -> None:
    family = make_family()
    exception = GuardianException(
        code=GuardianExceptionCode.SOLE_PARENTAL_AUTHORITY, evidence="  ", recorded_by="Dr Demo"
    )

    with pytest.raises(InvalidDataError) as refused:
        _one_parent(family, exception)

    assert refused.value.code == "guardian-exception-evidence-required"


def test_open_record_with_both_parents_refuses_an_exception(demo_study: Any) -> None:
    family = make_family()
    exception = GuardianException(
        code=GuardianExceptionCode.SOLE_PARENTAL_AUTHORITY, evidence="x", recorded_by="Dr Demo"
    )

    with pytest.raises(InvalidDataError) as refused:
        records.open_record(
            family.participant,
            form_id="parental-consent",
            actor=STAFF,
            now=T0,
            guardian_exception=exception,
            signer_ids=[*(str(g.id) for g in family.guardians), str(family.investigator.id)],
        )

    assert refused.value.code == "guardian-exception-unneeded"


def test_open_record_in_spain_needs_the_other_parents_agreement(demo_study: Any) -> None:
    family = make_family(site="ES-01")

    with pytest.raises(EligibilityError) as refused:
        records.open_record(
            family.participant,
            form_id="parental-consent",
            actor=STAFF,
            now=T0,
            signer_ids=[str(family.guardians[0].id), str(family.investigator.id)],
        )
    assert refused.value.code == "guardian-exception-required"

    with pytest.raises(InvalidDataError) as unsaid:
        _one_parent(
            family,
            GuardianException(
                code=GuardianExceptionCode.ES_OTHER_PARENT_AGREEMENT,
                evidence="Mother's signed note of agreement, dated 1 March",
                recorded_by="Dr Demo",
            ),
        )
    assert unsaid.value.code == "other-parent-agreement-required"

    _one_parent(
        family,
        GuardianException(
            code=GuardianExceptionCode.ES_OTHER_PARENT_AGREEMENT,
            evidence="Mother's signed note of agreement, dated 1 March",
            recorded_by="Dr Demo",
            other_parent_agreement=OtherParentAgreement.EXPRESS,
        ),
    )
    [recorded] = [
        e for e in records.history(family.participant) if e["type"] == "guardian.exception-recorded"
    ]
    assert recorded["payload"]["code"] == "es-other-parent-agreement"
    assert recorded["payload"]["other_parent_agreement"] == "express"
    assert recorded["payload"]["recorded_by"] == "Dr Demo"


def test_open_record_in_spain_with_both_parents_needs_no_exception(demo_study: Any) -> None:
    family = make_family(site="ES-01")

    record = records.open_record(
        family.participant, form_id="parental-consent", actor=STAFF, now=T0
    )

    assert [s["role"] for s in record.missing_signers] == ["guardian", "guardian", "investigator"]


def test_open_record_needs_the_investigator(demo_study: Any) -> None:
    family = make_family()

    with pytest.raises(EligibilityError) as refused:
        records.open_record(
            family.participant,
            form_id="parental-consent",
            actor=STAFF,
            now=T0,
            signer_ids=[str(g.id) for g in family.guardians],
        )

    assert refused.value.code == "investigator-missing"
