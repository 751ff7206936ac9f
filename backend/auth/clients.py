"""Machine clients: Authlib's OAuth2 client-credentials token endpoint and the scope guard.

``require_client_scope`` is the one dependency every machine-facing endpoint
(permissions, FHIR, exports, webhooks) uses: a service-account bearer token with
the scope, for this study (and site), or (where the endpoint lets staff call
too) a signed-in staff member whose role allows the staff action there.
"""

from __future__ import annotations

from dataclasses import dataclass

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, grants
from flask import Flask, g, request

from backend.auth.staff import current_staff, session_id_from
from consentkit.errors import AuthenticationError
from consentkit.policy.roles import Action
from consentkit.services import service_accounts
from consentkit.services import staff as staff_service
from consentkit.services.service_accounts import Client, ServiceAccount
from consentkit.services.staff import Signed


class _OAuthClient(ClientMixin):  # type: ignore[misc]
    """Authlib's view of a service account (client credentials only, no redirects)."""

    def __init__(self, account: ServiceAccount) -> None:
        self.account = account

    def get_client_id(self) -> str:
        return str(self.account.client_id)

    def get_default_redirect_uri(self) -> None:
        return None

    def get_allowed_scope(self, scope: str) -> str:
        own = set(self.account.scopes)
        asked = set((scope or "").split()) if scope else own
        return " ".join(sorted(asked & own))

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        return service_accounts.check_client(self.account.client_id, client_secret) is not None

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "client_credentials"


def _query_client(client_id: str) -> _OAuthClient | None:
    account = service_accounts.active_account(client_id)
    return None if account is None else _OAuthClient(account)


def _save_token(token: dict[str, object], oauth_request: object) -> None:
    client: _OAuthClient = oauth_request.client  # type: ignore[attr-defined]
    scopes = str(token.get("scope") or "").split()
    service_accounts.save_token(client.account, str(token["access_token"]), scopes)


server = AuthorizationServer(query_client=_query_client, save_token=_save_token)


def init_oauth(app: Flask) -> None:
    """Attach the token endpoint's server to the app (client credentials, 15-minute tokens)."""
    app.config.setdefault(
        "OAUTH2_TOKEN_EXPIRES_IN",
        {"client_credentials": int(service_accounts.TOKEN_TTL.total_seconds())},
    )
    server.init_app(app)
    server.register_grant(grants.ClientCredentialsGrant)


@dataclass(frozen=True)
class Caller:
    """Who calls a machine-facing endpoint: a service account or a staff member."""

    client: Client | None = None
    staff: Signed | None = None

    def sites(self, action: Action, trial_id: str) -> frozenset[str] | None:
        """Return the sites the caller may see (None: every site)."""
        if self.client is not None:
            return self.client.sites
        assert self.staff is not None
        seen = staff_service.sites_for(self.staff, action, trial_id)
        return None if seen is None else frozenset(seen)


def authenticated_caller(*, staff: bool) -> Caller:
    """Return who calls, authenticated but not yet authorised for anything.

    A staff bearer token (only where ``staff``: the endpoint lets staff call too) or a
    service-account token, whose use is then logged and counted (one write). Cached
    for the request; every :func:`require_client_scope` still authorises its own scope.

    Raises:
        AuthenticationError: no token, or an unknown, expired or revoked one (401).
        RateLimitedError: over the account's calls per minute (429).
    """
    if "client_caller" in g:
        caller: Caller = g.client_caller
        return caller
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise AuthenticationError("Sign in to continue.")
    if staff and session_id_from(token) is not None:
        caller = Caller(staff=current_staff())
    else:
        client = service_accounts.authenticate(token)
        service_accounts.record_use(client, request.method, request.full_path.rstrip("?"))
        caller = Caller(client=client)
    g.client_caller = caller
    return caller


def require_client_scope(
    scope: str, trial_id: str, site_code: str | None = None, *, staff_action: Action | None = None
) -> Caller:
    """Return the caller if a service-account token carries ``scope`` here (one audited use).

    With ``staff_action`` a staff bearer token is accepted too, checked against that action.

    Raises:
        AuthenticationError: no token, or an unknown, expired or revoked one (401).
        PermissionDeniedError: no such scope, another study or another site (403).
        RateLimitedError: over the account's calls per minute (429).
    """
    caller = authenticated_caller(staff=staff_action is not None)
    if caller.staff is not None:
        assert staff_action is not None
        staff_service.authorise(caller.staff, staff_action, trial_id, site_code)
    else:
        assert caller.client is not None
        service_accounts.authorise(caller.client, scope, trial_id, site_code)
    return caller
