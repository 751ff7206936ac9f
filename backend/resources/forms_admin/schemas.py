"""Form publishing schemas."""

from __future__ import annotations

import marshmallow as ma

from backend.schemas import LANGUAGE_FIELD

SITE = ma.fields.String(validate=ma.validate.Length(min=1, max=40), metadata={"example": "NL-01"})


class ImportReportSchema(ma.Schema):
    trial_id = ma.fields.String()
    changed = ma.fields.Boolean()
    created = ma.fields.List(ma.fields.String())
    updated = ma.fields.List(ma.fields.String())
    unchanged = ma.fields.List(ma.fields.String())


class PreviewArgsSchema(ma.Schema):
    lang = LANGUAGE_FIELD


class ApproveSchema(ma.Schema):
    ethics_reference = ma.fields.String(
        required=True,
        validate=ma.validate.Length(min=1, max=200),
        metadata={"example": "METC-2026-014 amendment 2"},
    )


class PublishSchema(ma.Schema):
    change = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(["major", "minor"]),
        metadata={"description": "major asks consented families to re-consent; minor does not"},
    )
    effective_from = ma.fields.Date(required=True, metadata={"example": "2026-06-01"})


class VersionStateSchema(ma.Schema):
    form_id = ma.fields.String()
    version = ma.fields.Integer()
    status = ma.fields.String()
    change = ma.fields.String()
    ethics_reference = ma.fields.String(allow_none=True)
    approved_date = ma.fields.Date(allow_none=True)
    effective_from = ma.fields.Date(allow_none=True)
    locales = ma.fields.List(ma.fields.String())


class PublishResultSchema(ma.Schema):
    form_id = ma.fields.String()
    version = ma.fields.Integer()
    change = ma.fields.String()
    effective_from = ma.fields.Date()
    reconsent_tasks = ma.fields.Integer(
        metadata={"description": "Re-consent tasks this publication created"}
    )
    informed = ma.fields.Integer(
        metadata={
            "description": "Consented records whose families were told about a minor change "
            "(no new signature)"
        }
    )


class ReconsentArgsSchema(ma.Schema):
    site = SITE


class ReconsentTaskSchema(ma.Schema):
    participant_code = ma.fields.String()
    site_code = ma.fields.String()
    form_id = ma.fields.String(allow_none=True)
    version = ma.fields.Integer(allow_none=True)
    due_date = ma.fields.Date()
    detail = ma.fields.String()
