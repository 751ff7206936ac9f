"""Service accounts of a study: a sponsor admin creates, rotates and revokes them.

Managing them is a staff change (``manage-staff``, a recent sign-in); the
secret is shown once, on creation and on rotation.
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from backend.auth.staff import require
from backend.extensions import Blueprint
from backend.resources.service_accounts.schemas import (
    ServiceAccountCreateSchema,
    ServiceAccountSchema,
    ServiceAccountSecretSchema,
)
from consentkit.policy.roles import Action
from consentkit.services import service_accounts
from consentkit.services import staff as staff_service
from consentkit.services.service_accounts import ServiceAccount

blp = Blueprint(
    "service_accounts",
    __name__,
    url_prefix="/staff/studies/<trial_id>/service-accounts",
    description="Machine clients of a study (OAuth2 client credentials)",
)

SECURITY: list[dict[str, list[str]]] = [{"bearerAuth": []}]


def _view(account: ServiceAccount, secret: str | None = None) -> dict[str, Any]:
    view = {
        name: getattr(account, name)
        for name in (
            "client_id",
            "name",
            "scopes",
            "sites",
            "created_at",
            "secret_rotated_at",
            "revoked_at",
        )
    }
    return view if secret is None else {**view, "client_secret": secret}


@blp.route("")
class ServiceAccountsViews(MethodView):
    """A study's service accounts."""

    @blp.response(200, ServiceAccountSchema(many=True))
    @blp.doc(security=SECURITY)
    def get(self, trial_id: str) -> list[dict[str, Any]]:
        """List the study's service accounts, revoked ones too."""
        require(Action.MANAGE_STAFF, trial_id)
        return [_view(a) for a in service_accounts.list_accounts(trial_id)]

    @blp.arguments(ServiceAccountCreateSchema)
    @blp.response(201, ServiceAccountSecretSchema)
    @blp.doc(security=SECURITY)
    def post(self, args: dict[str, Any], trial_id: str) -> dict[str, Any]:
        """Create a service account; the response carries its secret this once."""
        signed = require(Action.MANAGE_STAFF, trial_id)
        staff_service.require_recent_auth(signed)
        account, secret = service_accounts.create_service_account(
            trial_id, created_by=str(signed.staff.id), **args
        )
        return _view(account, secret)


@blp.route("/<client_id>/secret")
class ServiceAccountSecretViews(MethodView):
    """The account's secret."""

    @blp.response(200, ServiceAccountSecretSchema)
    @blp.doc(security=SECURITY)
    def post(self, trial_id: str, client_id: str) -> dict[str, Any]:
        """Rotate the secret: the old one stops working at once."""
        signed = require(Action.MANAGE_STAFF, trial_id)
        staff_service.require_recent_auth(signed)
        account, secret = service_accounts.rotate_secret(
            trial_id, client_id, by=str(signed.staff.id)
        )
        return _view(account, secret)


@blp.route("/<client_id>/revocation")
class ServiceAccountRevocationViews(MethodView):
    """Ending an account."""

    @blp.response(200, ServiceAccountSchema)
    @blp.doc(security=SECURITY)
    def post(self, trial_id: str, client_id: str) -> dict[str, Any]:
        """Revoke the account and every token it holds (it is kept, never deleted)."""
        signed = require(Action.MANAGE_STAFF, trial_id)
        staff_service.require_recent_auth(signed)
        return _view(service_accounts.revoke(trial_id, client_id, by=str(signed.staff.id)))
