"""Trial staff: accounts, their signed-in sessions, and the security log.

Secrets are never stored in clear: passwords as argon2id hashes, the TOTP
secret Fernet-encrypted (consentkit.crypto), recovery codes and setup links as
SHA-256 (they are long random strings, so a fast hash is enough).
"""

from __future__ import annotations

from typing import Any, ClassVar

from mongoengine import BooleanField, DateTimeField, DictField, IntField, ListField, StringField

from consentkit.models.base import BaseDocument


class StaffMember(BaseDocument):
    """One person's account. Never deleted or reassigned (21 CFR 11.300(a)): deactivated."""

    meta: ClassVar[dict[str, Any]] = {
        "collection": "staff",
        "indexes": [
            {"fields": ["email"], "unique": True},
            {"fields": ["setup_sha256"], "unique": True, "sparse": True},
            {"fields": ["grants.trial_id"]},
        ],
    }

    email = StringField(required=True)
    name = StringField(required=True)
    #: ``[{"trial_id", "role", "sites": [...]}]`` (consentkit.policy.roles.Grant).
    grants = ListField(DictField())
    locale = StringField(default="en")
    time_zone = StringField(default="Europe/Brussels")
    active = BooleanField(default=True)
    #: The daily staff digest (consentkit.services.digest): on unless the member switched it off.
    digest_enabled = BooleanField(default=True)
    #: The site-local day (ISO date) the digest was last considered for: one look per day.
    digest_day = StringField(null=True)
    password_hash = StringField(null=True)
    password_changed_at = DateTimeField(null=True)
    totp_secret = StringField(null=True)  # Fernet token
    #: The last TOTP time step accepted: a code is accepted once (replay).
    totp_last_step = IntField(default=0)
    recovery_sha256 = ListField(StringField())
    #: Failures counted at the last one (those within ``FAILURE_WINDOW``; for display).
    failed_attempts = IntField(default=0)
    #: Times of the last few failed sign-ins: failures older than the window stop counting.
    failures_at = ListField(DateTimeField())
    #: Locks in a row (each lasts longer); forgotten a day after the last one ended.
    lockouts = IntField(default=0)
    locked_until = DateTimeField(null=True)
    setup_sha256 = StringField(null=True)
    setup_expires_at = DateTimeField(null=True)
    created_at = DateTimeField(required=True)
    created_by = StringField(null=True)


class StaffSession(BaseDocument):
    """A signed-in browser or API client; idle and absolute expiry, re-authentication time."""

    meta: ClassVar[dict[str, Any]] = {
        "collection": "staff_sessions",
        "indexes": [
            {"fields": ["session_id"], "unique": True},
            {"fields": ["staff_id"]},
        ],
    }

    session_id = StringField(required=True)
    staff_id = StringField(required=True)
    created_at = DateTimeField(required=True)
    last_seen_at = DateTimeField(required=True)
    expires_at = DateTimeField(required=True)
    reauth_at = DateTimeField(required=True)
    revoked_at = DateTimeField(null=True)


class SecurityEvent(BaseDocument):
    """Append-only log of staff sign-ins, failures, lockouts and account changes.

    21 CFR 11.300(d): attempts at unauthorised use are detected and reported.
    """

    meta: ClassVar[dict[str, Any]] = {
        "collection": "security_events",
        "indexes": [{"fields": ["staff_id", "at"]}, {"fields": ["type", "at"]}],
    }

    type = StringField(required=True)
    staff_id = StringField(null=True)
    email = StringField(null=True)
    ip = StringField(null=True)
    detail = DictField()
    at = DateTimeField(required=True)
