"""One package per resource, each with ``routes.py`` (``blp``) and ``schemas.py``."""

from __future__ import annotations

from backend.extensions import Api
from backend.resources.auth.routes import blp as auth_blp
from backend.resources.cdisc.routes import blp as cdisc_blp
from backend.resources.documents.routes import blp as documents_blp
from backend.resources.fhir.routes import blp as fhir_blp
from backend.resources.forms_admin.routes import blp as forms_admin_blp
from backend.resources.health.routes import blp as health_blp
from backend.resources.insight.routes import blp as insight_blp
from backend.resources.me.routes import blp as me_blp
from backend.resources.news.routes import blp as news_blp
from backend.resources.oauth.routes import blp as oauth_blp
from backend.resources.permissions.routes import blp as permissions_blp
from backend.resources.publications.routes import blp as publications_blp
from backend.resources.requirements.routes import blp as requirements_blp
from backend.resources.service_accounts.routes import blp as service_accounts_blp
from backend.resources.sites.routes import blp as sites_blp
from backend.resources.staff.routes import blp as staff_blp
from backend.resources.studies.routes import blp as studies_blp
from backend.resources.webhooks.routes import blp as webhooks_blp


def register_blueprints(api: Api) -> None:
    """Register every resource blueprint under ``/api/v1``."""
    for blp in (
        health_blp,
        auth_blp,
        me_blp,
        requirements_blp,
        studies_blp,
        documents_blp,
        staff_blp,
        sites_blp,
        forms_admin_blp,
        oauth_blp,
        permissions_blp,
        service_accounts_blp,
        webhooks_blp,
        cdisc_blp,
        publications_blp,
        news_blp,
        insight_blp,
    ):
        api.register_blueprint(blp, url_prefix=f"/api/v1{blp.url_prefix or ''}")
    # FHIR has its own base (``/api/fhir/r4``, ``/api/fhir/r5``), as FHIR clients expect.
    api.register_blueprint(fhir_blp)
