"""Authentication for staff: pyotp TOTP, staff bearer tokens and cookies, the staff guard."""

from __future__ import annotations

import hmac
from datetime import datetime

import pyotp
from flask import current_app, g, request
from itsdangerous import BadSignature, URLSafeTimedSerializer

from consentkit.errors import AuthenticationError
from consentkit.models.staff import StaffSession
from consentkit.policy.roles import Action
from consentkit.services import staff as staff_service
from consentkit.services.staff import SESSION_MAX, Signed

#: The web pages keep the same signed token in this cookie (HttpOnly, SameSite=Lax).
COOKIE = "ck_staff"
STEP_S = 30


class PyotpTotp:
    """RFC 6238 TOTP (30 s, 6 digits) with pyotp; one step of clock drift either way."""

    def new_secret(self) -> str:
        """Return a fresh base32 secret."""
        return pyotp.random_base32()

    def matching_step(self, secret: str, code: str, at: datetime) -> int | None:
        """Return the time step whose code is ``code`` (now, one before or one after)."""
        totp = pyotp.TOTP(secret)
        now_step = int(at.timestamp()) // STEP_S
        for step in (now_step - 1, now_step, now_step + 1):
            if hmac.compare_digest(totp.at(step * STEP_S), code):
                return step
        return None

    def provisioning_uri(self, secret: str, *, name: str, issuer: str) -> str:
        """Return the ``otpauth://`` URI for the QR code."""
        return pyotp.TOTP(secret).provisioning_uri(name=name, issuer_name=issuer)


TOTP = PyotpTotp()


def _serializer() -> URLSafeTimedSerializer:
    # A different salt from signer tokens: a signer's token is never a staff token.
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="consentkit-staff")


def issue_staff_token(session: StaffSession) -> str:
    """Return the bearer token (and cookie value) naming a staff session."""
    return _serializer().dumps({"ssid": session.session_id})


def session_id_from(token: str) -> str | None:
    """Return the session id a staff token names, or None when it is not valid."""
    try:
        data = _serializer().loads(token, max_age=int(SESSION_MAX.total_seconds()))
    except BadSignature:
        return None
    return str(data.get("ssid", "")) or None


def current_staff(*, cookie: bool = False) -> Signed:
    """Return the signed-in staff member from the bearer token (or, for pages, the cookie).

    The JSON API takes bearer tokens only: a cookie is sent by the browser on
    its own, so only the web pages, which check a CSRF token on every form
    post, accept it.

    Raises:
        AuthenticationError: missing, malformed or ended session.
    """
    if "staff_signed" in g:
        signed: Signed = g.staff_signed
        return signed
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        token = request.cookies.get(COOKIE, "") if cookie else ""
    session_id = session_id_from(token) if token else None
    if session_id is None:
        raise AuthenticationError("Sign in to continue.")
    signed = staff_service.active_session(session_id)
    g.staff_signed = signed
    return signed


def csrf_token(signed: Signed) -> str:
    """Return the CSRF token of a session: an HMAC of its id, so nothing extra is stored."""
    key = current_app.config["SECRET_KEY"].encode("utf-8")
    return hmac.new(key, b"csrf:" + signed.session.session_id.encode(), "sha256").hexdigest()


def csrf_ok(signed: Signed, presented: str | None) -> bool:
    """Whether a form post carries this session's CSRF token."""
    return bool(presented) and hmac.compare_digest(csrf_token(signed), presented or "")


def require(
    action: Action, trial_id: str, site_code: str | None = None, *, cookie: bool = False
) -> Signed:
    """Return the signed-in member if their grants allow ``action`` there.

    Raises:
        AuthenticationError: not signed in.
        PermissionDeniedError: signed in, not allowed.
    """
    signed = current_staff(cookie=cookie)
    staff_service.authorise(signed, action, trial_id, site_code)
    return signed
