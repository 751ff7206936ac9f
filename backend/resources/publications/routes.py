"""Study news and the lay summary of results: a sponsor admin publishes, staff see the counts.

Publishing is ``manage-forms`` (the sponsor admin publishes what families read)
after a recent sign-in: it messages every family that receives news. Reading the
list, with how many were told and how many opened each, is ``view``.
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from backend.auth.staff import require
from backend.extensions import Blueprint
from backend.resources.publications.schemas import PublicationCreateSchema, PublicationSchema
from consentkit.policy.roles import Action
from consentkit.services import news
from consentkit.services import staff as staff_service

blp = Blueprint(
    "publications",
    __name__,
    url_prefix="/staff/studies/<trial_id>/publications",
    description="Study news and the lay summary of results, for families",
)

SECURITY: list[dict[str, list[str]]] = [{"bearerAuth": []}]


@blp.route("")
class PublicationsViews(MethodView):
    """A study's publications."""

    @blp.response(200, PublicationSchema(many=True))
    @blp.doc(security=SECURITY)
    def get(self, trial_id: str) -> list[news.PublicationView]:
        """List the study's news and results, newest first, with messages queued and reads."""
        require(Action.VIEW, trial_id)
        return news.publications(trial_id)

    @blp.arguments(PublicationCreateSchema)
    @blp.response(201, PublicationSchema)
    @blp.doc(security=SECURITY)
    def post(self, args: dict[str, Any], trial_id: str) -> news.PublicationView:
        """Publish news or the results summary; each family that receives news gets a message."""
        signed = require(Action.MANAGE_FORMS, trial_id)
        staff_service.require_recent_auth(signed)
        return news.publish_news(trial_id, by=str(signed.staff.id), **args)
