"""Signer access: invitations, one-time-code challenges, refresh tokens, rate-limit counters.

Secrets are never stored in clear: invitation codes and refresh tokens as
SHA-256, one-time-code secrets Fernet-encrypted (consentkit.crypto).
"""

from __future__ import annotations

from typing import Any, ClassVar

from mongoengine import DateTimeField, IntField, StringField

from consentkit.models.base import BaseDocument

#: How long an expired one-time-code challenge is kept before the database drops it.
CHALLENGE_KEPT_S = 86_400


class Invitation(BaseDocument):
    """A code staff give one signer to open the app (also as a deep link / QR payload)."""

    meta: ClassVar[dict[str, Any]] = {
        "collection": "invitations",
        "indexes": [
            {"fields": ["code_sha256"], "unique": True},
            {"fields": ["signer_id"]},
        ],
    }

    code_sha256 = StringField(required=True)
    trial_id = StringField(required=True)
    participant_id = StringField(required=True)
    signer_id = StringField(required=True)
    created_at = DateTimeField(required=True)
    expires_at = DateTimeField(required=True)
    revoked_at = DateTimeField(null=True)


class OtpChallenge(BaseDocument):
    """One one-time code sent to a signer: short-lived, few attempts, usable once.

    The database drops a challenge a day after it expired (TTL index): nothing
    reads it after expiry, and without the index every code ever sent stays.
    """

    meta: ClassVar[dict[str, Any]] = {
        "collection": "otp_challenges",
        "indexes": [
            {"fields": ["challenge_id"], "unique": True},
            {"fields": ["signer_id"]},
            {"fields": ["expires_at"], "expireAfterSeconds": CHALLENGE_KEPT_S},
        ],
    }

    challenge_id = StringField(required=True)
    signer_id = StringField(required=True)
    purpose = StringField(required=True)  # sign-in | step-up | authenticator
    secret = StringField(required=True)  # Fernet token of the HOTP secret
    counter = IntField(required=True)
    attempts = IntField(default=0)
    created_at = DateTimeField(required=True)
    expires_at = DateTimeField(required=True)
    used_at = DateTimeField(null=True)
    session_id = StringField(null=True)  # step-up, authenticator: the session it belongs to
    #: How the code travelled (``email``, ``sms``, ``console``; see consentkit.notify).
    channel = StringField(null=True)


class SignerSession(BaseDocument):
    """A signed-in device: its rotating refresh token and its last step-up proof."""

    meta: ClassVar[dict[str, Any]] = {
        "collection": "signer_sessions",
        "indexes": [
            {"fields": ["session_id"], "unique": True},
            {"fields": ["refresh_sha256"], "unique": True, "sparse": True},
            {"fields": ["signer_id"]},
        ],
    }

    session_id = StringField(required=True)
    signer_id = StringField(required=True)
    participant_id = StringField(required=True)
    trial_id = StringField(required=True)
    device_id = StringField(required=True)
    refresh_sha256 = StringField(null=True)
    created_at = DateTimeField(required=True)
    refreshed_at = DateTimeField(required=True)
    expires_at = DateTimeField(required=True)
    revoked_at = DateTimeField(null=True)
    step_up_at = DateTimeField(null=True)
    #: The factor that gave ``step_up_at`` (``otp-email``, ``otp-sms``, ``totp-app``...): the
    #: signature names it as its evidence (21 CFR 11.200).
    step_up_method = StringField(null=True)


class RetiredRefreshToken(BaseDocument):
    """A refresh token already rotated away: presenting it again means it was stolen."""

    meta: ClassVar[dict[str, Any]] = {
        "collection": "retired_refresh_tokens",
        "indexes": [
            {"fields": ["sha256"], "unique": True},
            {"fields": ["expires_at"], "expireAfterSeconds": 0},
        ],
    }

    sha256 = StringField(required=True)
    session_id = StringField(required=True)
    expires_at = DateTimeField(required=True)


class RateCounter(BaseDocument):
    """Attempts in one fixed window for one key (e.g. an IP, an invitation)."""

    meta: ClassVar[dict[str, Any]] = {
        "collection": "rate_counters",
        "indexes": [
            {"fields": ["key", "window"], "unique": True},
            {"fields": ["expires_at"], "expireAfterSeconds": 0},
        ],
    }

    key = StringField(required=True)
    window = IntField(required=True)
    count = IntField(default=0)
    expires_at = DateTimeField(required=True)
