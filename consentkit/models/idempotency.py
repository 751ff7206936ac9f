"""Remembered answers to POSTs sent with an Idempotency-Key (phones on flaky networks retry)."""

from __future__ import annotations

from typing import Any, ClassVar

from mongoengine import DateTimeField, DictField, IntField, StringField

from consentkit.models.base import BaseDocument


class IdempotentResponse(BaseDocument):
    """The first response to a (caller, key): a retry gets it again; another body gets 422.

    Until ``status`` is set the document is a claim held by ``lease_owner`` until
    ``lease_until``; a retry after that may take it over (the owner dies with its
    process, the claim must not outlive it by a day).
    """

    meta: ClassVar[dict[str, Any]] = {
        "collection": "idempotent_responses",
        "indexes": [
            {"fields": ["scope", "key"], "unique": True},
            {"fields": ["expires_at"], "expireAfterSeconds": 0},
        ],
    }

    scope = StringField(required=True)
    key = StringField(required=True)
    request_sha256 = StringField(required=True)
    status = IntField(null=True)
    body = DictField(null=True)
    #: Random token of the request holding the claim; changed by a take-over (compare-and-set).
    lease_owner = StringField(null=True)
    lease_until = DateTimeField(null=True)
    created_at = DateTimeField(required=True)
    expires_at = DateTimeField(required=True)
