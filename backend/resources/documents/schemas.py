"""Document verification schemas."""

from __future__ import annotations

import marshmallow as ma


class SealSchema(ma.Schema):
    sealed = ma.fields.Boolean()
    intact = ma.fields.Boolean(metadata={"description": "No byte changed since sealing"})
    trusted = ma.fields.Boolean(metadata={"description": "Certificate chains to a trust root"})
    covers_whole_file = ma.fields.Boolean()
    signer = ma.fields.String(allow_none=True)
    signed_at = ma.fields.String(allow_none=True)


class VerificationSchema(ma.Schema):
    ok = ma.fields.Boolean(
        metadata={
            "description": "Genuine: a valid seal (anyone); for staff also a record "
            "matching the audit trail"
        }
    )
    seal = ma.fields.Nested(SealSchema)
    problems = ma.fields.List(ma.fields.String())
    record_matches = ma.fields.Boolean(metadata={"description": "Staff only"})
    record = ma.fields.Dict(allow_none=True, metadata={"description": "Staff only"})
