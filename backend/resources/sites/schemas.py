"""Staff work schemas."""

from __future__ import annotations

import marshmallow as ma
from flask_smorest.fields import Upload

from backend.resources.me.schemas import SignatureSchema
from backend.schemas import OBJECT_ID
from consentkit.enums import RecordState
from consentkit.policy.records import REVIEW_DECISIONS

SITE = ma.fields.String(validate=ma.validate.Length(min=1, max=40), metadata={"example": "NL-01"})


class DashboardArgsSchema(ma.Schema):
    site = SITE


class RecordsArgsSchema(ma.Schema):
    site = SITE
    state = ma.fields.String(validate=ma.validate.OneOf([s.value for s in RecordState]))
    form_id = ma.fields.String(validate=ma.validate.Length(max=80))
    q = ma.fields.String(
        validate=ma.validate.Length(max=80),
        metadata={"description": "Participant code prefix"},
    )
    page = ma.fields.Integer(load_default=1, validate=ma.validate.Range(min=1, max=100_000))
    page_size = ma.fields.Integer(load_default=50, validate=ma.validate.Range(min=1, max=500))


class ExportArgsSchema(ma.Schema):
    site = SITE
    state = ma.fields.String(validate=ma.validate.OneOf([s.value for s in RecordState]))
    format = ma.fields.String(load_default="csv", validate=ma.validate.OneOf(["csv", "xlsx"]))


class RecordRowSchema(ma.Schema):
    participant_code = ma.fields.String()
    site_code = ma.fields.String()
    record_id = ma.fields.String()
    form_id = ma.fields.String()
    version = ma.fields.Integer()
    locale = ma.fields.String()
    state = ma.fields.String()
    missing_signers = ma.fields.List(ma.fields.String())
    opened_at = ma.fields.DateTime()
    due_at = ma.fields.DateTime(allow_none=True)
    completed_at = ma.fields.DateTime(allow_none=True)


class RecordPageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(RecordRowSchema))
    total = ma.fields.Integer()
    page = ma.fields.Integer()
    page_size = ma.fields.Integer()


class FormVersionCountsSchema(ma.Schema):
    form_id = ma.fields.String()
    version = ma.fields.Integer()
    by_state = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())


class DashboardSchema(ma.Schema):
    class Meta:
        unknown = ma.INCLUDE

    trial_id = ma.fields.String()
    at = ma.fields.DateTime()
    sites = ma.fields.List(ma.fields.String())
    records = ma.fields.Integer()
    participants = ma.fields.Integer()
    by_state = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    by_site = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer()),
    )
    by_form_version = ma.fields.List(ma.fields.Nested(FormVersionCountsSchema))
    by_language = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    partially_consented = ma.fields.Integer()
    reconsent_due = ma.fields.Integer()
    competence_within_90_days = ma.fields.Integer()
    expired = ma.fields.Integer()
    withdrawn_by_scope = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())


class PreviewResultSchema(ma.Schema):
    class Meta:
        unknown = ma.INCLUDE

    trial_id = ma.fields.String()
    site = ma.fields.String()
    on = ma.fields.Date()
    requirements = ma.fields.Dict()
    forms = ma.fields.List(ma.fields.Dict())
    missing_form_kinds = ma.fields.List(ma.fields.String())
    signers_needed = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    investigators = ma.fields.List(
        ma.fields.Dict(),
        metadata={
            "description": "Members who may countersign at the site ({staff_id, name}): "
            "the choices for the enrolment's investigator_id"
        },
    )


class SignerSchema(ma.Schema):
    signer_id = ma.fields.String()
    role = ma.fields.String()
    name = ma.fields.String()
    email = ma.fields.String(allow_none=True)
    phone = ma.fields.String(allow_none=True)
    staff_id = ma.fields.String(
        allow_none=True, metadata={"description": "The investigator signer's staff account"}
    )


class ParticipantSchema(ma.Schema):
    class Meta:
        unknown = ma.INCLUDE

    trial_id = ma.fields.String()
    code = ma.fields.String()
    site_code = ma.fields.String()
    country = ma.fields.String()
    birth_date = ma.fields.Date()
    preferred_language = ma.fields.String(allow_none=True)
    signers = ma.fields.List(ma.fields.Nested(SignerSchema))
    records = ma.fields.List(ma.fields.Dict())


class PermissionsSchema(ma.Schema):
    treatment = ma.fields.Boolean()
    randomisation = ma.fields.Boolean()
    study_procedures = ma.fields.Boolean()
    data_collection = ma.fields.String(metadata={"description": "all, routine-care-only or none"})
    sample_collection = ma.fields.Boolean()
    sample_future_use = ma.fields.Boolean()
    genetic_analysis = ma.fields.Boolean()
    use_outside_protocol = ma.fields.Boolean()
    contact = ma.fields.Boolean()
    re_contact = ma.fields.Boolean()


class DecidingEventSchema(ma.Schema):
    seq = ma.fields.Integer()
    type = ma.fields.String()
    at = ma.fields.DateTime()
    record_id = ma.fields.String(allow_none=True)
    scopes = ma.fields.List(ma.fields.String())


class ParticipationSchema(ma.Schema):
    trial_id = ma.fields.String()
    participant = ma.fields.String(metadata={"description": "The participant code"})
    at = ma.fields.DateTime()
    participating = ma.fields.Boolean()
    blocked_by = ma.fields.List(
        ma.fields.String(),
        metadata={
            "description": "dissent, withdrawn, awaiting-own-consent, no-consent, or "
            "missing:<form kind> for each required consent not in force on the day"
        },
    )
    withdrawn_scopes = ma.fields.List(ma.fields.String())
    permissions = ma.fields.Nested(PermissionsSchema)
    samples_action = ma.fields.String(allow_none=True)
    records = ma.fields.List(ma.fields.Dict())
    decided_by = ma.fields.List(
        ma.fields.Nested(DecidingEventSchema),
        metadata={"description": "The consents, withdrawals and dissent the answer rests on"},
    )


class TimelineEventSchema(ma.Schema):
    seq = ma.fields.Integer()
    type = ma.fields.String()
    at = ma.fields.DateTime()
    actor = ma.fields.Dict()
    record_id = ma.fields.String(allow_none=True)
    state_before = ma.fields.String(allow_none=True)
    state_after = ma.fields.String(allow_none=True)
    label = ma.fields.String(
        metadata={"description": "What the event did, in the request's language"}
    )
    summary = ma.fields.String()


class InviteSchema(ma.Schema):
    signer_id = ma.fields.String(required=True, validate=OBJECT_ID)


class InvitationSchema(ma.Schema):
    signer_id = ma.fields.String()
    code = ma.fields.String(metadata={"description": "Shown once"})
    link = ma.fields.String()
    expires_at = ma.fields.DateTime()


class InvitationStatusSchema(ma.Schema):
    invitation_id = ma.fields.String()
    signer_id = ma.fields.String()
    created_at = ma.fields.DateTime()
    expires_at = ma.fields.DateTime()
    revoked_at = ma.fields.DateTime(allow_none=True)
    status = ma.fields.String(
        metadata={
            "description": "Whether the code still works: active, expired or revoked",
            "enum": ["active", "expired", "revoked"],
        }
    )
    label = ma.fields.String(metadata={"description": "The status in the request's language"})


class SessionsEndedSchema(ma.Schema):
    signer_id = ma.fields.String()
    sessions_ended = ma.fields.Integer(metadata={"description": "Live sessions signed out"})


class ContactCorrectedSchema(ma.Schema):
    signer_id = ma.fields.String()
    changed = ma.fields.List(ma.fields.String(), metadata={"example": ["email"]})
    sessions_ended = ma.fields.Integer(metadata={"description": "Live sessions signed out"})


class CountersignSchema(SignatureSchema):
    class Meta:
        exclude = ("client_at", "client_offset_minutes", "early_signing_justification")


class CountersignTextSchema(ma.Schema):
    record_id = ma.fields.String()
    form_id = ma.fields.String()
    form_kind = ma.fields.String()
    version = ma.fields.Integer()
    locale = ma.fields.String(
        metadata={"description": "The language countersigned: the one the family signed in"}
    )
    content_sha256 = ma.fields.String(metadata={"description": "Send it back with the signature"})
    may_countersign = ma.fields.Boolean(
        metadata={"description": "This member is the record's interviewer and has not signed yet"}
    )


class PaperSignersSchema(ma.Schema):
    record_id = ma.fields.String()
    signers = ma.fields.List(
        ma.fields.Dict(),
        metadata={
            "description": "Missing signers ({signer_id, role}) whose paper signature this "
            "member may record (the investigator's only with countersign rights)"
        },
    )


class StaffDissentSchema(ma.Schema):
    note = ma.fields.String(load_default=None, validate=ma.validate.Length(max=2000))
    expressed_by = ma.fields.String(
        load_default=None,
        validate=ma.validate.Length(min=1, max=40),
        metadata={
            "description": "Signer id of the family member who said it (the child, or a parent "
            "passing it on); omit when the team heard the child"
        },
    )


class StaffDissentReviewSchema(ma.Schema):
    decision = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(REVIEW_DECISIONS),
        metadata={
            "description": "continue (participation may go on: lifts the block) or uphold "
            "(the refusal stands); only where the child's refusal is not binding"
        },
    )
    reason = ma.fields.String(
        required=True,
        validate=ma.validate.Length(min=1, max=2000),
        metadata={"description": "Why, as the investigator who reviewed it"},
    )


class EventSchema(ma.Schema):
    seq = ma.fields.Integer()
    type = ma.fields.String()
    at = ma.fields.DateTime()
    state = ma.fields.String(allow_none=True)


class PaperConsentSchema(ma.Schema):
    """A paper consent: who signed the paper form, when, in which language, and the scan."""

    signer_ids = ma.fields.List(
        ma.fields.String(validate=ma.validate.Length(min=1, max=40)),
        required=True,
        validate=ma.validate.Length(min=1, max=10),
        metadata={"description": "Required signers who signed on paper (repeat the field)"},
    )
    signed_on = ma.fields.Date(
        required=True, metadata={"description": "The date written on the paper form"}
    )
    locale = ma.fields.String(
        required=True,
        validate=ma.validate.Regexp(r"^[A-Za-z]{2,3}([-_][A-Za-z]{2})?$"),
        metadata={"description": "Language of the paper form (BCP 47)", "example": "fr"},
    )
    items_yes = ma.fields.List(
        ma.fields.String(validate=ma.validate.Length(min=1, max=80)),
        load_default=list,
        validate=ma.validate.Length(max=100),
        metadata={
            "description": "Item ids ticked yes on paper (repeat the field); every other item "
            "is a no, so a required item must be sent when a family member signed"
        },
    )
    note = ma.fields.String(load_default=None, validate=ma.validate.Length(max=2000))
    scan = Upload(
        metadata={
            "description": "The scanned paper form, a PDF (required) of at most "
            "CONSENTKIT_PAPER_SCAN_MAX_BYTES, 20 MiB by default"
        }
    )
