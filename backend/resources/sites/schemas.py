"""Staff work schemas."""

from __future__ import annotations

import marshmallow as ma
from flask_smorest.fields import Upload

from backend.resources.me.schemas import SignatureSchema
from backend.schemas import OBJECT_ID
from consentkit.enums import InterviewMode, RecordState
from consentkit.policy.records import REVIEW_DECISIONS
from consentkit.services.dashboard import DUE_FILTERS

SITE = ma.fields.String(validate=ma.validate.Length(min=1, max=40), metadata={"example": "NL-01"})


class DashboardArgsSchema(ma.Schema):
    site = SITE


DUE = ma.fields.String(
    validate=ma.validate.OneOf(DUE_FILTERS),
    metadata={
        "description": "Only what one of the dashboard's `due` counts counted, so the total "
        "equals that count: reconsent (consented on a version older than the latest major "
        "one), competence (reaching the age to consent alone within 90 days), band-change "
        "(an open age-band or minor-role task due within 90 days), suspended (awaiting the "
        "young person's own consent), dissent. competence and band-change list one row per "
        "participant (their latest record)"
    },
)


class RecordsArgsSchema(ma.Schema):
    site = SITE
    state = ma.fields.String(validate=ma.validate.OneOf([s.value for s in RecordState]))
    due = DUE
    form_id = ma.fields.String(validate=ma.validate.Length(max=80))
    q = ma.fields.String(
        validate=ma.validate.Length(max=80),
        metadata={"description": "Participant code prefix"},
    )
    cursor = ma.fields.String(
        validate=ma.validate.Length(min=1, max=200),
        metadata={
            "description": "Where to continue: the `next_cursor` of the previous page "
            "(opaque; a cursor the server did not give out is 422 `bad-cursor`)"
        },
    )
    page_size = ma.fields.Integer(load_default=50, validate=ma.validate.Range(min=1, max=500))


class ExportArgsSchema(ma.Schema):
    site = SITE
    state = ma.fields.String(validate=ma.validate.OneOf([s.value for s in RecordState]))
    due = DUE
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
    items = ma.fields.List(
        ma.fields.Nested(RecordRowSchema),
        metadata={"description": "Newest record first (by opening time, then id)"},
    )
    total = ma.fields.Integer(
        allow_none=True,
        metadata={
            "description": "Rows matching the filters when the dashboard counters know it "
            "exactly; null for a code search and the open or expired states"
        },
    )
    next_cursor = ma.fields.String(
        allow_none=True, metadata={"description": "Pass as `cursor` for the next page; null last"}
    )
    next_url = ma.fields.String(allow_none=True, metadata={"description": "The next page"})
    page_size = ma.fields.Integer()


class FormVersionCountsSchema(ma.Schema):
    form_id = ma.fields.String()
    version = ma.fields.Integer()
    by_state = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())


class DueCountSchema(ma.Schema):
    due = ma.fields.String(
        metadata={
            "description": "The worklist filter listing what was counted",
            "enum": DUE_FILTERS,
        }
    )
    count = ma.fields.Integer()
    records_url = ma.fields.String(
        metadata={"description": "The worklist holding exactly what was counted (same site)"}
    )


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
    band_change_due = ma.fields.Integer(
        metadata={"description": "Participants with an open age-band or minor-role task due"}
    )
    expired = ma.fields.Integer()
    due = ma.fields.List(
        ma.fields.Nested(DueCountSchema),
        metadata={"description": "Each count needing attention, with its worklist"},
    )
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
    guardian_exceptions = ma.fields.List(
        ma.fields.Dict(),
        metadata={
            "description": "The only exceptions valid for this participant's country row when "
            "fewer parents sign ({code, statement, needs_agreement}): the choices for the "
            "enrolment's guardian_exception.code"
        },
    )
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
    witness_signer_id = ma.fields.String(
        allow_none=True,
        metadata={"description": "This person cannot read: their impartial witness's signer id"},
    )
    witness_for = ma.fields.String(
        allow_none=True, metadata={"description": "On a witness: whom they witness"}
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


class OutboxMessageSchema(ma.Schema):
    message_id = ma.fields.String()
    kind = ma.fields.String(
        metadata={"description": "The message template, e.g. withdrawal-confirmed"}
    )
    signer_id = ma.fields.String(allow_none=True)
    status = ma.fields.String(
        metadata={"description": "queued, leased (being sent), sent, skipped or failed"}
    )
    channel = ma.fields.String(allow_none=True)
    destination = ma.fields.String(allow_none=True, metadata={"description": "Masked"})
    reason = ma.fields.String(
        allow_none=True,
        metadata={
            "description": "Why skipped or deferred: no-contact, unsubscribed, no-channel, "
            "quiet-hours, frequency-cap"
        },
    )
    last_error = ma.fields.String(allow_none=True)
    attempts = ma.fields.Integer()
    is_essential = ma.fields.Boolean()
    due_at = ma.fields.DateTime()
    created_at = ma.fields.DateTime()
    finished_at = ma.fields.DateTime(allow_none=True)


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
        exclude = (
            "client_at",
            "client_offset_minutes",
            "early_signing_justification",
            "signature_method",
            "i_sign",
        )

    interview_mode = ma.fields.String(
        load_default=InterviewMode.IN_PERSON.value,
        validate=ma.validate.OneOf([m.value for m in InterviewMode]),
        metadata={"description": "How the interview took place (in-person when omitted)"},
    )
    timezone = ma.fields.String(
        load_default=None,
        validate=ma.validate.Length(min=1, max=60),
        metadata={
            "description": "IANA time zone of the interview (the site's when omitted)",
            "example": "Europe/Paris",
        },
    )


class WitnessSchema(ma.Schema):
    name = ma.fields.String(
        required=True,
        validate=ma.validate.Length(min=1, max=200),
        metadata={"description": "Full name of the impartial witness"},
    )


class WitnessSignatureSchema(CountersignSchema):
    class Meta:
        exclude = (
            "client_at",
            "client_offset_minutes",
            "early_signing_justification",
            "signature_method",
            "i_sign",
            "interview_mode",
            "timezone",
        )

    witness_signer_id = ma.fields.String(
        required=True,
        validate=ma.validate.Regexp(r"^[0-9a-f]{24}$"),
        metadata={"description": "The witness's signer id (from the participant's signers)"},
    )


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
    questions = ma.fields.List(
        ma.fields.Nested(lambda: InboxQuestionSchema()),
        metadata={
            "description": "The family's questions about this record (or none in particular), "
            "with the answers: read before countersigning"
        },
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


class TaskWhySchema(ma.Schema):
    reason = ma.fields.String()
    age = ma.fields.Integer(allow_none=True)
    version = ma.fields.Integer(allow_none=True)
    label = ma.fields.String(
        metadata={"description": "The family's wording, e.g. 'You are now 12'"}
    )
    purpose = ma.fields.String(metadata={"description": "e.g. 'Re-consent to version 2'"})


class ConsentTaskSchema(ma.Schema):
    key = ma.fields.String()
    participant_code = ma.fields.String()
    site_code = ma.fields.String()
    reason = ma.fields.String(
        metadata={"description": "reconsent, age-band, minor-role or competence-age"}
    )
    form_kind = ma.fields.String()
    form_id = ma.fields.String(allow_none=True)
    version = ma.fields.Integer(allow_none=True)
    due_date = ma.fields.Date()
    status = ma.fields.String(metadata={"description": "open, in-progress or done"})
    status_label = ma.fields.String()
    record_id = ma.fields.String(allow_none=True)
    detail = ma.fields.String()
    why = ma.fields.Nested(TaskWhySchema)


class TasksArgsSchema(ma.Schema):
    site = SITE
    status = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(["open", "in-progress", "done"])),
        load_default=["open"],
        metadata={"description": "Task statuses to list (repeat the parameter); default open"},
    )


class TaskInvitationSchema(InvitationSchema):
    role = ma.fields.String()


class OpenedTaskSchema(ma.Schema):
    task = ma.fields.Nested(ConsentTaskSchema)
    record_id = ma.fields.String()
    form_id = ma.fields.String()
    version = ma.fields.Integer()
    opened = ma.fields.Boolean(
        metadata={"description": "False when an earlier call had opened it (no new record)"}
    )
    invitations = ma.fields.List(ma.fields.Nested(TaskInvitationSchema))


class QuestionsArgsSchema(ma.Schema):
    site = SITE
    status = ma.fields.String(
        validate=ma.validate.OneOf(["open", "answered", "closed"]),
        metadata={"description": "open (not answered yet), answered or closed; default: all"},
    )


class InboxAnswerSchema(ma.Schema):
    at = ma.fields.DateTime()
    text = ma.fields.String()
    locale = ma.fields.String(allow_none=True)
    by_role = ma.fields.String(allow_none=True)


class InboxQuestionSchema(ma.Schema):
    seq = ma.fields.Integer(metadata={"description": "The question's event: its id"})
    participant_code = ma.fields.String()
    site_code = ma.fields.String()
    signer_id = ma.fields.String(allow_none=True)
    record_id = ma.fields.String(allow_none=True)
    asked_at = ma.fields.DateTime()
    text = ma.fields.String(metadata={"description": "What the family typed"})
    locale = ma.fields.String(
        allow_none=True, metadata={"description": "The language to answer in (the asker's)"}
    )
    status = ma.fields.String(metadata={"description": "open, answered or closed"})
    answers = ma.fields.List(ma.fields.Nested(InboxAnswerSchema))
    closed_at = ma.fields.DateTime(allow_none=True)


class AnswerQuestionSchema(ma.Schema):
    text = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=4000))
    locale = ma.fields.String(
        load_default=None,
        validate=ma.validate.Length(min=2, max=10),
        metadata={"description": "The answer's language; default: the asking signer's"},
    )


class AttestedSignatureSchema(ma.Schema):
    signer_id = ma.fields.String(
        required=True,
        validate=ma.validate.Regexp(r"^[0-9a-f]{24}$"),
        metadata={"description": "The family member who signs in front of the member"},
    )
    locale = SignatureSchema().fields["locale"]
    content_sha256 = ma.fields.String(
        required=True,
        validate=ma.validate.Regexp(r"^[0-9a-f]{64}$"),
        metadata={"description": "SHA-256 of the text the family member was shown"},
    )
    printed_name = ma.fields.String(
        required=True,
        validate=ma.validate.Length(min=1, max=200),
        metadata={"description": "The signer's full name as they give it (their registered name)"},
    )
    witness_name = ma.fields.String(
        load_default=None,
        validate=ma.validate.Length(max=200),
        metadata={"description": "The impartial witness present, if any"},
    )
    early_signing_justification = ma.fields.String(
        load_default=None, validate=ma.validate.Length(max=2000)
    )


class NameCorrectionSchema(ma.Schema):
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200))
    reason = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=500))


class NameCorrectedSchema(ma.Schema):
    signer_id = ma.fields.String()
    changed = ma.fields.Boolean(metadata={"description": "False when the name was already this"})
