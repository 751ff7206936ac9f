"""Enumerations, stored as their string values (never ordinals)."""

from __future__ import annotations

from enum import StrEnum


class TrialType(StrEnum):
    """Kind of research, because consent rules differ by it (regulations.md 2.2)."""

    MEDICINAL_PRODUCT = "medicinal-product"
    MEDICAL_DEVICE = "medical-device"
    OTHER_RESEARCH = "other-research"


class FormKind(StrEnum):
    """The kinds of consent document a study can hold."""

    PARENTAL_CONSENT = "parental-consent"
    ADULT_CONSENT = "adult-consent"
    CHILD_ASSENT = "child-assent"
    YOUNG_PERSON_CONSENT = "young-person-consent"
    WITNESS_ATTESTATION = "witness-attestation"
    INVESTIGATOR_DECLARATION = "investigator-declaration"


class GuardianRule(StrEnum):
    """How many holders of parental responsibility must consent."""

    ONE = "one"
    BOTH = "both"
    ONE_WITH_AGREEMENT = "one-with-agreement"


class MinorRole(StrEnum):
    """What the child or young person does in the consent procedure."""

    INFORMED = "informed"
    ASSENT = "assent"
    CO_SIGN = "co-sign"
    OWN_CONSENT_WITH_GUARDIAN = "own-consent-with-guardian"
    OWN_CONSENT = "own-consent"


class Confidence(StrEnum):
    """How sure the rule pack is of a cell: Verified, Secondary source, Unknown."""

    VERIFIED = "V"
    SECONDARY = "S"
    UNKNOWN = "U"
