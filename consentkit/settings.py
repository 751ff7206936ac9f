"""Library configuration read from ``CONSENTKIT_*`` environment variables.

The library reads only what it needs to reach its database and data directory;
the web app has its own settings in ``backend/config.py``. Every variable is
listed in the README's configuration table.
"""

from __future__ import annotations

import os
from pathlib import Path

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
