"""The study's news and results for the signed-in family member, and their read receipts."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from backend.auth import current_session
from backend.extensions import Blueprint
from backend.resources.news.schemas import NewsItemSchema, NewsQueryArgsSchema, NewsReadSchema
from consentkit.services import news

blp = Blueprint(
    "news",
    __name__,
    url_prefix="/me/news",
    description="Study news and the lay summary of results, for the signed-in family member",
)

SECURITY: list[dict[str, list[str]]] = [{"bearerAuth": []}]


@blp.route("")
class NewsViews(MethodView):
    """The study's publications."""

    @blp.arguments(NewsQueryArgsSchema, location="query")
    @blp.response(200, NewsItemSchema(many=True))
    @blp.doc(security=SECURITY)
    def get(self, args: dict[str, Any]) -> list[news.NewsItem]:
        """The study's news and results, newest first, in the signer's language, read or not."""
        return news.my_news(current_session(), locale=args["lang"])


@blp.route("/<publication_id>/read")
class NewsReadViews(MethodView):
    """A read receipt."""

    @blp.response(200, NewsReadSchema)
    @blp.doc(security=SECURITY)
    def post(self, publication_id: str) -> dict[str, bool]:
        """Mark a publication as opened (counted once per family member)."""
        return {"is_new": news.mark_my_read(current_session(), publication_id)}
