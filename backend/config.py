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

from flask import current_app

from consentkit import notify, settings
from consentkit.errors import ConfigurationError
from consentkit.i18n import N_

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
    # The largest paper-consent scan accepted, in bytes, by the API and the staff page alike.
    "PAPER_SCAN_MAX_BYTES": 20 * 1024 * 1024,
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


def _whole_number(value: Any, low: int, high: int, message: str) -> int:
    """Return a setting as a whole number from ``low`` to ``high`` (a bool is not a number).

    ``message`` is the setting's own refusal (an ``N_`` msgid with ``%(value)s``),
    so the operator reads what the number means, not only that it is wrong.

    Raises:
        ConfigurationError: not a whole number in that range.

    """
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = low - 1
    if isinstance(value, bool) or not low <= number <= high:
        raise ConfigurationError(message, params={"value": repr(value)})
    return number


def paper_scan_limit() -> int:
    """Return the largest paper-consent scan in bytes, for the API and the staff page alike."""
    return int(current_app.config["PAPER_SCAN_MAX_BYTES"])


def _production_problems(config: Mapping[str, Any], environ: Mapping[str, str]) -> list[str]:
    """Return every missing or unsafe production setting, one English line each.

    The library reads its keys lazily (the seal on the first PDF, the identity
    keys on the first enrolment, the sender on the first one-time code); checked
    only there, a missing key would surface as a 500 in front of a family.
    """
    problems: list[str] = []

    def value(name: str) -> str:
        return (environ.get(PREFIX + name) or "").strip()

    secret = str(config["SECRET_KEY"] or "")
    if not secret:
        problems.append(
            "CONSENTKIT_SECRET_KEY is required (e.g. "
            '`python -c "import secrets; print(secrets.token_urlsafe(48))"`)'
        )
    elif len(secret) < 32:
        problems.append("CONSENTKIT_SECRET_KEY must be at least 32 characters")
    if not value("IDENTITY_KEYS"):
        problems.append("CONSENTKIT_IDENTITY_KEYS is required (Fernet keys, comma-separated)")
    audit_key = value("AUDIT_KEY")
    if not audit_key:
        problems.append("CONSENTKIT_AUDIT_KEY is required (at least 32 characters)")
    elif len(audit_key) < 32:
        problems.append("CONSENTKIT_AUDIT_KEY must be at least 32 characters")
    blind_index_key = value("BLIND_INDEX_KEY")
    if not blind_index_key:
        problems.append("CONSENTKIT_BLIND_INDEX_KEY is required (at least 32 characters)")
    elif len(blind_index_key) < 32:
        problems.append("CONSENTKIT_BLIND_INDEX_KEY must be at least 32 characters")
    for name in ("SEAL_CERT", "SEAL_KEY"):
        path = value(name)
        if not path:
            problems.append(f"{PREFIX}{name} is required (a PEM file)")
        elif not Path(path).is_file():
            problems.append(f"{PREFIX}{name} names no readable file: {path}")
    sender = value("OTP_SENDER")
    if sender not in {"smtp", "webhook"}:
        problems.append("CONSENTKIT_OTP_SENDER must be smtp or webhook")
    elif sender == "webhook" and not value("SMS_WEBHOOK_URL").startswith(("https://", "http://")):
        problems.append("CONSENTKIT_SMS_WEBHOOK_URL is required with the webhook sender")
    elif sender == "smtp":
        try:  # the TLS mode, CA file and "no password in clear" rules live with the sender
            notify.SmtpSender(environ)
        except ConfigurationError as exc:
            problems.append(exc.message)
    if not value("PUBLIC_URL").startswith("https://"):
        problems.append("CONSENTKIT_PUBLIC_URL is required: the https address of the web pages")
    return problems


def _check_production(config: Mapping[str, Any], environ: Mapping[str, str]) -> None:
    """Refuse to start with one error listing everything that is missing or unsafe.

    Raises:
        ConfigurationError: at least one problem; ``details["errors"]`` lists them all.

    """
    problems = _production_problems(config, environ)
    if problems:
        raise ConfigurationError(
            "The production configuration is incomplete: %(problems)s.",
            params={"problems": "; ".join(problems)},
            details={"errors": problems},
        )


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
    # How many proxies in front of the app set X-Forwarded-For (backend.auth.client_ip).
    config["TRUSTED_PROXIES"] = _whole_number(
        config["TRUSTED_PROXIES"],
        0,
        5,
        N_(
            "CONSENTKIT_TRUSTED_PROXIES must be the number of proxies in front of the app "
            "(0 to 5), not %(value)s."
        ),
    )
    config["PAPER_SCAN_MAX_BYTES"] = _whole_number(
        config["PAPER_SCAN_MAX_BYTES"],
        1024 * 1024,
        200 * 1024 * 1024,
        N_(
            "CONSENTKIT_PAPER_SCAN_MAX_BYTES must be a number of bytes from 1048576 (1 MiB) "
            "to 209715200 (200 MiB), not %(value)s."
        ),
    )
    if env == "production":
        _check_production(config, os.environ if environ is None else environ)
    elif not config["SECRET_KEY"]:
        if env == "testing":
            config["SECRET_KEY"] = secrets.token_urlsafe(32)
        else:
            config["SECRET_KEY"] = _development_secret(Path(config["DATA_DIR"]).resolve())
    return config
