"""The one table from domain exceptions to HTTP, and the problem body every error uses.

Body: ``{"code": <http status>, "status": <reason phrase>, "message": <for people>,
"error": <stable machine code>, "errors": <field details, 422 only>}`` served as
``application/problem+json``; under ``/api/fhir/`` the same error is a FHIR
OperationOutcome (``application/fhir+json``) carrying the code in ``issue.details``.
Clients switch on ``error``, never on ``message``.
A 5xx never carries exception text.

``message`` is in the request's language: Accept-Language is negotiated against
the gettext catalogs (English when none fits), and ``Content-Language`` names the
language the message is actually in (English when a text has no translation).
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from bson.errors import InvalidId
from flask import Flask, Response, current_app, has_request_context, jsonify, request
from mongoengine.errors import ValidationError as DocumentValidationError
from pymongo.errors import AutoReconnect, ConnectionFailure, ServerSelectionTimeoutError
from werkzeug.exceptions import HTTPException

from consentkit import errors as ck
from consentkit import i18n
from consentkit.i18n import N_
from consentkit.interop.fhir import operation_outcome
from consentkit.policy.locales import negotiate_locale

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
#: Errors under the FHIR API are OperationOutcome resources of this type (docs/fhir.md).
FHIR_JSON = "application/fhir+json"
FHIR_PREFIX = "/api/fhir/"

#: Domain exception -> HTTP status. The most specific class wins (checked in MRO order).
STATUS_BY_ERROR: dict[type[ck.ConsentKitError], HTTPStatus] = {
    ck.NotFoundError: HTTPStatus.NOT_FOUND,
    ck.InvalidDataError: HTTPStatus.UNPROCESSABLE_ENTITY,
    ck.ConflictError: HTTPStatus.CONFLICT,
    ck.EligibilityError: HTTPStatus.CONFLICT,
    ck.DatabaseUnavailableError: HTTPStatus.SERVICE_UNAVAILABLE,
    ck.DeliveryFailedError: HTTPStatus.SERVICE_UNAVAILABLE,
    ck.AuthenticationError: HTTPStatus.UNAUTHORIZED,
    ck.PermissionDeniedError: HTTPStatus.FORBIDDEN,
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

#: Our own words for errors the framework raises (werkzeug's descriptions are English only).
MESSAGE_BY_STATUS: dict[int, str] = {
    400: N_("The request could not be understood. Please check it and try again."),
    404: N_("Nothing was found at this address."),
    405: N_("This address does not accept this kind of request."),
    413: N_("The request is too large."),
    415: N_("The request is in a format this address does not accept."),
    422: N_("Some of the information sent is not valid."),
}

DATABASE_DOWN = N_("The database is not reachable. Please try again shortly.")
NO_SUCH_ID = N_("Nothing was found with this id.")


def request_locale() -> str:
    """Return the catalog language that best fits the request's Accept-Language.

    Preferences are tried by q-value, each falling back from region to language
    (``fr-CH`` -> ``fr``), the same way form texts are chosen; English when none
    fits or outside a request.
    """
    if not has_request_context():
        return i18n.SOURCE_LOCALE
    return (
        negotiate_locale(
            i18n.available_locales(),
            accept_language=request.headers.get("Accept-Language"),
            site_default=i18n.SOURCE_LOCALE,
        )
        or i18n.SOURCE_LOCALE
    )


def _translate(english: str, locale: str) -> tuple[str, str]:
    """Return ``english`` from the ``locale`` catalog and the language it ended up in."""
    text = i18n.gettext(locale, english)
    return text, locale if text != english else i18n.SOURCE_LOCALE


def problem(
    status: int,
    error: str,
    message: str | None = None,
    errors: Any = None,
    headers: dict[str, str] | None = None,
    language: str = i18n.SOURCE_LOCALE,
) -> Response:
    """Build a problem+json response; ``language`` is the language of ``message``."""
    phrase = HTTPStatus(status).phrase
    body: dict[str, Any] = {
        "code": status,
        "status": phrase,
        "message": message or phrase,
        "error": error,
    }
    if errors:
        body["errors"] = errors
    if has_request_context() and request.path.startswith(FHIR_PREFIX):
        # A FHIR client reads errors as OperationOutcome, with the same stable code.
        response = jsonify(operation_outcome(status, error, body["message"]))
        response.mimetype = FHIR_JSON
    else:
        response = jsonify(body)
        response.mimetype = PROBLEM_JSON
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    # Without a message the body says the (English) reason phrase.
    response.headers["Content-Language"] = language if message else i18n.SOURCE_LOCALE
    if has_request_context():
        response.vary.add("Accept-Language")
    return response


def status_for(exc: ck.ConsentKitError) -> HTTPStatus:
    """Return the HTTP status of a domain exception from :data:`STATUS_BY_ERROR`."""
    for cls in type(exc).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return HTTPStatus.INTERNAL_SERVER_ERROR


def _handle_domain_error(exc: ck.ConsentKitError) -> Response:
    status = status_for(exc)
    locale = request_locale()
    message = exc.translated(locale)
    language = locale if message != exc.message else i18n.SOURCE_LOCALE
    if status >= 500:
        log.error("domain error answered %d: %s", status, exc.code, exc_info=exc)
        shown = message if status == HTTPStatus.SERVICE_UNAVAILABLE else None
        return problem(status, exc.code, shown, headers=_retry_after(status), language=language)
    headers = {}
    if "retry_after" in exc.details:  # too many attempts, or a request still in progress
        headers["Retry-After"] = str(exc.details["retry_after"])
    if isinstance(exc, ck.AuthenticationError):
        headers["WWW-Authenticate"] = 'Bearer realm="consentkit"'
    return problem(status, exc.code, message, exc.details.get("errors"), headers, language)


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
        # A description given at the raise site says more than our generic words.
        default = exc.description == type(exc).description
        message = MESSAGE_BY_STATUS.get(status) if default else None
        message = message or exc.description
    language = i18n.SOURCE_LOCALE
    if message:
        message, language = _translate(message, request_locale())
    headers = dict(data.get("headers") or {}) if isinstance(data, dict) else {}
    error = data.get("error") if isinstance(data, dict) else None
    return problem(
        status,
        error or ERROR_BY_STATUS.get(status, f"http-{status}"),
        message,
        errors,
        headers,
        language,
    )


def _handle_database_down(exc: Exception) -> Response:
    log.warning("database unavailable: %s", exc)
    message, language = _translate(DATABASE_DOWN, request_locale())
    return problem(
        HTTPStatus.SERVICE_UNAVAILABLE,
        ck.DatabaseUnavailableError.code,
        message,
        headers=_retry_after(HTTPStatus.SERVICE_UNAVAILABLE),
        language=language,
    )


def _handle_bad_id(exc: Exception) -> Response:
    """Answer a lookup by something that is not a database id as "not found" (404).

    No document has the id ``xyz``: that is a fact about the request, not a
    server fault. MongoEngine raises its ValidationError from the ObjectId
    conversion of a query value (the bson ``InvalidId`` is its context); any
    other ValidationError is a bug of ours and stays a 500. Re-dispatching a
    NotFoundError lets the staff pages render their own 404 page.
    """
    bad_id = isinstance(exc, InvalidId) or isinstance(exc.__context__, InvalidId)
    if not bad_id:
        return _handle_unexpected(exc)
    return current_app.make_response(
        current_app.handle_user_exception(ck.NotFoundError(NO_SUCH_ID))
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
    for id_error in (DocumentValidationError, InvalidId):
        app.register_error_handler(id_error, _handle_bad_id)
    app.register_error_handler(Exception, _handle_unexpected)
