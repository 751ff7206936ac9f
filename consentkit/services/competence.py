"""Reaching the age of legal competence with no other event: the suspension recorded.

From the competence date on, a parental consent of a participant whose rules ask for
their own consent at competence is ``suspended-awaiting-own-consent`` (CTR Art 32(3);
:func:`consentkit.policy.records.participant_records`). The chain derives that from
the time asked, but the record projections, and the dashboard counters moved with
them, hold the state as of the last event: a young person who turns 18 in a quiet
month would stay counted as ``consented`` on the dashboard and missing from the
``due=suspended`` worklist until the family's next event.

:func:`record_competence_reached` (run daily by ``consentkit due``) appends one
``participant.competence-reached`` event for each such participant and moves their
projections through :func:`~consentkit.services.projection.refresh_projection`, the
one path every event takes. Why an event and not a count derived at read time, as
expiry is: the suspension is a change of a consent's state (house rule: every such
change is an event), decided by the country's rule row on that day, which the
event states (competence age, rule pack version) for an inspector; and the
dashboard count and the worklist then both read the same stored state, so they
cannot disagree, where a read-time rule would have to be applied twice, once to the
counters and once to the worklist query, and re-derive the rule pack in each.
Between the competence date and the next run, the participant's own pages (which
derive state at the moment asked) already show the suspension; the dashboard
follows at the run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from consentkit.clock import now_utc
from consentkit.enums import FormKind, RecordState
from consentkit.models.audit import AuditEvent, ConsentRecord
from consentkit.models.participant import Participant
from consentkit.policy.records import participant_records
from consentkit.services import audit
from consentkit.services.evidence import SYSTEM
from consentkit.services.projection import refresh_projection
from consentkit.services.requirements import own_consent_due, requirements_for

__all__ = ["EVENT_TYPE", "CompetenceReport", "SuspendedParticipant", "record_competence_reached"]

#: The event that records a participant reaching competence while consented as a minor.
EVENT_TYPE = "participant.competence-reached"


@dataclass(frozen=True)
class SuspendedParticipant:
    """A participant whose consent a run suspended until their own consent."""

    participant_code: str
    site_code: str
    competence_date: date
    record_ids: tuple[str, ...]

    def line(self) -> str:
        """Return it on one line: ``<code> (<site>): competence on <date>, consent suspended``."""
        return (
            f"{self.participant_code} ({self.site_code}): competence on "
            f"{self.competence_date.isoformat()}, consent suspended until their own consent"
        )


@dataclass
class CompetenceReport:
    """What a run recorded: the participants whose consent it suspended."""

    suspended: list[SuspendedParticipant] = field(default_factory=list)


class _NothingToRecord(Exception):
    """The chain moved meanwhile (an own consent, a withdrawal): no suspension to record."""


def _candidates(trial_id: str | None, on: date) -> list[tuple[Participant, set[str]]]:
    """Return participants past their competence date, with their consented parental records.

    Read from the projections: those are what the dashboard counts, so what may be stale.
    """
    query: dict[str, object] = {
        "state": RecordState.CONSENTED.value,
        "form_kind": FormKind.PARENTAL_CONSENT.value,
    }
    if trial_id is not None:
        query["trial_id"] = trial_id
    consented: dict[str, set[str]] = {}
    for doc in ConsentRecord._get_collection().find(
        query, {"participant_id": True, "record_id": True}
    ):
        consented.setdefault(doc["participant_id"], set()).add(doc["record_id"])
    # A day ahead: the policy decides in the participant's time zone (east of UTC, sooner).
    found = Participant.objects(
        id__in=sorted(consented), competence_date__lte=on + timedelta(days=1)
    ).order_by("trial_id", "code")
    return [(participant, consented[str(participant.id)]) for participant in found]


def _suspended(chain: list[audit.ChainEvent], stale: set[str], at: datetime) -> list[str]:
    """Return the records the chain suspends at ``at`` whose projection still says consented."""
    statuses = participant_records(chain, at=at, own_consent_due=True)
    return sorted(
        s.record_id
        for s in statuses
        if s.state == RecordState.SUSPENDED_AWAITING_OWN_CONSENT and s.record_id in stale
    )


def record_competence_reached(
    *, on: date, trial_id: str | None = None, now: datetime | None = None
) -> CompetenceReport:
    """Record and project the suspension of consents whose participant reached competence.

    For each participant whose rules ask for their own consent from their competence
    date, now passed, and whose parental consent is still projected as consented,
    one ``participant.competence-reached`` event (the records it suspends, the
    competence age, country and rule pack version), then the projections and
    counters move as after any event. Idempotent: a participant already suspended
    is not a candidate, and the event is appended once per competence date.
    """
    now = now or now_utc()
    report = CompetenceReport()
    for participant, stale in _candidates(trial_id, on):
        if not own_consent_due(participant, now):
            continue  # not yet in their time zone, or the row asks no re-consent (NL)
        competence = participant.competence_date
        assert competence is not None
        suspended: list[str] = []

        def build(
            chain: list[audit.ChainEvent],
            participant: Participant = participant,
            stale: set[str] = stale,
            competence: date = competence,
            suspended: list[str] = suspended,
        ) -> audit.Draft | AuditEvent:
            for event in chain:
                if (
                    event["type"] == EVENT_TYPE
                    and event["payload"]["competence_date"] == competence.isoformat()
                ):
                    # Recorded by an earlier run that stopped before the projection moved.
                    suspended[:] = event["payload"]["suspended_record_ids"]
                    found: AuditEvent = AuditEvent.objects(
                        participant_id=str(participant.id), seq=event["seq"]
                    ).get()
                    return found
            suspended[:] = _suspended(chain, stale, now)
            if not suspended:
                raise _NothingToRecord
            requirements = requirements_for(participant, competence)
            return audit.Draft(
                type=EVENT_TYPE,
                actor=SYSTEM.to_dict(),
                payload={
                    "competence_date": competence.isoformat(),
                    "competence_age": requirements.competence_age,
                    "country": requirements.country,
                    "rule_pack_version": requirements.rule_pack_version,
                    "suspended_record_ids": list(suspended),
                },
                state_before=RecordState.CONSENTED.value,
                state_after=RecordState.SUSPENDED_AWAITING_OWN_CONSENT.value,
            )

        try:
            _event, chain = audit.append_to_chain(participant, build, now=now)
        except _NothingToRecord:
            continue
        refresh_projection(participant, chain)
        if suspended:
            report.suspended.append(
                SuspendedParticipant(
                    participant_code=participant.code,
                    site_code=participant.site_code,
                    competence_date=competence,
                    record_ids=tuple(suspended),
                )
            )
    return report
