"""The one table from domain exceptions to HTTP, and the problem body every error uses.

Body: ``{"code": <http status>, "status": <reason phrase>, "message": <for people>,
"error": <stable machine code>, "errors": <field details, 422 only>}`` served as
``application/problem+json``. Clients switch on ``error``, never on ``message``.
A 5xx never carries exception text.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from flask import Flask, Response, jsonify
from pymongo.errors import AutoReconnect, ConnectionFailure, ServerSelectionTimeoutError
from werkzeug.exceptions import HTTPException

from consentkit import errors as ck

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"

#: Domain exception -> HTTP status. The most specific class wins (checked in MRO order).
STATUS_BY_ERROR: dict[type[ck.ConsentKitError], HTTPStatus] = {
    ck.NotFoundError: HTTPStatus.NOT_FOUND,
    ck.InvalidDataError: HTTPStatus.UNPROCESSABLE_ENTITY,
    ck.ConflictError: HTTPStatus.CONFLICT,
    ck.EligibilityError: HTTPStatus.CONFLICT,
    ck.DatabaseUnavailableError: HTTPStatus.SERVICE_UNAVAILABLE,
    ck.AuthenticationError: HTTPStatus.UNAUTHORIZED,
    ck.RateLimitedError: HTTPStatus.TOO_MANY_REQUESTS,
    ck.ConfigurationError: HTTPStatus.INTERNAL_SERVER_ERROR,
    ck.ConsentKitError: HTTPStatus.BAD_REQUEST,
}

#: Stable machine codes for plain HTTP errors raised by the framework.
ERROR_BY_STATUS: dict[int, str] = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    409: "conflict",
    412: "precondition-failed",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "invalid-data",
    428: "precondition-required",
    429: "too-many-requests",
    500: "internal-error",
    503: "service-unavailable",
}


def problem(
    status: int,
    error: str,
    message: str | None = None,
    errors: Any = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """Build a problem+json response."""
    phrase = HTTPStatus(status).phrase
    body: dict[str, Any] = {
        "code": status,
        "status": phrase,
        "message": message or phrase,
        "error": error,
    }
    if errors:
        body["errors"] = errors
    response = jsonify(body)
    response.status_code = status
    response.mimetype = PROBLEM_JSON
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def status_for(exc: ck.ConsentKitError) -> HTTPStatus:
    """Return the HTTP status of a domain exception from :data:`STATUS_BY_ERROR`."""
    for cls in type(exc).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return HTTPStatus.INTERNAL_SERVER_ERROR


def _handle_domain_error(exc: ck.ConsentKitError) -> Response:
    status = status_for(exc)
    if status >= 500:
        log.error("domain error answered %d: %s", status, exc.code, exc_info=exc)
        message = None if status != HTTPStatus.SERVICE_UNAVAILABLE else exc.message
        return problem(status, exc.code, message, headers=_retry_after(status))
    headers = {}
    if isinstance(exc, ck.RateLimitedError):
        headers["Retry-After"] = str(exc.retry_after)
    if isinstance(exc, ck.AuthenticationError):
        headers["WWW-Authenticate"] = 'Bearer realm="consentkit"'
    return problem(status, exc.code, exc.message, exc.details.get("errors"), headers)


def _retry_after(status: int) -> dict[str, str]:
    return {"Retry-After": "5"} if status == HTTPStatus.SERVICE_UNAVAILABLE else {}


def handle_http_exception(exc: HTTPException) -> Response:
    """Render a werkzeug/flask-smorest HTTP error as a problem body."""
    status = exc.code or 500
    data = getattr(exc, "data", None) or {}
    errors = data.get("messages") if isinstance(data, dict) else None
    message = data.get("message") if isinstance(data, dict) else None
    if status >= 500:
        message = None
    elif message is None:
        message = exc.description
    headers = dict(data.get("headers") or {}) if isinstance(data, dict) else {}
    error = data.get("error") if isinstance(data, dict) else None
    return problem(
        status, error or ERROR_BY_STATUS.get(status, f"http-{status}"), message, errors, headers
    )


def _handle_database_down(exc: Exception) -> Response:
    log.warning("database unavailable: %s", exc)
    return problem(
        HTTPStatus.SERVICE_UNAVAILABLE,
        ck.DatabaseUnavailableError.code,
        "The database is not reachable. Please try again shortly.",
        headers=_retry_after(HTTPStatus.SERVICE_UNAVAILABLE),
    )


def _handle_unexpected(exc: Exception) -> Response:
    if isinstance(exc, HTTPException):
        return handle_http_exception(exc)
    log.exception("unhandled error")
    return problem(HTTPStatus.INTERNAL_SERVER_ERROR, "internal-error")


def register_error_handlers(app: Flask) -> None:
    """Install the handlers; flask-smorest's own HTTP handler is replaced in ``extensions``."""
    app.register_error_handler(ck.ConsentKitError, _handle_domain_error)
    for db_error in (ServerSelectionTimeoutError, AutoReconnect, ConnectionFailure):
        app.register_error_handler(db_error, _handle_database_down)
    app.register_error_handler(Exception, _handle_unexpected)
