"""Who must consent, decided by the jurisdiction rule pack."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from backend.extensions import Blueprint
from backend.resources.requirements.schemas import (
    RequirementsQueryArgsSchema,
    RequirementsSchema,
)
from consentkit.clock import today_utc
from consentkit.policy.jurisdiction import decide_requirements

blp = Blueprint(
    "requirements", __name__, url_prefix="/requirements", description="Consent requirements"
)


@blp.route("")
class RequirementsViews(MethodView):
    """Requirements for a birth date and country."""

    @blp.arguments(RequirementsQueryArgsSchema, location="query")
    @blp.response(200, RequirementsSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Decide who must consent (guardians, the child's role, forms, next transition)."""
        return decide_requirements(
            birth_date=args["birth_date"],
            country=args["country"],
            on=args.get("on") or today_utc(),
            trial_type=args["trial_type"],
        ).to_dict()
