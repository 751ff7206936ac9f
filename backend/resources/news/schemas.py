"""Study news as a family member reads it."""

from __future__ import annotations

import marshmallow as ma


class NewsQueryArgsSchema(ma.Schema):
    lang = ma.fields.String(load_default=None, validate=ma.validate.Length(max=35))


class NewsItemSchema(ma.Schema):
    id = ma.fields.String()
    kind = ma.fields.String(metadata={"description": "news or results"})
    locale = ma.fields.String(metadata={"description": "The language of title and body"})
    title = ma.fields.String()
    body = ma.fields.String(metadata={"description": "Plain text: show it escaped"})
    published_at = ma.fields.DateTime()
    is_read = ma.fields.Boolean()


class NewsReadSchema(ma.Schema):
    is_new = ma.fields.Boolean(metadata={"description": "False: it was marked read before"})
