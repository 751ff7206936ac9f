"""Enumerations, stored as their string values (never ordinals)."""

from __future__ import annotations

from enum import StrEnum


class TrialType(StrEnum):
    """Kind of research, because consent rules differ by it.

    See docs/regulatory-basis.md#trial-types.
    """

    MEDICINAL_PRODUCT = "medicinal-product"
    MEDICAL_DEVICE = "medical-device"
    OTHER_RESEARCH = "other-research"


class FormKind(StrEnum):
    """The kinds of consent document a study can hold.

    ``young-person-consent`` is a participant's own consent at the age of legal competence
    (CTR Art 32(3)), or below 18 where they consent alone; ``young-person-co-consent`` is a
    minor's own consent signed alongside the parents' (minor role ``co-sign`` or
    ``own-consent-with-guardian``, e.g. NL 12-15, PL from 13): it never stands in for either
    the parents' consent or the own consent at competence.
    """

    PARENTAL_CONSENT = "parental-consent"
    ADULT_CONSENT = "adult-consent"
    CHILD_ASSENT = "child-assent"
    YOUNG_PERSON_CONSENT = "young-person-consent"
    YOUNG_PERSON_CO_CONSENT = "young-person-co-consent"
    WITNESS_ATTESTATION = "witness-attestation"
    INVESTIGATOR_DECLARATION = "investigator-declaration"


class GuardianRule(StrEnum):
    """How many holders of parental responsibility must consent."""

    ONE = "one"
    BOTH = "both"
    ONE_WITH_AGREEMENT = "one-with-agreement"


class GuardianExceptionCode(StrEnum):
    """Why fewer parents sign than the country's rule asks: only those the rules recognise.

    Which codes a country row allows is the rule pack's ``guardian_exceptions`` cell
    (docs/regulatory-basis.md#guardian-exceptions); each is recorded with its evidence.
    """

    SOLE_PARENTAL_AUTHORITY = "sole-parental-authority"
    OTHER_PARENT_DECEASED = "other-parent-deceased"
    OTHER_PARENT_UNREACHABLE = "other-parent-unreachable"
    OTHER_PARENT_NOT_REGISTERED = "other-parent-not-registered"
    OTHER_PARENT_MINOR = "other-parent-minor"
    FR_L1122_2_II = "fr-l1122-2-ii"
    ES_OTHER_PARENT_AGREEMENT = "es-other-parent-agreement"


class OtherParentAgreement(StrEnum):
    """How the other parent agreed where one signs with the other's agreement (ES CC art 156)."""

    EXPRESS = "express"
    TACIT = "tacit"


class InterviewMode(StrEnum):
    """How the consent interview took place (CTR Art 29(2)(c); E6(R3) 2.8.7)."""

    IN_PERSON = "in-person"
    VIDEO = "video"
    PHONE = "phone"


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


class VersionStatus(StrEnum):
    """Life cycle of a form version (superseded is set when a newer one is published)."""

    DRAFT = "draft"
    APPROVED = "approved"
    PUBLISHED = "published"
    SUPERSEDED = "superseded"
    RETIRED = "retired"


class ChangeKind(StrEnum):
    """How a version differs from the previous one.

    ``major`` is material: participants who consented to an earlier version
    must consent again; ``minor`` is editorial (FDA MyStudies' lesson,
    docs/design-lessons.md#major-minor-changes).
    """

    INITIAL = "initial"
    MAJOR = "major"
    MINOR = "minor"


class SignerRole(StrEnum):
    """Who signs a form."""

    GUARDIAN = "guardian"
    PARTICIPANT = "participant"
    WITNESS = "witness"
    INVESTIGATOR = "investigator"


class SignatureMethod(StrEnum):
    """How a signature was made (the same legal act, recorded as what it is)."""

    DRAWN = "drawn"
    TYPED = "typed"
    ATTESTED = "attested"


class ItemCode(StrEnum):
    """Vocabulary of consent items (documented in docs/authoring-format.md)."""

    PARTICIPATION = "participation"
    RANDOMISATION = "randomisation"
    SAMPLE_STORAGE = "sample-storage"
    GENETIC_ANALYSIS = "genetic-analysis"
    FUTURE_RESEARCH = "future-research"
    #: CTR Art 28(2): a separate, independently revocable item.
    DATA_USE_OUTSIDE_PROTOCOL = "data-use-outside-protocol"
    RE_CONTACT = "re-contact"
    #: Send me the study's news and, at the end, the lay summary of its results (CTR Art 37(4));
    #: a study names it as ``settings.news_item`` (docs/notifications.md#study-news-and-results).
    STUDY_RESULTS = "study-results"
    REGISTRY_INCLUSION = "registry-inclusion"
    CROSS_BORDER_DATA_SHARING = "cross-border-data-sharing"
    IMAGING_SHARING = "imaging-sharing"


class RecordState(StrEnum):
    """State of a consent record, always derived from its events (never set by hand)."""

    AWAITING_INFORMATION = "awaiting-information"
    AWAITING_SIGNATURES = "awaiting-signatures"
    CONSENTED = "consented"
    DECLINED = "declined"
    DISSENT = "dissent"
    WITHDRAWN = "withdrawn"
    SUPERSEDED = "superseded"
    EXPIRED = "expired"
    SUSPENDED_AWAITING_OWN_CONSENT = "suspended-awaiting-own-consent"


#: States in which a record still waits for someone to read or sign: its completion
#: window can run out (then it is ``expired``), and the family has a step to take.
OPEN_STATES = frozenset({RecordState.AWAITING_INFORMATION, RecordState.AWAITING_SIGNATURES})
#: States in which a record ended without consent: nobody acts on it any more, and the
#: family may be asked again with a new record of the same version.
ENDED_WITHOUT_CONSENT = frozenset(
    {RecordState.DECLINED, RecordState.DISSENT, RecordState.WITHDRAWN, RecordState.EXPIRED}
)


class RecordPhase(StrEnum):
    """Where a record stands for the people who act on it, told to every face by the server.

    A client (the family script, a native app) shows a step only on an ``open`` record and
    the signed copy only on a ``consented`` one; it reads this instead of keeping its own
    copy of :data:`OPEN_STATES`.
    """

    OPEN = "open"
    CONSENTED = "consented"
    CLOSED = "closed"

    @classmethod
    def of(cls, state: RecordState) -> RecordPhase:
        """Return the phase of a record in ``state`` (:data:`OPEN_STATES` are open)."""
        if state in OPEN_STATES:
            return cls.OPEN
        if state == RecordState.CONSENTED:
            return cls.CONSENTED
        return cls.CLOSED


class WithdrawalScope(StrEnum):
    """Independently revocable parts of participation (docs/regulatory-basis.md#withdrawal-scopes).

    Participation can stop, reduce or change; it is not just in or out (the PeRSEVERE
    principles).
    """

    STOP_IMP = "stop-imp"
    STOP_STUDY_PROCEDURES = "stop-study-procedures"
    ROUTINE_DATA_ONLY = "routine-data-only"
    NO_NEW_DATA = "no-new-data"
    SAMPLES_STOP_COLLECTION = "samples-stop-collection"
    SAMPLES_DESTROY = "samples-destroy"
    SAMPLES_ANONYMISE = "samples-anonymise"
    SAMPLES_NO_FUTURE_USE = "samples-no-future-use"
    NO_USE_OUTSIDE_PROTOCOL = "no-use-outside-protocol"
    NO_FURTHER_CONTACT = "no-further-contact"
    RANDOMISATION_REFUSAL = "randomisation-refusal"
    FULL = "full"


class Channel(StrEnum):
    """How an expression of will reached the study team."""

    APP = "app"
    IN_PERSON = "in-person"
    VIDEO = "video"
    PHONE = "phone"
    LETTER = "letter"


#: Withdrawal scopes in the order people think about them: the least first, all last
#: (pages list them so; the family and staff pages show the same order).
SCOPES_LEAST_FIRST = (
    WithdrawalScope.NO_FURTHER_CONTACT,
    WithdrawalScope.STOP_IMP,
    WithdrawalScope.STOP_STUDY_PROCEDURES,
    WithdrawalScope.ROUTINE_DATA_ONLY,
    WithdrawalScope.NO_NEW_DATA,
    WithdrawalScope.SAMPLES_STOP_COLLECTION,
    WithdrawalScope.SAMPLES_NO_FUTURE_USE,
    WithdrawalScope.SAMPLES_ANONYMISE,
    WithdrawalScope.SAMPLES_DESTROY,
    WithdrawalScope.NO_USE_OUTSIDE_PROTOCOL,
    WithdrawalScope.RANDOMISATION_REFUSAL,
    WithdrawalScope.FULL,
)
