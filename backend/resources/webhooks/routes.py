"""Webhook subscriptions of a study: a sponsor admin, or a service account for its sites.

Callers: a service account with ``webhooks:manage`` for the study (subscriptions
within its sites only), or staff whose role may manage the study's staff and
machine clients (a sponsor admin). The secret is shown once (docs/webhooks.md).
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from backend.auth.clients import Caller, require_client_scope
from backend.extensions import Blueprint
from backend.resources.webhooks.schemas import (
    DeliverySchema,
    WebhookCreateSchema,
    WebhookSchema,
    WebhookSecretSchema,
    WebhookUpdateSchema,
)
from consentkit.policy.roles import Action
from consentkit.services import webhooks
from consentkit.services.webhooks import WebhookSubscription

blp = Blueprint(
    "webhooks",
    __name__,
    url_prefix="/studies/<trial_id>/webhooks",
    description="Webhook subscriptions: signed events to other systems",
)

SCOPE = "webhooks:manage"
ACTION = Action.MANAGE_STAFF
SECURITY: list[dict[str, list[str]]] = [{"bearerAuth": []}]


def _caller(trial_id: str) -> tuple[Caller, frozenset[str] | None, str]:
    caller = require_client_scope(SCOPE, trial_id, staff_action=ACTION)
    if caller.client is not None:
        by = f"client:{caller.client.client_id}"
    else:
        assert caller.staff is not None
        by = f"staff:{caller.staff.staff.id}"
    return caller, caller.sites(ACTION, trial_id), by


def _view(subscription: WebhookSubscription, secret: str | None = None) -> dict[str, Any]:
    view = {
        "id": str(subscription.id),
        **{
            name: getattr(subscription, name)
            for name in (
                "trial_id",
                "url",
                "event_types",
                "sites",
                "description",
                "is_active",
                "disabled_reason",
                "disabled_at",
                "consecutive_failures",
                "created_by",
                "created_at",
                "previous_secret_until",
                "history",
            )
        },
    }
    return view if secret is None else {**view, "secret": secret}


@blp.route("")
class WebhooksViews(MethodView):
    """A study's webhook subscriptions."""

    @blp.response(200, WebhookSchema(many=True))
    @blp.alt_response(403, description="No webhooks:manage scope, or another study")
    @blp.doc(security=SECURITY)
    def get(self, trial_id: str) -> list[dict[str, Any]]:
        """List the subscriptions the caller may see (within its sites)."""
        _, sites, _by = _caller(trial_id)
        return [_view(s) for s in webhooks.list_subscriptions(trial_id, allowed_sites=sites)]

    @blp.arguments(WebhookCreateSchema)
    @blp.response(201, WebhookSecretSchema)
    @blp.alt_response(403, description="No webhooks:manage scope, another study or site")
    @blp.doc(security=SECURITY)
    def post(self, args: dict[str, Any], trial_id: str) -> dict[str, Any]:
        """Subscribe a URL; the response carries its signing secret this once."""
        _, sites, by = _caller(trial_id)
        subscription, secret = webhooks.create_subscription(
            trial_id, created_by=by, allowed_sites=sites, **args
        )
        return _view(subscription, secret)


@blp.route("/<subscription_id>")
class WebhookByIdViews(MethodView):
    """One subscription."""

    @blp.response(200, WebhookSchema)
    @blp.doc(security=SECURITY)
    def get(self, trial_id: str, subscription_id: str) -> dict[str, Any]:
        """Read a subscription, with its switched-off flag and history."""
        _, sites, _by = _caller(trial_id)
        return _view(webhooks.get_subscription(trial_id, subscription_id, allowed_sites=sites))

    @blp.arguments(WebhookUpdateSchema)
    @blp.response(200, WebhookSchema)
    @blp.doc(security=SECURITY)
    def patch(self, args: dict[str, Any], trial_id: str, subscription_id: str) -> dict[str, Any]:
        """Change the URL or event types, or switch the subscription off or on."""
        _, sites, by = _caller(trial_id)
        subscription = webhooks.get_subscription(trial_id, subscription_id, allowed_sites=sites)
        return _view(webhooks.update_subscription(subscription, by=by, **args))


@blp.route("/<subscription_id>/secret")
class WebhookSecretViews(MethodView):
    """Rotating a subscription's signing secret."""

    @blp.response(200, WebhookSecretSchema)
    @blp.doc(security=SECURITY)
    def post(self, trial_id: str, subscription_id: str) -> dict[str, Any]:
        """Make a new secret, shown this once; the old one also signs for 24 hours."""
        _, sites, by = _caller(trial_id)
        subscription = webhooks.get_subscription(trial_id, subscription_id, allowed_sites=sites)
        secret, _until = webhooks.rotate_secret(subscription, by=by)
        return _view(subscription, secret)


@blp.route("/<subscription_id>/deliveries")
class WebhookDeliveriesViews(MethodView):
    """A subscription's delivery log."""

    @blp.response(200, DeliverySchema(many=True))
    @blp.doc(security=SECURITY)
    def get(self, trial_id: str, subscription_id: str) -> list[dict[str, Any]]:
        """List its deliveries, newest first: status, attempts, last error."""
        _, sites, _by = _caller(trial_id)
        subscription = webhooks.get_subscription(trial_id, subscription_id, allowed_sites=sites)
        return [d.to_dict() for d in webhooks.deliveries(subscription)]


@blp.route("/<subscription_id>/deliveries/<delivery_id>/redelivery")
class WebhookRedeliveryViews(MethodView):
    """Sending a delivery again."""

    @blp.response(200, DeliverySchema)
    @blp.alt_response(409, description="webhook-delivery-pending: still queued or being sent")
    @blp.doc(security=SECURITY)
    def post(self, trial_id: str, subscription_id: str, delivery_id: str) -> dict[str, Any]:
        """Queue a finished delivery again now (same webhook-id and body)."""
        _, sites, by = _caller(trial_id)
        subscription = webhooks.get_subscription(trial_id, subscription_id, allowed_sites=sites)
        return webhooks.redeliver(subscription, delivery_id, by=by).to_dict()
