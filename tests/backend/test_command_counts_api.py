"""How many database commands the signer API's ceremony writes cost (issue 17)."""

from __future__ import annotations

from typing import Any

from tests.backend.signer_helpers import content, read_and_prepare
from tests.command_counter import counting
from tests.consentkit.records_helpers import STROKES


def test_command_counts_api_post_views(phone: Any) -> None:
    text = content(phone.rec, "fr")
    url = f"/api/v1/me/records/{phone.rec.record_id}/views"
    first, second = text["sections"][:2]
    phone.post(url, json={"locale": "fr", "sections": [{"id": first["id"], "seconds": 20}]})

    with counting() as commands:
        answer = phone.post(
            url, json={"locale": "fr", "sections": [{"id": second["id"], "seconds": 20}]}
        )

    assert answer.status_code == 200, answer.get_json()
    print("API POST views", dict(commands), sum(commands.values()))
    assert sum(commands.values()) == -1


def test_command_counts_api_post_signature(phone: Any) -> None:
    text = read_and_prepare(phone)
    phone.step_up()
    body = {
        "locale": "fr",
        "content_sha256": text["sha"],
        "printed_name": "Ελένη",
        "strokes": STROKES,
        "early_signing_justification": "Family travelled far",
    }

    with counting() as commands:
        answer = phone.post(
            f"/api/v1/me/records/{phone.rec.record_id}/signature",
            json=body,
            headers={"Idempotency-Key": "sig-count"},
        )

    assert answer.status_code == 200, answer.get_json()
    print("API POST signature", dict(commands), sum(commands.values()))
    assert sum(commands.values()) == -1
