"""The common base of consentkit's Documents."""

from __future__ import annotations

from typing import Any, ClassVar

from mongoengine import Document


class BaseDocument(Document):
    """Abstract base: explicit collections, indexes built at start-up, not on first use."""

    meta: ClassVar[dict[str, Any]] = {"abstract": True, "auto_create_index": False}
