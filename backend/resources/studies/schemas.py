"""Study and form schemas."""

from __future__ import annotations

import marshmallow as ma

from backend.schemas import LANGUAGE_FIELD


class LanguageSchema(ma.Schema):
    tag = ma.fields.String(metadata={"example": "fr"})
    name = ma.fields.String(metadata={"description": "In its own language", "example": "Français"})
    english_name = ma.fields.String()
    direction = ma.fields.String(metadata={"description": "ltr or rtl"})


class SiteSchema(ma.Schema):
    code = ma.fields.String()
    name = ma.fields.String()
    country = ma.fields.String()
    timezone = ma.fields.String()
    is_active = ma.fields.Boolean()
    languages = ma.fields.List(ma.fields.Nested(LanguageSchema))


class StudySchema(ma.Schema):
    trial_id = ma.fields.String(metadata={"example": "DEMO-NBL-1"})
    eu_ct_number = ma.fields.String(allow_none=True)
    title = ma.fields.String()
    sponsor = ma.fields.String()
    trial_type = ma.fields.String()
    contact_point = ma.fields.String()
    sites = ma.fields.List(ma.fields.Nested(SiteSchema))


class VersionSummarySchema(ma.Schema):
    version = ma.fields.Integer()
    status = ma.fields.String(
        metadata={"description": "draft, approved, scheduled, published, superseded, retired"}
    )
    status_label = ma.fields.String()
    change = ma.fields.String(metadata={"description": "initial, major or minor"})
    requires_reconsent = ma.fields.Boolean()
    change_summary = ma.fields.String()
    ethics_reference = ma.fields.String(allow_none=True)
    approved_date = ma.fields.Date(allow_none=True)
    effective_from = ma.fields.Date(allow_none=True)
    locales = ma.fields.List(ma.fields.String())
    content_sha256 = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String())


class FormSummarySchema(ma.Schema):
    form_id = ma.fields.String()
    kind = ma.fields.String()
    kind_label = ma.fields.String()
    age_band = ma.fields.String(allow_none=True)
    signer_roles = ma.fields.List(ma.fields.String())
    version_in_force = ma.fields.Integer(allow_none=True)
    versions = ma.fields.List(ma.fields.Nested(VersionSummarySchema))


class FormContentSchema(ma.Schema):
    """A form version in one language, as a participant sees it."""

    form_id = ma.fields.String()
    kind = ma.fields.String()
    kind_label = ma.fields.String()
    age_band = ma.fields.String(allow_none=True)
    age_band_style = ma.fields.String(
        allow_none=True, metadata={"description": "The band's reading style, e.g. pictorial"}
    )
    version = ma.fields.Integer()
    change = ma.fields.String()
    effective_from = ma.fields.Date(allow_none=True)
    ethics_reference = ma.fields.String(allow_none=True)
    comprehension = ma.fields.Dict(allow_none=True)
    signer_roles = ma.fields.List(ma.fields.Dict())
    locale = ma.fields.String()
    language = ma.fields.Nested(LanguageSchema)
    available_languages = ma.fields.List(ma.fields.Nested(LanguageSchema))
    content_sha256 = ma.fields.String(
        metadata={"description": "SHA-256 of exactly this text; a signature binds to it"}
    )
    title = ma.fields.String()
    summary = ma.fields.String(allow_none=True)
    # Content is passed through as the service built it (a list of objects each): walking
    # 35 KiB of text field by field in marshmallow cost more than the rest of the request.
    sections = ma.fields.Raw(
        metadata={
            "description": "[{id, title, summary, html (safe), media: {alt, src (data: URL)}}]"
        }
    )
    items = ma.fields.Raw(metadata={"description": "[{id, code, required, text}]"})
    questions = ma.fields.Raw(metadata={"description": "[{id, text, options: [{id, text}]}]"})
    signature_meanings = ma.fields.Raw(metadata={"description": "{role: meaning text}"})


class FormContentQueryArgsSchema(ma.Schema):
    lang = LANGUAGE_FIELD
    site = ma.fields.String(
        metadata={"description": "Site code: its default language is the fallback"}
    )


class ParticipantFormsQueryArgsSchema(ma.Schema):
    site = ma.fields.String(required=True, metadata={"example": "NL-01"})
    birth_date = ma.fields.Date(required=True, metadata={"example": "2014-05-17"})
    on = ma.fields.Date(metadata={"description": "Date of the decision [default: today, UTC]"})
    lang = LANGUAGE_FIELD


class ParticipantFormsSchema(ma.Schema):
    trial_id = ma.fields.String()
    site = ma.fields.String()
    on = ma.fields.Date()
    requirements = ma.fields.Dict(metadata={"description": "See GET /requirements"})
    forms = ma.fields.List(ma.fields.Nested(FormContentSchema))
    missing_form_kinds = ma.fields.List(
        ma.fields.String(), metadata={"description": "Form kinds required but not in the study"}
    )
