"""The "may I?" permission API: permit or deny per activity, from the participation profile.

Callers: a service account with ``permissions:read`` for the study (and the
participant's site), or staff who may view there. Unknown participants and
activities are denied with a reason code (docs/permissions.md).
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from backend.auth.clients import require_client_scope
from backend.extensions import Blueprint
from backend.resources.permissions.schemas import (
    PermissionArgsSchema,
    PermissionBatchResultSchema,
    PermissionBatchSchema,
    PermissionSchema,
)
from consentkit.clock import now_utc
from consentkit.policy.roles import Action
from consentkit.services import permissions

blp = Blueprint(
    "permissions",
    __name__,
    url_prefix="/permissions",
    description='"May I?": permit or deny per activity, with its basis',
)

SCOPE = "permissions:read"
SECURITY: list[dict[str, list[str]]] = [{"bearerAuth": []}]


@blp.route("")
class PermissionViews(MethodView):
    """What one participant, or many, permit now."""

    @blp.arguments(PermissionArgsSchema, location="query")
    @blp.response(200, PermissionSchema)
    @blp.alt_response(401, description="No token, or an expired or revoked one")
    @blp.alt_response(403, description="No permissions:read scope, or another study or site")
    @blp.doc(security=SECURITY)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Answer permit or deny for one participant (every activity unless one is named)."""
        trial_id = args["trial_id"]
        caller = require_client_scope(SCOPE, trial_id, staff_action=Action.VIEW)
        return permissions.permissions_for(
            trial_id,
            args["participant"],
            activities=[args["activity"]] if args.get("activity") else None,
            at=args.get("on"),
            sites=caller.sites(Action.VIEW, trial_id),
        )

    @blp.arguments(PermissionBatchSchema)
    @blp.response(200, PermissionBatchResultSchema)
    @blp.alt_response(401, description="No token, or an expired or revoked one")
    @blp.alt_response(403, description="No permissions:read scope, or another study or site")
    @blp.doc(security=SECURITY)
    def post(self, args: dict[str, Any]) -> dict[str, Any]:
        """Answer permit or deny for up to 1,000 participants at once."""
        trial_id = args["trial_id"]
        caller = require_client_scope(SCOPE, trial_id, staff_action=Action.VIEW)
        at = args.get("on") or now_utc()
        results = permissions.permissions_for_many(
            trial_id,
            args["participants"],
            activities=args.get("activities") or None,
            at=at,
            sites=caller.sites(Action.VIEW, trial_id),
        )
        return {"trial_id": trial_id, "at": at, "results": results}
