"""Events about the whole participation rather than one record: dissent, withdrawal, birth date.

A child's dissent and a withdrawal apply to every record of the participant
(:func:`consentkit.policy.records.participation_profile` turns them into what
is still permitted); nothing collected before is deleted. A birth-date
correction changes which rules apply from then on.

Event payloads:

* ``assent.dissent``: expressed_by, channel, note (CTR Art 32(1)(c))
* ``withdrawal.recorded``: scopes, expressed_by, channel, reason, reason_declined, and
  ``choices`` when a family chose plain choices (:mod:`consentkit.policy.withdrawal`)
* ``participant.birth-date-changed``: before, after, reason
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from consentkit.clock import now_utc
from consentkit.enums import WithdrawalScope
from consentkit.errors import InvalidDataError
from consentkit.models.audit import AuditEvent
from consentkit.models.participant import Participant
from consentkit.policy.age import local_date
from consentkit.policy.jurisdiction import Requirements
from consentkit.policy.withdrawal import check_scopes
from consentkit.policy.withdrawal_reason import withdrawal_reason
from consentkit.services import audit, projection
from consentkit.services.evidence import Actor, AuthEvidence
from consentkit.services.requirements import requirements_for


def record_dissent(
    participant: Participant,
    *,
    actor: Actor,
    expressed_by: str | None = None,
    note: str | None = None,
    now: datetime | None = None,
) -> AuditEvent:
    """Record the child's refusal: it blocks participation at any age (CTR Art 32(1)(c))."""
    event, events = audit.append_to_chain(
        participant,
        lambda _events: audit.Draft(
            type="assent.dissent",
            actor=actor.to_dict(),
            payload={"expressed_by": expressed_by, "channel": actor.channel, "note": note},
        ),
        now=now,
    )
    projection.refresh_projection(participant, events)
    return event


def withdraw(
    participant: Participant,
    *,
    scopes: Sequence[WithdrawalScope | str],
    actor: Actor,
    expressed_by: str | None = None,
    reason: str | None = None,
    reason_declined: bool = False,
    idempotency_key: str | None = None,
    auth: AuthEvidence | None = None,
    choices: Sequence[str] | None = None,
    now: datetime | None = None,
) -> AuditEvent:
    """Record a withdrawal in one or more scopes; nothing collected before is deleted.

    Any entitled person may withdraw (a guardian, the child, the young adult, or
    staff on their behalf with the channel recorded); the reason is optional and
    may be explicitly declined (CTR Art 28(3), GDPR Art 7(3)); the event keeps
    exactly that (:func:`consentkit.policy.withdrawal_reason.withdrawal_reason`).
    ``auth`` is how a signer confirmed it on their own device (which factor,
    when), kept with the event; ``choices`` are the family's plain choices the
    scopes came from, kept as said.

    Raises:
        InvalidDataError: no scope or an unknown scope; ``withdrawal-reason-conflict``;
            ``conflicting-scopes`` when two scopes exclude each other, or one excludes
            an earlier withdrawal's (:func:`consentkit.policy.withdrawal.check_scopes`).
    """
    said = withdrawal_reason(reason, reason_declined, answer_required=False)
    try:
        chosen = sorted({WithdrawalScope(s).value for s in scopes})
    except ValueError as exc:
        raise InvalidDataError(
            "Unknown withdrawal scope: %(scope)s.", code="unknown-scope", params={"scope": str(exc)}
        ) from exc
    if not chosen:
        raise InvalidDataError("Choose at least one scope.", code="unknown-scope")
    check_scopes(chosen)

    def draft(events: list[dict[str, Any]]) -> audit.Draft:
        # Checked against the chain just read, so two racing withdrawals cannot both win.
        earlier = [
            scope
            for e in events
            if e["type"] == "withdrawal.recorded"
            for scope in e["payload"]["scopes"]
        ]
        check_scopes(chosen, earlier)
        return audit.Draft(
            type="withdrawal.recorded",
            actor=actor.to_dict(),
            payload={
                "scopes": chosen,
                "expressed_by": expressed_by,
                "channel": actor.channel,
                "reason": said.reason,
                "reason_declined": said.declined,
                # Ties the event to its request, so a retry after a crash finds it.
                **({"idempotency_key": idempotency_key} if idempotency_key else {}),
                **({"auth": auth.to_dict()} if auth else {}),
                **({"choices": list(choices)} if choices else {}),
            },
        )

    event, events = audit.append_to_chain(participant, draft, now=now)
    projection.refresh_projection(participant, events)
    return event


def change_birth_date(
    participant: Participant,
    birth_date: date,
    *,
    reason: str,
    actor: Actor,
    now: datetime | None = None,
) -> Requirements:
    """Correct a birth date (an audited event) and return the re-evaluated requirements."""
    now = now or now_utc()
    before = participant.birth_date
    if birth_date > local_date(now, participant.timezone):
        raise InvalidDataError("The birth date is in the future.")
    requirements = requirements_for(
        participant, local_date(now, participant.timezone), birth_date=birth_date
    )
    audit.append(
        participant,
        lambda _events: audit.Draft(
            type="participant.birth-date-changed",
            actor=actor.to_dict(),
            payload={
                "before": before.isoformat(),
                "after": birth_date.isoformat(),
                "reason": reason,
            },
        ),
        now=now,
    )
    # One atomic update returning the old competence date, so two corrections racing
    # each move the dashboard's count from the date the other left.
    previous = Participant.objects(id=participant.id).modify(
        set__birth_date=birth_date, set__competence_date=requirements.competence_date
    )
    participant.birth_date = birth_date
    participant.competence_date = requirements.competence_date
    if previous is not None:
        projection.count_competence_change(
            participant, previous.competence_date, requirements.competence_date
        )
    return requirements
