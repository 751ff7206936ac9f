"""A family keeps what they signed from the moment they signed it (issue 14).

The first parent who signs gets a sealed interim copy, "signed by you, awaiting
others", naming whose signatures are still awaited; the other parent, who has not
signed, gets none; once everyone has signed, the final copy replaces it.
"""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from consentkit.errors import ConflictError
from consentkit.services import documents, records
from tests.consentkit.records_helpers import STAFF, T0, make_family, prepare, sign

SIGNED = T0 + timedelta(hours=25)


@pytest.fixture(autouse=True)
def _data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONSENTKIT_DATA_DIR", str(tmp_path))  # the development seal


def _text(pdf: bytes) -> str:
    return " ".join(
        " ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(pdf)).pages
    )


def test_the_first_parent_gets_an_interim_copy_and_everyone_the_final_one(
    demo_study: Any,
) -> None:
    family = make_family("P-INTERIM", names=("Marie Dupont", "Luc Dupont"))
    record = records.open_record(
        family.participant, form_id="parental-consent", actor=STAFF, now=T0
    )
    marie, luc = family.guardians
    for guardian in (marie, luc):
        prepare(family, record, guardian, at=T0)
    sign(family, record, marie, at=SIGNED)

    interim = documents.consent_document(
        family.participant, record.record_id, locale="en", signer_id=str(marie.id)
    )
    with pytest.raises(ConflictError) as not_yet:
        documents.consent_document(
            family.participant, record.record_id, locale="en", signer_id=str(luc.id)
        )
    with pytest.raises(ConflictError):
        documents.consent_document(family.participant, record.record_id, locale="en")

    text = _text(interim.content)
    assert "Interim copy: signed by you, not by everyone yet" in text
    # Still awaited: the other parent and the investigator, by role.
    assert "Parent or guardian" in text.split("Still awaited:")[1][:80]
    assert "Investigator" in text.split("Still awaited:")[1][:80]
    assert "Marie Dupont" in text
    assert interim.filename.endswith("-interim-2026-03-03.pdf")
    assert not_yet.value.code == "record-incomplete"
    assert documents.verify_pdf(interim.content).ok

    sign(family, record, luc, at=SIGNED)
    sign(family, record, family.investigator, at=SIGNED)
    final = documents.consent_document(
        family.participant, record.record_id, locale="en", signer_id=str(luc.id)
    )

    assert "Interim copy" not in _text(final.content)
    assert "Luc Dupont" in _text(final.content)
    assert "interim" not in final.filename
