"""The signer's consent flow schemas."""

from __future__ import annotations

import marshmallow as ma

from backend.schemas import LANGUAGE_FIELD
from consentkit.enums import SignatureMethod
from consentkit.policy.withdrawal import WithdrawalChoice

LOCALE = ma.fields.String(
    required=True, validate=ma.validate.Length(min=2, max=12), metadata={"example": "fr"}
)


class WhySchema(ma.Schema):
    reason = ma.fields.String(
        metadata={
            "description": "reconsent, age-band, minor-role, competence-age or updated-information"
        }
    )
    age = ma.fields.Integer(allow_none=True)
    version = ma.fields.Integer(allow_none=True)
    label = ma.fields.String(metadata={"description": "In the request's language"})


class InformationSchema(ma.Schema):
    form_id = ma.fields.String()
    version = ma.fields.Integer()
    previous_version = ma.fields.Integer()
    change_summary = ma.fields.String()
    effective_from = ma.fields.String(allow_none=True)


class TaskSchema(ma.Schema):
    record_id = ma.fields.String(allow_none=True)
    participant_code = ma.fields.String()
    form_id = ma.fields.String()
    form_kind = ma.fields.String()
    version = ma.fields.Integer()
    state = ma.fields.String()
    phase = ma.fields.String(
        metadata={
            "description": "open (steps to take), consented or closed: what a client may offer, "
            "without its own list of states"
        }
    )
    next_step = ma.fields.String(metadata={"description": "read, questions, choices, sign or done"})
    steps = ma.fields.List(
        ma.fields.String(),
        metadata={"description": "This record's steps in order (read, questions, choices, sign)"},
    )
    status_text = ma.fields.String(
        metadata={
            "description": "The state in the signer's words and request language "
            "(your turn, or whom it waits for)"
        }
    )
    copy = ma.fields.String(
        allow_none=True,
        metadata={
            "description": "The signed copy this signer may download now from "
            "/records/{record_id}/document: final (everyone signed), interim (signed by "
            "this signer, others awaited) or null"
        },
    )
    due_at = ma.fields.DateTime()
    reflection_until = ma.fields.DateTime(
        allow_none=True,
        metadata={
            "description": "Signing earlier needs early_signing_justification; null until "
            "the signer first reads (the time runs from then, reflection_hours long)"
        },
    )
    reflection_hours = ma.fields.Integer()
    signature_methods = ma.fields.List(
        ma.fields.String(),
        metadata={"description": "How this form may be signed: drawn, typed, attested"},
    )
    choices = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Boolean(),
        allow_none=True,
        metadata={"description": "This signer's yes/no per consent item, once chosen"},
    )
    missing_signers = ma.fields.List(ma.fields.String())
    withdrawn_scopes = ma.fields.List(
        ma.fields.String(),
        metadata={"description": "The withdrawal scopes that apply (state withdrawn once full)"},
    )
    task_key = ma.fields.String(
        allow_none=True,
        metadata={"description": "The consent task; POST /me/tasks/{task_key}/open when to-open"},
    )
    why = ma.fields.Nested(WhySchema, allow_none=True)
    information = ma.fields.Nested(InformationSchema, allow_none=True)
    child_turn = ma.fields.Boolean(
        metadata={
            "description": "The child's own assent, signed on this parent's device with the "
            "parent recorded as present (children below the study's own-invitation age)"
        }
    )


class FormQueryArgsSchema(ma.Schema):
    lang = LANGUAGE_FIELD


class SectionViewSchema(ma.Schema):
    id = ma.fields.String(required=True, validate=ma.validate.Length(max=80))
    seconds = ma.fields.Float(load_default=0, validate=ma.validate.Range(min=0, max=86_400))


class ViewsSchema(ma.Schema):
    locale = LOCALE
    sections = ma.fields.List(
        ma.fields.Nested(SectionViewSchema),
        required=True,
        validate=ma.validate.Length(min=1, max=200),
    )
    client_at = ma.fields.AwareDateTime(
        load_default=None, metadata={"description": "When the phone saw them"}
    )


class EventResultSchema(ma.Schema):
    seq = ma.fields.Integer()
    type = ma.fields.String()
    at = ma.fields.DateTime()
    state = ma.fields.String(allow_none=True)
    binding_sha256 = ma.fields.String()
    next_step = ma.fields.String(
        metadata={
            "description": "After a ceremony step (views, choices, signature): the signer's "
            "next step, read, questions, choices, sign or done"
        }
    )


class AnswersSchema(ma.Schema):
    locale = LOCALE
    answers = ma.fields.Dict(
        keys=ma.fields.String(validate=ma.validate.Length(max=80)),
        values=ma.fields.String(validate=ma.validate.Length(max=80)),
        required=True,
    )


class AnswerResultSchema(ma.Schema):
    score = ma.fields.Integer()
    passed = ma.fields.Boolean()
    all_correct = ma.fields.Boolean(
        metadata={"description": "Every answer right (a pass may still have a wrong answer)"}
    )
    pass_mark = ma.fields.Integer()
    results = ma.fields.List(
        ma.fields.Dict(), metadata={"description": "id, correct, explanation (when wrong)"}
    )
    next_step = ma.fields.String(
        metadata={"description": "The signer's next step: questions again until passed"}
    )


class ChoicesSchema(ma.Schema):
    choices = ma.fields.Dict(
        keys=ma.fields.String(validate=ma.validate.Length(max=80)),
        values=ma.fields.Boolean(),
        required=True,
    )


class SignatureSchema(ma.Schema):
    locale = LOCALE
    content_sha256 = ma.fields.String(
        required=True,
        validate=ma.validate.Regexp(r"^[0-9a-f]{64}$"),
        metadata={"description": "SHA-256 of the text shown"},
    )
    printed_name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200))
    strokes = ma.fields.List(
        ma.fields.List(
            ma.fields.List(ma.fields.Float(), validate=ma.validate.Length(min=2, max=3))
        ),
        load_default=list,
        metadata={
            "description": "Strokes of [x, y] or [x, y, t_ms] points (drawn signatures only)"
        },
    )
    signature_method = ma.fields.String(
        load_default=SignatureMethod.DRAWN,
        validate=ma.validate.OneOf([SignatureMethod.DRAWN, SignatureMethod.TYPED]),
        metadata={
            "description": "drawn (strokes) or typed (printed_name with i_sign); the form's "
            "signature_methods say which are allowed; attested is given on the staff device"
        },
    )
    i_sign = ma.fields.Boolean(
        load_default=False,
        metadata={"description": 'The explicit "I sign" act of a typed signature'},
    )
    client_at = ma.fields.AwareDateTime(load_default=None)
    client_offset_minutes = ma.fields.Integer(
        load_default=None, validate=ma.validate.Range(min=-840, max=840)
    )
    early_signing_justification = ma.fields.String(
        load_default=None, validate=ma.validate.Length(max=2000)
    )


class DeclineSchema(ma.Schema):
    reason = ma.fields.String(load_default=None, validate=ma.validate.Length(max=2000))


class DissentSchema(ma.Schema):
    note = ma.fields.String(load_default=None, validate=ma.validate.Length(max=2000))
    record_id = ma.fields.String(
        load_default=None,
        validate=ma.validate.Length(max=80),
        metadata={"description": "The child's assent, when the child says no on a parent's device"},
    )


class QuestionSchema(ma.Schema):
    text = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=4000))
    record_id = ma.fields.String(load_default=None)


class ThreadAnswerSchema(ma.Schema):
    at = ma.fields.DateTime()
    text = ma.fields.String()
    locale = ma.fields.String(allow_none=True)


class QuestionThreadSchema(ma.Schema):
    seq = ma.fields.Integer(metadata={"description": "The question's id (its event)"})
    record_id = ma.fields.String(allow_none=True)
    asked_at = ma.fields.DateTime()
    text = ma.fields.String()
    status = ma.fields.String(metadata={"description": "open, answered or closed"})
    answers = ma.fields.List(ma.fields.Nested(ThreadAnswerSchema))
    closed_at = ma.fields.DateTime(allow_none=True)


class PushKeysSchema(ma.Schema):
    p256dh = ma.fields.String(required=True, validate=ma.validate.Length(max=200))
    auth = ma.fields.String(required=True, validate=ma.validate.Length(max=100))


class PushSubscriptionSchema(ma.Schema):
    endpoint = ma.fields.String(required=True, validate=ma.validate.Length(max=2000))
    keys = ma.fields.Nested(PushKeysSchema, required=True)


class ContactSettingsChangeSchema(ma.Schema):
    preferred_channel = ma.fields.String(
        load_default=None, validate=ma.validate.OneOf(["email", "sms", "push", "app"])
    )
    is_unsubscribed = ma.fields.Boolean(
        load_default=None,
        metadata={"description": "True switches off messages that are not required by law"},
    )
    push_subscription = ma.fields.Nested(
        PushSubscriptionSchema,
        load_default=None,
        metadata={"description": "The browser's PushSubscription.toJSON()"},
    )
    app_token = ma.fields.String(load_default=None, validate=ma.validate.Length(max=4096))


class ContactSettingsSchema(ma.Schema):
    preferred_channel = ma.fields.String(allow_none=True)
    is_unsubscribed = ma.fields.Boolean()
    has_push_subscription = ma.fields.Boolean()
    has_app_token = ma.fields.Boolean()
    unsubscribe_token = ma.fields.String(
        metadata={"description": "For the one-tap link /family/unsubscribe/<token>"}
    )


class DocumentSchema(ma.Schema):
    document_id = ma.fields.String()
    kind = ma.fields.String()
    locale = ma.fields.String()
    record_id = ma.fields.String(allow_none=True)
    as_of_seq = ma.fields.Integer(
        metadata={
            "description": "The event the document is fixed at; for a withdrawal-confirmation, "
            "the {seq} of GET /me/withdrawals/{seq}/document"
        }
    )
    sha256 = ma.fields.String()
    size = ma.fields.Integer()
    verification_code = ma.fields.String()
    created_at = ma.fields.DateTime()


class DocumentQueryArgsSchema(ma.Schema):
    lang = LANGUAGE_FIELD


CHOICE_FIELD = ma.fields.String(
    validate=ma.validate.OneOf([choice.value for choice in WithdrawalChoice]),
    metadata={"description": "A plain choice (consentkit.policy.withdrawal.CHOICES)"},
)


class FamilyWithdrawalSchema(ma.Schema):
    """A family's withdrawal: plain choices, never raw scopes (staff record those)."""

    choices = ma.fields.List(CHOICE_FIELD, required=True, validate=ma.validate.Length(min=1, max=4))
    reason = ma.fields.String(load_default=None, validate=ma.validate.Length(max=2000))
    reason_declined = ma.fields.Boolean(load_default=False)


class WithdrawalSummaryArgsSchema(ma.Schema):
    choice = ma.fields.List(
        CHOICE_FIELD,
        required=True,
        validate=ma.validate.Length(min=1, max=4),
        metadata={"description": "Repeat for each choice: ?choice=stop-treatment&choice=..."},
    )


class WithdrawalSummarySchema(ma.Schema):
    choices = ma.fields.List(ma.fields.String())
    scopes = ma.fields.List(ma.fields.String())
    summary = ma.fields.List(
        ma.fields.String(), metadata={"description": "What it will mean, in plain words"}
    )


class WithdrawalListedSchema(WithdrawalSummarySchema):
    seq = ma.fields.Integer()
    at = ma.fields.DateTime()
    channel = ma.fields.String(allow_none=True)
    expressed_by_me = ma.fields.Boolean()
    document = ma.fields.String(
        metadata={"description": "The sealed confirmation, under the API root (GET)"}
    )


class WalletItemSchema(ma.Schema):
    item_id = ma.fields.String()
    code = ma.fields.String()
    text = ma.fields.String(metadata={"description": "In the request's language"})
    required = ma.fields.Boolean()
    signed = ma.fields.Boolean(
        allow_none=True, metadata={"description": "This signer's answer when they signed"}
    )
    current = ma.fields.Boolean(
        allow_none=True, metadata={"description": "This signer's answer now, after any change"}
    )
    changeable = ma.fields.Boolean(
        metadata={"description": "Optional, signed and consented: POST /me/wallet/choices takes it"}
    )


class WalletRecordSchema(ma.Schema):
    record_id = ma.fields.String()
    form_id = ma.fields.String()
    form_kind = ma.fields.String()
    version = ma.fields.Integer()
    title = ma.fields.String()
    state = ma.fields.String()
    phase = ma.fields.String()
    status_text = ma.fields.String(metadata={"description": "The state in the signer's words"})
    signed_at = ma.fields.DateTime(allow_none=True)
    items = ma.fields.List(ma.fields.Nested(WalletItemSchema))


class WalletDocumentSchema(ma.Schema):
    document_id = ma.fields.String()
    kind = ma.fields.String()
    locale = ma.fields.String()
    record_id = ma.fields.String(allow_none=True)
    created_at = ma.fields.DateTime()
    verification_code = ma.fields.String()


class WalletAgreementSchema(ma.Schema):
    activity = ma.fields.String()
    agreed = ma.fields.Boolean()
    text = ma.fields.String()
    value = ma.fields.String(allow_none=True)


class WalletChildSchema(ma.Schema):
    trial_id = ma.fields.String()
    study_title = ma.fields.String()
    participant_code = ma.fields.String()
    site_code = ma.fields.String()
    role = ma.fields.String(metadata={"description": "guardian or participant"})
    is_current = ma.fields.Boolean(
        metadata={"description": "The participant this session is signed in for"}
    )
    participating = ma.fields.Boolean()
    withdrawn_scopes = ma.fields.List(ma.fields.String())
    agreements = ma.fields.List(
        ma.fields.Nested(WalletAgreementSchema),
        metadata={"description": "What is agreed to now, from the participation profile"},
    )
    records = ma.fields.List(ma.fields.Nested(WalletRecordSchema))
    documents = ma.fields.List(ma.fields.Nested(WalletDocumentSchema))


class WalletSchema(ma.Schema):
    children = ma.fields.List(ma.fields.Nested(WalletChildSchema))


class ChoiceChangeSchema(ma.Schema):
    record_id = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=64))
    item_id = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=80))
    value = ma.fields.Boolean(required=True)


class ChoiceChangedSchema(ma.Schema):
    seq = ma.fields.Integer()
    type = ma.fields.String()
    at = ma.fields.DateTime()
    record_id = ma.fields.String()
    item_id = ma.fields.String()
    value = ma.fields.Boolean()
    participant_code = ma.fields.String()
    permissions = ma.fields.Dict(
        metadata={"description": "The participant's permissions after the change"}
    )
