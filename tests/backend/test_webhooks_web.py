"""The sponsor admin's webhook pages: subscribe with the secret shown once, see the flag."""

from __future__ import annotations

from typing import Any

import pytest

from consentkit.policy.roles import StaffRole
from consentkit.services import webhooks
from tests.backend.staff_helpers import STUDY, TRIAL, csrf_of, make_member, signed_in


@pytest.fixture
def admin(app: Any, client: Any, demo_study: Any) -> Any:
    signed_in(app, client, make_member(client, "admin@example.org", StaffRole.SPONSOR_ADMIN))
    return client


def test_subscribing_on_the_page_shows_the_secret_once(admin: Any) -> None:
    page = admin.get(f"{STUDY}/webhooks")
    created = admin.post(
        f"{STUDY}/webhooks",
        data={
            "csrf_token": csrf_of(page),
            "url": "https://93.184.215.14/hooks",
            "event_types": ["consent.withdrawn", "assent.dissent"],
        },
    )

    assert created.status_code == 201
    [subscription] = webhooks.list_subscriptions(TRIAL)
    secret = webhooks.secret_of(subscription)
    assert secret in created.get_data(as_text=True)
    assert secret not in admin.get(f"{STUDY}/webhooks").get_data(as_text=True)
    assert secret not in admin.get(f"{STUDY}/webhooks/{subscription.id}").get_data(as_text=True)


def test_unsafe_address_is_refused_on_the_page(admin: Any) -> None:
    page = admin.get(f"{STUDY}/webhooks")
    refused = admin.post(
        f"{STUDY}/webhooks",
        data={
            "csrf_token": csrf_of(page),
            "url": "https://169.254.169.254/latest",
            "event_types": ["consent.withdrawn"],
        },
    )

    assert refused.status_code == 422
    assert webhooks.list_subscriptions(TRIAL) == []


def test_subscription_switched_off_after_failures_is_flagged(admin: Any) -> None:
    subscription, _secret = webhooks.create_subscription(
        TRIAL, url="https://93.184.215.14/hooks", event_types=["consent.withdrawn"], created_by="t"
    )
    webhooks.WebhookSubscription.objects(id=subscription.id).update_one(
        set__is_active=False, set__disabled_reason="failures", set__consecutive_failures=15
    )

    listed = admin.get(f"{STUDY}/webhooks").get_data(as_text=True)
    one = admin.get(f"{STUDY}/webhooks/{subscription.id}").get_data(as_text=True)

    assert 'data-active="no"' in listed
    assert "Switched off after repeated failures" in listed
    assert 'id="switched-off"' in one


def test_rotating_the_secret_on_the_page_shows_it_once_with_the_overlap(admin: Any) -> None:
    subscription, old = webhooks.create_subscription(
        TRIAL, url="https://93.184.215.14/hooks", event_types=["consent.withdrawn"], created_by="t"
    )
    page = admin.get(f"{STUDY}/webhooks/{subscription.id}")
    assert 'id="rotate-secret"' in page.get_data(as_text=True)

    rotated = admin.post(
        f"{STUDY}/webhooks/{subscription.id}/secret", data={"csrf_token": csrf_of(page)}
    )

    assert rotated.status_code == 200
    subscription.reload()
    new = webhooks.secret_of(subscription)
    assert new != old
    text = rotated.get_data(as_text=True)
    assert new in text
    assert old not in text
    assert new not in admin.get(f"{STUDY}/webhooks/{subscription.id}").get_data(as_text=True)
