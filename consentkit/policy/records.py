"""Consent record states and the participation profile, derived from events alone.

Nothing here reads the database or the clock: callers pass the events (plain
dicts as stored in the audit trail) and the moment of the question. States are
never set by hand (NCI Connect's hand-kept status flags drifted,
docs/design-lessons.md#derived-states), so the same events always give the same
answer, now or in ten years.

Event shapes (``payload`` keys) are documented with the services that write them
(:mod:`consentkit.services.participants`, :mod:`~consentkit.services.records`,
:mod:`~consentkit.services.ceremony`, :mod:`~consentkit.services.participation`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from consentkit.enums import (
    OPEN_STATES,
    FormKind,
    ItemCode,
    MinorRole,
    RecordState,
    SignerRole,
    WithdrawalScope,
)
from consentkit.errors import NotFoundError
from consentkit.policy.jurisdiction import Requirements

#: Forms whose consent is what allows participation at all: the parents' for a minor, the
#: participant's own once competent. A minor's co-consent (``young-person-co-consent``) is
#: not one of them: it is the young person's half of a joint consent and never lets them
#: take part without the parents' consent, nor keeps them in while that is suspended.
PARTICIPATION_KINDS = {
    FormKind.PARENTAL_CONSENT,
    FormKind.ADULT_CONSENT,
    FormKind.YOUNG_PERSON_CONSENT,
}
#: Forms by which a participant gives their own consent (needed on reaching competence,
#: CTR Art 32(3)). A co-consent signed as a minor is not one: where the rules ask for
#: re-consent at competence it does not lift ``suspended-awaiting-own-consent``; where they
#: do not (NL), nothing is suspended in the first place (``own_consent_due`` is false).
OWN_CONSENT_KINDS = {FormKind.ADULT_CONSENT, FormKind.YOUNG_PERSON_CONSENT}

#: Required form kinds whose consent gates participation when the decided requirements
#: ask for them (docs/regulatory-basis.md#ctr-art-32, CTR-32a: the parents' consent; the minor's own
#: written consent or co-signature where national law asks for it, 2. table, e.g. NL 12-15,
#: PL 13+, DK 15-17; the own consent at competence, CTR-32f). Not the child's assent: it is
#: agreement, not consent, so a missing assent signature does not gate, but the child's
#: "no" does (dissent, CTR-32c). Not the investigator's declaration as such: the
#: interviewer's signature (CTR-29a) is checked on the gating records themselves
#: (:func:`missing_consents`).
GATING_KINDS = frozenset(
    {
        FormKind.PARENTAL_CONSENT,
        FormKind.YOUNG_PERSON_CO_CONSENT,
        FormKind.YOUNG_PERSON_CONSENT,
        FormKind.ADULT_CONSENT,
    }
)
#: Forms on which the minor's own "no" is dissent (CTR Art 32(1)(c)), not a mere decline.
MINOR_OWN_KINDS = frozenset(
    {
        FormKind.CHILD_ASSENT,
        FormKind.YOUNG_PERSON_CO_CONSENT,
        FormKind.YOUNG_PERSON_CONSENT,
        FormKind.ADULT_CONSENT,
    }
)
#: ``dissent.reviewed`` decisions: only ``continue`` lifts the block
#: (docs/regulatory-basis.md#ctr-art-32, CTR-32c: never overruled without an audit-trailed
#: investigator note).
REVIEW_CONTINUE = "continue"
REVIEW_UPHOLD = "uphold"
REVIEW_DECISIONS = (REVIEW_CONTINUE, REVIEW_UPHOLD)

#: Optional items and the withdrawal scopes that revoke them
#: (docs/regulatory-basis.md#withdrawal-scopes).
REVOKED_BY: dict[str, set[str]] = {
    ItemCode.PARTICIPATION: {WithdrawalScope.FULL},
    ItemCode.RANDOMISATION: {WithdrawalScope.RANDOMISATION_REFUSAL, WithdrawalScope.FULL},
    ItemCode.SAMPLE_STORAGE: {
        WithdrawalScope.SAMPLES_STOP_COLLECTION,
        WithdrawalScope.SAMPLES_DESTROY,
        WithdrawalScope.SAMPLES_ANONYMISE,
        WithdrawalScope.SAMPLES_NO_FUTURE_USE,
    },
    ItemCode.GENETIC_ANALYSIS: {
        WithdrawalScope.SAMPLES_DESTROY,
        WithdrawalScope.SAMPLES_NO_FUTURE_USE,
    },
    ItemCode.FUTURE_RESEARCH: {
        WithdrawalScope.SAMPLES_NO_FUTURE_USE,
        WithdrawalScope.SAMPLES_DESTROY,
        WithdrawalScope.NO_USE_OUTSIDE_PROTOCOL,
    },
    ItemCode.DATA_USE_OUTSIDE_PROTOCOL: {WithdrawalScope.NO_USE_OUTSIDE_PROTOCOL},
    # Re-contact is contact: "no contact" in both no-further-contact (research notes 6.3
    # item 7) and routine-data-only ("no contact, but data from routine care", item 3).
    ItemCode.RE_CONTACT: {WithdrawalScope.NO_FURTHER_CONTACT, WithdrawalScope.ROUTINE_DATA_ONLY},
    # Being sent the study's news and results is contact too: no-further-contact says
    # "no more contact, including about results" (docs/regulatory-basis.md#withdrawal-scopes).
    ItemCode.STUDY_RESULTS: {
        WithdrawalScope.NO_FURTHER_CONTACT,
        WithdrawalScope.ROUTINE_DATA_ONLY,
    },
    ItemCode.REGISTRY_INCLUSION: {WithdrawalScope.NO_NEW_DATA},
    ItemCode.CROSS_BORDER_DATA_SHARING: {WithdrawalScope.NO_NEW_DATA},
    ItemCode.IMAGING_SHARING: {WithdrawalScope.NO_NEW_DATA},
}

#: Activities and the withdrawal scopes that stop them, whatever the items granted
#: (docs/regulatory-basis.md#withdrawal-scopes; research notes 6.3). A withdrawal stops
#: *new* activity; what was collected before stays (CTR Art 28(3), GDPR Art 7(3)), so
#: these never revoke the consent items themselves (stored samples stay stored).
STOPPED_BY: dict[str, frozenset[str]] = {
    # 6.3 item 1: stop the investigational treatment.
    "treatment": frozenset({WithdrawalScope.STOP_IMP}),
    # A randomisation is a study procedure that makes new trial data: stopped by stopping
    # study procedures (item 2), active follow-up (item 3) or all new data (item 4), and
    # by refusing it (item 8).
    "randomisation": frozenset(
        {
            WithdrawalScope.RANDOMISATION_REFUSAL,
            WithdrawalScope.STOP_STUDY_PROCEDURES,
            WithdrawalScope.ROUTINE_DATA_ONLY,
            WithdrawalScope.NO_NEW_DATA,
        }
    ),
    # Items 2-4: study-specific visits, tests and questionnaires.
    "study_procedures": frozenset(
        {
            WithdrawalScope.STOP_STUDY_PROCEDURES,
            WithdrawalScope.ROUTINE_DATA_ONLY,
            WithdrawalScope.NO_NEW_DATA,
        }
    ),
    # Taking a research sample is a study-specific test (item 2) and new collection
    # (item 4, "of any kind"); item 5 stops it on its own.
    "sample_collection": frozenset(
        {
            WithdrawalScope.SAMPLES_STOP_COLLECTION,
            WithdrawalScope.STOP_STUDY_PROCEDURES,
            WithdrawalScope.ROUTINE_DATA_ONLY,
            WithdrawalScope.NO_NEW_DATA,
        }
    ),
    # Item 7 (no further contact) and item 3 ("no contact, but routine data").
    "contact": frozenset({WithdrawalScope.NO_FURTHER_CONTACT, WithdrawalScope.ROUTINE_DATA_ONLY}),
    "re_contact": frozenset(
        {WithdrawalScope.NO_FURTHER_CONTACT, WithdrawalScope.ROUTINE_DATA_ONLY}
    ),
}


@dataclass
class SignerProgress:
    """How far one required signer has come through the ceremony."""

    signer_id: str
    role: str
    sections_viewed: set[str] = field(default_factory=set)
    first_viewed_at: datetime | None = None
    comprehension_passed: bool = False
    comprehension_attempts: int = 0
    #: The choices as signed (or as last chosen before signing): what the signature covers.
    choices: dict[str, bool] | None = None
    #: Optional items changed after signing (``items.changed``, each its own signed event):
    #: item id -> the newest answer. The signed ``choices`` stay as they were.
    changed_choices: dict[str, bool] = field(default_factory=dict)
    signed_at: datetime | None = None
    signed_on_paper: str | None = None  # the date written on the paper form, if signed on paper
    declined: bool = False

    @property
    def current_choices(self) -> dict[str, bool] | None:
        """Return the choices in force now: as signed, with every later change applied."""
        if self.choices is None:
            return None
        return {**self.choices, **self.changed_choices}

    def to_dict(self, section_ids: Sequence[str]) -> dict[str, Any]:
        """Return the JSON form, with what is still to do."""
        return {
            "signer_id": self.signer_id,
            "role": self.role,
            "sections_viewed": len(self.sections_viewed & set(section_ids)),
            "sections_total": len(section_ids),
            "comprehension_passed": self.comprehension_passed,
            "comprehension_attempts": self.comprehension_attempts,
            "has_chosen_items": self.choices is not None,
            "signed_at": self.signed_at,
            "signed_on_paper": self.signed_on_paper,
            "declined": self.declined,
        }


@dataclass
class RecordStatus:
    """Everything derived about one consent record."""

    record_id: str
    form_id: str
    form_kind: str
    version: int
    state: RecordState
    signers: dict[str, SignerProgress]
    section_ids: list[str]
    missing_signers: list[dict[str, str]]
    withdrawn_scopes: list[str]
    opened_at: datetime
    completed_at: datetime | None
    item_grants: dict[str, bool]
    #: The event that completed the record (its last signature), if it did.
    completed_seq: int | None = None
    #: The ``record.opened`` event's seq: a dissent before it does not concern this record.
    opened_seq: int = 0

    def family_has_signed(self) -> bool:
        """Return True when the investigator may countersign: a family member has signed.

        The investigator confirms a consent the family gave (CTR Art 29(1): the
        interview, then the signatures), so a countersignature before any family
        signature is refused and never offered. A declaration that only
        investigators sign has no family signature to wait for.
        """
        family = [p for p in self.signers.values() if p.role != SignerRole.INVESTIGATOR]
        return not family or any(p.signed_at is not None for p in family)

    def copy_for(self, signer_id: str) -> str | None:
        """Return which signed copy ``signer_id`` may download now: final, interim or none.

        ``final`` while the record stands consented (everyone signed); ``interim`` as
        soon as this signer's own signature is in while others are still awaited (a
        sealed "signed by you, awaiting others" copy); else None.
        """
        if self.completed_seq is not None:
            return "final"
        progress = self.signers.get(signer_id)
        if (
            self.state in OPEN_STATES
            and progress is not None
            and (progress.signed_at is not None or progress.signed_on_paper is not None)
        ):
            return "interim"
        return None

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {
            "record_id": self.record_id,
            "form_id": self.form_id,
            "form_kind": self.form_kind,
            "version": self.version,
            "state": self.state.value,
            "missing_signers": self.missing_signers,
            "withdrawn_scopes": self.withdrawn_scopes,
            "opened_at": self.opened_at,
            "completed_at": self.completed_at,
            "item_grants": self.item_grants,
            "signers": [p.to_dict(self.section_ids) for p in self.signers.values()],
        }


def opened_event(events: Iterable[dict[str, Any]], record_id: str) -> dict[str, Any]:
    """Return the ``record.opened`` event of a record.

    Raises:
        NotFoundError: the record is not in these events.
    """
    for event in events:
        if event["type"] == "record.opened" and event["payload"]["record_id"] == record_id:
            return event
    raise NotFoundError("Record %(record_id)s was not found.", params={"record_id": record_id})


def information_complete(progress: SignerProgress, section_ids: Sequence[str]) -> bool:
    """Return True when the signer has seen every section (investigators and witnesses need not).

    An impartial witness attests that the text was read out to a signer who cannot
    read (CTR Art 29(1)); they are not asked to consent to it.
    """
    if progress.role in (SignerRole.INVESTIGATOR, SignerRole.WITNESS):
        return True
    return set(section_ids) <= progress.sections_viewed


def record_status(
    opened: dict[str, Any],
    events: Iterable[dict[str, Any]],
    *,
    at: datetime,
    lifted: frozenset[int] = frozenset(),
) -> RecordStatus:
    """Derive a record's state from its ``record.opened`` event and the events after it.

    ``events`` are the participant's events in chain order (other records'
    events are ignored, participant-wide ones such as dissent and withdrawal
    apply). ``at`` decides expiry. ``lifted`` are the seqs of dissents no
    longer in force (:func:`lifted_dissents`): an investigator's review where
    the refusal is not binding, or the child's own later agreement.
    """
    payload = opened["payload"]
    record_id = payload["record_id"]
    section_ids: list[str] = payload["section_ids"]
    signers = {
        s["signer_id"]: SignerProgress(signer_id=s["signer_id"], role=s["role"])
        for s in payload["required_signers"]
    }
    dissent = False
    scopes: list[str] = []
    completed_at: datetime | None = None
    completed_seq: int | None = None
    for event in events:
        if event["seq"] <= opened["seq"]:
            continue
        kind, data = event["type"], event.get("payload", {})
        if kind == "assent.dissent" and event["seq"] not in lifted:
            dissent = True
        elif kind == "withdrawal.recorded":
            scopes.extend(s for s in data["scopes"] if s not in scopes)
        if event.get("record_id") != record_id:
            continue
        if kind == "record.witness-required":
            # A signer who cannot read: their impartial witness signs too (CTR Art 29(1)).
            witness = data["signer_id"]
            signers.setdefault(witness, SignerProgress(signer_id=witness, role=SignerRole.WITNESS))
            completed_at = completed_seq = None
            continue
        if kind == "paper.recorded":
            # A paper signature counts like an electronic one for completeness.
            for signer_id in data["signer_ids"]:
                paper = signers.get(signer_id)
                if paper is None:
                    continue
                paper.signed_at = paper.signed_at or event["at"]
                paper.signed_on_paper = data["signed_on"]
                if data.get("choices") is not None:
                    paper.choices = dict(data["choices"])
            if completed_at is None and all(p.signed_at for p in signers.values()):
                completed_at, completed_seq = event["at"], event["seq"]
            continue
        progress = signers.get(data.get("signer_id", ""))
        if progress is None:
            continue
        if kind == "information.viewed":
            progress.sections_viewed.update(s["id"] for s in data["sections"])
            progress.first_viewed_at = progress.first_viewed_at or event["at"]
        elif kind == "comprehension.answered":
            progress.comprehension_attempts += 1
            progress.comprehension_passed = progress.comprehension_passed or data["passed"]
        elif kind == "items.chosen":
            progress.choices = dict(data["choices"])
        elif kind == "items.changed":
            # An optional item changed after signing: a new signed event, the record kept.
            progress.changed_choices.update(data["changes"])
        elif kind == "signature.added":
            progress.signed_at = event["at"]
            if all(p.signed_at for p in signers.values()):
                completed_at, completed_seq = event["at"], event["seq"]
        elif kind in ("consent.declined", "assent.dissent"):
            # A minor's "no" on their own form is dissent (ceremony.decline); it is also
            # this signer's refusal of this record.
            progress.declined = True

    missing = [
        {"signer_id": p.signer_id, "role": p.role} for p in signers.values() if p.signed_at is None
    ]
    if dissent:
        state = RecordState.DISSENT
    elif WithdrawalScope.FULL in scopes:
        state = RecordState.WITHDRAWN
    elif any(p.declined for p in signers.values()):
        state = RecordState.DECLINED
    elif not missing:
        state = RecordState.CONSENTED
    elif at > opened["at"] + timedelta(days=payload["window_days"]):
        state = RecordState.EXPIRED
    elif any(
        p.signed_at or (p.role != SignerRole.INVESTIGATOR and information_complete(p, section_ids))
        for p in signers.values()
    ):
        state = RecordState.AWAITING_SIGNATURES
    else:
        state = RecordState.AWAITING_INFORMATION
    return RecordStatus(
        record_id=record_id,
        form_id=payload["form_id"],
        form_kind=payload["form_kind"],
        version=payload["version"],
        state=state,
        signers=signers,
        section_ids=section_ids,
        missing_signers=missing,
        withdrawn_scopes=scopes,
        opened_at=opened["at"],
        completed_at=completed_at if state == RecordState.CONSENTED else None,
        item_grants=_item_grants(payload["items"], signers, scopes, state),
        completed_seq=completed_seq if state == RecordState.CONSENTED else None,
        opened_seq=opened["seq"],
    )


def _item_grants(
    items: Sequence[dict[str, Any]],
    signers: dict[str, SignerProgress],
    scopes: Sequence[str],
    state: RecordState,
) -> dict[str, bool]:
    """Grant an item only if every signer who chose says yes now and no scope revoked it.

    "Now": the signed choices with every later change (``items.changed``) applied.

    Where several people must consent, one "no" is a no (Graz EC: withdrawal by any
    one of them ends participation in that scope;
    docs/regulatory-basis.md#several-consenters).
    """
    current = [c for c in (p.current_choices for p in signers.values()) if c is not None]
    grants: dict[str, bool] = {}
    for item in items:
        granted = (
            state == RecordState.CONSENTED
            and bool(current)
            and all(c.get(item["id"], False) for c in current)
            and not (REVOKED_BY.get(item["code"], set()) & set(scopes))
        )
        grants[item["code"]] = grants.get(item["code"], True) and granted
    return grants


def chosen_items(
    items: Sequence[dict[str, Any]], signers: dict[str, SignerProgress], state: RecordState
) -> dict[str, bool]:
    """Return each item code as the signers chose it, before any withdrawal revoked it.

    Later changes of an optional item (``items.changed``) count: they are the family's
    own new choice, signed like the first.

    What the record granted when it was completed: the FHIR export states it, and
    states a later revocation as the end of that grant (:mod:`consentkit.interop.fhir`).
    """
    return _item_grants(items, signers, (), state)


def lifted_dissents(
    events: Sequence[dict[str, Any]], statuses: Sequence[RecordStatus] = ()
) -> frozenset[int]:
    """Return the seqs of the dissents no longer in force.

    A dissent is lifted only by (docs/regulatory-basis.md#ctr-art-32, CTR-32c: never overruled
    without an audit trail):

    * a later ``dissent.reviewed`` event deciding ``continue`` that names it: an
      investigator's documented review, which the service allows only where the
      rules say the minor's refusal is not binding
      (:func:`consentkit.services.participation.review_dissent`);
    * the child's own later agreement: a record opened after the dissent, consented,
      that the participant signed themselves (``statuses``, as derived so far).
    """
    lifted: set[int] = set()
    for event in events:
        if (
            event["type"] == "dissent.reviewed"
            and event["payload"].get("decision") == REVIEW_CONTINUE
        ):
            lifted.update(event["payload"].get("dissent_seqs", ()))
    for event in events:
        if event["type"] != "assent.dissent" or event["seq"] in lifted:
            continue
        if any(
            status.opened_seq > event["seq"]
            and status.state == RecordState.CONSENTED
            and any(
                p.role == SignerRole.PARTICIPANT and p.signed_at for p in status.signers.values()
            )
            for status in statuses
        ):
            lifted.add(event["seq"])
    return frozenset(lifted)


def dissents_in_force(events: Sequence[dict[str, Any]], lifted: frozenset[int]) -> list[int]:
    """Return the seqs of the child's refusals still in force (CTR Art 32(1)(c))."""
    return [e["seq"] for e in events if e["type"] == "assent.dissent" and e["seq"] not in lifted]


def _statuses(
    events: Sequence[dict[str, Any]], *, at: datetime, lifted: frozenset[int]
) -> list[RecordStatus]:
    return [
        record_status(event, events, at=at, lifted=lifted)
        for event in events
        if event["type"] == "record.opened"
    ]


def participant_records(
    events: Sequence[dict[str, Any]], *, at: datetime, own_consent_due: bool = False
) -> list[RecordStatus]:
    """Derive every record of a participant, applying cross-record states.

    A consented record is ``superseded`` once a later version of the same form
    is consented. When ``own_consent_due`` (the participant has reached the age
    of legal competence, CTR Art 32(3)) and no own consent is in place, consented
    participation records become ``suspended-awaiting-own-consent``. A dissent
    makes every record opened before it ``dissent`` until it is lifted
    (:func:`lifted_dissents`).
    """
    lifted = lifted_dissents(events)
    statuses = _statuses(events, at=at, lifted=lifted)
    by_agreement = lifted_dissents(events, statuses)
    if by_agreement != lifted:
        statuses = _statuses(events, at=at, lifted=by_agreement)
    standings = [RecordStanding.of(status) for status in statuses]
    states = cross_record_states(standings, own_consent_due=own_consent_due)
    for status in statuses:
        status.state = states[status.record_id]
    return statuses


@dataclass(frozen=True)
class RecordStanding:
    """What the cross-record states read of a record: its form and its own state."""

    record_id: str
    form_id: str
    form_kind: str
    version: int
    state: RecordState

    @classmethod
    def of(cls, status: RecordStatus) -> RecordStanding:
        """Return the standing of a record derived from its events."""
        return cls(status.record_id, status.form_id, status.form_kind, status.version, status.state)


def cross_record_states(
    records: Sequence[RecordStanding], *, own_consent_due: bool
) -> dict[str, RecordState]:
    """Return each record's state once the participant's other records are applied.

    ``records`` carry each record's own state (from its own events and the
    participant-wide ones, dissents applied). A consented record is
    ``superseded`` once a later version of the same form is consented; when
    ``own_consent_due`` (the age of legal competence reached, CTR Art 32(3)) and
    no own consent is in force, consented parental consents are
    ``suspended-awaiting-own-consent``. One owner for both derivations: the whole
    chain's (:func:`participant_records`) and a completing signature's, which
    reads the other records' projections instead of the chain
    (``consentkit.services.projection``).
    """
    states = {record.record_id: record.state for record in records}
    for record in records:
        if record.state == RecordState.CONSENTED and any(
            other.form_id == record.form_id
            and other.version > record.version
            and other.state == RecordState.CONSENTED
            for other in records
        ):
            states[record.record_id] = RecordState.SUPERSEDED
    has_own = any(
        record.form_kind in OWN_CONSENT_KINDS and states[record.record_id] == RecordState.CONSENTED
        for record in records
    )
    if own_consent_due and not has_own:
        for record in records:
            if (
                record.form_kind == FormKind.PARENTAL_CONSENT
                and states[record.record_id] == RecordState.CONSENTED
            ):
                states[record.record_id] = RecordState.SUSPENDED_AWAITING_OWN_CONSENT
    return states


def _signed_by(status: RecordStatus, role: str) -> bool:
    return any(p.role == role and p.signed_at for p in status.signers.values())


def missing_consents(records: Sequence[RecordStatus], requirements: Requirements) -> list[str]:
    """Return the required consents not in force, as ``missing:<form kind>`` reasons.

    From the decided requirements on the day asked (rule pack + study overrides):
    every required kind of :data:`GATING_KINDS` needs a consented record of that
    kind, signed by the signer the kind is about: a guardian for the parental
    consent (CTR-32a; how many was decided, with any exception, when the record
    was opened), the participant for the co-consent and the own consent. The own
    consent at competence may be any own-consent kind (signed at 16 on the young
    person's form, still valid at 18); where ``reconsent_at_competence`` is false
    (NL, docs/regulatory-basis.md#country-nl: "turning 16: no action needed") a consented co-consent
    counts as it too. A required kind the study has no form for has no record, so
    it is missing as well.

    CTR Art 29(1) (CTR-29a): a consent is incomplete without the interviewer's
    signature. Each gating record either carries it (the demo forms list the
    investigator as a signer) or a consented investigator declaration does; if
    neither, ``missing:investigator-declaration``.
    """
    active = [r for r in records if r.state == RecordState.CONSENTED]
    missing: list[str] = []
    used: list[RecordStatus] = []
    for kind in requirements.form_kinds:
        if kind not in GATING_KINDS:
            continue
        if kind in OWN_CONSENT_KINDS:
            accepted = set(OWN_CONSENT_KINDS)
            if not requirements.reconsent_at_competence:
                accepted.add(FormKind.YOUNG_PERSON_CO_CONSENT)
            signer_role = SignerRole.PARTICIPANT
        elif kind == FormKind.PARENTAL_CONSENT:
            accepted, signer_role = {kind}, SignerRole.GUARDIAN
        else:
            accepted, signer_role = {kind}, SignerRole.PARTICIPANT
        found = [r for r in active if r.form_kind in accepted and _signed_by(r, signer_role)]
        if found:
            used.append(found[-1])
        else:
            missing.append(f"missing:{kind.value}")
    declared = any(
        r.form_kind == FormKind.INVESTIGATOR_DECLARATION and _signed_by(r, SignerRole.INVESTIGATOR)
        for r in active
    )
    if used and not declared and not all(_signed_by(r, SignerRole.INVESTIGATOR) for r in used):
        missing.append(f"missing:{FormKind.INVESTIGATOR_DECLARATION.value}")
    return missing


@dataclass(frozen=True)
class Permissions:
    """What may happen now, per activity (the keys other systems switch on)."""

    treatment: bool
    randomisation: bool
    study_procedures: bool
    #: ``all``, ``routine-care-only`` (6.3 item 3) or ``none``.
    data_collection: str
    sample_collection: bool
    sample_future_use: bool
    genetic_analysis: bool
    use_outside_protocol: bool
    contact: bool
    re_contact: bool

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form (the keys are the field names)."""
        return asdict(self)


@dataclass(frozen=True)
class DecidingEvent:
    """One event the answer rests on: a completed consent, a withdrawal or a dissent."""

    seq: int
    type: str
    at: datetime
    record_id: str | None = None
    scopes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {
            "seq": self.seq,
            "type": self.type,
            "at": self.at,
            "record_id": self.record_id,
            "scopes": list(self.scopes),
        }


@dataclass(frozen=True)
class ParticipationProfile:
    """What is permitted for a participant at one moment, and the events that decided it."""

    participating: bool
    blocked_by: tuple[str, ...]
    withdrawn_scopes: tuple[str, ...]
    permissions: Permissions
    #: What to do with samples already held (never "delete the records").
    samples_action: str | None
    records: tuple[RecordStatus, ...]
    decided_by: tuple[DecidingEvent, ...]

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form (the keys of the profile before it was typed, plus decided_by)."""
        return {
            "participating": self.participating,
            "blocked_by": list(self.blocked_by),
            "withdrawn_scopes": list(self.withdrawn_scopes),
            "permissions": self.permissions.to_dict(),
            "samples_action": self.samples_action,
            "records": [r.to_dict() for r in self.records],
            "decided_by": [e.to_dict() for e in self.decided_by],
        }


#: Reasons that only say something is still to come (a consent not yet given).
_AWAITING_PREFIXES = ("no-consent", "missing:")


def standing(participating: bool, blocked_by: Sequence[str]) -> str:
    """Return where a participant stands, in one word staff can read at a glance.

    ``yes`` takes part; ``not-yet`` waits only for consents still to be given (a
    new enrolment, never "No"); ``paused`` waits for the participant's own consent
    at competence; ``no`` after a dissent or a full withdrawal.
    """
    if participating:
        return "yes"
    if "dissent" in blocked_by or "withdrawn" in blocked_by:
        return "no"
    if "awaiting-own-consent" in blocked_by:
        return "paused"
    if all(reason.startswith(_AWAITING_PREFIXES) for reason in blocked_by):
        return "not-yet"
    return "no"


def permissions_for(
    *,
    participating: bool,
    grants: Mapping[str, bool],
    withdrawn: Set[str],
    dissent: bool,
) -> Permissions:
    """Return what may happen, per activity, from the four facts that decide it.

    ``participating``: the gate (:func:`participation_profile`); ``grants``: the consent
    items granted by the consents in force (an item no consent asks about is not
    granted); ``withdrawn``: the withdrawal scopes recorded; ``dissent``: a child's
    refusal in force. The participation profile and the FHIR Consent reader
    (:mod:`consentkit.interop.fhir`) both answer through this one function.
    """

    def allowed(activity: str, item: str | None = None) -> bool:
        return (
            participating
            and (item is None or grants.get(item, False))
            and not (STOPPED_BY.get(activity, frozenset()) & withdrawn)
        )

    data_collection = (
        "none"
        if not participating or WithdrawalScope.NO_NEW_DATA in withdrawn
        else "routine-care-only"
        if WithdrawalScope.ROUTINE_DATA_ONLY in withdrawn
        else "all"
    )
    return Permissions(
        treatment=allowed("treatment"),
        randomisation=allowed("randomisation", ItemCode.RANDOMISATION),
        study_procedures=allowed("study_procedures"),
        data_collection=data_collection,
        sample_collection=allowed("sample_collection", ItemCode.SAMPLE_STORAGE),
        sample_future_use=allowed("sample_future_use", ItemCode.FUTURE_RESEARCH),
        genetic_analysis=allowed("genetic_analysis", ItemCode.GENETIC_ANALYSIS),
        use_outside_protocol=allowed("use_outside_protocol", ItemCode.DATA_USE_OUTSIDE_PROTOCOL),
        # Contact does not need participation: safety follow-up after a full withdrawal
        # still needs a way to reach the family, unless they asked for no contact.
        contact=not dissent and not (STOPPED_BY["contact"] & withdrawn),
        re_contact=grants.get(ItemCode.RE_CONTACT, False)
        and not (STOPPED_BY["re_contact"] & withdrawn),
    )


def contact_withdrawn_by(profile: ParticipationProfile) -> DecidingEvent | None:
    """Return the first withdrawal that forbids contacting the family, or None.

    "No further contact" (research notes 6.3 item 7) and "routine data only" ("no
    contact, but data from routine care", item 3) stop contact for good: the
    invitation service refuses on it (``contact-withdrawn``,
    :func:`consentkit.services.access.check_contact_permitted`) and the staff
    page shows it instead of the invite buttons. A child's dissent also makes
    ``permissions.contact`` false but is not a withdrawal of contact: the child's
    own later agreement, which lifts it, needs an invitation to sign.
    """
    for event in profile.decided_by:
        if event.type == "withdrawal.recorded" and set(event.scopes) & STOPPED_BY["contact"]:
            return event
    return None


def _deciding_events(
    events: Sequence[dict[str, Any]], records: Sequence[RecordStatus], dissents: Sequence[int]
) -> tuple[DecidingEvent, ...]:
    """Return the consents in force (or suspended), withdrawals, dissent and its reviews.

    In chain order; a lifted dissent no longer decides anything, the review or
    the child's record that lifted it does.
    """
    counted = {
        r.completed_seq: r.record_id
        for r in records
        if r.completed_seq is not None
        and r.state in (RecordState.CONSENTED, RecordState.SUSPENDED_AWAITING_OWN_CONSENT)
    }
    found = []
    for event in events:
        if event["seq"] in counted:
            found.append(
                DecidingEvent(event["seq"], event["type"], event["at"], counted[event["seq"]])
            )
        elif event["type"] == "withdrawal.recorded":
            scopes = tuple(event["payload"]["scopes"])
            found.append(DecidingEvent(event["seq"], event["type"], event["at"], scopes=scopes))
        elif (event["type"] == "assent.dissent" and event["seq"] in dissents) or (
            event["type"] == "dissent.reviewed"
        ):
            found.append(
                DecidingEvent(event["seq"], event["type"], event["at"], event.get("record_id"))
            )
    return tuple(found)


def participation_profile(
    events: Sequence[dict[str, Any]],
    *,
    at: datetime,
    requirements: Requirements | None = None,
    own_consent_due: bool | None = None,
) -> ParticipationProfile:
    """Answer what is permitted for a participant at ``at``, from all records and events.

    This is the one function other systems should call (treatment, visits,
    data collection, samples, contact) instead of keeping status flags. An
    activity is permitted when the participant takes part, the items it needs
    are granted (:data:`REVOKED_BY`) and no withdrawal scope stops it
    (:data:`STOPPED_BY`).

    ``requirements`` are the decided requirements on the day asked (the service
    always passes them, :func:`consentkit.services.records.participation`): the
    participant takes part only when every required consent is in force
    (:func:`missing_consents`; ``blocked_by`` then names each missing kind as
    ``missing:<kind>``). Without them (questions about the records alone) any
    consented parental or own consent counts. ``own_consent_due`` defaults to
    what the requirements say: own consent required and, by the rules,
    re-consent at competence (CTR Art 32(3); not in NL).
    """
    if own_consent_due is None:
        own_consent_due = requirements is not None and (
            requirements.minor_role is MinorRole.OWN_CONSENT
            and requirements.reconsent_at_competence
        )
    records = participant_records(events, at=at, own_consent_due=own_consent_due)
    scopes = sorted({s for r in records for s in r.withdrawn_scopes})
    withdrawn = set(scopes)
    dissents = dissents_in_force(events, lifted_dissents(events, records))
    dissent = bool(dissents)
    active = [r for r in records if r.state == RecordState.CONSENTED]
    suspended = any(r.state == RecordState.SUSPENDED_AWAITING_OWN_CONSENT for r in records)
    # "no-consent": nothing that can let them in was given (with the requirements, any
    # required consent; the missing ones are then named one by one).
    kinds = PARTICIPATION_KINDS if requirements is None else GATING_KINDS
    has_consent = any(r.form_kind in kinds for r in active)
    missing = [] if requirements is None else missing_consents(records, requirements)
    participating = (
        has_consent
        and not missing
        and not suspended
        and not dissent
        and WithdrawalScope.FULL not in withdrawn
    )
    if suspended:
        # One reason for the own consent at competence: "awaiting-own-consent" says it.
        own = {f"missing:{kind.value}" for kind in OWN_CONSENT_KINDS}
        missing = [m for m in missing if m not in own]
    grants: dict[str, bool] = {}
    for record in active:
        for code, granted in record.item_grants.items():
            grants[code] = grants.get(code, True) and granted
    participating = participating and grants.get(ItemCode.PARTICIPATION, True)
    blocked: list[str] = []
    if dissent:
        blocked.append("dissent")
    if WithdrawalScope.FULL in withdrawn:
        blocked.append("withdrawn")
    if suspended:
        blocked.append("awaiting-own-consent")
    if not has_consent and not blocked:
        blocked.append("no-consent")
    if not dissent and WithdrawalScope.FULL not in withdrawn:
        # A dissent or a withdrawal ends the records it applies to; "missing" would then
        # wrongly say a consent was never given.
        blocked.extend(missing)

    permissions = permissions_for(
        participating=participating, grants=grants, withdrawn=withdrawn, dissent=dissent
    )
    samples_action = next(
        (
            s
            for s in (WithdrawalScope.SAMPLES_DESTROY, WithdrawalScope.SAMPLES_ANONYMISE)
            if s in withdrawn
        ),
        None,
    )
    return ParticipationProfile(
        participating=participating,
        blocked_by=tuple(blocked),
        withdrawn_scopes=tuple(scopes),
        permissions=permissions,
        # Pre-withdrawal data stay usable (CTR Art 28(3), GDPR Art 7(3)); this says what to do
        # with samples already held, which is never "delete the records".
        samples_action=samples_action,
        records=tuple(records),
        decided_by=_deciding_events(events, records, dissents),
    )
