"""Authentication for signers: pyotp codes, bearer access tokens, the signer guard."""

from __future__ import annotations

import pyotp
from flask import current_app, g, request
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from consentkit.errors import AuthenticationError
from consentkit.models.access import SignerSession
from consentkit.services import access

ACCESS_TOKEN_TTL_S = 900


class HotpCodes:
    """pyotp HOTP, 6 digits: the one-time-code algorithm consentkit's access service uses."""

    def new_secret(self) -> str:
        """Return a fresh base32 secret."""
        return pyotp.random_base32()

    def code(self, secret: str, counter: int) -> str:
        """Return the 6-digit code for ``counter``."""
        return str(pyotp.HOTP(secret, digits=6).at(counter))


OTP = HotpCodes()


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="consentkit-access")


def issue_access_token(session: SignerSession) -> str:
    """Return a short-lived bearer token naming the session (checked again on every use)."""
    return _serializer().dumps({"sid": session.session_id})


def current_session(*, max_age_s: float = 0.0) -> SignerSession:
    """Return the signed-in signer's live session from the ``Authorization`` header.

    ``max_age_s`` > 0 accepts this process's recent check of the session (see
    ``access.active_session``); only the form-text read uses it.

    Raises:
        AuthenticationError: missing, malformed, expired or revoked token.
    """
    if "signer_session" in g:
        session: SignerSession = g.signer_session
        return session
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise AuthenticationError("Sign in to continue.")
    try:
        data = _serializer().loads(token, max_age=ACCESS_TOKEN_TTL_S)
    except (SignatureExpired, BadSignature) as exc:
        raise AuthenticationError("Please sign in again.") from exc
    session = access.active_session(str(data.get("sid", "")), max_age_s=max_age_s)
    g.signer_session = session
    return session


def client_ip() -> str:
    """Return the client address: behind ``CONSENTKIT_TRUSTED_PROXIES`` hops, ProxyFix's."""
    return request.remote_addr or "unknown"
