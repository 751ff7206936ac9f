"""A withdrawal's reason, one rule for every face: staff API, staff page, the family's app.

Staff recording a withdrawal say what the family said: the reason, or that they
declined to give one; never both, never neither. A family member withdrawing on
their own device is never asked (CTR Art 28(3)); they may still not send both.
"""

from __future__ import annotations

from typing import Any

import pytest

from consentkit.models.participant import Participant
from consentkit.services import audit
from tests.backend.staff_helpers import (
    Member,
    auth,
    csrf_of,
    family,
    participant_url,
    signed_in,
    token_for,
)

API = "/api/v1/staff/studies/DEMO-NBL-1/participants"

#: What staff send -> what the trail stores (reason, reason_declined), or None: refused (422).
CASES: dict[str, tuple[dict[str, Any], tuple[str | None, bool] | None]] = {
    "neither": ({}, None),
    "reason": ({"reason": "Moving abroad"}, ("Moving abroad", False)),
    "declined": ({"reason_declined": True}, (None, True)),
    "both": ({"reason": "Moving abroad", "reason_declined": True}, None),
}


def _last(child: Participant) -> dict[str, Any]:
    return audit.chain_dicts(str(child.id))[-1]


def _by_api(app: Any, client: Any, member: Member, child: Participant, said: dict[str, Any]) -> Any:
    body = {"scopes": ["no-new-data"], "channel": "phone", **said}
    headers = auth(token_for(app, member))
    return client.post(f"{API}/{child.code}/withdrawals", json=body, headers=headers)


def _by_page(
    app: Any, client: Any, member: Member, child: Participant, said: dict[str, Any]
) -> Any:
    signed_in(app, client, member)
    url = participant_url(child.code, "/withdraw")
    form = {"csrf_token": csrf_of(client.get(url)), "scopes": "no-new-data", "channel": "phone"}
    if "reason" in said:
        form["reason"] = said["reason"]
    if said.get("reason_declined"):
        form["reason_declined"] = "yes"
    return client.post(url, data=form)


@pytest.mark.parametrize("case", list(CASES))
def test_staff_withdrawal_reason_is_the_same_rule_on_the_page_and_the_api(
    app: Any, client: Any, nl: Member, case: str
) -> None:
    said, stored = CASES[case]
    outcomes = []
    for face, send in (("api", _by_api), ("page", _by_page)):
        child = family(nl, f"NL-WR-{case}-{face}", "NL-01")
        before = _last(child)["seq"]
        response = send(app, client, nl, child, said)
        last = _last(child)
        recorded = (
            (last["payload"]["reason"], last["payload"]["reason_declined"])
            if last["seq"] != before
            else None
        )
        outcomes.append((face, response.status_code < 400, recorded))

    assert outcomes == [("api", stored is not None, stored), ("page", stored is not None, stored)]


@pytest.mark.parametrize("case", ["neither", "both"])
def test_staff_api_withdrawal_refusal_names_the_reason_rule(
    app: Any, client: Any, nl: Member, case: str
) -> None:
    child = family(nl, f"NL-WRC-{case}", "NL-01")

    refused = _by_api(app, client, nl, child, CASES[case][0])

    assert refused.status_code == 422
    assert (
        refused.get_json()["error"]
        == {
            "neither": "withdrawal-reason-required",
            "both": "withdrawal-reason-conflict",
        }[case]
    )


def test_family_withdrawal_without_a_reason_records_that_none_was_given(phone: Any) -> None:
    phone.step_up()

    done = phone.post("/api/v1/me/withdrawals", json={"choices": ["destroy-samples"]})

    assert done.status_code == 201, done.get_json()
    last = _last(phone.fam.participant)
    assert (last["payload"]["reason"], last["payload"]["reason_declined"]) == (None, False)


def test_family_withdrawal_with_a_reason_and_reason_declined_is_refused(phone: Any) -> None:
    phone.step_up()
    before = _last(phone.fam.participant)["seq"]

    refused = phone.post(
        "/api/v1/me/withdrawals",
        json={"choices": ["destroy-samples"], "reason": "Too far", "reason_declined": True},
    )

    assert refused.status_code == 422
    assert refused.get_json()["error"] == "withdrawal-reason-conflict"
    assert _last(phone.fam.participant)["seq"] == before
