"""Delivered documents: written once, with their SHA-256, never regenerated differently."""

from __future__ import annotations

from typing import Any, ClassVar

from mongoengine import DateTimeField, IntField, StringField

from consentkit.models.base import BaseDocument


class StoredDocument(BaseDocument):
    """A sealed PDF kept in GridFS.

    ``key`` names what the document is (e.g. the consent record in one language,
    as of its completion); it is unique, and the row doubles as the render lock,
    so two requests or machines never render the same document twice.
    """

    meta: ClassVar[dict[str, Any]] = {
        "collection": "documents",
        "indexes": [
            {"fields": ["key"], "unique": True},
            {"fields": ["participant_id", "kind"]},
            {"fields": ["sha256"]},
        ],
    }

    key = StringField(required=True)
    kind = StringField(required=True)  # consent-record | withdrawal-confirmation
    trial_id = StringField(required=True)
    participant_id = StringField(required=True)
    record_id = StringField(null=True)
    locale = StringField(required=True)
    as_of_seq = IntField(required=True)
    status = StringField(required=True)  # rendering | ready
    lock_owner = StringField(null=True)
    lock_at = DateTimeField(null=True)
    file_id = StringField(null=True)
    sha256 = StringField(null=True)
    size = IntField(null=True)
    record_sha256 = StringField(null=True)
    verification_code = StringField(null=True)
    created_at = DateTimeField(required=True)
    ready_at = DateTimeField(null=True)
