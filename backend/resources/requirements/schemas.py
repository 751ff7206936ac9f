"""Consent requirement schemas."""

from __future__ import annotations

import marshmallow as ma

from consentkit.enums import TrialType
from consentkit.policy.jurisdiction import supported_countries


class RequirementsQueryArgsSchema(ma.Schema):
    country = ma.fields.String(
        required=True,
        metadata={
            "description": "ISO 3166-1 alpha-2 or GB-ENG/GB-WLS/GB-NIR/GB-SCT (any case)",
            "enum": supported_countries(),
        },
    )
    birth_date = ma.fields.Date(required=True)
    on = ma.fields.Date(metadata={"description": "Date of the decision [default: today, UTC]"})
    trial_type = ma.fields.String(
        load_default=TrialType.MEDICINAL_PRODUCT.value,
        validate=ma.validate.OneOf([t.value for t in TrialType]),
    )


class TransitionSchema(ma.Schema):
    date = ma.fields.String()
    reason = ma.fields.String(metadata={"description": "age-band, minor-role or competence-age"})


class RequirementsSchema(ma.Schema):
    country = ma.fields.String()
    trial_type = ma.fields.String()
    rule_trial_type = ma.fields.String(metadata={"description": "The rule-pack row applied"})
    on = ma.fields.String()
    is_minor = ma.fields.Boolean()
    competence_date = ma.fields.String()
    other_guardian_agreement_required = ma.fields.Boolean()
    age_band_style = ma.fields.String(allow_none=True)
    rule_pack_version = ma.fields.String()
    rule_effective_from = ma.fields.String()
    overrides_applied = ma.fields.List(ma.fields.Dict())
    minor_refusal_binding = ma.fields.Boolean(allow_none=True)
    reconsent_at_competence = ma.fields.Boolean(allow_none=True)
    defaults_applied = ma.fields.Raw()
    gdpr_age = ma.fields.Integer(allow_none=True)
    age = ma.fields.Integer()
    competence_age = ma.fields.Integer()
    guardians_required = ma.fields.Integer()
    guardian_rule = ma.fields.String(metadata={"description": "one, both, one-with-agreement"})
    minor_role = ma.fields.String()
    form_kinds = ma.fields.List(ma.fields.String())
    age_band = ma.fields.String(allow_none=True)
    next_transition = ma.fields.Nested(TransitionSchema, allow_none=True)
    sources = ma.fields.List(ma.fields.String())
    confidence = ma.fields.String(metadata={"description": "V verified, S secondary, U unknown"})
