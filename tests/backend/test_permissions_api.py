"""The "may I?" permission API and its machine clients, through the real endpoints.

A biobank's service account with ``permissions:read`` asks about a participant;
the answer is the participation profile's, with the withdrawal that decided it.
Without the scope, or for another site, it is refused (403); a revoked or expired
token is not accepted (401).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from consentkit.clock import now_utc
from consentkit.models.service_account import ServiceCall, ServiceToken, ServiceUse
from consentkit.policy.roles import StaffRole
from consentkit.services import participation, service_accounts
from tests.backend.permission_helpers import account, bearer, token
from tests.backend.staff_helpers import auth, make_member, token_for
from tests.consentkit.records_helpers import STAFF, consented_family

URL = "/api/v1/permissions"
ONE = {"trial_id": "DEMO-NBL-1", "participant": "P-001"}


def _answers(response: Any) -> dict[str, dict[str, Any]]:
    assert response.status_code == 200, response.get_json()
    return {a["activity"]: a for a in response.get_json()["answers"]}


def test_permissions_permit_every_activity_after_a_complete_consent(
    client: Any, demo_study: Any
) -> None:
    _family, record = consented_family()
    answers = _answers(client.get(URL, query_string=ONE, headers=bearer(client)))
    assert {a["decision"] for a in answers.values()} == {"permit"}
    genetic = answers["sample-genetic-analysis"]["basis"]["records"]
    assert genetic == [
        {"record_id": record.record_id, "form_id": "parental-consent", "version": 2, "choice": True}
    ]


def test_permissions_deny_genetic_analysis_after_samples_destroyed_naming_the_withdrawal(
    client: Any, demo_study: Any
) -> None:
    family, _record = consented_family()
    event = participation.withdraw(family.participant, scopes=["samples-destroy"], actor=STAFF)
    answers = _answers(client.get(URL, query_string=ONE, headers=bearer(client)))
    genetic = answers["sample-genetic-analysis"]
    assert genetic["decision"] == "deny"
    assert genetic["reason"] == "withdrawn:samples-destroy"
    assert [e["seq"] for e in genetic["basis"]["events"]] == [event.seq]
    # Treatment is not what the family withdrew from.
    assert answers["treatment"]["decision"] == "permit"


def test_permissions_deny_unknown_participants_and_activities_with_a_reason(
    client: Any, demo_study: Any
) -> None:
    consented_family()
    headers = bearer(client)
    nobody = _answers(client.get(URL, query_string={**ONE, "participant": "NOPE"}, headers=headers))
    assert {(a["decision"], a["reason"]) for a in nobody.values()} == {
        ("deny", "unknown-participant")
    }
    odd = _answers(client.get(URL, query_string={**ONE, "activity": "cloning"}, headers=headers))
    assert odd["cloning"]["decision"] == "deny"
    assert odd["cloning"]["reason"] == "unknown-activity"


def test_permissions_batch_answers_equal_single_answers(client: Any, demo_study: Any) -> None:
    consented_family("P-001")
    family, _ = consented_family("P-002")
    participation.withdraw(family.participant, scopes=["no-further-contact"], actor=STAFF)
    headers = bearer(client)
    body = {"trial_id": "DEMO-NBL-1", "participants": ["P-002", "NOPE", "P-001"], "on": None}
    del body["on"]
    batch = client.post(URL, json=body, headers=headers)
    assert batch.status_code == 200, batch.get_json()
    results = batch.get_json()["results"]
    assert [r["participant"] for r in results] == ["P-002", "NOPE", "P-001"]
    for result in results:
        single = client.get(
            URL, query_string={**ONE, "participant": result["participant"]}, headers=headers
        )
        assert result["answers"] == single.get_json()["answers"]
    contact = {a["activity"]: a for a in results[0]["answers"]}["contact"]
    assert (contact["decision"], contact["reason"]) == ("deny", "withdrawn:no-further-contact")


def test_permissions_batch_refuses_more_than_a_thousand(client: Any, demo_study: Any) -> None:
    body = {"trial_id": "DEMO-NBL-1", "participants": [f"P-{i}" for i in range(1001)]}
    response = client.post(URL, json=body, headers=bearer(client))
    assert response.status_code == 422


# ---------------------------------------------------------------- access


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        ({}, 200),
        ({"scopes": ("fhir:read",)}, 403),  # no permissions:read
        ({"sites": ("NL-01",)}, 403),  # the family is at FR-01
        ({"sites": ("FR-01",)}, 200),
        ({"trial_id": "OTHER-TRIAL"}, 403),  # another study's account
    ],
)
def test_permissions_service_account_scope_and_site(
    client: Any, demo_study: Any, kwargs: dict[str, Any], status: int
) -> None:
    consented_family()
    response = client.get(URL, query_string=ONE, headers=bearer(client, **kwargs))
    assert response.status_code == status, response.get_json()
    batch = client.post(
        URL,
        json={"trial_id": "DEMO-NBL-1", "participants": ["P-001"]},
        headers=bearer(client, **kwargs),
    )
    assert batch.status_code == status, batch.get_json()


def test_permissions_refuse_no_token_revoked_and_expired_tokens(
    client: Any, demo_study: Any
) -> None:
    consented_family()
    assert client.get(URL, query_string=ONE).status_code == 401
    assert client.get(URL, query_string=ONE, headers=auth("made-up")).status_code == 401
    client_id, secret = account()
    issued = token(client, client_id, secret).get_json()["access_token"]
    assert client.get(URL, query_string=ONE, headers=auth(issued)).status_code == 200
    ServiceToken.objects(client_id=client_id).update(set__expires_at=now_utc() - timedelta(1))
    assert client.get(URL, query_string=ONE, headers=auth(issued)).status_code == 401
    fresh = token(client, client_id, secret).get_json()["access_token"]
    service_accounts.revoke("DEMO-NBL-1", client_id, by="tests")
    refused = client.get(URL, query_string=ONE, headers=auth(fresh))
    assert refused.status_code == 401
    assert refused.mimetype == "application/problem+json"
    assert token(client, client_id, secret).status_code == 401  # no new token either


@pytest.mark.parametrize(
    ("role", "sites", "status"),
    [
        ("monitor", ("FR-01",), 200),
        ("investigator", ("NL-01",), 403),
        ("sponsor-admin", (), 200),
    ],
)
def test_permissions_staff_may_ask_where_they_may_view(
    client: Any, demo_study: Any, role: str, sites: tuple[str, ...], status: int
) -> None:
    consented_family()
    member = make_member(client, f"{role}@example.org", StaffRole(role), sites)
    response = client.get(
        URL, query_string=ONE, headers=auth(token_for(client.application, member))
    )
    assert response.status_code == status, response.get_json()


# ---------------------------------------------------------------- service accounts


def test_token_endpoint_refuses_a_wrong_or_rotated_secret(client: Any, demo_study: Any) -> None:
    client_id, secret = account()
    assert token(client, client_id, "wrong").status_code == 401
    _, new_secret = service_accounts.rotate_secret("DEMO-NBL-1", client_id, by="tests")
    assert token(client, client_id, secret).status_code == 401
    issued = token(client, client_id, new_secret)
    assert issued.status_code == 200
    assert issued.get_json()["scope"] == "permissions:read"


def test_token_endpoint_grants_only_the_accounts_scopes(client: Any, demo_study: Any) -> None:
    client_id, secret = account(scopes=("permissions:read",))
    asked = token(client, client_id, secret, scope="permissions:read export:read")
    assert asked.status_code == 200
    stored = ServiceToken.objects(client_id=client_id).first()
    assert stored.scopes == ["permissions:read"]


def test_every_call_is_logged_in_one_write_and_rate_limited(
    client: Any, demo_study: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    consented_family()
    monkeypatch.setattr(service_accounts, "CALLS_PER_MINUTE", 2)
    headers = bearer(client)
    statuses = [client.get(URL, query_string=ONE, headers=headers).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    uses = list(ServiceUse.objects())
    # The two answered calls are logged; the refused one is counted as refused.
    assert sum(u.count for u in uses) == 2
    assert sum(u.refused for u in uses) == 1
    calls = list(ServiceCall.objects())
    assert len(calls) == 2
    assert all(c.path.startswith("/api/v1/permissions") for c in calls)


def test_the_staff_page_knows_when_an_account_last_called(client: Any, demo_study: Any) -> None:
    consented_family()
    client_id, secret = account()
    assert service_accounts.last_used([client_id]) == {}  # issuing a token is not a call
    issued = token(client, client_id, secret).get_json()["access_token"]
    before = now_utc()
    answered = client.get(URL, query_string=ONE, headers={"Authorization": f"Bearer {issued}"})
    assert answered.status_code == 200
    last = service_accounts.last_used([client_id])[client_id]
    assert before - timedelta(seconds=1) <= last <= now_utc()


def test_sponsor_admin_creates_rotates_and_revokes_a_service_account(
    client: Any, demo_study: Any
) -> None:
    admin = make_member(client, "admin@example.org", StaffRole.SPONSOR_ADMIN)
    headers = auth(token_for(client.application, admin))
    base = "/api/v1/staff/studies/DEMO-NBL-1/service-accounts"
    body = {"name": "Biobank", "scopes": ["permissions:read"], "sites": ["FR-01"]}
    created = client.post(base, json=body, headers=headers)
    assert created.status_code == 201, created.get_json()
    client_id, secret = created.get_json()["client_id"], created.get_json()["client_secret"]
    assert token(client, client_id, secret).status_code == 200
    listed = client.get(base, headers=headers).get_json()
    assert [a["client_id"] for a in listed] == [client_id]
    assert "client_secret" not in listed[0]
    rotated = client.post(f"{base}/{client_id}/secret", headers=headers).get_json()
    assert token(client, client_id, rotated["client_secret"]).status_code == 200
    revoked = client.post(f"{base}/{client_id}/revocation", headers=headers)
    assert revoked.get_json()["revoked_at"] is not None
    assert token(client, client_id, rotated["client_secret"]).status_code == 401


def test_service_account_refuses_an_unknown_scope(client: Any, demo_study: Any) -> None:
    admin = make_member(client, "admin@example.org", StaffRole.SPONSOR_ADMIN)
    body = {"name": "Biobank", "scopes": ["everything"], "sites": ["*"]}
    response = client.post(
        "/api/v1/staff/studies/DEMO-NBL-1/service-accounts",
        json=body,
        headers=auth(token_for(client.application, admin)),
    )
    assert response.status_code == 422


def test_a_token_issued_while_its_account_is_revoked_does_not_work(
    client: Any, demo_study: Any
) -> None:
    # The token endpoint found the account active, then a sponsor admin revoked it before
    # the token was saved: calls trust the token alone, so saving it must not let it live.
    client_id, _secret = account()
    found = service_accounts.active_account(client_id)
    assert found is not None
    service_accounts.revoke("DEMO-NBL-1", client_id, by="admin")
    service_accounts.save_token(found, "late-token", ["permissions:read"])

    response = client.get(URL, query_string=ONE, headers={"Authorization": "Bearer late-token"})

    assert response.status_code == 401
