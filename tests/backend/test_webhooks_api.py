"""Webhook subscriptions through the API: who may manage them, the secret shown once, the log.

Callers: a sponsor admin, or a service account with ``webhooks:manage`` for the
study and within its sites. A row per route; the matrix fails when a webhook
route has no row.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from consentkit.clock import now_utc
from consentkit.policy.roles import StaffRole
from consentkit.services import participation, webhooks
from consentkit.worker import Worker
from tests.backend.permission_helpers import bearer
from tests.backend.staff_helpers import auth, make_member, token_for
from tests.consentkit.records_helpers import STAFF, make_family
from tests.consentkit.webhook_helpers import Receiver, running_receiver

TRIAL = "DEMO-NBL-1"
BASE = "/api/v1/studies/<trial_id>/webhooks"
NOBODY_HERE = "http://127.0.0.1:9/hooks"


@dataclass(frozen=True)
class Row:
    rule: str
    method: str


ROWS = [
    Row(BASE, "GET"),
    Row(BASE, "POST"),
    Row(f"{BASE}/<subscription_id>", "GET"),
    Row(f"{BASE}/<subscription_id>", "PATCH"),
    Row(f"{BASE}/<subscription_id>/secret", "POST"),
    Row(f"{BASE}/<subscription_id>/deliveries", "GET"),
    Row(f"{BASE}/<subscription_id>/deliveries/<delivery_id>/redelivery", "POST"),
]

#: Caller -> whether it may manage the NL-01 subscription (None: no token at all).
CALLERS: dict[str, tuple[dict[str, Any] | str | None, bool]] = {
    "anonymous": (None, False),
    "account without webhooks:manage": ({"scopes": ("permissions:read",)}, False),
    "account for another site": ({"scopes": ("webhooks:manage",), "sites": ("FR-01",)}, False),
    "account of another study": (
        {"scopes": ("webhooks:manage",), "trial_id": "OTHER-1"},
        False,
    ),
    "account for the site": ({"scopes": ("webhooks:manage",), "sites": ("NL-01",)}, True),
    "account for every site": ({"scopes": ("webhooks:manage",)}, True),
    "sponsor admin": ("sponsor-admin", True),
    "investigator": ("investigator", False),
}


@pytest.fixture
def local_targets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONSENTKIT_WEBHOOK_ALLOW_HTTP", "1")
    monkeypatch.setenv("CONSENTKIT_WEBHOOK_ALLOW_PRIVATE", "1")


def _headers(client: Any, who: dict[str, Any] | str | None) -> dict[str, str]:
    if who is None:
        return {}
    if isinstance(who, dict):
        return bearer(client, **{"sites": ("*",), **who})
    member = make_member(
        client,
        f"{who}-{now_utc().timestamp()}@example.org",
        StaffRole(who),
        () if who == "sponsor-admin" else ("NL-01",),
    )
    return auth(token_for(client.application, member))


def _request(client: Any, row: Row, subscription_id: str, headers: dict[str, str]) -> Any:
    path = (
        row.rule.replace("<trial_id>", TRIAL)
        .replace("<subscription_id>", subscription_id)
        .replace("<delivery_id>", "0" * 24)  # 404 once the caller is allowed
    )
    if row.method == "GET":
        return client.get(path, headers=headers)
    if row.method == "PATCH":
        return client.patch(path, json={"event_types": ["consent.withdrawn"]}, headers=headers)
    body = {"url": NOBODY_HERE, "event_types": ["consent.withdrawn"], "sites": ["NL-01"]}
    return client.post(path, json=body if row.rule == BASE else {}, headers=headers)


def test_every_webhook_route_has_a_row(app: Any) -> None:
    rules = {
        (rule.rule, method)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/studies/<trial_id>/webhooks")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert rules == {(row.rule, row.method) for row in ROWS}


@pytest.mark.parametrize("caller", list(CALLERS))
def test_webhook_access_matrix(
    client: Any, demo_study: Any, local_targets: None, caller: str
) -> None:
    subscription, _secret = webhooks.create_subscription(
        TRIAL, url=NOBODY_HERE, event_types=["consent.withdrawn"], sites=["NL-01"], created_by="t"
    )
    who, may = CALLERS[caller]
    wrong = []
    for row in ROWS:
        response = _request(client, row, str(subscription.id), _headers(client, who))
        refused = response.status_code in (401, 403)
        if row.rule == BASE and row.method == "GET" and response.status_code == 200:
            # The list answers everyone with the scope, with only what they may see.
            refused = str(subscription.id) not in {s["id"] for s in response.get_json()}
        if refused == may or response.status_code >= 500:
            wrong.append((row.method, row.rule, response.status_code))
        if who is None:
            assert response.status_code == 401
        elif response.status_code in (401, 403):
            assert response.mimetype == "application/problem+json"
    assert not wrong, wrong


def test_sponsor_admin_sees_the_secret_once(
    client: Any, demo_study: Any, local_targets: None
) -> None:
    headers = _headers(client, "sponsor-admin")
    created = client.post(
        f"/api/v1/studies/{TRIAL}/webhooks",
        json={"url": NOBODY_HERE, "event_types": ["consent.withdrawn", "assent.dissent"]},
        headers=headers,
    )
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["secret"].startswith("whsec_")
    assert body["sites"] == ["*"]
    read = client.get(f"/api/v1/studies/{TRIAL}/webhooks/{body['id']}", headers=headers)
    assert read.status_code == 200
    assert "secret" not in read.get_json()
    assert body["secret"] not in read.get_data(as_text=True)


def test_rotating_the_secret_shows_the_new_one_once_and_when_the_old_one_ends(
    client: Any, demo_study: Any, local_targets: None
) -> None:
    headers = _headers(client, "sponsor-admin")
    created = client.post(
        f"/api/v1/studies/{TRIAL}/webhooks",
        json={"url": NOBODY_HERE, "event_types": ["consent.withdrawn"]},
        headers=headers,
    ).get_json()

    rotated = client.post(
        f"/api/v1/studies/{TRIAL}/webhooks/{created['id']}/secret", headers=headers
    )

    assert rotated.status_code == 200, rotated.get_json()
    body = rotated.get_json()
    assert body["secret"].startswith("whsec_")
    assert body["secret"] != created["secret"]
    assert body["previous_secret_until"] is not None
    [subscription] = webhooks.list_subscriptions(TRIAL)
    assert webhooks.signing_secrets(subscription, now_utc()) == [
        body["secret"],
        created["secret"],
    ]
    read = client.get(f"/api/v1/studies/{TRIAL}/webhooks/{created['id']}", headers=headers)
    assert body["secret"] not in read.get_data(as_text=True)


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("http://hooks.example.org/x", "webhook-url-not-https"),
        ("https://10.0.0.7/x", "webhook-url-private-address"),
        ("https://127.0.0.1:8443/x", "webhook-url-private-address"),
        ("https://user:pw@hooks.example.org/x", "webhook-url-invalid"),
    ],
)
def test_unsafe_targets_are_refused_with_a_code(
    client: Any, demo_study: Any, url: str, code: str
) -> None:
    created = client.post(
        f"/api/v1/studies/{TRIAL}/webhooks",
        json={"url": url, "event_types": ["consent.withdrawn"]},
        headers=bearer(client, scopes=("webhooks:manage",)),
    )
    assert created.status_code == 422, created.get_json()
    assert created.get_json()["error"] == code


def test_unknown_event_type_is_refused(client: Any, demo_study: Any, local_targets: None) -> None:
    created = client.post(
        f"/api/v1/studies/{TRIAL}/webhooks",
        json={"url": NOBODY_HERE, "event_types": ["consent.renamed"]},
        headers=bearer(client, scopes=("webhooks:manage",)),
    )
    assert created.status_code == 422
    assert created.get_json()["error"] == "unknown-webhook-event"


def test_account_limited_to_a_site_may_not_subscribe_for_every_site(
    client: Any, demo_study: Any, local_targets: None
) -> None:
    created = client.post(
        f"/api/v1/studies/{TRIAL}/webhooks",
        json={"url": NOBODY_HERE, "event_types": ["consent.withdrawn"], "sites": ["*"]},
        headers=bearer(client, scopes=("webhooks:manage",), sites=("NL-01",)),
    )
    assert created.status_code == 403


@pytest.fixture
def receiver(local_targets: None, free_port: int) -> Iterator[Receiver]:
    with running_receiver(free_port) as found:
        yield found


def test_service_account_subscribes_and_sees_the_delivery_in_the_log(
    client: Any, demo_study: Any, receiver: Receiver
) -> None:
    headers = bearer(client, scopes=("webhooks:manage",), sites=("FR-01",))
    created = client.post(
        f"/api/v1/studies/{TRIAL}/webhooks",
        json={"url": receiver.url, "event_types": ["consent.withdrawn"]},
        headers=headers,
    ).get_json()
    receiver.secret = created["secret"]
    family = make_family(site="FR-01")
    participation.withdraw(family.participant, scopes=["samples-destroy"], actor=STAFF)

    worker = Worker({})
    while worker.run_once():
        pass

    [event] = receiver.events
    assert event["data"]["scopes"] == ["samples-destroy"]
    log = client.get(
        f"/api/v1/studies/{TRIAL}/webhooks/{created['id']}/deliveries", headers=headers
    )
    [delivery] = log.get_json()
    assert (delivery["status"], delivery["attempts"], delivery["event_type"]) == (
        "sent",
        1,
        "consent.withdrawn",
    )
    again = client.post(
        f"/api/v1/studies/{TRIAL}/webhooks/{created['id']}/deliveries/"
        f"{delivery['delivery_id']}/redelivery",
        headers=headers,
    )
    assert again.status_code == 200
    assert again.get_json()["status"] == "queued"
    twice = client.post(
        f"/api/v1/studies/{TRIAL}/webhooks/{created['id']}/deliveries/"
        f"{delivery['delivery_id']}/redelivery",
        headers=headers,
    )
    assert twice.status_code == 409
    assert twice.get_json()["error"] == "webhook-delivery-pending"


def test_switching_a_subscription_off_and_on_is_in_its_history(
    client: Any, demo_study: Any, local_targets: None
) -> None:
    headers = _headers(client, "sponsor-admin")
    created = client.post(
        f"/api/v1/studies/{TRIAL}/webhooks",
        json={"url": NOBODY_HERE, "event_types": ["consent.withdrawn"]},
        headers=headers,
    ).get_json()
    url = f"/api/v1/studies/{TRIAL}/webhooks/{created['id']}"
    off = client.patch(url, json={"is_active": False}, headers=headers).get_json()
    on = client.patch(url, json={"is_active": True}, headers=headers).get_json()

    assert (off["is_active"], off["disabled_reason"]) == (False, "staff")
    assert (on["is_active"], on["disabled_reason"]) == (True, None)
    assert [h["type"] for h in on["history"]] == ["created", "disabled", "enabled"]
