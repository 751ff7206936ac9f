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

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from consentkit.enums import FormKind, ItemCode, RecordState, SignerRole, WithdrawalScope
from consentkit.errors import NotFoundError

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
    choices: dict[str, bool] | None = None
    signed_at: datetime | None = None
    signed_on_paper: str | None = None  # the date written on the paper form, if signed on paper
    declined: bool = False

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
) -> RecordStatus:
    """Derive a record's state from its ``record.opened`` event and the events after it.

    ``events`` are the participant's events in chain order (other records'
    events are ignored, participant-wide ones such as dissent and withdrawal
    apply). ``at`` decides expiry.
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
        if kind == "assent.dissent":
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
        elif kind == "signature.added":
            progress.signed_at = event["at"]
            if all(p.signed_at for p in signers.values()):
                completed_at, completed_seq = event["at"], event["seq"]
        elif kind == "consent.declined":
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
    )


def _item_grants(
    items: Sequence[dict[str, Any]],
    signers: dict[str, SignerProgress],
    scopes: Sequence[str],
    state: RecordState,
) -> dict[str, bool]:
    """Grant an item only if every signer who chose said yes and no scope revoked it.

    Where several people must consent, one "no" is a no (Graz EC: withdrawal by any
    one of them ends participation in that scope;
    docs/regulatory-basis.md#several-consenters).
    """
    choosers = [p for p in signers.values() if p.choices is not None]
    grants: dict[str, bool] = {}
    for item in items:
        granted = (
            state == RecordState.CONSENTED
            and bool(choosers)
            and all(p.choices.get(item["id"], False) for p in choosers if p.choices is not None)
            and not (REVOKED_BY.get(item["code"], set()) & set(scopes))
        )
        grants[item["code"]] = grants.get(item["code"], True) and granted
    return grants


def participant_records(
    events: Sequence[dict[str, Any]], *, at: datetime, own_consent_due: bool = False
) -> list[RecordStatus]:
    """Derive every record of a participant, applying cross-record states.

    A consented record is ``superseded`` once a later version of the same form
    is consented. When ``own_consent_due`` (the participant has reached the age
    of legal competence, CTR Art 32(3)) and no own consent is in place, consented
    participation records become ``suspended-awaiting-own-consent``.
    """
    statuses = [
        record_status(event, events, at=at) for event in events if event["type"] == "record.opened"
    ]
    for status in statuses:
        if status.state != RecordState.CONSENTED:
            continue
        if any(
            other.form_id == status.form_id
            and other.version > status.version
            and other.state == RecordState.CONSENTED
            for other in statuses
        ):
            status.state = RecordState.SUPERSEDED
    has_own = any(
        s.form_kind in OWN_CONSENT_KINDS and s.state == RecordState.CONSENTED for s in statuses
    )
    if own_consent_due and not has_own:
        for status in statuses:
            if (
                status.form_kind == FormKind.PARENTAL_CONSENT
                and status.state == RecordState.CONSENTED
            ):
                status.state = RecordState.SUSPENDED_AWAITING_OWN_CONSENT
    return statuses


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


def _deciding_events(
    events: Sequence[dict[str, Any]], records: Sequence[RecordStatus]
) -> tuple[DecidingEvent, ...]:
    """Return the consents in force (or suspended), withdrawals and dissent, in chain order."""
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
        elif event["type"] == "assent.dissent":
            found.append(DecidingEvent(event["seq"], event["type"], event["at"]))
    return tuple(found)


def participation_profile(
    events: Sequence[dict[str, Any]], *, at: datetime, own_consent_due: bool = False
) -> ParticipationProfile:
    """Answer what is permitted for a participant at ``at``, from all records and events.

    This is the one function other systems should call (treatment, visits,
    data collection, samples, contact) instead of keeping status flags. An
    activity is permitted when the participant takes part, the items it needs
    are granted (:data:`REVOKED_BY`) and no withdrawal scope stops it
    (:data:`STOPPED_BY`).
    """
    records = participant_records(events, at=at, own_consent_due=own_consent_due)
    scopes = sorted({s for r in records for s in r.withdrawn_scopes})
    withdrawn = set(scopes)
    dissent = any(e["type"] == "assent.dissent" for e in events)
    active = [r for r in records if r.state == RecordState.CONSENTED]
    participating = (
        any(r.form_kind in PARTICIPATION_KINDS for r in active)
        and not dissent
        and WithdrawalScope.FULL not in withdrawn
    )
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
    if any(r.state == RecordState.SUSPENDED_AWAITING_OWN_CONSENT for r in records):
        blocked.append("awaiting-own-consent")
    if not any(r.form_kind in PARTICIPATION_KINDS for r in active) and not blocked:
        blocked.append("no-consent")

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
    samples_action = next(
        (
            s
            for s in (WithdrawalScope.SAMPLES_DESTROY, WithdrawalScope.SAMPLES_ANONYMISE)
            if s in withdrawn
        ),
        None,
    )
    permissions = Permissions(
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
    return ParticipationProfile(
        participating=participating,
        blocked_by=tuple(blocked),
        withdrawn_scopes=tuple(scopes),
        permissions=permissions,
        # Pre-withdrawal data stay usable (CTR Art 28(3), GDPR Art 7(3)); this says what to do
        # with samples already held, which is never "delete the records".
        samples_action=samples_action,
        records=tuple(records),
        decided_by=_deciding_events(events, records),
    )
