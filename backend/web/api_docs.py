"""``/api/docs``: Swagger UI served from this app's own files, under a strict CSP.

The staff pages are on this origin with a cookie session, so a script from a
CDN here could act as any signed-in member. Swagger UI is vendored
(``backend/static/vendor``, version and SHA-256 in its README) and this page
allows scripts, styles and requests from this origin only: no inline script,
no foreign origin, no framing. Swagger UI's online spec validator (a request
to a foreign site) is switched off in ``api-docs.js``.
"""

from __future__ import annotations

from flask import Blueprint, Response, render_template, url_for

from backend.extensions import API_TITLE

#: Only this origin; ``data:`` images for the icons inside swagger-ui.css.
DOCS_CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)

bp = Blueprint("api_docs", __name__)


@bp.get("/api/docs")
def swagger_ui() -> Response:
    """Browse the OpenAPI document with Swagger UI."""
    html = render_template(
        "web/api_docs.html",
        title=f"{API_TITLE} API",
        spec_url=url_for("api-docs.openapi_json"),
    )
    response = Response(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = DOCS_CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
