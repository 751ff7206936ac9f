"""Health check schemas."""

from __future__ import annotations

import marshmallow as ma


class DatabaseHealthSchema(ma.Schema):
    """Database part of the health report."""

    status = ma.fields.String(metadata={"example": "ok"})
    latency_ms = ma.fields.Float(metadata={"description": "Round-trip time of a ping"})


class HealthSchema(ma.Schema):
    """Health report."""

    status = ma.fields.String(metadata={"example": "ok"})
    version = ma.fields.String()
    database = ma.fields.Nested(DatabaseHealthSchema)
