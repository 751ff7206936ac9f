"""The member's own pages: sign-in, sign-out, first set-up, re-authentication, password.

Sign-in and set-up are the only pages used before there is a session, so their forms
carry the cookie-bound CSRF token (double submit) instead of the session's.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Response, redirect, request, url_for
from werkzeug.wrappers.response import Response as BaseResponse

from backend.auth import client_ip
from backend.auth.staff import COOKIE, TOTP, current_staff, issue_staff_token
from backend.qr import qr_svg
from backend.web.staff import bp
from backend.web.staff.common import (
    COOKIE_PATH,
    _,
    _check_anonymous_csrf,
    _check_csrf,
    _cookie_secure,
    _field,
    _locale,
    _needs_reauth,
    _reauth_redirect,
    _render,
    _signed,
    safe_next,
)
from consentkit.errors import (
    AuthenticationError,
    ConsentKitError,
    PermissionDeniedError,
    RateLimitedError,
)
from consentkit.services import digest
from consentkit.services import staff as staff_service
from consentkit.services.staff import SESSION_MAX


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """Sign in with e-mail, password and an authenticator (or recovery) code."""
    next_url = safe_next(request.values.get("next"))
    error = None
    status = 200
    email = ""
    if request.method == "POST":
        _check_anonymous_csrf()
        email = _field("email")
        password = (request.form.get("password") or "")[: staff_service.MAX_PASSWORD + 1]
        code = _field("code", 40)
        try:
            session = staff_service.sign_in(email, password, code, totp=TOTP, ip=client_ip())
        except RateLimitedError as exc:
            error, status = _("Too many attempts. Please try again later."), 429
            retry_after: int | None = exc.retry_after
        except AuthenticationError:
            error, status = _("The e-mail address, password or code is not valid."), 401
            retry_after = None
        else:
            response = redirect(next_url or url_for(".home"))
            response.set_cookie(
                COOKIE,
                issue_staff_token(session),
                max_age=int(SESSION_MAX.total_seconds()),
                httponly=True,
                samesite="Lax",
                secure=_cookie_secure(),
                path=COOKIE_PATH,
            )
            return response
        html, _status = _render("login.html", error=error, email=email, next_url=next_url)
        response = Response(html, status=status, mimetype="text/html")
        if retry_after:
            response.headers["Retry-After"] = str(retry_after)
        return response
    return _render("login.html", error=error, email=email, next_url=next_url)


@bp.post("/logout")
def logout() -> BaseResponse:
    """Sign out: end this session and forget the cookie."""
    try:
        signed = current_staff(cookie=True)
    except AuthenticationError:
        signed = None
    if signed is not None:
        _check_csrf(signed)
        staff_service.sign_out(signed.session.session_id)
    response = redirect(url_for(".login"))
    response.delete_cookie(COOKIE, path=COOKIE_PATH)
    return response


@bp.post("/digest")
def digest_switch() -> BaseResponse:
    """Switch the member's daily summary e-mail on or off (the switch on their home page)."""
    signed = _signed()
    _check_csrf(signed)
    enabled = request.form.get("enabled") == "on"
    digest.set_digest(signed.staff, enabled=enabled)
    return redirect(url_for(".home", notice="digest-on" if enabled else "digest-off"))


@bp.route("/setup/<token>", methods=["GET", "POST"])
def setup(token: str) -> Any:
    """First sign-in: scan the QR code, choose a password, get ten recovery codes once.

    Each opening shows a new secret (a copy of an earlier page is useless); after a
    refused post the same secret is shown again only when the code typed proves the
    member scanned it (``staff.resume_setup``), so a post never reveals it.
    """
    error = None
    try:
        if request.method == "POST":
            _check_anonymous_csrf()
            code = _field("code", 40)
            start = staff_service.resume_setup(token, code, totp=TOTP, ip=client_ip())
        else:
            start = staff_service.start_setup(token, totp=TOTP, ip=client_ip())
    except AuthenticationError as exc:
        return _render("setup_invalid.html", 404, message=exc.translated(_locale()))
    if request.method == "POST":
        password = (request.form.get("password") or "")[: staff_service.MAX_PASSWORD + 1]
        repeated = (request.form.get("password_repeat") or "")[: staff_service.MAX_PASSWORD + 1]
        if password != repeated:
            error = _("The two passwords are not the same.")
        else:
            try:
                codes = staff_service.complete_setup(token, password=password, code=code, totp=TOTP)
            except ConsentKitError as exc:
                if isinstance(exc, PermissionDeniedError | RateLimitedError):
                    raise
                if exc.code == "setup-link-invalid":
                    return _render("setup_invalid.html", 404, message=exc.translated(_locale()))
                error = exc.translated(_locale())
            else:
                return _render("recovery_codes.html", codes=codes, email=start.email)
    return _render(
        "setup.html",
        422 if error else 200,
        start=start,
        qr=qr_svg(start.provisioning_uri),
        secret_groups=" ".join(re.findall(".{1,4}", start.secret)),
        error=error,
        min_password=staff_service.MIN_PASSWORD,
    )


@bp.route("/reauth", methods=["GET", "POST"])
def reauth() -> Any:
    """Confirm password and code again before a sensitive action."""
    signed = _signed()
    next_url = safe_next(request.values.get("next")) or url_for(".home")
    error = None
    status = 200
    if request.method == "POST":
        _check_csrf(signed)
        password = (request.form.get("password") or "")[: staff_service.MAX_PASSWORD + 1]
        try:
            staff_service.reauthenticate(
                signed, password, _field("code", 40), totp=TOTP, ip=client_ip()
            )
        except RateLimitedError:
            error, status = _("Too many attempts. Please try again later."), 429
        except AuthenticationError:
            error, status = _("The password or code is not valid."), 401
        else:
            return redirect(next_url)
    return _render("reauth.html", status, error=error, next_url=next_url)


@bp.route("/password", methods=["GET", "POST"])
def password() -> Any:
    """Change the password (the member's other sessions end)."""
    signed = _signed()
    here = url_for(".password")
    if _needs_reauth(signed):
        return _reauth_redirect(here)
    error = None
    if request.method == "POST":
        _check_csrf(signed)
        current = (request.form.get("current_password") or "")[: staff_service.MAX_PASSWORD + 1]
        new = (request.form.get("new_password") or "")[: staff_service.MAX_PASSWORD + 1]
        if new != (request.form.get("new_password_repeat") or "")[: staff_service.MAX_PASSWORD + 1]:
            error = _("The two passwords are not the same.")
        else:
            try:
                staff_service.change_password(signed, current, new)
            except AuthenticationError as exc:
                if exc.code == "reauthentication-required":
                    return _reauth_redirect(here)
                error = _("The current password is not valid.")
            except ConsentKitError as exc:
                if isinstance(exc, PermissionDeniedError | RateLimitedError):
                    raise
                error = exc.translated(_locale())
            else:
                return redirect(url_for(".home", notice="password-changed"))
    return _render(
        "password.html", 422 if error else 200, error=error, min_password=staff_service.MIN_PASSWORD
    )
