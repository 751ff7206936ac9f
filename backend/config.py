"""Web-app configuration: ``CONSENTKIT_*`` environment variables, checked at start-up.

Every key is documented in the README's configuration table. ``create_app``
calls :func:`load_config` and refuses to start with an unsafe configuration
(fail fast), rather than discovering it on the first request.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from consentkit import settings
from consentkit.errors import ConfigurationError

PREFIX = "CONSENTKIT_"

#: Defaults for every key; environment variables override, then ``create_app(config)``.
DEFAULTS: dict[str, Any] = {
    "ENV": "production",  # production | development | testing
    "SECRET_KEY": None,  # required in production
    "MONGODB_URI": None,  # None: the embedded server
    "MONGODB_DB": settings.DEFAULT_DB_NAME,
    "DATA_DIR": settings.DEFAULT_DATA_DIR,
    "LOG_FORMAT": "text",  # text | json
    "LOG_LEVEL": "INFO",
    "TESTING": False,
    # Staff sign-in cookie: None = Secure in production, else only on HTTPS requests.
    "STAFF_COOKIE_SECURE": None,
    # Reverse proxies in front of the app whose X-Forwarded-For/-Proto/-Host are believed.
    "TRUSTED_PROXIES": 0,
}

_BOOLEAN_KEYS = {"TESTING", "STAFF_COOKIE_SECURE"}


def _from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key in DEFAULTS:
        raw = environ.get(PREFIX + key)
        if raw is None or raw == "":
            continue
        found[key] = raw.lower() in {"1", "true", "yes", "on"} if key in _BOOLEAN_KEYS else raw
    return found


def _proxy_hops(value: Any) -> int:
    """Return ``CONSENTKIT_TRUSTED_PROXIES`` as a number of hops (0 to 5).

    Raises:
        ConfigurationError: not a whole number in that range.

    """
    try:
        hops = int(value)
    except (TypeError, ValueError):
        hops = -1
    if isinstance(value, bool) or not 0 <= hops <= 5:
        raise ConfigurationError(
            "CONSENTKIT_TRUSTED_PROXIES must be the number of proxies in front of the app "
            "(0 to 5), not %(value)s.",
            params={"value": repr(value)},
        )
    return hops


def _development_secret(data_dir: Path) -> str:
    """Return a per-checkout random secret kept under the data dir (development only)."""
    path = data_dir / "dev-secret-key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def load_config(
    overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Merge defaults, environment and explicit overrides, then validate.

    Raises:
        ConfigurationError: a value is missing, malformed or unsafe.

    """
    config = dict(DEFAULTS)
    config.update(_from_env(os.environ if environ is None else environ))
    config.update(overrides or {})
    if config["TESTING"]:
        config["ENV"] = "testing"
    env = config["ENV"]
    if env not in {"production", "development", "testing"}:
        raise ConfigurationError(
            "CONSENTKIT_ENV must be production, development or testing, not %(env)s.",
            params={"env": repr(env)},
        )
    if config["LOG_FORMAT"] not in {"text", "json"}:
        raise ConfigurationError("CONSENTKIT_LOG_FORMAT must be 'text' or 'json'.")
    config["TRUSTED_PROXIES"] = _proxy_hops(config["TRUSTED_PROXIES"])
    if not config["SECRET_KEY"]:
        if env == "production":
            raise ConfigurationError(
                "CONSENTKIT_SECRET_KEY is required in production (e.g. "
                '`python -c "import secrets; print(secrets.token_urlsafe(48))"`).'
            )
        if env == "testing":
            config["SECRET_KEY"] = secrets.token_urlsafe(32)
        else:
            config["SECRET_KEY"] = _development_secret(Path(config["DATA_DIR"]).resolve())
    elif env == "production" and len(str(config["SECRET_KEY"])) < 32:
        raise ConfigurationError("CONSENTKIT_SECRET_KEY must be at least 32 characters.")
    return config
