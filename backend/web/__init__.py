"""Web pages: plain Flask blueprints beside the JSON API (pages are not in the OpenAPI spec).

Templates come from the project ``templates/`` directory (``web/``), with
autoescaping and Jinja's i18n extension bound to the page's language
(:mod:`backend.web.i18n`). Static files are served from ``backend/static`` at
``/static``. Every response of a web blueprint carries a strict
Content-Security-Policy: no inline script or style, so scripts and styles live
in files, and page data for scripts travels in ``<script type="application/json">``
elements or data attributes (never executed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, Response, request

from backend.web import i18n as web_i18n
from consentkit.paths import templates_dir

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

#: No inline script or style, no framing, no foreign origins; ``data:``/``blob:`` images
#: only for what the page draws itself (the signature canvas).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    # Invitation codes travel in deep links: never leak a page address to another site.
    "Referrer-Policy": "no-referrer",
}

#: Static files and the templates directory; other web blueprints need no folders of their own.
assets = Blueprint(
    "web",
    __name__,
    static_folder=str(STATIC_DIR),
    static_url_path="/static",
    template_folder=str(templates_dir()),
)


def web_blueprints() -> list[Blueprint]:
    """Return every web blueprint (add staff pages here)."""
    from backend.web.family import bp as family_bp
    from backend.web.staff import bp as staff_bp

    return [assets, family_bp, staff_bp]


def register_web(app: Flask) -> None:
    """Register the web pages, their Jinja set-up and their security headers on ``app``."""
    app.jinja_env.add_extension("jinja2.ext.i18n")
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        web_i18n.gettext, web_i18n.ngettext, newstyle=True
    )
    blueprints = web_blueprints()
    for blueprint in blueprints:
        app.register_blueprint(blueprint)
    from backend.web.api_docs import bp as api_docs_bp

    app.register_blueprint(api_docs_bp)  # its own, stricter headers (not in ``names``)
    names = {blueprint.name for blueprint in blueprints}
    # An address no rule matched has no blueprint, yet under the family pages' prefix it gets
    # their "page does not exist" page: it needs the page's language and security headers too.
    prefixes = tuple(f"{bp.url_prefix}/" for bp in blueprints if bp.name == "family")

    def on_web_page() -> bool:
        if request.blueprint is not None:
            return request.blueprint in names
        return request.path.startswith(prefixes)

    @app.context_processor
    def _page_context() -> dict[str, Any]:
        return web_i18n.template_context() if on_web_page() else {}

    @app.after_request
    def _web_headers(response: Response) -> Response:
        if not on_web_page():
            return response
        response.headers.update(SECURITY_HEADERS)
        if response.mimetype == "text/html":
            # Pages may carry an invitation code (deep link): keep them out of caches.
            response.headers["Cache-Control"] = "no-store"
            web_i18n.remember_choice(response)
        return response
