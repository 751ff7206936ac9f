"""Events about the whole participation rather than one record: dissent, withdrawal, birth date.

A child's dissent and a withdrawal apply to every record of the participant
(:func:`consentkit.policy.records.participation_profile` turns them into what
is still permitted); nothing collected before is deleted. A birth-date
correction changes which rules apply from then on.

Event payloads:

* ``assent.dissent``: expressed_by, channel, note (CTR Art 32(1)(c)); also written by
  :func:`consentkit.services.ceremony.decline` when a minor says no on their own form
* ``dissent.reviewed``: dissent_seqs, decision (``continue`` or ``uphold``), reason,
  reviewed_by; written only where the rules say a minor's refusal is not binding
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
from consentkit.errors import ConflictError, InvalidDataError
from consentkit.models.audit import AuditEvent
from consentkit.models.participant import Participant
from consentkit.policy.age import local_date
from consentkit.policy.jurisdiction import Requirements
from consentkit.policy.records import (
    REVIEW_DECISIONS,
    dissents_in_force,
    lifted_dissents,
    participant_records,
)
from consentkit.policy.withdrawal import check_scopes
from consentkit.policy.withdrawal_reason import withdrawal_reason
from consentkit.services import audit, outbox, projection
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


def review_dissent(
    participant: Participant,
    *,
    actor: Actor,
    reason: str,
    decision: str,
    now: datetime | None = None,
) -> AuditEvent:
    """Record an investigator's review of the child's dissent: who, when, why, and the decision.

    Only where the decided requirements on the day say the minor's refusal is
    not binding (e.g. UK CTIMP: "considered by the investigator",
    docs/regulatory-basis.md#country-gb-eng). ``continue`` lifts the block (the event is the only
    thing that does, besides the child's own later agreement); ``uphold``
    records that the refusal stands. Where the refusal is binding (CTR Art
    32(1)(c) as transposed, e.g. FR L1122-2, NL, PL) nothing but the child's own
    later agreement lifts it: a new record the child signs themselves
    (:func:`consentkit.policy.records.lifted_dissents`).

    Raises:
        InvalidDataError: ``review-reason-required`` or ``review-decision-invalid``.
        ConflictError: ``dissent-binding`` where the refusal is binding;
            ``no-dissent`` when no dissent is in force.
    """
    now = now or now_utc()
    why = (reason or "").strip()
    if not why:
        raise InvalidDataError(
            "Say why the child's refusal was reviewed this way.", code="review-reason-required"
        )
    if decision not in REVIEW_DECISIONS:
        raise InvalidDataError(
            "Choose whether participation continues or the refusal is upheld.",
            code="review-decision-invalid",
        )
    requirements = requirements_for(participant, local_date(now, participant.timezone))
    if requirements.minor_refusal_binding:
        raise ConflictError(
            "In %(country)s the child's refusal is binding; only the child's own "
            "later agreement, signed by the child, can lift it.",
            code="dissent-binding",
            params={"country": participant.country},
        )

    def draft(events: list[dict[str, Any]]) -> audit.Draft:
        # Checked against the chain just read: the review names the dissents in force then,
        # so one the child expresses afterwards is not lifted by it.
        statuses = participant_records(events, at=now)
        in_force = dissents_in_force(events, lifted_dissents(events, statuses))
        if not in_force:
            raise ConflictError("There is no dissent to review.", code="no-dissent")
        return audit.Draft(
            type="dissent.reviewed",
            actor=actor.to_dict(),
            payload={
                "dissent_seqs": in_force,
                "decision": decision,
                "reason": why,
                "reviewed_by": actor.id,
                "minor_refusal_binding": requirements.minor_refusal_binding,
                "rule_pack_version": requirements.rule_pack_version,
            },
        )

    event, events = audit.append_to_chain(participant, draft, now=now)
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
    # Required by law, so sent even under "no further contact" (once per retry).
    outbox.confirm_withdrawal(
        participant, seq=event.seq, scopes=list(event.payload["scopes"]), at=event.at
    )
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
    # Compare-and-set on the competence date, so two corrections racing each move the
    # dashboard's count from the date the other left (index-routed by _id; a
    # findAndModify would examine every participant on the embedded database).
    while True:
        stored = Participant.objects(id=participant.id).only("competence_date").first()
        if stored is None:
            break
        if Participant.objects(
            id=participant.id, competence_date=stored.competence_date
        ).update_one(set__birth_date=birth_date, set__competence_date=requirements.competence_date):
            projection.count_competence_change(
                participant, stored.competence_date, requirements.competence_date
            )
            break
    participant.birth_date = birth_date
    participant.competence_date = requirements.competence_date
    return requirements
