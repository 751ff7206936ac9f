"""The sponsor admin's service-account page: create with the secret shown once, rotate, revoke.

What a sponsor admin would check by hand: the system can sign in with what the page
showed, the secret is never shown again, a rotated secret stops the old one at once,
a revoked account stays listed and can no longer sign in, and the page says when each
system last called.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from consentkit.policy.roles import StaffRole
from consentkit.services import service_accounts
from tests.backend.permission_helpers import token
from tests.backend.staff_helpers import STUDY, TRIAL, csrf_of, make_member, signed_in

PAGE = f"{STUDY}/service-accounts"


@pytest.fixture
def admin(app: Any, client: Any, demo_study: Any) -> Any:
    signed_in(app, client, make_member(client, "admin@example.org", StaffRole.SPONSOR_ADMIN))
    return client


def _shown(page: str) -> tuple[str, str]:
    client_id = re.search(r'id="client-id">([^<]+)<', page)
    secret = re.search(r'id="client-secret">([^<]+)<', page)
    assert client_id and secret, "the page shows the client id and secret"
    return client_id.group(1), secret.group(1)


def _create(admin: Any) -> tuple[Any, str, str]:
    created = admin.post(
        PAGE,
        data={
            "csrf_token": csrf_of(admin.get(PAGE)),
            "name": "Biobank <Leiden>",
            "scopes": ["permissions:read", "fhir:read"],
            "sites": ["NL-01"],
        },
    )
    client_id, secret = _shown(created.get_data(as_text=True))
    return created, client_id, secret


def test_account_made_on_the_page_signs_in_with_the_secret_shown_once(
    admin: Any, client: Any
) -> None:
    created, client_id, secret = _create(admin)

    assert created.status_code == 201
    assert "Biobank &lt;Leiden&gt;" in created.get_data(as_text=True)  # escaped, not markup
    assert token(client, client_id, secret).status_code == 200
    listed = admin.get(PAGE).get_data(as_text=True)
    assert client_id in listed and secret not in listed
    [account] = service_accounts.list_accounts(TRIAL)
    assert (account.scopes, account.sites) == (["fhir:read", "permissions:read"], ["NL-01"])


def test_rotating_on_the_page_stops_the_old_secret_at_once(admin: Any, client: Any) -> None:
    _created, client_id, old = _create(admin)

    rotated = admin.post(
        f"{PAGE}/{client_id}/secret", data={"csrf_token": csrf_of(admin.get(PAGE))}
    )

    same_id, new = _shown(rotated.get_data(as_text=True))
    assert same_id == client_id and new != old
    assert token(client, client_id, old).status_code == 401
    assert token(client, client_id, new).status_code == 200


def test_revoked_account_stays_listed_and_cannot_sign_in(admin: Any, client: Any) -> None:
    _created, client_id, secret = _create(admin)

    revoked = admin.post(
        f"{PAGE}/{client_id}/revocation", data={"csrf_token": csrf_of(admin.get(PAGE))}
    )
    page = admin.get(revoked.location).get_data(as_text=True)

    assert revoked.status_code == 302
    assert "The service account is revoked." in page
    assert f'data-client="{client_id}" data-revoked="yes"' in page
    assert token(client, client_id, secret).status_code == 401


def test_page_says_when_each_system_last_called(admin: Any, client: Any) -> None:
    _created, client_id, secret = _create(admin)
    assert "never" in admin.get(PAGE).get_data(as_text=True)

    issued = token(client, client_id, secret).get_json()["access_token"]
    asked = client.get(
        "/api/v1/permissions",
        query_string={"trial_id": TRIAL, "participant": "NL-01-0001", "activity": "treatment"},
        headers={"Authorization": f"Bearer {issued}"},
    )
    assert asked.status_code < 500

    row = re.search(
        rf'<tr data-client="{client_id}".*?</tr>', admin.get(PAGE).get_data(as_text=True), re.S
    )
    assert row is not None and "never" not in row.group(0)


def test_unknown_scope_is_refused_on_the_page_and_nothing_is_made(admin: Any) -> None:
    refused = admin.post(
        PAGE,
        data={
            "csrf_token": csrf_of(admin.get(PAGE)),
            "name": "EDC",
            "scopes": ["records:write"],
            "sites": ["*"],
        },
    )

    assert refused.status_code == 422
    assert 'role="alert"' in refused.get_data(as_text=True)
    assert service_accounts.list_accounts(TRIAL) == []
