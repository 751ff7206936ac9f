"""The family's wallet over HTTP: ``GET /me/wallet`` and ``POST /me/wallet/choices``.

A parent of two children in the demo study (the same e-mail address on both files) signs
in with one child's invitation and sees both; a changed optional choice needs a fresh code,
is refused for required or unknown items before the code is spent, and the permission API
answers differently afterwards.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from consentkit.models.idempotency import IdempotentResponse
from consentkit.services import access, audit, documents
from tests.backend.staff_helpers import auth, make_member, token_for
from tests.consentkit.records_helpers import STAFF
from tests.consentkit.wallet_helpers import consented, family_with_email

WALLET = "/api/v1/me/wallet"
CHOICES = "/api/v1/me/wallet/choices"


class Parent:
    """A signed-in parent: requests with their token, and a fresh code when asked."""

    def __init__(self, client: Any, capsys: pytest.CaptureFixture[str], invitation: str) -> None:
        self.client = client
        self.capsys = capsys
        sent = client.post("/api/v1/auth/invitations/redeem", json={"code": invitation})
        tokens = client.post(
            f"/api/v1/auth/challenges/{sent.get_json()['challenge_id']}/verify",
            json={"code": self._code(), "device_id": "phone-wallet-1"},
        ).get_json()
        self.headers = {"Authorization": f"Bearer {tokens['access_token']}"}

    def _code(self) -> str:
        return re.findall(r"one-time code\] to .*: (\d{6})", self.capsys.readouterr().out)[-1]

    def get(self, url: str, **kw: Any) -> Any:
        return self.client.get(url, headers={**self.headers, **kw.pop("headers", {})}, **kw)

    def post(self, url: str, **kw: Any) -> Any:
        return self.client.post(url, headers={**self.headers, **kw.pop("headers", {})}, **kw)

    def step_up(self) -> None:
        sent = self.post("/api/v1/auth/step-up").get_json()
        verified = self.post(
            f"/api/v1/auth/step-up/{sent['challenge_id']}/verify", json={"code": self._code()}
        )
        assert verified.status_code == 200


@pytest.fixture
def world(
    client: Any, demo_study: Any, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> dict[str, Any]:
    monkeypatch.setenv("CONSENTKIT_OTP_SENDER", "console")
    first = family_with_email("P-WA1", "ana@example.org")
    sibling = family_with_email("P-WA2", "Ana@Example.org")
    stranger = family_with_email("P-WA3", "someone.else@example.org")
    records = {name: consented(f) for name, f in (("first", first), ("sibling", sibling))}
    records["stranger"] = consented(stranger)
    invitation = access.create_invitation(first.participant, first.guardians[0], actor=STAFF)
    return {
        "parent": Parent(client, capsys, invitation),
        "first": first,
        "sibling": sibling,
        "stranger": stranger,
        "records": records,
    }


def _record(wallet: dict[str, Any], record_id: str) -> dict[str, Any]:
    return next(
        r for child in wallet["children"] for r in child["records"] if r["record_id"] == record_id
    )


def test_wallet_shows_both_children_in_the_family_words_and_no_stranger(
    world: dict[str, Any],
) -> None:
    response = world["parent"].get(WALLET, headers={"Accept-Language": "en"})

    assert response.status_code == 200
    wallet = response.get_json()
    assert [c["participant_code"] for c in wallet["children"]] == ["P-WA1", "P-WA2"]
    shown = _record(wallet, world["records"]["sibling"].record_id)
    assert shown["status_text"] == "Everyone has signed"
    listed = {r["record_id"] for c in wallet["children"] for r in c["records"]}
    assert world["records"]["stranger"].record_id not in listed
    agreements = {a["activity"]: a["agreed"] for a in wallet["children"][0]["agreements"]}
    assert agreements["sample_collection"] is True


def test_changing_a_choice_needs_a_fresh_code_and_writes_nothing_without(
    world: dict[str, Any],
) -> None:
    record = world["records"]["first"]
    before = len(audit.chain_dicts(str(world["first"].participant.id)))

    refused = world["parent"].post(
        CHOICES, json={"record_id": record.record_id, "item_id": "sample-storage", "value": False}
    )

    assert refused.status_code == 409
    assert refused.get_json()["error"] == "fresh-code-required"
    assert len(audit.chain_dicts(str(world["first"].participant.id))) == before


def test_a_changed_choice_changes_the_permission_answer(world: dict[str, Any], client: Any) -> None:
    record = world["records"]["first"]
    member = make_member(client, "inv@example.org", "investigator", ("FR-01",))
    staff = auth(token_for(client.application, member))
    ask = {"trial_id": "DEMO-NBL-1", "participant": "P-WA1", "activity": "sample-storage"}

    def decision() -> str:
        answer = client.get("/api/v1/permissions", query_string=ask, headers=staff)
        assert answer.status_code == 200, answer.get_json()
        return str(answer.get_json()["answers"][0]["decision"])

    assert decision() == "permit"
    world["parent"].step_up()

    changed = world["parent"].post(
        CHOICES,
        json={"record_id": record.record_id, "item_id": "sample-storage", "value": False},
        headers={"Idempotency-Key": "wallet-change-1"},
    )

    assert changed.status_code == 201, changed.get_json()
    assert changed.get_json()["permissions"]["sample_collection"] is False
    assert decision() == "deny"
    item = next(
        i
        for i in _record(world["parent"].get(WALLET).get_json(), record.record_id)["items"]
        if i["item_id"] == "sample-storage"
    )
    assert (item["signed"], item["current"]) == (True, False)


@pytest.mark.parametrize(
    ("item", "status", "error"),
    [("participation", 422, "item-required"), ("no-such-item", 422, "items-incomplete")],
)
def test_a_required_or_unknown_item_is_refused_and_keeps_the_code(
    world: dict[str, Any], item: str, status: int, error: str
) -> None:
    record = world["records"]["first"]
    world["parent"].step_up()

    refused = world["parent"].post(
        CHOICES, json={"record_id": record.record_id, "item_id": item, "value": False}
    )
    # The code was not spent on the refused request.
    accepted = world["parent"].post(
        CHOICES, json={"record_id": record.record_id, "item_id": "re-contact", "value": False}
    )

    assert (refused.status_code, refused.get_json()["error"]) == (status, error)
    assert accepted.status_code == 201, accepted.get_json()


def test_a_parent_changes_a_choice_of_the_sibling_signed_in_for_the_other_child(
    world: dict[str, Any],
) -> None:
    record = world["records"]["sibling"]
    world["parent"].step_up()

    changed = world["parent"].post(
        CHOICES, json={"record_id": record.record_id, "item_id": "future-research", "value": False}
    )

    assert changed.status_code == 201, changed.get_json()
    assert changed.get_json()["participant_code"] == "P-WA2"
    event = audit.chain_dicts(str(world["sibling"].participant.id))[-1]
    assert event["payload"]["signer_id"] == str(world["sibling"].guardians[0].id)


def test_a_parent_downloads_the_siblings_sealed_copy_and_no_strangers(
    world: dict[str, Any],
) -> None:
    sibling = documents.consent_document(
        world["sibling"].participant, world["records"]["sibling"].record_id
    )
    stranger = documents.consent_document(
        world["stranger"].participant, world["records"]["stranger"].record_id
    )
    listed = {
        d["document_id"]
        for c in world["parent"].get(WALLET).get_json()["children"]
        for d in c["documents"]
    }

    mine = world["parent"].get(f"{WALLET}/documents/{sibling.document.id}")
    theirs = world["parent"].get(f"{WALLET}/documents/{stranger.document.id}")

    assert str(sibling.document.id) in listed
    assert str(stranger.document.id) not in listed
    assert mine.status_code == 200 and mine.data.startswith(b"%PDF")
    assert theirs.status_code == 404


def test_a_retry_of_a_stored_change_gets_the_first_answer_without_a_new_code(
    world: dict[str, Any],
) -> None:
    record = world["records"]["first"]
    body = {"record_id": record.record_id, "item_id": "re-contact", "value": False}
    world["parent"].step_up()
    first = world["parent"].post(CHOICES, json=body, headers={"Idempotency-Key": "k-1"})
    # The stored answer is gone (a crash before it was kept): the retry finds the event.
    IdempotentResponse.objects().delete()

    again = world["parent"].post(CHOICES, json=body, headers={"Idempotency-Key": "k-1"})

    assert first.status_code == 201, first.get_json()
    assert again.status_code == 201, again.get_json()
    assert again.get_json()["seq"] == first.get_json()["seq"]
    changes = [
        e
        for e in audit.chain_dicts(str(world["first"].participant.id))
        if e["type"] == "items.changed"
    ]
    assert len(changes) == 1
