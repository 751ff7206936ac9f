"""Permission API schemas ("may I?")."""

from __future__ import annotations

import marshmallow as ma

from consentkit.services.permissions import BATCH_MAX

ACTIVITY = ma.fields.String(
    validate=ma.validate.Length(min=1, max=64),
    metadata={
        "description": "An activity (docs/permissions.md#activities)",
        "example": "treatment",
    },
)
ON = ma.fields.AwareDateTime(
    default_timezone=None,
    metadata={"description": "The moment asked about (ISO 8601 with offset); default now"},
)


class PermissionArgsSchema(ma.Schema):
    trial_id = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=64))
    participant = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=64))
    activity = ACTIVITY
    on = ON


class PermissionBatchSchema(ma.Schema):
    trial_id = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=64))
    participants = ma.fields.List(
        ma.fields.String(validate=ma.validate.Length(min=1, max=64)),
        required=True,
        validate=ma.validate.Length(min=1, max=BATCH_MAX),
    )
    activities = ma.fields.List(ACTIVITY, validate=ma.validate.Length(max=20))
    on = ON


class BasisSchema(ma.Schema):
    records = ma.fields.List(
        ma.fields.Dict(), metadata={"description": "Records in force: id, form, version, choice"}
    )
    events = ma.fields.List(
        ma.fields.Dict(), metadata={"description": "Withdrawals and dissent that decided it"}
    )


class AnswerSchema(ma.Schema):
    activity = ma.fields.String()
    decision = ma.fields.String(metadata={"description": "permit or deny"})
    reason = ma.fields.String(
        allow_none=True, metadata={"description": "Why deny (docs/permissions.md#reason-codes)"}
    )
    basis = ma.fields.Nested(BasisSchema)
    valid_until = ma.fields.Date(
        allow_none=True, metadata={"description": "The next day the answer may change by age"}
    )


class PermissionSchema(ma.Schema):
    trial_id = ma.fields.String()
    participant = ma.fields.String()
    at = ma.fields.DateTime()
    answers = ma.fields.List(ma.fields.Nested(AnswerSchema))


class BatchEntrySchema(ma.Schema):
    participant = ma.fields.String()
    answers = ma.fields.List(ma.fields.Nested(AnswerSchema))


class PermissionBatchResultSchema(ma.Schema):
    trial_id = ma.fields.String()
    at = ma.fields.DateTime()
    results = ma.fields.List(ma.fields.Nested(BatchEntrySchema))
