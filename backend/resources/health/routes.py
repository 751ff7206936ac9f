"""Health check for load balancers and people."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from backend.extensions import Blueprint
from backend.resources.health.schemas import HealthSchema
from consentkit import __version__
from consentkit import db as database

blp = Blueprint("health", __name__, url_prefix="/health", description="Service health")


@blp.route("")
class HealthViews(MethodView):
    """Health of the service and its database."""

    @blp.response(200, HealthSchema)
    @blp.alt_response(503, description="The database is not reachable")
    def get(self) -> dict[str, Any]:
        """Report service health, with a database round-trip."""
        latency = database.ping()  # raises DatabaseUnavailableError -> 503 problem body
        return {
            "status": "ok",
            "version": __version__,
            "database": {"status": "ok", "latency_ms": round(latency, 2)},
        }
