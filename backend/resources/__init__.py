"""One package per resource, each with ``routes.py`` (``blp``) and ``schemas.py``."""

from __future__ import annotations

from backend.extensions import Api
from backend.resources.health.routes import blp as health_blp


def register_blueprints(api: Api) -> None:
    """Register every resource blueprint under ``/api/v1``."""
    for blp in (health_blp,):
        api.register_blueprint(blp, url_prefix=f"/api/v1{blp.url_prefix or ''}")
