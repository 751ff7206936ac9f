"""The "may I?" answer for one activity, read off the participation profile.

Other systems (a biobank, an EDC, a registry) ask about activities in their own
words; each activity here is one field of the participation profile
(:func:`consentkit.policy.records.participation_profile`), never a rule of its
own: the withdrawal scopes that stop it (research notes 6.3,
docs/regulatory-basis.md#withdrawal-scopes) and the items it needs are the
profile's (``STOPPED_BY``, ``REVOKED_BY``). This module only picks the field,
names why it denies (a stable reason code) and lists the basis: the records in
force with their versions and choices, and the withdrawals and dissent that
decided it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from consentkit.enums import ItemCode, RecordState, WithdrawalScope
from consentkit.policy.age import date_of_age
from consentkit.policy.jurisdiction import Requirements
from consentkit.policy.records import REVOKED_BY, STOPPED_BY, ParticipationProfile

PERMIT = "permit"
DENY = "deny"

#: Reason codes of a deny that is not the profile's own ``blocked_by`` entry.
UNKNOWN_PARTICIPANT = "unknown-participant"
UNKNOWN_ACTIVITY = "unknown-activity"
NOT_GRANTED = "not-granted"
WITHDRAWN = "withdrawn"


@dataclass(frozen=True)
class Activity:
    """One activity: the profile field that answers it and what can stop it."""

    name: str
    answer: Callable[[ParticipationProfile], bool]
    #: The consent item it needs, if any (its grant is part of the basis).
    item: str | None
    #: Withdrawal scopes that deny it (6.3), for the basis and the reason code.
    stopped_by: frozenset[str]
    #: Whether it needs the participant to take part (contact does not).
    needs_participation: bool = True


def _revoking(item: str) -> frozenset[str]:
    return frozenset(REVOKED_BY.get(item, set()))


_FULL = frozenset({WithdrawalScope.FULL.value})
_NEW_DATA_STOPPED = frozenset({WithdrawalScope.NO_NEW_DATA.value}) | _FULL

#: Activities by the name other systems use (docs/permissions.md#activities).
ACTIVITIES: dict[str, Activity] = {
    a.name: a
    for a in (
        Activity(
            "treatment", lambda p: p.permissions.treatment, None, STOPPED_BY["treatment"] | _FULL
        ),
        Activity(
            "study-procedures",
            lambda p: p.permissions.study_procedures,
            None,
            STOPPED_BY["study_procedures"] | _FULL,
        ),
        # 6.3 item 3: routine-care data may still flow after "routine data only".
        Activity(
            "routine-data",
            lambda p: p.permissions.data_collection != "none",
            None,
            _NEW_DATA_STOPPED,
        ),
        Activity(
            "new-data",
            lambda p: p.permissions.data_collection == "all",
            None,
            _NEW_DATA_STOPPED | {WithdrawalScope.ROUTINE_DATA_ONLY.value},
        ),
        Activity(
            "sample-storage",
            lambda p: p.permissions.sample_collection,
            ItemCode.SAMPLE_STORAGE.value,
            STOPPED_BY["sample_collection"] | _revoking(ItemCode.SAMPLE_STORAGE) | _FULL,
        ),
        Activity(
            "sample-genetic-analysis",
            lambda p: p.permissions.genetic_analysis,
            ItemCode.GENETIC_ANALYSIS.value,
            _revoking(ItemCode.GENETIC_ANALYSIS) | _FULL,
        ),
        Activity(
            "sample-sharing",
            lambda p: p.permissions.use_outside_protocol,
            ItemCode.DATA_USE_OUTSIDE_PROTOCOL.value,
            _revoking(ItemCode.DATA_USE_OUTSIDE_PROTOCOL) | _FULL,
        ),
        Activity(
            "future-use",
            lambda p: p.permissions.sample_future_use,
            ItemCode.FUTURE_RESEARCH.value,
            _revoking(ItemCode.FUTURE_RESEARCH) | _FULL,
        ),
        Activity(
            "contact",
            lambda p: p.permissions.contact,
            None,
            STOPPED_BY["contact"],
            needs_participation=False,
        ),
        Activity(
            "re-contact",
            lambda p: p.permissions.re_contact,
            ItemCode.RE_CONTACT.value,
            STOPPED_BY["re_contact"] | _revoking(ItemCode.RE_CONTACT),
            needs_participation=False,
        ),
    )
}


@dataclass(frozen=True)
class Answer:
    """permit or deny for one activity, why, on what basis and until when."""

    activity: str
    decision: str
    reason: str | None
    basis: dict[str, Any]
    valid_until: date | None

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {
            "activity": self.activity,
            "decision": self.decision,
            "reason": self.reason,
            "basis": self.basis,
            "valid_until": self.valid_until,
        }


def unknown(activity: str, reason: str) -> Answer:
    """Return the deny-by-default answer (unknown participant or activity)."""
    return Answer(activity, DENY, reason, {"records": [], "events": []}, None)


def valid_until(requirements: Requirements | None, birth_date: date, on: date) -> date | None:
    """Return the next day the answer may change by age alone: competence or a new age band."""
    if requirements is None:
        return None
    coming = [requirements.competence_date]
    band = requirements.age_band
    if band is not None:
        coming.append(date_of_age(birth_date, band.max_age + 1))
    later = [d for d in coming if d > on]
    return min(later) if later else None


def answer(profile: ParticipationProfile, activity: str, *, until: date | None = None) -> Answer:
    """Return the answer for ``activity`` from the profile (deny-by-default when unknown)."""
    spec = ACTIVITIES.get(activity)
    if spec is None:
        return unknown(activity, UNKNOWN_ACTIVITY)
    permitted = spec.answer(profile)
    withdrawals = [
        e
        for e in profile.decided_by
        if e.type == "withdrawal.recorded" and set(e.scopes) & spec.stopped_by
    ]
    active = [r for r in profile.records if r.state == RecordState.CONSENTED]
    basis = {
        "records": [
            {
                "record_id": r.record_id,
                "form_id": r.form_id,
                "version": r.version,
                **({"choice": r.item_grants.get(spec.item)} if spec.item else {}),
            }
            for r in active
        ],
        "events": [
            e.to_dict()
            for e in profile.decided_by
            if e in withdrawals or e.type in ("assent.dissent", "dissent.reviewed")
        ],
    }
    reason: str | None = None
    if not permitted:
        if spec.needs_participation and profile.blocked_by:
            reason = profile.blocked_by[0]
        elif withdrawals:
            reason = f"{WITHDRAWN}:{sorted(set(withdrawals[0].scopes) & spec.stopped_by)[0]}"
        elif "dissent" in profile.blocked_by:
            reason = "dissent"
        elif spec.item is not None:
            reason = f"{NOT_GRANTED}:{spec.item}"
        else:
            reason = profile.blocked_by[0] if profile.blocked_by else NOT_GRANTED
    return Answer(activity, PERMIT if permitted else DENY, reason, basis, until)
