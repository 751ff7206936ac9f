"""Webhook subscription schemas."""

from __future__ import annotations

import marshmallow as ma

from consentkit.policy.webhooks import EVENT_TYPES

_EVENT_TYPES = ma.fields.List(
    ma.fields.String(validate=ma.validate.Length(min=1, max=64)),
    validate=ma.validate.Length(min=1, max=len(EVENT_TYPES)),
    metadata={"description": "Any of: " + ", ".join(EVENT_TYPES)},
)


class WebhookCreateSchema(ma.Schema):
    url = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=2000))
    event_types = ma.fields.List(
        ma.fields.String(validate=ma.validate.Length(min=1, max=64)),
        required=True,
        validate=ma.validate.Length(min=1, max=len(EVENT_TYPES)),
        metadata={"description": "Any of: " + ", ".join(EVENT_TYPES)},
    )
    sites = ma.fields.List(
        ma.fields.String(validate=ma.validate.Length(min=1, max=64)),
        validate=ma.validate.Length(min=1, max=200),
        metadata={"description": 'Site codes, or ["*"]; default: every site the caller sees'},
    )
    description = ma.fields.String(validate=ma.validate.Length(max=500))


class WebhookUpdateSchema(ma.Schema):
    url = ma.fields.String(validate=ma.validate.Length(min=1, max=2000))
    event_types = _EVENT_TYPES
    is_active = ma.fields.Boolean()


class WebhookSchema(ma.Schema):
    id = ma.fields.String()
    trial_id = ma.fields.String()
    url = ma.fields.String()
    event_types = ma.fields.List(ma.fields.String())
    sites = ma.fields.List(ma.fields.String())
    description = ma.fields.String(allow_none=True)
    is_active = ma.fields.Boolean()
    disabled_reason = ma.fields.String(
        allow_none=True, metadata={"description": "failures (switched off automatically) or staff"}
    )
    disabled_at = ma.fields.DateTime(allow_none=True)
    consecutive_failures = ma.fields.Integer()
    created_by = ma.fields.String()
    created_at = ma.fields.DateTime()
    previous_secret_until = ma.fields.DateTime(
        allow_none=True,
        metadata={"description": "after a rotation: until when the old secret also signs"},
    )
    history = ma.fields.List(ma.fields.Dict())


class WebhookSecretSchema(WebhookSchema):
    secret = ma.fields.String(metadata={"description": "whsec_...: shown this once"})


class DeliverySchema(ma.Schema):
    delivery_id = ma.fields.String()
    webhook_id = ma.fields.String()
    event_type = ma.fields.String()
    event_seq = ma.fields.Integer()
    status = ma.fields.String()
    attempts = ma.fields.Integer()
    last_error = ma.fields.String(allow_none=True)
    reason = ma.fields.String(allow_none=True)
    created_at = ma.fields.DateTime()
    due_at = ma.fields.DateTime()
    finished_at = ma.fields.DateTime(allow_none=True)
