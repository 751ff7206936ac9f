"""CDISC export schemas."""

from __future__ import annotations

import marshmallow as ma

from consentkit.services.cdisc import FORMATS


class CdiscArgsSchema(ma.Schema):
    format = ma.fields.String(
        load_default="csv",
        validate=ma.validate.OneOf(FORMATS),
        metadata={"description": "csv, or xpt (SAS transport version 5)"},
    )
