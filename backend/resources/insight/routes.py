"""Comprehension insight for staff: time per section, questions most often wrong, attempts.

Aggregates over the member's sites (``view``; the CSV ``export``), small groups
hidden by :mod:`consentkit.policy.insight`: nothing identifies a family.
"""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView

from backend.auth.staff import require
from backend.extensions import Blueprint
from backend.resources.insight.schemas import InsightQueryArgsSchema, InsightSchema
from consentkit.policy.roles import Action
from consentkit.services import insight
from consentkit.services import staff as staff_service

blp = Blueprint(
    "insight",
    __name__,
    url_prefix="/staff/studies/<trial_id>/insight",
    description="Comprehension insight: how families read and understood the forms",
)

SECURITY: list[dict[str, list[str]]] = [{"bearerAuth": []}]


@blp.route("")
class InsightViews(MethodView):
    """A study's comprehension insight."""

    @blp.arguments(InsightQueryArgsSchema, location="query")
    @blp.response(200, InsightSchema)
    @blp.doc(security=SECURITY)
    def get(self, args: dict[str, Any], trial_id: str) -> dict[str, Any]:
        """Time per section, questions most often wrong, several attempts (small groups hidden)."""
        signed = require(Action.VIEW, trial_id, args["site"])
        sites = staff_service.site_filter(signed, Action.VIEW, trial_id, args["site"])
        return insight.study_insight(trial_id, sites=sites).to_dict()


@blp.route("/export")
class InsightExportViews(MethodView):
    """The insight as CSV."""

    @blp.arguments(InsightQueryArgsSchema, location="query")
    @blp.response(200, content_type="text/csv")
    @blp.doc(security=SECURITY)
    def get(self, args: dict[str, Any], trial_id: str) -> Response:
        """Download the insight as CSV, one row per figure (groups under 5 hidden)."""
        signed = require(Action.EXPORT, trial_id, args["site"])
        sites = staff_service.site_filter(signed, Action.EXPORT, trial_id, args["site"])
        content = insight.to_csv(insight.study_insight(trial_id, sites=sites))
        filename = f"{trial_id}-comprehension-insight.csv".replace('"', "")
        return Response(
            content,
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )
