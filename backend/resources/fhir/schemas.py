"""FHIR query arguments (the bodies are FHIR resources, documented in docs/fhir.md)."""

from __future__ import annotations

import marshmallow as ma

STUDY = ma.fields.String(
    required=True,
    validate=ma.validate.Length(min=1, max=80),
    metadata={"description": "The study (trial id)", "example": "DEMO-NBL-1"},
)


class ConsentSearchArgsSchema(ma.Schema):
    study = STUDY
    patient = ma.fields.String(
        required=True,
        validate=ma.validate.Length(min=1, max=80),
        metadata={"description": "The participant's pseudonymous code", "example": "P-001"},
    )


class ExportArgsSchema(ma.Schema):
    study = STUDY
    site = ma.fields.String(validate=ma.validate.Length(min=1, max=40))
    since = ma.fields.AwareDateTime(
        data_key="_since",
        metadata={"description": "Only participants with an event at or after this time"},
    )
    cursor = ma.fields.String(
        validate=ma.validate.Length(min=1, max=40),
        metadata={"description": "Resume after the page that gave this cursor (`Link: next`)"},
    )
    count = ma.fields.Integer(
        data_key="_count",
        validate=ma.validate.Range(min=1, max=1000),
        metadata={"description": "Participants per page (default 200)"},
    )
