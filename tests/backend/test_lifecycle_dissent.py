"""End to end through the API: a 9-year-old says no on their assent form, and it is dissent.

CTR Art 32(1)(c) (docs/regulatory-basis.md#ctr-art-32, CTR-32c): the explicit wish of a minor
capable of forming an opinion to refuse participation is respected; it overrides the parents'
consent and is "a first-class event". CTR-31a: it blocks participation even when the legal
representative has consented.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from consentkit.clock import now_utc
from consentkit.policy.roles import StaffRole
from tests.backend.signer_helpers import Outbox, sign_in
from tests.backend.staff_helpers import BASE, auth, make_member, token_for

FAMILY = [
    {"role": "guardian", "name": "Camille Martin", "email": "camille@example.org"},
    {"role": "guardian", "name": "Louis Martin", "email": "louis@example.org"},
    {"role": "participant", "name": "Léa Martin", "email": "lea@example.org"},
]


@pytest.fixture
def investigator(client: Any, demo_study: Any) -> dict[str, str]:
    member = make_member(client, "dr.martin@example.org", StaffRole.INVESTIGATOR, ("FR-01",))
    return auth(token_for(client.application, member))


def _enrol_a_nine_year_old(client: Any, headers: dict[str, str]) -> dict[str, Any]:
    birth_date = now_utc().date() - timedelta(days=9 * 365 + 100)
    made = client.post(
        f"{BASE}/participants",
        json={
            "code": "FR-0009",
            "site": "FR-01",
            "birth_date": birth_date.isoformat(),
            "signers": FAMILY,
        },
        headers=headers,
    )
    assert made.status_code == 201, made.get_json()
    body: dict[str, Any] = made.get_json()
    return body


def test_a_nine_year_olds_no_on_their_assent_is_dissent_and_blocks_participation(
    client: Any, investigator: dict[str, str], outbox: Outbox
) -> None:
    made = _enrol_a_nine_year_old(client, investigator)
    child = next(s for s in made["signers"] if s["role"] == "participant")
    assent = next(r for r in made["records"] if r["form_id"] == "assent-6-9")
    invited = client.post(
        f"{BASE}/participants/FR-0009/invitations",
        json={"signer_id": child["signer_id"]},
        headers=investigator,
    )
    assert invited.status_code == 201, invited.get_json()
    tokens = sign_in(client, outbox, invited.get_json()["code"])
    as_child = {"Authorization": f"Bearer {tokens['access_token']}"}

    said_no = client.post(
        f"/api/v1/me/records/{assent['record_id']}/decline",
        json={"reason": "I don't want more needles"},
        headers=as_child,
    )

    assert said_no.status_code == 200, said_no.get_json()
    profile = client.get(f"{BASE}/participants/FR-0009/participation", headers=investigator)
    body = profile.get_json()
    assert body["participating"] is False
    assert body["blocked_by"] == ["dissent"]
    assert "assent.dissent" in [e["type"] for e in body["decided_by"]]
    assert body["permissions"]["treatment"] is False
    # Every record opened before the child's no is ended by it (CTR-32c), so the dashboard
    # counts each as dissent, none as a plain decline.
    summary = client.get(f"{BASE}/dashboard", headers=investigator).get_json()
    assert summary["by_state"]["dissent"] == len(made["records"])
    assert summary["by_state"]["declined"] == 0


def test_a_french_childs_refusal_cannot_be_reviewed_away(
    client: Any, investigator: dict[str, str], outbox: Outbox
) -> None:
    # docs/regulatory-basis.md#country-fr FR: "refusal or revocation cannot be overridden"
    # (L1122-2, V).
    _enrol_a_nine_year_old(client, investigator)
    heard = client.post(
        f"{BASE}/participants/FR-0009/dissent", json={"note": "said no"}, headers=investigator
    )
    assert heard.status_code == 201, heard.get_json()

    review = client.post(
        f"{BASE}/participants/FR-0009/dissent/review",
        json={"decision": "continue", "reason": "the parents insist"},
        headers=investigator,
    )

    assert review.status_code == 409
    assert review.mimetype == "application/problem+json"
    assert review.get_json()["error"] == "dissent-binding"


def test_a_gb_investigator_reviews_a_non_binding_refusal_through_the_api(
    client: Any, demo_study: Any
) -> None:
    # docs/regulatory-basis.md#country-gb-eng GB-ENG CTIMP: the wish to refuse is "considered" by
    # the investigator.
    member = make_member(client, "dr.smith@example.org", StaffRole.INVESTIGATOR, ("GB-ENG-01",))
    headers = auth(token_for(client.application, member))
    birth_date = now_utc().date() - timedelta(days=9 * 365 + 100)
    made = client.post(
        f"{BASE}/participants",
        json={
            "code": "GB-0009",
            "site": "GB-ENG-01",
            "birth_date": birth_date.isoformat(),
            "signers": FAMILY[:1],
        },
        headers=headers,
    )
    assert made.status_code == 201, made.get_json()
    client.post(f"{BASE}/participants/GB-0009/dissent", json={}, headers=headers)

    review = client.post(
        f"{BASE}/participants/GB-0009/dissent/review",
        json={"decision": "uphold", "reason": "The child is sure; we stop."},
        headers=headers,
    )

    assert review.status_code == 201, review.get_json()
    assert review.get_json()["type"] == "dissent.reviewed"
    timeline = client.get(f"{BASE}/participants/GB-0009/timeline", headers=headers).get_json()
    assert timeline[-1]["type"] == "dissent.reviewed"
    assert timeline[-1]["summary"]
