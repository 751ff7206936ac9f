"""The CDISC export: SDTM DS-style consent milestones and RFICDTC per subject (docs/cdisc.md).

Callers: a service account with ``export:read`` for the study (its sites' participants
only), or staff who may export there (their sites).
"""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView

from backend.auth.clients import require_client_scope
from backend.downloads import export_attachment
from backend.extensions import Blueprint
from backend.resources.cdisc.schemas import CdiscArgsSchema
from consentkit.policy.roles import Action
from consentkit.services import cdisc

blp = Blueprint(
    "cdisc",
    __name__,
    url_prefix="/studies/<trial_id>/cdisc",
    description="CDISC SDTM-style datasets of consent milestones (CSV, SAS XPT)",
)

SCOPE = "export:read"
SECURITY: list[dict[str, list[str]]] = [{"bearerAuth": []}]


@blp.route("/<any(ds, dm):dataset>")
class CdiscDatasetViews(MethodView):
    """One dataset of the study."""

    @blp.arguments(CdiscArgsSchema, location="query")
    @blp.response(200, description="The dataset as CSV or SAS transport (XPT)")
    @blp.alt_response(403, description="No export:read scope, or another study")
    @blp.doc(security=SECURITY)
    def get(self, args: dict[str, Any], trial_id: str, dataset: str) -> Response:
        """Download DS (consent, assent, withdrawal milestones) or DM (RFICDTC per subject)."""
        caller = require_client_scope(SCOPE, trial_id, staff_action=Action.EXPORT)
        return export_attachment(
            cdisc.export(
                trial_id, dataset, args["format"], sites=caller.sites(Action.EXPORT, trial_id)
            )
        )
