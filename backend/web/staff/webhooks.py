"""The sponsor admin's webhook pages: subscriptions, the secret shown once, the delivery log.

The same service as the JSON API (``backend/resources/webhooks``), with
``Action.MANAGE_STAFF`` on the study as a whole (docs/webhooks.md). A
subscription switched off after failures in a row is flagged on both pages.
"""

from __future__ import annotations

from typing import Any

from flask import redirect, request, url_for
from werkzeug.wrappers.response import Response as BaseResponse

from backend.web.staff import bp
from backend.web.staff.common import _, _check_csrf, _field, _locale, _render, _require
from consentkit.errors import InvalidDataError, PermissionDeniedError
from consentkit.i18n import N_
from consentkit.policy.roles import Action
from consentkit.policy.webhooks import EVENT_TYPES
from consentkit.services import webhooks

#: Messages shown after a redirect (``?done=``): fixed keys, never text from the address.
DONE: dict[str, str] = {
    "enabled": N_("The subscription is switched on again."),
    "disabled": N_("The subscription is switched off."),
    "redelivered": N_("The delivery is queued again."),
}


def _list_page(trial_id: str, status: int = 200, **extra: Any) -> tuple[str, int]:
    return _render(
        "webhooks.html",
        status,
        trial_id=trial_id,
        subscriptions=webhooks.list_subscriptions(trial_id),
        event_types=EVENT_TYPES,
        **extra,
    )


@bp.get("/studies/<trial_id>/webhooks")
def study_webhooks(trial_id: str) -> Any:
    """The study's webhook subscriptions, switched-off ones flagged; subscribe a URL."""
    _require(Action.MANAGE_STAFF, trial_id)
    return _list_page(trial_id)


@bp.post("/studies/<trial_id>/webhooks")
def create_webhook(trial_id: str) -> Any:
    """Subscribe a URL; the page shows its signing secret this once."""
    signed = _require(Action.MANAGE_STAFF, trial_id)
    _check_csrf(signed)
    try:
        subscription, secret = webhooks.create_subscription(
            trial_id,
            url=_field("url", 2000),
            event_types=[t for t in request.form.getlist("event_types") if t][:10],
            description=_field("description", 500),
            created_by=f"staff:{signed.staff.id}",
        )
    except (InvalidDataError, PermissionDeniedError) as exc:
        return _list_page(trial_id, 422, error=exc.translated(_locale()))
    return _list_page(trial_id, 201, created=subscription, secret=secret)


@bp.get("/studies/<trial_id>/webhooks/<subscription_id>")
def webhook(trial_id: str, subscription_id: str) -> Any:
    """One subscription: its flag, history and delivery log, with redelivery."""
    _require(Action.MANAGE_STAFF, trial_id)
    subscription = webhooks.get_subscription(trial_id, subscription_id)
    done = request.args.get("done", "")
    return _render(
        "webhook.html",
        trial_id=trial_id,
        subscription=subscription,
        deliveries=webhooks.deliveries(subscription),
        notice=_(DONE[done]) if done in DONE else None,
    )


@bp.post("/studies/<trial_id>/webhooks/<subscription_id>/active")
def switch_webhook(trial_id: str, subscription_id: str) -> BaseResponse:
    """Switch the subscription off, or on again (which restarts the count of failures)."""
    signed = _require(Action.MANAGE_STAFF, trial_id)
    _check_csrf(signed)
    subscription = webhooks.get_subscription(trial_id, subscription_id)
    on = _field("is_active", 5) == "yes"
    webhooks.update_subscription(subscription, by=f"staff:{signed.staff.id}", is_active=on)
    return redirect(
        url_for(
            ".webhook",
            trial_id=trial_id,
            subscription_id=subscription_id,
            done="enabled" if on else "disabled",
        )
    )


@bp.post("/studies/<trial_id>/webhooks/<subscription_id>/secret")
def rotate_webhook_secret(trial_id: str, subscription_id: str) -> Any:
    """Make a new signing secret, shown this once; the old one signs too for a day."""
    signed = _require(Action.MANAGE_STAFF, trial_id)
    _check_csrf(signed)
    subscription = webhooks.get_subscription(trial_id, subscription_id)
    secret, until = webhooks.rotate_secret(subscription, by=f"staff:{signed.staff.id}")
    return _render(
        "webhook.html",
        trial_id=trial_id,
        subscription=subscription,
        deliveries=webhooks.deliveries(subscription),
        secret=secret,
        previous_until=until,
    )


@bp.post("/studies/<trial_id>/webhooks/<subscription_id>/deliveries/<delivery_id>/redeliver")
def redeliver_webhook(trial_id: str, subscription_id: str, delivery_id: str) -> BaseResponse:
    """Queue a finished delivery again now."""
    signed = _require(Action.MANAGE_STAFF, trial_id)
    _check_csrf(signed)
    subscription = webhooks.get_subscription(trial_id, subscription_id)
    webhooks.redeliver(subscription, delivery_id, by=f"staff:{signed.staff.id}")
    return redirect(
        url_for(".webhook", trial_id=trial_id, subscription_id=subscription_id, done="redelivered")
    )
