"""A signature sent without an ``Idempotency-Key`` header: its derived key names the signer.

Two guardians of one record who send byte-identical bodies (the same printed name
and strokes: parents may share a name) are two signatures, not one request retried.
"""

from __future__ import annotations

from typing import Any

import pytest

from consentkit.clock import now_utc
from consentkit.services import records
from tests.backend.signer_access_world import API, sign_in
from tests.consentkit.records_helpers import STAFF, STROKES, content, make_family, prepare


@pytest.fixture(autouse=True)
def _console_codes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONSENTKIT_OTP_SENDER", "console")


def test_signature_without_key_accepts_two_guardians_sending_the_same_body(
    client: Any, demo_study: Any
) -> None:
    family = make_family("FR-SAME-BODY", names=("Camille Martin", "Camille Martin"))
    record = records.open_record(family.participant, form_id="parental-consent", actor=STAFF)
    body = {
        "locale": "fr",
        "content_sha256": content(record, "fr")["sha"],
        "printed_name": "Camille Martin",
        "strokes": STROKES,
        "early_signing_justification": "Talked it through at the visit",
    }
    answers = []
    for guardian in family.guardians:
        prepare(family, record, guardian, at=now_utc())
        phone = sign_in(client, family, guardian)
        phone.fresh_code()
        answers.append(
            client.post(
                f"{API}/me/records/{record.record_id}/signature", json=body, headers=phone.headers
            )
        )

    assert [a.status_code for a in answers] == [200, 200], [a.get_json() for a in answers]
    [status] = [
        s for s in records.record_statuses(family.participant) if s.record_id == record.record_id
    ]
    signed = {i for i, progress in status.signers.items() if progress.signed_at is not None}
    assert signed == {str(g.id) for g in family.guardians}
