"""Service account schemas."""

from __future__ import annotations

import marshmallow as ma

from consentkit.services.service_accounts import SCOPES


class ServiceAccountCreateSchema(ma.Schema):
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200))
    scopes = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(SCOPES)),
        required=True,
        validate=ma.validate.Length(min=1, max=len(SCOPES)),
    )
    sites = ma.fields.List(
        ma.fields.String(validate=ma.validate.Length(min=1, max=64)),
        required=True,
        validate=ma.validate.Length(min=1, max=200),
        metadata={"description": 'Site codes, or ["*"] for every site'},
    )


class ServiceAccountSchema(ma.Schema):
    client_id = ma.fields.String()
    name = ma.fields.String()
    scopes = ma.fields.List(ma.fields.String())
    sites = ma.fields.List(ma.fields.String())
    created_at = ma.fields.DateTime()
    secret_rotated_at = ma.fields.DateTime()
    revoked_at = ma.fields.DateTime(allow_none=True)


class ServiceAccountSecretSchema(ServiceAccountSchema):
    client_secret = ma.fields.String(metadata={"description": "Shown this once"})
