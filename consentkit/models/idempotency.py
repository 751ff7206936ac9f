"""Remembered answers to POSTs sent with an Idempotency-Key (phones on flaky networks retry)."""

from __future__ import annotations

from typing import Any, ClassVar

from mongoengine import DateTimeField, DictField, IntField, StringField

from consentkit.models.base import BaseDocument


class IdempotentResponse(BaseDocument):
    """The first response to a (caller, key): a retry gets it again; another body gets 422."""

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
    created_at = DateTimeField(required=True)
    expires_at = DateTimeField(required=True)
