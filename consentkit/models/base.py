"""The common base of consentkit's Documents."""

from __future__ import annotations

from mongoengine import Document


class BaseDocument(Document):
    """Abstract base: explicit collections, indexes built at start-up, not on first use."""

    meta = {"abstract": True, "auto_create_index": False}
