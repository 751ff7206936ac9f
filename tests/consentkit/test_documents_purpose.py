"""The sealed record says what it was opened for when a consent task opened it (issue 13)."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from consentkit.models.participant import Signer
from consentkit.models.task import ConsentTask
from consentkit.services import documents, records, transitions
from consentkit.services.tasks import create_due_tasks
from tests.consentkit.records_helpers import STAFF, Family, make_family, prepare, sign

#: P-BAND turns 10 on 2026-04-01 and leaves the 6-9 pictorial band for the 10-13 one.
OPENED = datetime(2026, 4, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONSENTKIT_DATA_DIR", str(tmp_path))  # the development seal


def _complete(family: Family, record: Any) -> int:
    """Have every required signer of ``record`` sign it; return the completing event's seq."""
    [status] = [
        s
        for s in records.record_statuses(family.participant, at=OPENED)
        if s.record_id == record.record_id
    ]
    signers = {str(s.id): s for s in Signer.objects(participant_id=str(family.participant.id))}
    ordered = sorted(status.signers, key=lambda i: signers[i].role == "investigator")
    for signer_id in ordered:
        signer = signers[signer_id]
        if signer.role != "investigator":
            prepare(family, record, signer, at=OPENED, locale="fr")
    last = None
    for signer_id in ordered:
        last = sign(
            family,
            record,
            signers[signer_id],
            at=OPENED + timedelta(hours=25),
            locale="fr",
            early_signing_justification="Talked it through at the visit",
        )
    assert last is not None
    return int(last.seq)


def _age_band_record(demo: Any) -> tuple[Family, Any, int]:
    family = make_family("P-BAND", birth_date=date(2016, 4, 1))
    create_due_tasks(on=date(2026, 3, 2), horizon_days=90)
    [task] = ConsentTask.objects(participant_code="P-BAND")
    opened = transitions.open_for_task(family.participant, task.key, actor=STAFF, now=OPENED)
    return family, opened.record, _complete(family, opened.record)


def test_consent_record_payload_names_the_task_the_record_was_opened_for(
    demo_study: Any,
) -> None:
    family, record, seq = _age_band_record(demo_study)

    payload = documents.consent_record_payload(family.participant, record.record_id, "fr", seq)

    assert payload["opened_for"] == {
        "task_key": ConsentTask.objects.get(participant_code="P-BAND").key,
        "reason": "age-band",
        "age": 10,
        "version": None,
    }


def test_consent_record_payload_of_a_record_opened_without_a_task_has_no_purpose(
    demo_study: Any,
) -> None:
    family = make_family("P-PLAIN")
    record = records.open_record(
        family.participant, form_id="parental-consent", actor=STAFF, now=OPENED
    )
    seq = _complete(family, record)

    payload = documents.consent_record_payload(family.participant, record.record_id, "fr", seq)

    assert "opened_for" not in payload


def test_consent_pdf_says_what_the_record_was_opened_for(demo_study: Any) -> None:
    family, record, seq = _age_band_record(demo_study)
    payload = documents.consent_record_payload(family.participant, record.record_id, "en", seq)

    pdf = documents.render_consent_pdf(family.participant, payload)

    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "Opened for: Assent at 10" in " ".join(text.split())
