"""Marshmallow schemas of the authoring files: the library's own file format."""

from __future__ import annotations

import datetime as dt
from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

from consentkit.enums import (
    ChangeKind,
    FormKind,
    ItemCode,
    SignatureMethod,
    SignerRole,
    TrialType,
    VersionStatus,
)
from consentkit.policy.triggers import DEFAULTS as TRIGGER_DEFAULTS

ID = validate.Regexp(r"^[a-z0-9][a-z0-9-]*$", error="Use lower-case letters, digits and '-'.")
SITE_CODE = validate.Regexp(r"^[A-Z0-9][A-Z0-9-]*$", error="Use upper-case letters, digits, '-'.")
COUNTRY = validate.Regexp(
    r"^[A-Z]{2}(-[A-Z]{3})?$", error="Use an ISO 3166-1 code such as FR, or GB-ENG."
)
LANGUAGE = validate.Regexp(
    r"^[a-z]{2,3}(-[A-Z]{2})?$", error="Use a language tag such as fr or fr-BE."
)


def _one_of(enum: type[Any]) -> validate.OneOf:
    return validate.OneOf([member.value for member in enum])


class YamlDate(fields.Date):
    """A date written as YAML's ``2025-03-01`` (already a date) or as a string."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dt.date:
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return value
        result: dt.date = super()._deserialize(value, attr, data, **kwargs)
        return result


class Strict(ma.Schema):
    """Unknown keys are errors: a typo must not silently drop text."""

    class Meta:
        unknown = ma.RAISE


class SiteSchema(Strict):
    code = fields.String(required=True, validate=SITE_CODE)
    name = fields.String(required=True, validate=validate.Length(min=1))
    country = fields.String(required=True, validate=COUNTRY)
    timezone = fields.String(required=True)
    languages = fields.List(
        fields.String(validate=LANGUAGE), required=True, validate=validate.Length(min=1)
    )
    active = fields.Boolean(load_default=True)


class AgeBandSchema(Strict):
    id = fields.String(required=True, validate=ID)
    min_age = fields.Integer(required=True, validate=validate.Range(min=0, max=25))
    max_age = fields.Integer(required=True, validate=validate.Range(min=0, max=25))
    style = fields.String(load_default=None)

    @ma.validates_schema
    def _ordered(self, data: dict[str, Any], **_: Any) -> None:
        if data["min_age"] > data["max_age"]:
            raise ma.ValidationError("min_age must not be above max_age.", "max_age")


class RuleOverrideSchema(Strict):
    country = fields.String(required=True, validate=COUNTRY)
    field = fields.String(required=True)
    value = fields.Raw(required=True, allow_none=True)
    reason = fields.String(required=True, validate=validate.Length(min=1))
    reference = fields.String(required=True, validate=validate.Length(min=1))
    trial_type = fields.String(load_default=None, validate=_one_of(TrialType))


class TriggerSchema(Strict):
    """One message trigger: on or off, and the delay of a time-based one (policy.triggers)."""

    enabled = fields.Boolean(load_default=True)
    days = fields.Integer(load_default=None, validate=validate.Range(min=1))


class SettingsSchema(Strict):
    minimum_reflection_hours = fields.Integer(load_default=0, validate=validate.Range(min=0))
    completion_window_days = fields.Integer(load_default=30, validate=validate.Range(min=1))
    #: Days after a new version takes effect during which a record opened for the older
    #: one may still be signed (consentkit.services.ceremony.check_version_in_force).
    finish_older_version_days = fields.Integer(load_default=0, validate=validate.Range(min=0))
    #: From this age a child may have their own invitation; younger children sign on a
    #: parent's device or in front of staff (consentkit.policy.children).
    own_invitation_age = fields.Integer(load_default=12, validate=validate.Range(min=1, max=18))
    #: Which messages the study sends and when (consentkit.policy.triggers).
    messages = fields.Dict(
        keys=fields.String(validate=validate.OneOf(sorted(TRIGGER_DEFAULTS))),
        values=fields.Nested(TriggerSchema),
        load_default=dict,
    )
    #: The consent item that means "send me the study's news and results"
    #: (consentkit.policy.news.receives_news); unset: every family the study may contact.
    news_item = fields.String(load_default=None, validate=_one_of(ItemCode))
    #: How the study's forms may be signed unless a form says (policy.signing.allowed_methods).
    signature_methods = fields.List(
        fields.String(validate=_one_of(SignatureMethod)),
        load_default=None,
        validate=validate.Length(min=1),
    )


class StudySchema(Strict):
    trial_id = fields.String(required=True, validate=SITE_CODE)
    eu_ct_number = fields.String(load_default=None)
    title = fields.String(required=True)
    sponsor = fields.String(required=True)
    trial_type = fields.String(required=True, validate=_one_of(TrialType))
    contact_point = fields.String(required=True)
    sites = fields.List(fields.Nested(SiteSchema), required=True, validate=validate.Length(min=1))
    age_bands = fields.Dict(
        keys=fields.String(), values=fields.List(fields.Nested(AgeBandSchema)), load_default=dict
    )
    rule_overrides = fields.List(fields.Nested(RuleOverrideSchema), load_default=list)
    settings = fields.Nested(SettingsSchema, load_default=lambda: SettingsSchema().load({}))


class ComprehensionSchema(Strict):
    required = fields.Boolean(load_default=False)
    pass_mark = fields.Integer(required=True, validate=validate.Range(min=0))


class VersionSchema(Strict):
    version = fields.Integer(required=True, validate=validate.Range(min=1))
    status = fields.String(
        required=True,
        validate=validate.OneOf(
            [
                VersionStatus.DRAFT,
                VersionStatus.APPROVED,
                VersionStatus.PUBLISHED,
                VersionStatus.RETIRED,
            ]
        ),
    )
    change = fields.String(required=True, validate=_one_of(ChangeKind))
    change_summary = fields.String(load_default="")
    ethics_reference = fields.String(load_default=None)
    approved_date = YamlDate(load_default=None)
    effective_from = YamlDate(load_default=None)
    comprehension = fields.Nested(ComprehensionSchema, load_default=None)

    @ma.validates_schema
    def _lifecycle(self, data: dict[str, Any], **_: Any) -> None:
        if data["status"] != VersionStatus.DRAFT:
            for key in ("ethics_reference", "approved_date"):
                if not data.get(key):
                    raise ma.ValidationError(
                        f"A {data['status']} version needs its ethics committee approval.", key
                    )
        if data["status"] in (VersionStatus.PUBLISHED, VersionStatus.RETIRED) and not data.get(
            "effective_from"
        ):
            raise ma.ValidationError("A published version needs effective_from.", "effective_from")
        if data["version"] == 1 and data["change"] != ChangeKind.INITIAL:
            raise ma.ValidationError("Version 1 is the initial version: change: initial.", "change")
        if data["version"] > 1 and data["change"] == ChangeKind.INITIAL:
            raise ma.ValidationError(
                "Say whether this version is a major change (participants must re-consent) "
                "or a minor one (editorial).",
                "change",
            )


class FormSchema(Strict):
    id = fields.String(required=True, validate=ID)
    kind = fields.String(required=True, validate=_one_of(FormKind))
    age_band = fields.String(load_default=None, allow_none=True)
    signer_roles = fields.List(
        fields.String(validate=_one_of(SignerRole)), required=True, validate=validate.Length(min=1)
    )
    versions = fields.List(
        fields.Nested(VersionSchema), required=True, validate=validate.Length(min=1)
    )
    #: How this form may be signed; the study's ``settings.signature_methods`` otherwise.
    signature_methods = fields.List(
        fields.String(validate=_one_of(SignatureMethod)),
        load_default=None,
        validate=validate.Length(min=1),
    )


class MediaSchema(Strict):
    ref = fields.String(required=True)
    alt = fields.String(required=True, validate=validate.Length(min=1))


class SectionSchema(Strict):
    id = fields.String(required=True, validate=ID)
    title = fields.String(required=True, validate=validate.Length(min=1))
    body = fields.String(required=True, validate=validate.Length(min=1))
    summary = fields.String(load_default=None)
    media = fields.Nested(MediaSchema, load_default=None)


class ItemSchema(Strict):
    id = fields.String(required=True, validate=ID)
    code = fields.String(required=True, validate=_one_of(ItemCode))
    required = fields.Boolean(required=True)
    text = fields.String(required=True, validate=validate.Length(min=1))


class OptionSchema(Strict):
    id = fields.String(required=True, validate=ID)
    text = fields.String(required=True, validate=validate.Length(min=1))


class QuestionSchema(Strict):
    id = fields.String(required=True, validate=ID)
    text = fields.String(required=True, validate=validate.Length(min=1))
    options = fields.List(
        fields.Nested(OptionSchema), required=True, validate=validate.Length(min=2)
    )
    correct = fields.String(required=True)
    explanation = fields.String(required=True, validate=validate.Length(min=1))

    @ma.validates_schema
    def _correct_is_an_option(self, data: dict[str, Any], **_: Any) -> None:
        if data["correct"] not in {option["id"] for option in data["options"]}:
            raise ma.ValidationError("correct must be the id of one of the options.", "correct")


class LocaleContentSchema(Strict):
    title = fields.String(required=True, validate=validate.Length(min=1))
    summary = fields.String(load_default=None)
    # The study's title and sponsor in this language, for the PDF; left out, study.yaml's.
    # No load_default: an absent key stays absent, so older texts keep their fingerprint.
    study_title = fields.String(validate=validate.Length(min=1))
    sponsor = fields.String(validate=validate.Length(min=1))
    sections = fields.List(
        fields.Nested(SectionSchema), required=True, validate=validate.Length(min=1)
    )
    items = fields.List(fields.Nested(ItemSchema), load_default=list)
    questions = fields.List(fields.Nested(QuestionSchema), load_default=list)
    signature_meanings = fields.Dict(
        keys=fields.String(validate=_one_of(SignerRole)),
        values=fields.String(validate=validate.Length(min=1)),
        required=True,
    )
