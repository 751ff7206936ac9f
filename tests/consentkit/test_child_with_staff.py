"""A young child gives their assent in front of the study team (issue 14).

A child below the study's own-invitation age (12 by default) has no code of their own:
besides a parent's phone, they can sign at the hospital on the staff device. The events
are the child's; the staff member, re-authenticated, is recorded as present and named in
the sealed PDF; the child writes just their first name. A child old enough for their own
invitation is refused, and nothing is written before every check passed.
"""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from consentkit.clock import now_utc
from consentkit.errors import ConsentKitError
from consentkit.policy.roles import Grant, StaffRole
from consentkit.services import audit, child_with_staff, documents, records
from consentkit.services import staff as staff_service
from tests.consentkit.records_helpers import STAFF, STROKES, make_family


@pytest.fixture(autouse=True)
def _data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONSENTKIT_DATA_DIR", str(tmp_path))  # the development seal


def _years_ago(years: int, days: int = 40) -> date:
    return now_utc().date() - timedelta(days=years * 365 + days)


def _nurse() -> Any:
    member, _ = staff_service.create_staff(
        email="nurse@example.org",
        name="Claire Martin",
        grants=[Grant("DEMO-NBL-1", StaffRole.SITE_STAFF, ("FR-01",))],
    )
    return member


def _sign(participant: Any, record_id: str, nurse: Any, **kw: Any) -> Any:
    turn = child_with_staff.child_turn(participant, record_id)
    args: dict[str, Any] = {
        "staff": nurse,
        "staff_role": "site-staff",
        "choices": {item["id"]: True for item in turn.items},
        "printed_name": "Léa",
        "method": "drawn",
        "strokes": STROKES,
        "i_sign": False,
        "verified_at": now_utc() - timedelta(minutes=1),
        "shown_at": now_utc() - timedelta(minutes=4),
    }
    return child_with_staff.sign_with_staff(participant, record_id, **{**args, **kw})


def test_an_8_year_old_signs_in_front_of_staff_who_are_named_as_present(
    demo_study: Any,
) -> None:
    family = make_family(
        "FR-STAFF-8", birth_date=_years_ago(8), child_name="Léa Dubois", at=now_utc()
    )
    record = records.open_record(family.participant, form_id="assent-6-9", actor=STAFF)
    nurse = _nurse()

    assert child_with_staff.child_records(family.participant) == {
        record.record_id: str(family.child.id)
    }
    event = _sign(family.participant, record.record_id, nurse)

    chain = audit.chain_dicts(str(family.participant.id))
    mine = [e for e in chain if e.get("record_id") == record.record_id][1:]
    assert [e["type"] for e in mine] == ["information.viewed", "items.chosen", "signature.added"]
    # The child's events, written by the nurse on the child's behalf, in person.
    assert {e["payload"]["signer_id"] for e in mine} == {str(family.child.id)}
    assert {e["actor"]["on_behalf_of"] for e in mine} == {str(family.child.id)}
    assert {e["actor"]["channel"] for e in mine} == {"in-person"}
    assert event.payload["printed_name"] == "Léa"  # the first name is enough
    assert event.payload["present"]["staff_name"] == "Claire Martin"
    assert event.payload["auth"]["method"] == "child-with-staff"
    seconds = sum(s["seconds"] for s in mine[0]["payload"]["sections"])
    assert 200 <= seconds <= 300  # the four minutes the text was on the screen
    assert child_with_staff.child_records(family.participant) == {}


def test_the_childs_pdf_names_the_staff_member_who_was_present(demo_study: Any) -> None:
    family = make_family(
        "FR-STAFF-PDF", birth_date=_years_ago(7), child_name="Léa Dubois", at=now_utc()
    )
    record = records.open_record(family.participant, form_id="assent-6-9", actor=STAFF)
    _sign(family.participant, record.record_id, _nurse())

    # The child's own copy, before the investigator countersigns.
    pdf = documents.consent_document(
        family.participant, record.record_id, locale="fr", signer_id=str(family.child.id)
    ).content

    text = " ".join(" ".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(pdf)).pages)
    assert "Claire Martin" in text


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"verified_at": None}, "fresh-code-required"),
        ({"verified_at": datetime(2020, 1, 1, tzinfo=now_utc().tzinfo)}, "fresh-code-required"),
        ({"printed_name": "Paul"}, "printed-name-mismatch"),
        ({"strokes": []}, "invalid-strokes"),
        ({"method": "typed", "strokes": []}, "typed-signature-not-confirmed"),
        ({"choices": {}}, "items-incomplete"),
    ],
)
def test_nothing_is_written_when_a_check_fails(
    demo_study: Any, change: dict[str, Any], code: str
) -> None:
    family = make_family(
        "FR-STAFF-NO", birth_date=_years_ago(8), child_name="Léa Dubois", at=now_utc()
    )
    record = records.open_record(family.participant, form_id="assent-6-9", actor=STAFF)
    before = len(audit.chain_dicts(str(family.participant.id)))

    with pytest.raises(ConsentKitError) as refused:
        _sign(family.participant, record.record_id, _nurse(), **change)

    assert refused.value.code == code
    assert len(audit.chain_dicts(str(family.participant.id))) == before


def test_a_child_with_an_own_invitation_age_is_not_signed_for_by_staff(demo_study: Any) -> None:
    family = make_family("FR-STAFF-13", birth_date=_years_ago(13), at=now_utc())
    record = records.open_record(family.participant, form_id="assent-10-13", actor=STAFF)

    assert child_with_staff.child_records(family.participant) == {}
    with pytest.raises(ConsentKitError) as refused:
        child_with_staff.child_turn(family.participant, record.record_id)
    assert refused.value.code == "no-child-turn"
