"""A study (trial), its sites, and the forms and versions it asks families to sign."""

from __future__ import annotations

from typing import Any, ClassVar

from mongoengine import (
    BinaryField,
    BooleanField,
    DateField,
    DateTimeField,
    DictField,
    EmbeddedDocument,
    EmbeddedDocumentListField,
    IntField,
    ListField,
    StringField,
)

from consentkit.enums import ChangeKind, FormKind, TrialType, VersionStatus
from consentkit.models.base import BaseDocument


class Site(EmbeddedDocument):
    """A hospital taking part; its country decides the consent rules."""

    code = StringField(required=True)
    name = StringField(required=True)
    country = StringField(required=True)
    timezone = StringField(required=True)
    #: BCP 47 tags; the first is the site's default language.
    languages = ListField(StringField(), required=True)
    is_active = BooleanField(default=True)


class Study(BaseDocument):
    """A clinical trial as imported from its authoring folder."""

    meta: ClassVar[dict[str, Any]] = {
        "collection": "studies",
        "indexes": [{"fields": ["trial_id"], "unique": True}],
    }

    trial_id = StringField(required=True)
    eu_ct_number = StringField()
    title = StringField(required=True)
    sponsor = StringField(required=True)
    trial_type = StringField(required=True, choices=[t.value for t in TrialType])
    contact_point = StringField(required=True)
    sites = EmbeddedDocumentListField(Site)
    #: ``{"default": [band, ...], "NL": [band, ...]}``; a band is ``{id, min_age, max_age, style}``.
    age_bands = DictField()
    #: Ethics-committee overrides of rule-pack cells (recorded, shown in requirements).
    rule_overrides = ListField(DictField())
    settings = DictField()
    #: SHA-256 of the study.yaml content last imported: unchanged files are a no-op.
    source_sha256 = StringField(required=True)
    created_at = DateTimeField(required=True)
    updated_at = DateTimeField(required=True)

    def site(self, code: str) -> Site | None:
        """Return the site with ``code``, or None."""
        return next((s for s in self.sites if s.code == code), None)


class ConsentForm(BaseDocument):
    """A form of a study (e.g. the parental consent), independent of its versions."""

    meta: ClassVar[dict[str, Any]] = {
        "collection": "consent_forms",
        "indexes": [{"fields": ["trial_id", "form_id"], "unique": True}],
    }

    trial_id = StringField(required=True)
    form_id = StringField(required=True)
    kind = StringField(required=True, choices=[k.value for k in FormKind])
    age_band = StringField(null=True)
    signer_roles = ListField(StringField(), required=True)
    #: How the form may be signed (policy.signing.allowed_methods); empty: the study's.
    signature_methods = ListField(StringField())
    created_at = DateTimeField(required=True)


#: A version's approval and life-cycle fields (what an import compares besides the text).
VERSION_META_FIELDS = (
    "status",
    "change",
    "change_summary",
    "ethics_reference",
    "approved_date",
    "effective_from",
    "comprehension",
)


class FormVersion(BaseDocument):
    """One version of a form with its content in every language.

    A published version is immutable: services update it only with a filter
    on a non-published status, so a concurrent publish cannot be overwritten.
    """

    meta: ClassVar[dict[str, Any]] = {
        "collection": "form_versions",
        "indexes": [
            {"fields": ["trial_id", "form_id", "version"], "unique": True},
            {"fields": ["trial_id", "status", "form_id"]},
        ],
    }

    trial_id = StringField(required=True)
    form_id = StringField(required=True)
    version = IntField(required=True, min_value=1)
    status = StringField(required=True, choices=[s.value for s in VersionStatus])
    change = StringField(required=True, choices=[c.value for c in ChangeKind])
    change_summary = StringField(default="")
    ethics_reference = StringField(null=True)
    approved_date = DateField(null=True)
    effective_from = DateField(null=True)
    comprehension = DictField()
    #: locale (BCP 47) -> canonical content (sections, items, questions, signature meanings).
    content = DictField(required=True)
    #: locale -> SHA-256 of the canonical JSON of that content (what a signature binds to).
    content_sha256 = DictField(required=True)
    #: Who approved it (a staff id) and when, when approved through the staff API or pages.
    approved_by = StringField(null=True)
    approved_at = DateTimeField(null=True)
    published_at = DateTimeField(null=True)
    #: Who published it (a staff id), when published through the staff API or pages.
    published_by = StringField(null=True)
    superseded_by = IntField(null=True)
    created_at = DateTimeField(required=True)
    updated_at = DateTimeField(required=True)

    @property
    def locales(self) -> list[str]:
        """Return the languages this version exists in, sorted."""
        return sorted(self.content)


class FormMedia(BaseDocument):
    """A picture a form shows, stored once per study by the SHA-256 of its bytes.

    The section's ``media.sha256`` in a version's content names it, so the
    signed text's fingerprint covers the picture too; a picture is never
    changed, only added (a new picture has a new fingerprint).
    """

    meta: ClassVar[dict[str, Any]] = {
        "collection": "form_media",
        "indexes": [{"fields": ["trial_id", "sha256"], "unique": True}],
    }

    trial_id = StringField(required=True)
    sha256 = StringField(required=True)
    #: Where the file was in the study folder when first imported (for people).
    ref = StringField(required=True)
    content_type = StringField(required=True)
    data = BinaryField(required=True)
    created_at = DateTimeField(required=True)
