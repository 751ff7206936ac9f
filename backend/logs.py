"""Logging with request ids, as text for people or one JSON object per line for collectors.

Secrets never reach the logs: a staff setup token or an invitation code travels
in a URL path (``/staff/setup/<token>``, ``/family/invite/<code>``), and a
MongoDB URI may carry a password. :func:`redact` removes them from every record
this app's handler writes, the dev server's request lines included, and
``backend/gunicorn_conf.py`` does the same for gunicorn's access log.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from datetime import UTC, datetime

from flask import Flask, Response, g, has_request_context, request

REQUEST_ID_HEADER = "X-Request-ID"
REDACTED = "[redacted]"
#: Path segments that are bearer secrets: whoever reads them can use them.
_SECRET_IN_PATH = re.compile(r"(/(?:staff/setup|family/i|family/invite)/)[^/?#\s\"']+")
#: The password of a MongoDB URI (``mongodb://user:password@host``).
_URI_PASSWORD = re.compile(r"(mongodb(?:\+srv)?://[^:/@\s]+:)[^@\s]+@")
# Accept a caller's id only when it is short and harmless to log.
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def redact(text: str) -> str:
    """Return ``text`` with setup tokens, invitation codes and URI passwords replaced."""
    text = _SECRET_IN_PATH.sub(r"\1" + REDACTED, text)
    return _URI_PASSWORD.sub(r"\1" + REDACTED + "@", text)


class RedactFilter(logging.Filter):
    """Remove secrets from a record's message before any formatter sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the message when it holds a secret; never drops a record."""
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


class RequestIdFilter(logging.Filter):
    """Attach the current request id (or ``-``) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Add ``request_id``; never drops a record."""
        record.request_id = g.get("request_id", "-") if has_request_context() else "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message, request id."""

    def format(self, record: logging.LogRecord) -> str:
        """Serialise the record."""
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(app: Flask) -> None:
    """Install the formatter chosen by ``LOG_FORMAT`` on the root logger, and request ids."""
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    handler.addFilter(RedactFilter())
    if app.config["LOG_FORMAT"] == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s")
        )
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_consentkit", False)]:
        root.removeHandler(old)
    handler._consentkit = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(app.config["LOG_LEVEL"])

    @app.before_request
    def _assign_request_id() -> None:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex

    @app.after_request
    def _echo_request_id(response: Response) -> Response:
        response.headers[REQUEST_ID_HEADER] = g.get("request_id", "-")
        return response
