"""A young child's assent given in front of the study team, on the staff device.

Below the study's own-invitation age (default 12, :mod:`consentkit.policy.children`)
a child has no contact or code of their own: they give their assent on a parent's
phone, within the parent's session (:mod:`consentkit.services.signer_flow`), or,
here, in front of a staff member at the hospital. The staff member shows the child's
text on their device, the child says yes or no to each point and draws or writes
their first name; the member, re-authenticated (password and authenticator code),
confirms it happened in front of them. The events are the child's (reading, choices,
signature, each with the member as actor on the child's behalf) and the signature
names the member as present (in the sealed PDF). A child's "no" is their dissent,
recorded on the participant page as before.

Every check (the child's age, the record, the method, the name, the re-authentication)
happens before the first write.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from consentkit.clock import now_utc
from consentkit.enums import OPEN_STATES, Channel, SignatureMethod, SignerRole
from consentkit.errors import ConflictError, EligibilityError
from consentkit.models.audit import AuditEvent
from consentkit.models.participant import Participant
from consentkit.models.staff import StaffMember
from consentkit.models.study import FormVersion
from consentkit.policy.age import local_date
from consentkit.policy.children import WITH_STAFF, signs_with_guardian
from consentkit.policy.records import opened_event, record_status
from consentkit.policy.signing import DEFAULT_METHODS, check_act, check_method, check_printed_name
from consentkit.services import audit, ceremony, participants
from consentkit.services.evidence import Actor, AuthEvidence, SignatureInput
from consentkit.services.forms import catalog, rendered_text
from consentkit.services.signatures import validate_strokes

#: The longest reading time recorded for one visit (a page left open overnight says nothing).
MAX_READING = timedelta(hours=2)


@dataclass(frozen=True)
class ChildTurn:
    """A young child's assent waiting for their signature, and the text they are shown."""

    record_id: str
    signer_id: str
    child_name: str
    locale: str
    content_sha256: str
    title: str
    sections: list[dict[str, Any]]
    items: list[dict[str, Any]]
    #: drawn and/or typed, as the form allows (an attestation is what this page is).
    methods: list[str]


def _young(participant: Participant, at: datetime) -> bool:
    settings = catalog(participant.trial_id).study.settings
    return signs_with_guardian(
        participant.birth_date, on=local_date(at, participant.timezone), settings=settings
    )


def child_records(participant: Participant, *, at: datetime | None = None) -> dict[str, str]:
    """Return the open records a young child may sign in front of staff: record id -> child id."""
    at = at or now_utc()
    if not _young(participant, at):
        return {}
    return _waiting_children(audit.chain_dicts(str(participant.id)), at)


def _waiting_children(events: list[audit.ChainEvent], at: datetime) -> dict[str, str]:
    """Return, on these events, the open records whose participant signer has not signed."""
    found = {}
    for event in events:
        if event["type"] != "record.opened":
            continue
        status = record_status(event, events, at=at)
        child = next(
            (
                p.signer_id
                for p in status.signers.values()
                if p.role == SignerRole.PARTICIPANT and p.signed_at is None
            ),
            None,
        )
        if child is not None and status.state in OPEN_STATES:
            found[status.record_id] = child
    return found


def child_turn(
    participant: Participant, record_id: str, *, at: datetime | None = None
) -> ChildTurn:
    """Return the child's text for this record, in the child's language (else the record's).

    Raises:
        NotFoundError: no such record.
        ConflictError: ``no-child-turn``: no young child's signature waits on it.
    """
    at = at or now_utc()
    events = audit.chain_dicts(str(participant.id))
    data = opened_event(events, record_id)["payload"]
    child_id = _waiting_children(events, at).get(record_id) if _young(participant, at) else None
    if child_id is None:
        raise ConflictError(
            "No young child's assent waits on this record: the child is old enough for "
            "their own invitation, has signed already, or the record is closed.",
            code="no-child-turn",
        )
    child = participants.family_signer(participant, child_id)
    hashes: dict[str, str] = data["content_sha256"]
    locale = next(
        (
            tag
            for tag in (child.preferred_language, participant.preferred_language)
            if tag in hashes
        ),
        data["locale"],
    )
    version = FormVersion.objects(
        trial_id=participant.trial_id, form_id=data["form_id"], version=data["version"]
    ).first()
    text = rendered_text(version, locale)
    return ChildTurn(
        record_id=record_id,
        signer_id=child_id,
        child_name=participants.signer_identity(child)["name"],
        locale=locale,
        content_sha256=hashes[locale],
        title=text["title"],
        sections=[dict(section) for section in text["sections"]],
        items=[dict(item) for item in text["items"]],
        methods=[
            m
            for m in (data.get("signature_methods") or DEFAULT_METHODS)
            if m != SignatureMethod.ATTESTED
        ],
    )


def sign_with_staff(
    participant: Participant,
    record_id: str,
    *,
    staff: StaffMember,
    staff_role: str,
    choices: dict[str, bool],
    printed_name: str,
    method: str,
    strokes: list[Any],
    i_sign: bool,
    verified_at: datetime | None,
    shown_at: datetime | None,
    ip: str | None = None,
    user_agent: str | None = None,
    now: datetime | None = None,
) -> AuditEvent:
    """Record the child's reading, choices and signature, given in front of ``staff``.

    Raises:
        NotFoundError: no such record.
        ConflictError: ``no-child-turn`` (no young child's signature waits on it).
        InvalidDataError: a method the form does not allow, a drawn signature without
            strokes or a typed one without "I sign", a name that is not the child's
            (their first name is enough), unknown items; ceremony errors.
        EligibilityError: ``fresh-code-required`` (the member's re-authentication is
            missing or too old).
    """
    now = now or now_utc()
    turn = child_turn(participant, record_id, at=now)  # a child old enough: no-child-turn
    if verified_at is None:
        raise EligibilityError(
            "Confirm with your password and code first.", code="fresh-code-required"
        )
    evidence = AuthEvidence(factors=("password", "otp"), verified_at=verified_at, method=WITH_STAFF)
    evidence.check(now)
    check_method(method, turn.methods)
    check_act(method, has_strokes=bool(strokes), i_sign=i_sign)
    if method == SignatureMethod.DRAWN:
        validate_strokes(strokes)
    check_printed_name(printed_name, turn.child_name, first_name=True)
    known = {item["id"] for item in turn.items}
    if set(choices) != known:
        missing = sorted(known - set(choices)) or sorted(set(choices) - known)
        raise EligibilityError(
            "Say yes or no to every point first.",
            code="items-incomplete",
            params={"items": ", ".join(missing)},
        )
    actor = Actor(
        kind="staff",
        id=str(staff.id),
        role=staff_role,
        on_behalf_of=turn.signer_id,
        channel=Channel.IN_PERSON,
    )
    read = min(max(now - (shown_at or now), timedelta(0)), MAX_READING)
    per_section = read.total_seconds() / max(len(turn.sections), 1)
    ceremony.record_views(
        participant,
        record_id,
        signer_id=turn.signer_id,
        locale=turn.locale,
        sections=[{"id": s["id"], "seconds": per_section} for s in turn.sections],
        actor=actor,
        now=now,
    )
    ceremony.choose_items(
        participant, record_id, signer_id=turn.signer_id, choices=choices, actor=actor, now=now
    )
    signature = SignatureInput(
        signer_id=turn.signer_id,
        locale=turn.locale,
        content_sha256=turn.content_sha256,
        printed_name=printed_name,
        strokes=strokes,
        auth=evidence,
        idempotency_key=f"child-with-staff:{record_id}:{turn.signer_id}",
        client_at=now,
        ip=ip,
        user_agent=user_agent,
        extra={
            "present": {"staff_id": str(staff.id), "staff_name": staff.name, "role": staff_role}
        },
        method=method,
        i_sign=i_sign,
        registered_name=turn.child_name,
    )
    return ceremony.sign(participant, record_id, signature, actor=actor, now=now)
