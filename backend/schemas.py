"""Fields shared by several resources."""

from __future__ import annotations

import marshmallow as ma

#: An explicit language choice; it wins over Accept-Language.
LANGUAGE_FIELD = ma.fields.String(
    validate=ma.validate.Regexp(r"^[A-Za-z]{2,3}([-_][A-Za-z]{2})?$"),
    metadata={"description": "Language (BCP 47), e.g. fr or fr-BE", "example": "fr"},
)

#: A database id (24 hex digits): anything else is refused with 422 before any lookup.
OBJECT_ID = ma.validate.Regexp(r"^[0-9a-f]{24}$", error="Not a valid id.")
