"""What the staff blueprint does around every page: template context, form cookie, error pages.

Registered on ``bp`` when the package imports this module, so a page that raises an
error (signed out, another site's participant, too many attempts) gets the same
answer whichever module it lives in, and no raw exception text reaches the page.
"""

from __future__ import annotations

from typing import Any

from flask import Response, g, redirect, render_template, request, url_for
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers.response import Response as BaseResponse

from backend.auth.staff import COOKIE, csrf_token
from backend.errors import status_for
from backend.web.staff import bp
from backend.web.staff.common import (
    COOKIE_PATH,
    FORM_COOKIE,
    _,
    _anonymous_csrf,
    _cookie_secure,
    _here,
    _language_name,
    _locale,
    _reauth_redirect,
    _state_label,
    _when,
)
from consentkit.errors import (
    AuthenticationError,
    ConsentKitError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
)
from consentkit.services.staff import Signed


@bp.context_processor
def _staff_context() -> dict[str, Any]:
    signed: Signed | None = g.get("staff_signed")
    return {
        "me": signed.staff if signed else None,
        "csrf": csrf_token(signed) if signed else _anonymous_csrf(),
        "when": _when,
        "state_label": _state_label,
        "language_name": _language_name,
    }


@bp.after_request
def _form_cookie(response: Response) -> Response:
    nonce = g.get("new_form_nonce")
    if nonce:
        response.set_cookie(
            FORM_COOKIE,
            nonce,
            httponly=True,
            samesite="Strict",
            secure=_cookie_secure(),
            path=COOKIE_PATH,
        )
    if response.mimetype != "text/html":
        response.headers["Cache-Control"] = "no-store"
    return response


def _error_page(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    html = render_template("web/staff/error.html", status=status, message=message)
    response = Response(html, status=status, mimetype="text/html")
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


@bp.errorhandler(AuthenticationError)
def _signed_out(exc: AuthenticationError) -> BaseResponse:
    if exc.code == "reauthentication-required":
        return _reauth_redirect(_here() or url_for(".home"))
    response = redirect(url_for(".login", next=_here()))
    if request.cookies.get(COOKIE):
        response.delete_cookie(COOKIE, path=COOKIE_PATH)
    return response


@bp.errorhandler(PermissionDeniedError)
def _forbidden(_exc: PermissionDeniedError) -> Response:
    return _error_page(403, _("You do not have access to this page."))


@bp.errorhandler(NotFoundError)
def _not_found(_exc: NotFoundError) -> Response:
    return _error_page(404, _("This page does not exist, or the participant is not in this study."))


@bp.errorhandler(RateLimitedError)
def _too_many(exc: RateLimitedError) -> Response:
    return _error_page(
        429,
        _("Too many attempts. Please try again later."),
        {"Retry-After": str(exc.retry_after)},
    )


@bp.errorhandler(ConsentKitError)
def _domain_error(exc: ConsentKitError) -> Response:
    status = int(status_for(exc))
    if status >= 500:
        return _error_page(status, _("Something went wrong. Please try again."))
    return _error_page(status, exc.translated(_locale()))


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    messages = {
        400: _(
            "This form was not sent from this page or has expired. "
            "Go back, reload the page and try again."
        ),
        404: _("This page does not exist, or the participant is not in this study."),
        405: _("This address does not accept this kind of request."),
    }
    return _error_page(status, messages.get(status, _("Something went wrong. Please try again.")))
