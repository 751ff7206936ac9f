"""Withdrawal through HTTP: families choose plain choices and see what they mean before
confirming; staff keep the full scope list; conflicting scopes are a 422 problem; the
participation profile is served to staff with the events that decided it.
"""

from __future__ import annotations

from typing import Any

from consentkit.models.participant import Participant
from consentkit.services import audit, records
from tests.backend.staff_helpers import auth, make_member, token_for

WITHDRAWALS = "/api/v1/me/withdrawals"
STAFF_BASE = "/api/v1/staff/studies/DEMO-NBL-1/participants/P-001"


def _chain(phone: Any) -> list[dict[str, Any]]:
    return audit.chain_dicts(str(phone.fam.participant.id))


def _investigator(client: Any) -> dict[str, str]:
    member = make_member(client, "inv@example.org", "investigator", ("FR-01",))
    return auth(token_for(client.application, member))


def test_family_withdrawal_with_raw_scopes_is_refused(phone: Any) -> None:
    phone.step_up()
    before = len(_chain(phone))

    raw = phone.post(WITHDRAWALS, json={"scopes": ["full"], "reason_declined": True})

    assert raw.status_code == 422
    assert raw.mimetype == "application/problem+json"
    assert len(_chain(phone)) == before


def test_family_withdrawal_records_the_choices_and_their_scopes(phone: Any) -> None:
    phone.step_up()

    done = phone.post(
        WITHDRAWALS,
        json={"choices": ["stop-everything-new", "no-contact"], "reason_declined": True},
    )

    assert done.status_code == 201, done.get_json()
    payload = _chain(phone)[-1]["payload"]
    assert payload["choices"] == ["stop-everything-new", "no-contact"]
    assert payload["scopes"] == ["full", "no-further-contact", "no-new-data"]


def test_family_conflicting_choices_are_a_422_problem_and_keep_the_code(
    phone: Any,
) -> None:
    phone.step_up()
    before = len(_chain(phone))

    refused = phone.post(WITHDRAWALS, json={"choices": ["stop-treatment", "stop-everything-new"]})
    # The code was not spent on the refused request: the next one needs none.
    accepted = phone.post(WITHDRAWALS, json={"choices": ["stop-treatment"]})

    assert refused.status_code == 422
    assert refused.mimetype == "application/problem+json"
    assert refused.get_json()["error"] == "conflicting-choices"
    assert accepted.status_code == 201, accepted.get_json()
    assert len(_chain(phone)) == before + 1


def test_family_summary_is_shown_before_confirming_and_records_nothing(
    phone: Any,
) -> None:
    before = len(_chain(phone))

    shown = phone.get(
        f"{WITHDRAWALS}/summary?choice=stop-everything-new&choice=destroy-samples",
        headers={"Accept-Language": "en"},
    )

    body = shown.get_json()
    assert shown.status_code == 200, body
    assert body["scopes"] == ["full", "no-new-data", "samples-destroy", "samples-stop-collection"]
    assert body["summary"][0] == "Your child stops taking part in the study."
    assert "The stored samples are destroyed." in body["summary"]
    assert body["summary"][-1].startswith("What was collected before your decision is kept")
    assert len(_chain(phone)) == before


def test_family_sees_their_withdrawal_with_its_summary_and_confirmation(
    phone: Any,
) -> None:
    phone.step_up()
    done = phone.post(WITHDRAWALS, json={"choices": ["no-contact"]}).get_json()

    [listed] = phone.get(WITHDRAWALS).get_json()
    document = phone.get(f"/api/v1{listed['document']}")

    assert listed["seq"] == done["seq"]
    assert listed["scopes"] == ["no-further-contact"]
    assert listed["choices"] == ["no-contact"]
    assert listed["expressed_by_me"] is True
    assert listed["summary"][0].startswith("The study team will not contact you again")
    assert (document.status_code, document.mimetype) == (200, "application/pdf")


def test_staff_conflicting_scopes_are_a_422_problem_with_a_stable_code(
    phone: Any,
    client: Any,
) -> None:
    staff = _investigator(client)
    before = len(_chain(phone))

    refused = client.post(
        f"{STAFF_BASE}/withdrawals",
        json={
            "scopes": ["samples-anonymise", "samples-destroy"],
            "channel": "phone",
            "reason_declined": True,
        },
        headers=staff,
    )

    assert refused.status_code == 422
    assert refused.mimetype == "application/problem+json"
    assert refused.get_json()["error"] == "conflicting-scopes"
    assert "samples-anonymise" in refused.get_json()["message"]
    assert len(_chain(phone)) == before


def test_staff_participation_profile_names_the_deciding_events(
    phone: Any,
    client: Any,
) -> None:
    phone.step_up()
    withdrawn = phone.post(WITHDRAWALS, json={"choices": ["stop-treatment"]}).get_json()

    served = client.get(f"{STAFF_BASE}/participation", headers=_investigator(client))

    body = served.get_json()
    assert served.status_code == 200, body
    assert body["participant"] == "P-001"
    assert body["withdrawn_scopes"] == ["randomisation-refusal", "stop-imp"]
    assert body["permissions"]["treatment"] is False
    assert [(e["seq"], e["type"]) for e in body["decided_by"]] == [
        (withdrawn["seq"], "withdrawal.recorded")
    ]
    expected = records.profile(Participant.objects.get(code="P-001"))
    assert body["permissions"] == expected["permissions"]


def test_family_task_after_withdrawal_shows_withdrawn_with_its_scopes(phone: Any) -> None:
    phone.step_up()
    phone.post(
        WITHDRAWALS,
        json={"choices": ["stop-everything-new", "no-contact"], "reason_declined": True},
    )

    [task] = phone.get("/api/v1/me/tasks").get_json()

    assert task["record_id"] == phone.rec.record_id
    assert (task["state"], task["phase"]) == ("withdrawn", "closed")
    assert task["withdrawn_scopes"] == ["full", "no-further-contact", "no-new-data"]
