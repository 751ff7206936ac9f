"""The impartial witness through the staff API: registered for a signer, signs in person."""

from __future__ import annotations

from typing import Any

import pytest

from consentkit.clock import now_utc
from consentkit.models.staff import StaffSession
from consentkit.policy.roles import StaffRole
from tests.backend.staff_helpers import BASE, auth, enrol, make_member, token_for
from tests.consentkit.records_helpers import STROKES


@pytest.fixture
def investigator(client: Any, demo_study: Any) -> dict[str, str]:
    member = make_member(client, "visser@example.org", StaffRole.INVESTIGATOR, ("NL-01",))
    return auth(token_for(client.application, member))


def test_register_a_witness_then_the_record_and_participant_show_it(
    client: Any, investigator: dict[str, str]
) -> None:
    made = enrol(client, investigator).get_json()
    guardian = next(s for s in made["signers"] if s["role"] == "guardian")
    url = f"{BASE}/participants/NL-0001/signers/{guardian['signer_id']}/witness"

    registered = client.post(url, json={"name": "Joost Getuige"}, headers=investigator)

    assert registered.status_code == 201, registered.get_json()
    witness_id = registered.get_json()["signer_id"]
    shown = client.get(f"{BASE}/participants/NL-0001", headers=investigator).get_json()
    by_id = {s["signer_id"]: s for s in shown["signers"]}
    assert by_id[guardian["signer_id"]]["witness_signer_id"] == witness_id
    assert by_id[witness_id]["role"] == "witness"
    parental = next(r for r in shown["records"] if r["form_kind"] == "parental-consent")
    assert {"signer_id": witness_id, "role": "witness"} in parental["missing_signers"]

    again = client.post(url, json={"name": "Someone Else"}, headers=investigator)
    assert again.status_code == 409
    assert again.get_json()["error"] == "witness-exists"


def test_the_witness_cannot_sign_before_the_parent(
    client: Any, investigator: dict[str, str]
) -> None:
    made = enrol(client, investigator).get_json()
    guardian = next(s for s in made["signers"] if s["role"] == "guardian")
    witness_id = client.post(
        f"{BASE}/participants/NL-0001/signers/{guardian['signer_id']}/witness",
        json={"name": "Joost Getuige"},
        headers=investigator,
    ).get_json()["signer_id"]
    parental = next(r for r in made["records"] if r["form_kind"] == "parental-consent")
    text = client.get(
        f"{BASE}/participants/NL-0001/records/{parental['record_id']}/countersign",
        headers=investigator,
    ).get_json()
    StaffSession.objects.update(set__reauth_at=now_utc())

    early = client.post(
        f"{BASE}/participants/NL-0001/records/{parental['record_id']}/witness-signature",
        json={
            "witness_signer_id": witness_id,
            "locale": text["locale"],
            "content_sha256": text["content_sha256"],
            "printed_name": "Joost Getuige",
            "strokes": STROKES,
        },
        headers=investigator,
    )

    assert early.status_code == 409
    assert early.get_json()["error"] == "witness-too-early"


def test_a_witness_is_not_invited(client: Any, investigator: dict[str, str]) -> None:
    made = enrol(client, investigator).get_json()
    guardian = next(s for s in made["signers"] if s["role"] == "guardian")
    witness_id = client.post(
        f"{BASE}/participants/NL-0001/signers/{guardian['signer_id']}/witness",
        json={"name": "Joost Getuige"},
        headers=investigator,
    ).get_json()["signer_id"]

    invited = client.post(
        f"{BASE}/participants/NL-0001/invitations",
        json={"signer_id": witness_id},
        headers=investigator,
    )

    assert invited.status_code == 422
    assert invited.get_json()["error"] == "signer-role-invalid"
