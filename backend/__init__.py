"""The consentkit web app: a thin flask-smorest layer over :mod:`consentkit.services`.

Routes parse, authorise, call a consentkit service and serialise. No business
rule lives here.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from backend import intake
from backend.config import load_config
from backend.errors import register_error_handlers
from backend.extensions import API_TITLE, API_VERSION, Api
from backend.jsonio import IsoJSONProvider
from backend.logs import configure_logging
from backend.web import register_web
from consentkit import __version__
from consentkit import db as database
from consentkit.errors import DatabaseUnavailableError

log = logging.getLogger(__name__)


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app; ``config`` overrides environment variables (tests pass TESTING=True).

    Raises:
        ConfigurationError: the configuration is unsafe or malformed.

    """
    settings = load_config(config)
    app = Flask(__name__, static_folder=None)  # backend/static is served by backend.web
    app.json_provider_class = IsoJSONProvider
    app.json = IsoJSONProvider(app)
    app.config.update(settings)
    app.config.update(
        API_TITLE=API_TITLE,
        API_VERSION=API_VERSION,
        OPENAPI_VERSION="3.1.0",
        OPENAPI_URL_PREFIX="/api",
        OPENAPI_JSON_PATH="openapi.json",
        # /api/docs is served by backend.web.api_docs from vendored files, not a CDN.
        OPENAPI_SWAGGER_UI_PATH=None,
        API_SPEC_OPTIONS={
            "info": {
                "description": "E-consent and assent for paediatric clinical trials. "
                "Every error is a problem body with a stable `error` code.",
                "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
            },
        },
    )
    _trust_proxies(app)
    configure_logging(app)
    intake.install(app)
    database.connect(app.config["MONGODB_URI"], db_name=app.config["MONGODB_DB"])
    _ensure_indexes(app)

    api = Api(app)
    api.spec.components.security_scheme(
        "bearerAuth",
        {
            "type": "http",
            "scheme": "bearer",
            "description": "Access token from POST /api/v1/auth/challenges/{id}/verify",
        },
    )
    register_error_handlers(app)
    from backend.auth.clients import init_oauth
    from backend.resources import register_blueprints

    init_oauth(app)
    register_blueprints(api)
    register_web(app)
    log.info(
        "consentkit %s ready (database %s)",
        __version__,
        database.redacted_uri(database.current_uri()),
    )
    return app


def _trust_proxies(app: Flask) -> None:
    """Believe ``X-Forwarded-For/-Proto/-Host`` from ``TRUSTED_PROXIES`` hops, and only them.

    Behind a TLS proxy every request comes from the proxy's address: without
    this, rate limits and lockouts would count all clients as one, and
    signature evidence would store the proxy's address. With 0 (the default:
    the app faces clients directly) the headers are ignored, since any client
    can send them. Set it to exactly the number of proxies that append to
    ``X-Forwarded-For``: werkzeug's ProxyFix takes the address that many hops
    from the right, which a client cannot forge.
    """
    hops = int(app.config["TRUSTED_PROXIES"])
    if hops:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops
        )


def _ensure_indexes(app: Flask) -> None:
    """Build indexes now, or on the first request after the database comes back.

    A web process must start (and report 503 on health) even while its
    database is down, so a failure here is logged, not fatal.
    """
    try:
        database.ensure_indexes()
        return
    except DatabaseUnavailableError:
        log.warning("database unreachable at start-up; indexes will be built when it answers")

    state = {"done": False}

    @app.before_request
    def _retry_indexes() -> None:
        if not state["done"]:
            database.ensure_indexes()
            state["done"] = True
