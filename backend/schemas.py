"""Fields and input schemas shared by several resources and by the staff pages.

The JSON API (``backend/resources``) and the server-rendered pages (``backend/web``)
validate the same input with the same schema; it lives here so that the pages never
import the API's modules (an import-linter contract).
"""

from __future__ import annotations

import marshmallow as ma

from consentkit.enums import Channel, OtherParentAgreement, WithdrawalScope

#: An explicit language choice; it wins over Accept-Language.
LANGUAGE_FIELD = ma.fields.String(
    validate=ma.validate.Regexp(r"^[A-Za-z]{2,3}([-_][A-Za-z]{2})?$"),
    metadata={"description": "Language (BCP 47), e.g. fr or fr-BE", "example": "fr"},
)

#: A database id (24 hex digits): anything else is refused with 422 before any lookup.
OBJECT_ID = ma.validate.Regexp(r"^[0-9a-f]{24}$", error="Not a valid id.")


class PreviewSchema(ma.Schema):
    site = ma.fields.String(
        required=True, validate=ma.validate.Length(min=1, max=40), metadata={"example": "NL-01"}
    )
    birth_date = ma.fields.Date(required=True)


class NewSignerSchema(ma.Schema):
    role = ma.fields.String(required=True, validate=ma.validate.OneOf(["guardian", "participant"]))
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200))
    email = ma.fields.Email(load_default=None)
    phone = ma.fields.String(load_default=None, validate=ma.validate.Regexp(r"^\+[0-9 ]{6,20}$"))
    preferred_language = LANGUAGE_FIELD
    witness_name = ma.fields.String(
        load_default=None,
        validate=ma.validate.Length(min=1, max=200),
        metadata={
            "description": "This signer cannot read: full name of the impartial witness who "
            "will be present and sign with them (CTR Art 29(1))"
        },
    )


class GuardianExceptionSchema(ma.Schema):
    code = ma.fields.String(
        required=True,
        validate=ma.validate.Length(min=1, max=60),
        metadata={
            "description": "One of the preview's guardian_exceptions codes for this participant "
            "(422 guardian-exception-invalid otherwise, naming the valid ones)",
            "example": "sole-parental-authority",
        },
    )
    evidence = ma.fields.String(
        required=True,
        validate=ma.validate.Length(min=1, max=2000),
        metadata={"description": "The document or statement that shows it, and where it is kept"},
    )
    other_parent_agreement = ma.fields.String(
        load_default=None,
        validate=ma.validate.OneOf([a.value for a in OtherParentAgreement]),
        metadata={"description": "How the other parent agreed: es-other-parent-agreement only"},
    )


class EnrolSchema(ma.Schema):
    code = ma.fields.String(
        required=True, validate=ma.validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")
    )
    site = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=40))
    birth_date = ma.fields.Date(required=True)
    preferred_language = LANGUAGE_FIELD
    signers = ma.fields.List(
        ma.fields.Nested(NewSignerSchema), required=True, validate=ma.validate.Length(min=1, max=6)
    )
    investigator_id = ma.fields.String(
        load_default=None,
        validate=ma.validate.Length(min=1, max=40),
        metadata={
            "description": "Staff id of the site's investigator who conducts the interview and "
            "countersigns (one of the preview's investigators). Omit when the enrolling member "
            "is that investigator; required when they cannot countersign (site staff)."
        },
    )
    guardian_exception = ma.fields.Nested(
        GuardianExceptionSchema,
        load_default=None,
        metadata={
            "description": "Why fewer parents sign than the rule asks (e.g. one in NL): an "
            "exception the participant's row recognises, with its evidence; the member "
            "enrolling is recorded as who recorded it"
        },
    )
    fewer_guardians_justification = ma.fields.Raw(
        load_default=None,
        metadata={
            "deprecated": True,
            "description": "Retired free text: refused with 422 free-text-justification-refused "
            "naming the valid guardian_exception codes",
        },
    )


class WithdrawalSchema(ma.Schema):
    scopes = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf([s.value for s in WithdrawalScope])),
        required=True,
        validate=ma.validate.Length(min=1),
    )
    reason = ma.fields.String(load_default=None, validate=ma.validate.Length(max=2000))
    reason_declined = ma.fields.Boolean(
        load_default=False,
        metadata={
            "description": "The person declined to give a reason (never together with reason). "
            "Staff recording a withdrawal send one of the two; a signer may send neither."
        },
    )


class StaffWithdrawalSchema(WithdrawalSchema):
    channel = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf([Channel.IN_PERSON, Channel.PHONE, Channel.LETTER]),
    )
    expressed_by = ma.fields.String(
        load_default=None,
        validate=ma.validate.Length(min=1, max=40),
        metadata={"description": "Signer id of the family member who expressed it"},
    )


class ContactCorrectionSchema(ma.Schema):
    email = ma.fields.Email(load_default=None, allow_none=True)
    phone = ma.fields.String(
        load_default=None, allow_none=True, validate=ma.validate.Regexp(r"^\+[0-9 ]{6,20}$")
    )
    reason = ma.fields.String(
        required=True,
        validate=ma.validate.Length(min=1, max=500),
        metadata={"description": "Why the contact is corrected (kept in the audit trail)"},
    )
