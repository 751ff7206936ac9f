"""Authentication for signers: pyotp codes, bearer access tokens, the signer guard."""

from __future__ import annotations

import time

import pyotp
from flask import current_app, g, request
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from consentkit.errors import AuthenticationError
from consentkit.models.access import SignerSession
from consentkit.services import access

ACCESS_TOKEN_TTL_S = 900

#: Token -> (session id, when this process verified it): the form-text read's recent checks.
_VERIFIED_TOKENS: dict[str, tuple[str, float]] = {}
_VERIFIED_TOKENS_MAX = 10_000


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
    session = access.active_session(_session_id(token, max_age_s), max_age_s=max_age_s)
    g.signer_session = session
    return session


def client_ip() -> str:
    """Return the client address: behind ``CONSENTKIT_TRUSTED_PROXIES`` hops, ProxyFix's."""
    return request.remote_addr or "unknown"


def _session_id(token: str, max_age_s: float) -> str:
    """Return the session id a bearer token names, verifying its signature and age.

    With ``max_age_s`` > 0 (the form-text read, as for the session itself) a
    verification this process made of the same token up to that many seconds
    ago is relied on: the signature check is the costliest step of a
    revalidation that answers 304. Every other request verifies the token.

    Raises:
        AuthenticationError: a token not signed by this server, or expired.
    """
    if max_age_s > 0:
        known = _VERIFIED_TOKENS.get(token)
        if known is not None and time.monotonic() - known[1] <= max_age_s:
            return known[0]
    try:
        data = _serializer().loads(token, max_age=ACCESS_TOKEN_TTL_S)
    except (SignatureExpired, BadSignature) as exc:
        raise AuthenticationError("Please sign in again.") from exc
    session_id = str(data.get("sid", ""))
    if len(_VERIFIED_TOKENS) >= _VERIFIED_TOKENS_MAX:
        _VERIFIED_TOKENS.clear()  # bounded; a miss costs one verification
    _VERIFIED_TOKENS[token] = (session_id, time.monotonic())
    return session_id
