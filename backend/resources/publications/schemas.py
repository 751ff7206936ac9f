"""Study news and results (staff) schemas."""

from __future__ import annotations

import marshmallow as ma

from consentkit.policy.news import KINDS, MAX_BODY, MAX_TITLE


class PublicationTextSchema(ma.Schema):
    title = ma.fields.String(required=True, validate=ma.validate.Length(max=MAX_TITLE))
    body = ma.fields.String(required=True, validate=ma.validate.Length(max=MAX_BODY))


class PublicationCreateSchema(ma.Schema):
    kind = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(KINDS),
        metadata={"description": "news, or results: the lay summary of results (CTR Art 37(4))"},
    )
    texts = ma.fields.Dict(
        keys=ma.fields.String(validate=ma.validate.Length(min=2, max=35)),
        values=ma.fields.Nested(PublicationTextSchema),
        required=True,
        validate=ma.validate.Length(min=1, max=40),
        metadata={"description": "Per language (a study language): plain-text title and body"},
    )


class PublicationSchema(ma.Schema):
    id = ma.fields.String()
    kind = ma.fields.String()
    texts = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Nested(PublicationTextSchema))
    published_at = ma.fields.DateTime()
    published_by = ma.fields.String()
    queued = ma.fields.Integer(
        metadata={"description": "Family members a message was queued for (0 until the worker ran)"}
    )
    read = ma.fields.Integer(metadata={"description": "Family members who opened it"})
