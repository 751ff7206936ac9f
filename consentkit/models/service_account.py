"""Machine clients (a biobank, an EDC, a registry): their accounts, tokens and use log.

The client secret is stored as an argon2id hash, as staff passwords are; an
access token (a long random string) as its SHA-256. Accounts are never deleted:
revoked, with every token at once.
"""

from __future__ import annotations

from typing import Any, ClassVar

from mongoengine import DateTimeField, DictField, IntField, ListField, StringField

from consentkit.models.base import BaseDocument


class ServiceAccount(BaseDocument):
    """One system's account in one study, with its scopes and the sites it may see."""

    meta: ClassVar[dict[str, Any]] = {
        "collection": "service_accounts",
        "indexes": [{"fields": ["client_id"], "unique": True}, {"fields": ["trial_id"]}],
    }

    client_id = StringField(required=True)
    trial_id = StringField(required=True)
    name = StringField(required=True)
    #: ``permissions:read``, ``fhir:read``, ``webhooks:manage``, ``export:read``.
    scopes = ListField(StringField())
    #: Site codes; ``["*"]`` for every site of the study.
    sites = ListField(StringField())
    secret_hash = StringField(required=True)
    secret_rotated_at = DateTimeField(required=True)
    created_by = StringField(required=True)
    created_at = DateTimeField(required=True)
    revoked_at = DateTimeField(null=True)
    revoked_by = StringField(null=True)


class ServiceToken(BaseDocument):
    """One issued bearer token (by its SHA-256), valid until ``expires_at`` or revocation."""

    meta: ClassVar[dict[str, Any]] = {
        "collection": "service_tokens",
        "indexes": [{"fields": ["token_sha256"], "unique": True}, {"fields": ["client_id"]}],
    }

    token_sha256 = StringField(required=True)
    client_id = StringField(required=True)
    scopes = ListField(StringField())
    #: The account's study and sites when the token was issued (they never change for an
    #: account; revoking the account revokes its tokens), so a call reads one document.
    #: None on a token issued before they were kept here: the account is read then.
    trial_id = StringField(null=True)
    sites = ListField(StringField())
    issued_at = DateTimeField(required=True)
    expires_at = DateTimeField(required=True)
    revoked_at = DateTimeField(null=True)


class ServiceUse(BaseDocument):
    """The calls of one account in one minute: the rate counter.

    ``count`` counts the calls of the minute in one conditional write
    (``consentkit.db.count_under``); a call over the limit is refused (429) without
    moving it, and ``refused`` counts those. Each call itself is logged as a
    :class:`ServiceCall`.
    """

    meta: ClassVar[dict[str, Any]] = {
        "collection": "service_uses",
        "indexes": [{"fields": ["client_id", "window"], "unique": True}],
    }

    client_id = StringField(required=True)
    window = IntField(required=True)
    count = IntField(default=0)
    refused = IntField(default=0)
    #: The latest call of the minute (the staff page's "last used").
    last_at = DateTimeField(null=True)
    #: The use log as windows kept it before :class:`ServiceCall` (read for "last used" only).
    calls = ListField(DictField())


class ServiceCall(BaseDocument):
    """One call of a machine client (what, when): the use log, a small document a call.

    A document per call keeps every write the same size however busy the minute; the
    log used to be an array on the minute's counter, rewritten whole on each call.
    """

    meta: ClassVar[dict[str, Any]] = {
        "collection": "service_calls",
        "indexes": [{"fields": ["client_id", "at"]}],
    }

    client_id = StringField(required=True)
    at = DateTimeField(required=True)
    method = StringField(required=True)
    path = StringField(required=True)
