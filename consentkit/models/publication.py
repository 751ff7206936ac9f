"""Study news and the lay summary of results, published to families, and their read receipts."""

from __future__ import annotations

from typing import Any, ClassVar

from mongoengine import DateTimeField, DictField, IntField, StringField

from consentkit.models.base import BaseDocument


class Publication(BaseDocument):
    """One published update of a study, in each of its languages; never changed once published.

    ``texts`` maps a language tag (``fr``, ``nl-BE``) to ``{"title", "body"}``, plain
    text: pages escape it and never read it as HTML or Markdown.
    """

    meta: ClassVar[dict[str, Any]] = {
        "collection": "publications",
        "indexes": [
            {"fields": ["trial_id", "published_at"]},
            {"fields": ["trial_id", "sha256", "published_at"]},
        ],
    }

    trial_id = StringField(required=True)
    #: ``news`` or ``results`` (the lay summary of results, CTR Art 37(4)).
    kind = StringField(required=True, choices=("news", "results"))
    texts = DictField(required=True)
    #: SHA-256 of the kind and texts: the same publication sent twice is found by it.
    sha256 = StringField(required=True)
    published_at = DateTimeField(required=True)
    #: The staff member who published it.
    published_by = StringField(required=True)
    #: How many family members a message was queued for when it was published.
    queued = IntField(default=0)


class PublicationReceipt(BaseDocument):
    """A family member opened a publication on the family pages (once per member)."""

    meta: ClassVar[dict[str, Any]] = {
        "collection": "publication_receipts",
        "indexes": [
            {"fields": ["publication_id", "signer_id"], "unique": True},
            {"fields": ["trial_id", "publication_id"]},
        ],
    }

    publication_id = StringField(required=True)
    trial_id = StringField(required=True)
    signer_id = StringField(required=True)
    read_at = DateTimeField(required=True)
