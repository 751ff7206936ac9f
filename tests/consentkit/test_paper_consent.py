"""Paper consent, the fallback path: a scan and the same metadata, in the audit chain.

Site FR-01 on the demo study: both parents and the investigator sign parental-consent.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta
from typing import Any

import pytest

from consentkit.errors import (
    ConflictError,
    EligibilityError,
    InvalidDataError,
    PermissionDeniedError,
)
from consentkit.models.audit import ConsentRecord
from consentkit.models.document import StoredDocument
from consentkit.models.participant import Participant
from consentkit.policy.records import opened_event
from consentkit.policy.roles import Grant, StaffRole
from consentkit.services import audit, documents, enrolment, paper, records
from consentkit.services import staff as staff_service
from consentkit.services.evidence import Actor
from tests.consentkit.paper_helpers import scan_pdf
from tests.consentkit.records_helpers import STAFF, T0, Family, make_family, prepare, sign

LATER = T0 + timedelta(hours=25)
#: The web app's default CONSENTKIT_PAPER_SCAN_MAX_BYTES.
MAX_BYTES = 20 * 1024 * 1024


def _open(family: Family) -> Any:
    return records.open_record(family.participant, form_id="parental-consent", actor=STAFF, now=T0)


def _member(role: StaffRole, email: str = "dr.martin@example.org") -> Actor:
    """A real FR-01 staff account acting in ``role`` (paper rights follow its grants)."""
    member, _ = staff_service.create_staff(
        email=email, name="Dr Martin", grants=[Grant("DEMO-NBL-1", role, ("FR-01",))], now=T0
    )
    return enrolment.staff_actor(member, role.value)


def _item_ids(family: Family, record: Any) -> list[str]:
    opened = opened_event(records.history(family.participant), record.record_id)
    return [i["id"] for i in opened["payload"]["items"]]


def _paper(family: Family, record: Any, signers: list[Any], **kwargs: Any) -> Any:
    values: dict[str, Any] = {
        "items_yes": _item_ids(family, record),  # every box ticked yes, unless a test says
        "max_bytes": MAX_BYTES,
        "signer_ids": [str(s.id) for s in signers],
        "signed_on": date(2026, 3, 3),
        "locale": "fr",
        "scan_pdf": scan_pdf(),
        "actor": _member(StaffRole.INVESTIGATOR)
        if family.investigator in signers and "actor" not in kwargs
        else STAFF,
        "now": LATER,
    }
    values.update(kwargs)
    return paper.record_paper_consent(family.participant, record.record_id, **values)


def _state(family: Family, record: Any, at: datetime = LATER) -> str:
    statuses = {s.record_id: s for s in records.record_statuses(family.participant, at=at)}
    return str(statuses[record.record_id].state.value)


def test_record_paper_consent_half_paper_half_electronic_is_consented(demo_study: Any) -> None:
    family = make_family()
    record = _open(family)
    prepare(family, record, family.guardians[0], at=T0)
    sign(family, record, family.guardians[0], at=LATER)
    assert _state(family, record) == "awaiting-signatures"

    event = _paper(family, record, [family.guardians[1], family.investigator])

    assert (event.type, event.state_before, event.state_after) == (
        "paper.recorded",
        "awaiting-signatures",
        "consented",
    )
    assert event.payload["channel"] == "paper"
    assert event.payload["signed_on"] == "2026-03-03"
    assert _state(family, record) == "consented"
    projection = ConsentRecord.objects.get(record_id=record.record_id)
    assert (projection.state, projection.missing_signers) == ("consented", [])
    status = next(
        s
        for s in records.record_statuses(family.participant, at=LATER)
        if s.record_id == record.record_id
    )
    on_paper = {sid for sid, p in status.signers.items() if p.signed_on_paper}
    assert on_paper == {str(family.guardians[1].id), str(family.investigator.id)}


def test_record_paper_consent_stores_the_scan_with_its_hash(demo_study: Any) -> None:
    family = make_family()
    record = _open(family)
    content = scan_pdf()

    event = _paper(family, record, [family.guardians[0]], scan_pdf=content)

    stored = StoredDocument.objects.get(id=event.payload["scan_document_id"])
    digest = hashlib.sha256(content).hexdigest()
    assert (stored.kind, stored.sha256, event.payload["scan_sha256"]) == (
        "paper-scan",
        digest,
        digest,
    )
    assert paper.paper_scan(family.participant, str(stored.id)) == content


def test_record_paper_consent_keeps_the_chain_verifiable(demo_study: Any) -> None:
    family = make_family()
    record = _open(family)
    _paper(family, record, [family.guardians[0], family.guardians[1], family.investigator])

    report = audit.verify_participant(Participant.objects.get(id=family.participant.id))

    assert report.ok, report
    assert _state(family, record) == "consented"


def test_record_paper_consent_shows_paper_signatures_in_the_record_json(demo_study: Any) -> None:
    family = make_family()
    record = _open(family)
    event = _paper(family, record, [family.guardians[0], family.guardians[1], family.investigator])

    payload = documents.consent_record_payload(
        family.participant, record.record_id, "fr", event.seq
    )

    assert [p["channel"] for p in payload["paper_signatures"]] == ["paper"]
    assert payload["signatures"] == []


def test_record_paper_consent_refuses_someone_who_is_not_a_signer(demo_study: Any) -> None:
    family = make_family()
    record = _open(family)
    with pytest.raises(EligibilityError) as caught:
        _paper(family, record, [family.child])
    assert caught.value.code == "not-a-signer"


def test_record_paper_consent_refuses_a_signer_who_already_signed(demo_study: Any) -> None:
    family = make_family()
    record = _open(family)
    prepare(family, record, family.guardians[0], at=T0)
    sign(family, record, family.guardians[0], at=LATER)
    with pytest.raises(ConflictError) as caught:
        _paper(family, record, [family.guardians[0]])
    assert caught.value.code == "already-signed"


def test_record_paper_consent_refuses_a_future_date(demo_study: Any) -> None:
    family = make_family()
    record = _open(family)
    with pytest.raises(InvalidDataError) as caught:
        _paper(family, record, [family.guardians[0]], signed_on=date(2026, 3, 10))
    assert caught.value.code == "signed-on-invalid"


def test_record_paper_consent_refuses_a_date_before_the_record(demo_study: Any) -> None:
    family = make_family()
    record = _open(family)
    with pytest.raises(InvalidDataError) as caught:
        _paper(family, record, [family.guardians[0]], signed_on=date(2026, 2, 1))
    assert caught.value.code == "signed-on-invalid"


@pytest.mark.parametrize("content", [b"not a pdf", b"%PDF-1.7\ngarbage"])
def test_record_paper_consent_refuses_what_is_not_a_pdf(demo_study: Any, content: bytes) -> None:
    family = make_family()
    record = _open(family)
    with pytest.raises(InvalidDataError) as caught:
        _paper(family, record, [family.guardians[0]], scan_pdf=content)
    assert caught.value.code == "not-a-pdf"
    assert StoredDocument.objects(kind="paper-scan").count() == 0


def test_record_paper_consent_refuses_a_scan_over_the_limit(demo_study: Any) -> None:
    family = make_family()
    record = _open(family)
    with pytest.raises(InvalidDataError) as caught:
        _paper(family, record, [family.guardians[0]], max_bytes=100)
    assert caught.value.code == "scan-too-large"


def test_record_paper_consent_refuses_a_language_the_form_does_not_have(demo_study: Any) -> None:
    family = make_family()
    record = _open(family)
    with pytest.raises(InvalidDataError) as caught:
        _paper(family, record, [family.guardians[0]], locale="ja")
    assert caught.value.code == "unknown-locale"
    assert StoredDocument.objects(kind="paper-scan").count() == 0


def test_record_paper_consent_refuses_a_required_item_answered_no(demo_study: Any) -> None:
    family = make_family()
    record = _open(family)
    opened = records.history(family.participant)[-1]["payload"]
    required = next(i["id"] for i in opened["items"] if i["required"])
    ticked = [i["id"] for i in opened["items"] if i["id"] != required]
    with pytest.raises(EligibilityError) as caught:
        _paper(family, record, [family.guardians[0]], items_yes=ticked)
    assert caught.value.code == "required-item-refused"


def test_record_paper_consent_records_an_unticked_item_as_no(demo_study: Any) -> None:
    family = make_family()
    record = _open(family)
    optional = next(
        i
        for i in opened_event(records.history(family.participant), record.record_id)["payload"][
            "items"
        ]
        if not i["required"]
    )["id"]
    ticked = [i for i in _item_ids(family, record) if i != optional]

    event = _paper(family, record, [family.guardians[0]], items_yes=ticked)

    assert event.payload["choices"] == {i: i != optional for i in _item_ids(family, record)}


def test_record_paper_consent_refuses_an_item_the_form_does_not_have(demo_study: Any) -> None:
    family = make_family()
    record = _open(family)

    with pytest.raises(InvalidDataError) as caught:
        _paper(
            family, record, [family.guardians[0]], items_yes=[*_item_ids(family, record), "nope"]
        )

    assert caught.value.code == "items-incomplete"
    assert StoredDocument.objects(kind="paper-scan").count() == 0


def test_record_paper_consent_of_the_investigator_alone_records_no_choices(
    demo_study: Any,
) -> None:
    family = make_family()
    record = _open(family)

    event = _paper(family, record, [family.investigator], items_yes=[])

    assert event.payload["choices"] is None


def test_record_paper_consent_of_the_investigator_needs_countersign_rights(
    demo_study: Any,
) -> None:
    family = make_family()
    record = _open(family)
    nurse = _member(StaffRole.SITE_STAFF, "nurse@example.org")

    with pytest.raises(PermissionDeniedError) as caught:
        _paper(family, record, [family.guardians[0], family.investigator], actor=nurse)

    assert caught.value.code == "countersign-required"
    assert StoredDocument.objects(kind="paper-scan").count() == 0
    assert _state(family, record) == "awaiting-information"
