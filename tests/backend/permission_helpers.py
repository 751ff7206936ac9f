"""Service accounts and tokens for the permission API tests (through the real endpoints)."""

from __future__ import annotations

from typing import Any

from consentkit.services import service_accounts

TRIAL = "DEMO-NBL-1"


def account(
    scopes: tuple[str, ...] = ("permissions:read",),
    sites: tuple[str, ...] = ("*",),
    trial_id: str = TRIAL,
) -> tuple[str, str]:
    """Create an account through the library and return its client id and secret."""
    created, secret = service_accounts.create_service_account(
        trial_id, name="Biobank", scopes=scopes, sites=sites, created_by="tests"
    )
    return created.client_id, secret


def token(client: Any, client_id: str, secret: str, scope: str | None = None) -> Any:
    """POST the client credentials to the token endpoint; return the response."""
    form = {"grant_type": "client_credentials"}
    if scope:
        form["scope"] = scope
    return client.post("/api/v1/oauth/token", data=form, auth=(client_id, secret))


def bearer(client: Any, **kwargs: Any) -> dict[str, str]:
    """Headers with a fresh service-account token."""
    client_id, secret = account(**kwargs)
    issued = token(client, client_id, secret)
    assert issued.status_code == 200, issued.get_json()
    return {"Authorization": f"Bearer {issued.get_json()['access_token']}"}
