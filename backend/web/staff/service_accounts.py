"""The sponsor admin's page for a study's service accounts (machine clients).

The same service as the JSON API (``backend/resources/service_accounts``):
``Action.MANAGE_STAFF`` on the study, and a recent sign-in (password and code
again) before an account is created, its secret rotated or the account revoked,
as the API asks. The secret is shown once, on the page that answers the create
or the rotation, never again (docs/permissions.md#service-accounts).
"""

from __future__ import annotations

from typing import Any

from flask import redirect, request, url_for
from werkzeug.wrappers.response import Response as BaseResponse

from backend.web.staff import bp
from backend.web.staff.common import (
    _,
    _check_csrf,
    _field,
    _locale,
    _needs_reauth,
    _reauth_redirect,
    _render,
    _require,
    _study_sites,
)
from consentkit.errors import InvalidDataError, PermissionDeniedError
from consentkit.i18n import N_
from consentkit.policy.roles import Action
from consentkit.services import service_accounts

#: What each scope lets a system do, for the admin choosing them.
SCOPE_HELP: dict[str, str] = {
    "permissions:read": N_("Ask whether an activity is permitted for a participant today."),
    "fhir:read": N_("Read consents as FHIR resources."),
    "webhooks:manage": N_("Manage the study's webhook subscriptions."),
    "export:read": N_("Download the study's exports (CDISC)."),
}

#: Messages shown after a redirect (``?done=``): fixed keys, never text from the address.
DONE: dict[str, str] = {"revoked": N_("The service account is revoked.")}


def _list_page(trial_id: str, status: int = 200, **extra: Any) -> tuple[str, int]:
    accounts = service_accounts.list_accounts(trial_id)
    done = request.args.get("done", "")
    return _render(
        "service_accounts.html",
        status,
        trial_id=trial_id,
        accounts=accounts,
        last_used=service_accounts.last_used([a.client_id for a in accounts]),
        scopes=[(scope, _(SCOPE_HELP[scope])) for scope in service_accounts.SCOPES],
        sites=_study_sites(trial_id),
        all_sites=service_accounts.ALL_SITES,
        notice=_(DONE[done]) if done in DONE else None,
        **extra,
    )


def _here(trial_id: str) -> str:
    return url_for(".service_accounts_page", trial_id=trial_id)


@bp.get("/studies/<trial_id>/service-accounts")
def service_accounts_page(trial_id: str) -> Any:
    """The study's service accounts (revoked ones too), with their last call; create one."""
    _require(Action.MANAGE_STAFF, trial_id)
    return _list_page(trial_id)


@bp.post("/studies/<trial_id>/service-accounts")
def create_service_account(trial_id: str) -> Any:
    """Create an account; the page shows its client id and secret this once."""
    signed = _require(Action.MANAGE_STAFF, trial_id)
    _check_csrf(signed)
    if _needs_reauth(signed):
        return _reauth_redirect(_here(trial_id))
    try:
        account, secret = service_accounts.create_service_account(
            trial_id,
            name=_field("name", 200),
            scopes=[s for s in request.form.getlist("scopes") if s][:10],
            sites=[s for s in request.form.getlist("sites") if s][:200],
            created_by=str(signed.staff.id),
        )
    except InvalidDataError as exc:
        return _list_page(trial_id, 422, error=exc.translated(_locale()))
    return _list_page(trial_id, 201, shown=account, secret=secret)


@bp.post("/studies/<trial_id>/service-accounts/<client_id>/secret")
def rotate_service_account_secret(trial_id: str, client_id: str) -> Any:
    """Replace the secret; the old one stops working at once; the new one is shown once."""
    signed = _require(Action.MANAGE_STAFF, trial_id)
    _check_csrf(signed)
    if _needs_reauth(signed):
        return _reauth_redirect(_here(trial_id))
    try:
        account, secret = service_accounts.rotate_secret(
            trial_id, client_id, by=str(signed.staff.id)
        )
    except PermissionDeniedError as exc:
        return _list_page(trial_id, 409, error=exc.translated(_locale()))
    return _list_page(trial_id, 200, shown=account, secret=secret)


@bp.post("/studies/<trial_id>/service-accounts/<client_id>/revocation")
def revoke_service_account(trial_id: str, client_id: str) -> BaseResponse:
    """Revoke the account and its tokens at once (kept on the list, never deleted)."""
    signed = _require(Action.MANAGE_STAFF, trial_id)
    _check_csrf(signed)
    if _needs_reauth(signed):
        return _reauth_redirect(_here(trial_id))
    service_accounts.revoke(trial_id, client_id, by=str(signed.staff.id))
    return redirect(url_for(".service_accounts_page", trial_id=trial_id, done="revoked"))
