"""Library configuration read from ``CONSENTKIT_*`` environment variables.

This module is the only one in ``consentkit`` that reads the environment
(``tests/test_configuration.py`` keeps it so): every other module asks one of
the accessors below. They read at call time, not at import, so a deployment
that sets a variable before the first use and a test that monkeypatches it
both take effect. The web app has its own settings in ``backend/config.py``.
Every variable is listed in the README's configuration table.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from consentkit.errors import ConfigurationError

#: Where the embedded database, generated keys and rendered documents live.
DEFAULT_DATA_DIR = "var"
#: Port of the embedded SecantusDB server (MongoDB's 27017 + 100, to avoid a local mongod).
DEFAULT_EMBEDDED_PORT = 27117
DEFAULT_DB_NAME = "consentkit"


def data_dir() -> Path:
    """Return the data directory (``CONSENTKIT_DATA_DIR``, default ``./var``)."""
    return Path(os.environ.get("CONSENTKIT_DATA_DIR", DEFAULT_DATA_DIR)).resolve()


def mongodb_uri() -> str | None:
    """Return ``CONSENTKIT_MONGODB_URI`` or None when the embedded server should be used."""
    return os.environ.get("CONSENTKIT_MONGODB_URI") or None


def db_name() -> str:
    """Return the database name (``CONSENTKIT_MONGODB_DB``) used when the URI names none."""
    return os.environ.get("CONSENTKIT_MONGODB_DB", DEFAULT_DB_NAME)


def embedded_host() -> str:
    """Return the embedded server's host (loopback unless deliberately changed)."""
    return os.environ.get("CONSENTKIT_EMBEDDED_HOST", "127.0.0.1")


def embedded_port() -> int:
    """Return the embedded server's port (``CONSENTKIT_EMBEDDED_PORT``)."""
    return int(os.environ.get("CONSENTKIT_EMBEDDED_PORT", str(DEFAULT_EMBEDDED_PORT)))


def server_selection_timeout_ms() -> int:
    """Return how long a query waits for an unreachable database before failing.

    Short by default so that a request answers 503 quickly instead of hanging a
    worker for pymongo's default 30 s (gunicorn's default worker timeout is 30 s
    too, so a request would die as WORKER TIMEOUT instead of answering).
    """
    return int(os.environ.get("CONSENTKIT_DB_TIMEOUT_MS", "3000"))


def idempotency_lease_s() -> float:
    """Return the seconds a request's claim on its key holds (``CONSENTKIT_IDEMPOTENCY_LEASE_S``).

    A process that dies mid-request never completes its claim; after this long a
    retry with the same key takes it over and answers. Longer than any request
    takes, short enough that a family retrying after a crash is not kept waiting.
    """
    return float(os.environ.get("CONSENTKIT_IDEMPOTENCY_LEASE_S", "30"))


def socket_timeout_ms() -> int:
    """Return how long one database round trip may take once connected (the same timeout).

    Without it a database that accepts connections but stops answering (a
    frozen process, a host gone from the network) holds a request until
    pymongo's monitor notices, 10 s or more, for every query in the request.
    With it such a request fails in about three timeouts (the query, then the
    retry's new connection and handshake): 9 s with the default 3 s, inside
    gunicorn's 30 s worker timeout. A query slower than this fails too: raise
    ``CONSENTKIT_DB_TIMEOUT_MS`` for a slow database, and the worker timeout with it.
    """
    return server_selection_timeout_ms()


def public_url() -> str:
    """Return the address staff and families reach the web pages at (for links in messages)."""
    return os.environ.get("CONSENTKIT_PUBLIC_URL", "http://127.0.0.1:5000").rstrip("/")


def signer_views_per_record_per_day() -> int:
    """Return how many reading-progress batches a signer may send per record and UTC day.

    Each batch is an event in the append-only audit trail; the cap keeps a
    session from growing it without end (``CONSENTKIT_SIGNER_VIEWS_PER_RECORD_PER_DAY``).
    """
    return int(os.environ.get("CONSENTKIT_SIGNER_VIEWS_PER_RECORD_PER_DAY", "500"))


def signer_questions_per_day() -> int:
    """Return how many questions a signer may send the study team per UTC day.

    Each question is an audit event (``CONSENTKIT_SIGNER_QUESTIONS_PER_DAY``).
    """
    return int(os.environ.get("CONSENTKIT_SIGNER_QUESTIONS_PER_DAY", "20"))


def environment() -> str:
    """Return ``CONSENTKIT_ENV``: ``production`` (the default), ``development`` or ``testing``.

    Production is the default so that a forgotten variable fails closed: keys,
    the seal and the one-time-code sender must then be configured, never generated.
    """
    return os.environ.get("CONSENTKIT_ENV", "production")


def catalog_ttl_s() -> float:
    """Return how long a process may reuse a study catalog (``CONSENTKIT_CATALOG_TTL_S``)."""
    return float(os.environ.get("CONSENTKIT_CATALOG_TTL_S", "5"))


def identity_keys() -> str | None:
    """Return ``CONSENTKIT_IDENTITY_KEYS`` (Fernet keys, comma-separated), None when unset."""
    return os.environ.get("CONSENTKIT_IDENTITY_KEYS") or None


def audit_key() -> str | None:
    """Return ``CONSENTKIT_AUDIT_KEY`` (the audit-chain HMAC key), None when unset."""
    return os.environ.get("CONSENTKIT_AUDIT_KEY") or None


def blind_index_key() -> str | None:
    """Return ``CONSENTKIT_BLIND_INDEX_KEY`` (keys the contact blind index), None when unset."""
    return os.environ.get("CONSENTKIT_BLIND_INDEX_KEY") or None


def seal_cert() -> str | None:
    """Return the path of the seal's PEM certificate (``CONSENTKIT_SEAL_CERT``)."""
    return os.environ.get("CONSENTKIT_SEAL_CERT") or None


def seal_key() -> str | None:
    """Return the path of the seal's PEM private key (``CONSENTKIT_SEAL_KEY``)."""
    return os.environ.get("CONSENTKIT_SEAL_KEY") or None


def seal_key_password() -> str | None:
    """Return the seal key's passphrase (``CONSENTKIT_SEAL_KEY_PASSWORD``), None when unset."""
    return os.environ.get("CONSENTKIT_SEAL_KEY_PASSWORD") or None


def tsa_url() -> str | None:
    """Return the RFC 3161 time-stamp authority (``CONSENTKIT_TSA_URL``), None when unset."""
    return os.environ.get("CONSENTKIT_TSA_URL") or None


def trust_roots() -> list[Path] | None:
    """Return the PEM files verification trusts (``CONSENTKIT_TRUST_ROOTS``), None when unset."""
    configured = os.environ.get("CONSENTKIT_TRUST_ROOTS")
    return [Path(p.strip()) for p in configured.split(",")] if configured else None


def otp_sender() -> str:
    """Return how one-time codes travel (``CONSENTKIT_OTP_SENDER``, default ``console``)."""
    return os.environ.get("CONSENTKIT_OTP_SENDER", "console")


def sms_webhook_url() -> str | None:
    """Return the SMS gateway's webhook (``CONSENTKIT_SMS_WEBHOOK_URL``), None when unset."""
    return os.environ.get("CONSENTKIT_SMS_WEBHOOK_URL") or None


class SmtpTls(StrEnum):
    """How the SMTP connection is encrypted (``CONSENTKIT_SMTP_TLS``)."""

    IMPLICIT = "implicit"  # TLS from the first byte (port 465, RFC 8314)
    STARTTLS = "starttls"  # upgraded after the greeting (port 587 or 25)
    OFF = "off"  # a clear connection: only to a local relay, and never with a password


#: The port of SMTP over implicit TLS (RFC 8314 3.3).
IMPLICIT_TLS_PORT = 465


def smtp_tls_mode(env: Mapping[str, str]) -> SmtpTls:
    """Return the TLS mode the settings ask for.

    ``CONSENTKIT_SMTP_TLS`` wins; otherwise the older ``CONSENTKIT_SMTP_STARTTLS=true``
    means STARTTLS, port 465 means implicit TLS, and anything else a clear connection.

    Raises:
        ConfigurationError: an unknown ``CONSENTKIT_SMTP_TLS`` value.
    """
    named = env.get("CONSENTKIT_SMTP_TLS", "").strip().lower()
    if named:
        try:
            return SmtpTls(named)
        except ValueError:
            raise ConfigurationError(
                "CONSENTKIT_SMTP_TLS must be implicit, starttls or off."
            ) from None
    if env.get("CONSENTKIT_SMTP_STARTTLS", "").strip().lower() in {"1", "true", "yes", "on"}:
        return SmtpTls.STARTTLS
    if env.get("CONSENTKIT_SMTP_PORT", "").strip() == str(IMPLICIT_TLS_PORT):
        return SmtpTls.IMPLICIT
    return SmtpTls.OFF


@dataclass(frozen=True)
class SmtpSettings:
    """The SMTP server one-time codes and notices are e-mailed through."""

    host: str
    port: int
    sender: str
    user: str | None
    password: str | None
    tls: SmtpTls
    #: PEM file of a private CA; None: the system's CAs.
    ca_file: str | None


def smtp(env: Mapping[str, str] | None = None) -> SmtpSettings:
    """Return the ``CONSENTKIT_SMTP_*`` settings, from ``env`` or else the process environment.

    ``env`` lets ``backend/config.py`` check a configuration before it is in force.

    Raises:
        ConfigurationError: an unknown ``CONSENTKIT_SMTP_TLS`` value.
        ValueError: ``CONSENTKIT_SMTP_PORT`` is not a number.
    """
    env = os.environ if env is None else env
    return SmtpSettings(
        host=env.get("CONSENTKIT_SMTP_HOST", "localhost"),
        port=int(env.get("CONSENTKIT_SMTP_PORT", "25")),
        sender=env.get("CONSENTKIT_SMTP_FROM", "consentkit@localhost"),
        user=env.get("CONSENTKIT_SMTP_USER"),
        password=env.get("CONSENTKIT_SMTP_PASSWORD"),
        tls=smtp_tls_mode(env),
        ca_file=env.get("CONSENTKIT_SMTP_CA_FILE") or None,
    )


# ---------------------------------------------------------------- outbox and worker (issue 15)


def quiet_hours() -> str:
    """Return the local hours no non-essential message goes out (``CONSENTKIT_QUIET_HOURS``).

    ``HH:MM-HH:MM`` in the site's time zone, default ``21:00-08:00``; empty for none.
    """
    return os.environ.get("CONSENTKIT_QUIET_HOURS", "21:00-08:00")


def messages_per_day() -> int:
    """Return the cap on non-essential messages per recipient per day.

    ``CONSENTKIT_MESSAGES_PER_DAY``, default 3; more wait for the next day.
    """
    return int(os.environ.get("CONSENTKIT_MESSAGES_PER_DAY", "3"))


def outbox_lease_s() -> float:
    """Return how long a worker holds a message it is sending (``CONSENTKIT_OUTBOX_LEASE_S``).

    A worker that dies mid-send loses the message to another worker after this
    long; longer than any gateway call takes (their timeouts are 10 s).
    """
    return float(os.environ.get("CONSENTKIT_OUTBOX_LEASE_S", "60"))


def trigger_scan_s() -> float:
    """Return how often a worker looks for time-based reminders (``CONSENTKIT_TRIGGER_SCAN_S``).

    Default 300 s; every worker scans, the dedupe keys keep it one message per reason.
    """
    return float(os.environ.get("CONSENTKIT_TRIGGER_SCAN_S", "300"))


def push_webhook_url() -> str | None:
    """Return the native-app push gateway's webhook (``CONSENTKIT_PUSH_WEBHOOK_URL``)."""
    return os.environ.get("CONSENTKIT_PUSH_WEBHOOK_URL") or None


def push_webhook_secret() -> str | None:
    """Return the secret signing app push calls (``CONSENTKIT_PUSH_WEBHOOK_SECRET``, whsec_)."""
    return os.environ.get("CONSENTKIT_PUSH_WEBHOOK_SECRET") or None


def vapid_private_key() -> str | None:
    """Return the Web Push VAPID private key (``CONSENTKIT_VAPID_PRIVATE_KEY``, base64url)."""
    return os.environ.get("CONSENTKIT_VAPID_PRIVATE_KEY") or None


def vapid_public_key() -> str | None:
    """Return the VAPID public key browsers subscribe with (``CONSENTKIT_VAPID_PUBLIC_KEY``)."""
    return os.environ.get("CONSENTKIT_VAPID_PUBLIC_KEY") or None


def vapid_subject() -> str:
    """Return the VAPID contact (``CONSENTKIT_VAPID_SUBJECT``, a ``mailto:`` or https URL)."""
    return os.environ.get("CONSENTKIT_VAPID_SUBJECT", "mailto:privacy@example.org")


def message_channels() -> tuple[str, ...]:
    """Return the channels the worker sends by (``CONSENTKIT_MESSAGE_CHANNELS``, comma-separated).

    Unset: every channel that has its settings (e-mail when ``CONSENTKIT_SMTP_HOST``
    is set, SMS with ``CONSENTKIT_SMS_WEBHOOK_URL``, Web Push with a VAPID key, the
    app gateway with ``CONSENTKIT_PUSH_WEBHOOK_URL``).
    """
    named = os.environ.get("CONSENTKIT_MESSAGE_CHANNELS")
    if named is not None:
        return tuple(c.strip() for c in named.split(",") if c.strip())
    found = (
        ("email", os.environ.get("CONSENTKIT_SMTP_HOST")),
        ("sms", sms_webhook_url()),
        ("push", vapid_private_key()),
        ("app", push_webhook_url()),
    )
    return tuple(name for name, setting in found if setting)


# ---------------------------------------------------------------- webhook subscriptions (issue 16)


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def webhook_allow_http() -> bool:
    """Return whether webhook targets may be plain http (``CONSENTKIT_WEBHOOK_ALLOW_HTTP``).

    Off by default: a subscriber's URL must be https. Tests and development turn it on.
    """
    return _flag("CONSENTKIT_WEBHOOK_ALLOW_HTTP")


def webhook_allow_private() -> bool:
    """Return whether webhook targets may resolve to private or loopback addresses.

    ``CONSENTKIT_WEBHOOK_ALLOW_PRIVATE``, off by default (a subscriber must not make
    the server call inside its own network); tests with a local receiver turn it on.
    """
    return _flag("CONSENTKIT_WEBHOOK_ALLOW_PRIVATE")


def webhook_disable_after() -> int:
    """Return after how many failed deliveries in a row a subscription is switched off.

    ``CONSENTKIT_WEBHOOK_DISABLE_AFTER``, default 15 (with the outbox's backoff, several
    hours of a receiver down); staff are shown the switched-off flag and can switch it on.
    """
    return max(1, int(os.environ.get("CONSENTKIT_WEBHOOK_DISABLE_AFTER", "15")))
