"""The sealed record shows a single-parent exception and the investigator's interview."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from consentkit.enums import GuardianExceptionCode
from consentkit.policy.guardians import GuardianException
from consentkit.services import audit, documents, records
from tests.consentkit.records_helpers import STAFF, T0, make_family, prepare, sign


def _html(family: Any, record: Any) -> str:
    last = audit.chain_dicts(str(family.participant.id))[-1]["seq"]
    payload = documents.consent_record_payload(family.participant, record.record_id, "fr", last)
    return documents._consent_html(family.participant, payload, False, "0" * 64)


def test_consent_html_shows_the_exception_and_the_interview(demo_study: Any) -> None:
    family = make_family()  # FR
    record = records.open_record(
        family.participant,
        form_id="parental-consent",
        actor=STAFF,
        now=T0,
        signer_ids=[str(family.guardians[0].id), str(family.investigator.id)],
        guardian_exception=GuardianException(
            code=GuardianExceptionCode.FR_L1122_2_II,
            evidence="Father at sea until June; protocol section 4.2 minimal risk",
            recorded_by="Dr Demo",
        ),
    )
    prepare(family, record, family.guardians[0], at=T0)
    sign(family, record, family.guardians[0], at=T0 + timedelta(hours=25))
    interview = {"mode": "video", "timezone": "Europe/Paris", "utc_offset_minutes": 60}
    sign(
        family,
        record,
        family.investigator,
        at=T0 + timedelta(hours=26),
        extra={"interview": interview},
    )

    html = _html(family, record)
    payload = documents.consent_record_payload(
        family.participant,
        record.record_id,
        "fr",
        audit.chain_dicts(str(family.participant.id))[-1]["seq"],
    )

    assert payload["guardian_exception"]["code"] == "fr-l1122-2-ii"
    assert "Father at sea until June" in html
    assert "fr-l1122-2-ii" in html
    assert "Dr Demo" in html
    assert "Europe/Paris (UTC+01:00)" in html
    [investigator] = [s for s in payload["signatures"] if s["role"] == "investigator"]
    assert investigator["interview"] == interview


def test_consent_payload_of_an_ordinary_record_has_no_new_keys(demo_study: Any) -> None:
    # Earlier sealed records must verify unchanged: the keys appear only when used.
    family = make_family()
    record = records.open_record(
        family.participant, form_id="parental-consent", actor=STAFF, now=T0
    )
    payload = documents.consent_record_payload(
        family.participant,
        record.record_id,
        "fr",
        audit.chain_dicts(str(family.participant.id))[-1]["seq"],
    )
    assert "guardian_exception" not in payload
