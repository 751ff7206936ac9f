"""The impartial witness: for a signer who cannot read (CTR Art 29(1); E6(R3) 2.8.7).

When a parent (or the participant) cannot read, the information is read out to
them and an impartial witness, present throughout, signs that it was and that
consent was given freely. The witness signs **on the same record**, as a
required signer with the role ``witness``, rather than on a separate
witness-attestation record: the attestation is about that record's version and
signature, so it belongs with them (one completeness rule, one sealed PDF, no
second record to keep in step), and the existing ceremony, projection and PDF
handle it with one more role.

Registering a witness (:func:`register_witness`) is an event; every open record
the signer still has to sign then needs the witness too (``record.witness-required``),
and records opened later include them
(:func:`consentkit.policy.witnesses.witnesses_for`). The witness signs
in person on the staff device (:func:`sign_as_witness`), after the person they
witness, with their printed name and the statement signed; :func:`witness_turns`
says which witness may sign which record now, and the text they sign, so the staff
page and any other face read that decision instead of making it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bson import ObjectId

from consentkit.clock import now_utc
from consentkit.enums import OPEN_STATES, SignerRole
from consentkit.errors import ConflictError, InvalidDataError, NotFoundError
from consentkit.i18n import gettext
from consentkit.models.audit import AuditEvent
from consentkit.models.participant import Participant, Signer
from consentkit.models.staff import StaffMember
from consentkit.policy.records import RecordStatus, opened_event
from consentkit.policy.witnesses import witness_of, witnessed_on_record
from consentkit.services import audit, ceremony, participants, records
from consentkit.services.evidence import Actor, AuthEvidence, SignatureInput

__all__ = ["WitnessTurn", "register_witness", "sign_as_witness", "witness_turn", "witness_turns"]


def register_witness(
    participant: Participant,
    *,
    for_signer_id: str,
    name: str,
    actor: Actor,
    now: datetime | None = None,
) -> Signer:
    """Register the impartial witness of a family signer who cannot read.

    Every open record that signer has not signed yet then needs the witness's
    signature too, and so does every record opened later.

    Raises:
        NotFoundError: ``for_signer_id`` is not a parent or the participant of this family.
        InvalidDataError: ``witness-name-required``.
        ConflictError: ``witness-exists`` (the signer already has a witness).
    """
    now = now or now_utc()
    for_signer = participants.family_signer(participant, for_signer_id)
    if not name.strip():
        raise InvalidDataError(
            "Give the witness's full name.",
            code="witness-name-required",
            details={"errors": {"witness_name": ["Missing"]}},
        )
    events = audit.chain_dicts(str(participant.id))
    if witness_of(events, str(for_signer.id)) is not None:
        raise ConflictError("This person already has a witness.", code="witness-exists")
    witness = participants.add_signer(
        participant,
        role=SignerRole.WITNESS,
        identity={"name": name.strip()},
        actor=actor,
        now=now,
    )

    def registered(chain: list[audit.ChainEvent]) -> audit.Draft:
        if witness_of(chain, str(for_signer.id)) is not None:
            raise ConflictError("This person already has a witness.", code="witness-exists")
        return audit.Draft(
            type="witness.registered",
            actor=actor.to_dict(),
            payload={"witness_signer_id": str(witness.id), "for_signer_id": str(for_signer.id)},
        )

    audit.append(participant, registered, now=now)
    for status in records.record_statuses(participant, at=now):
        progress = status.signers.get(str(for_signer.id))
        if status.state not in OPEN_STATES or progress is None or progress.signed_at:
            continue
        ceremony.append_record_event(
            participant,
            status.record_id,
            type="record.witness-required",
            actor=actor,
            now=now,
            check=lambda _opened, _events, _status, _at: {
                "signer_id": str(witness.id),
                "role": SignerRole.WITNESS.value,
                "for_signer_id": str(for_signer.id),
            },
        )
    return witness


def sign_as_witness(
    participant: Participant,
    record_id: str,
    *,
    witness_signer_id: str,
    staff: StaffMember,
    locale: str,
    content_sha256: str,
    printed_name: str,
    strokes: list[list[list[float]]],
    verified_at: datetime,
    ip: str | None = None,
    user_agent: str | None = None,
    now: datetime | None = None,
) -> AuditEvent:
    """Record the witness's signature, given in person on the staff device.

    The staff member's recent password and one-time code vouch for the device and
    the session (the witness has no account); the signature stores the statement
    signed and whom it witnesses, with the witness's printed name.

    Raises:
        NotFoundError: not a witness of this participant, or no such record.
        EligibilityError: ``witness-too-early`` (before the person witnessed signed),
            ``fresh-code-required``; ceremony errors from ceremony.sign.
    """
    now = now or now_utc()
    witness: Signer | None = (
        Signer.objects(participant_id=str(participant.id), id=witness_signer_id).first()
        if ObjectId.is_valid(witness_signer_id)
        else None
    )
    if witness is None or witness.role != SignerRole.WITNESS:
        raise NotFoundError("This witness was not found.")
    events = audit.chain_dicts(str(participant.id))
    witnessed = next(
        (
            e["payload"]["for_signer_id"]
            for e in events
            if e["type"] == "witness.registered"
            and e["payload"]["witness_signer_id"] == witness_signer_id
        ),
        None,
    )
    witnessed_name = (
        participants.signer_identity(participants.family_signer(participant, witnessed)).get(
            "name", ""
        )
        if witnessed
        else ""
    )
    attestation: dict[str, Any] = {
        "for_signer_id": witnessed,
        "witnessed_name": witnessed_name,
        "statement": gettext(locale, ceremony.WITNESS_STATEMENT),
        "in_presence_of_staff_id": str(staff.id),
    }
    signature = SignatureInput(
        signer_id=witness_signer_id,
        locale=locale,
        content_sha256=content_sha256,
        printed_name=printed_name,
        strokes=strokes,
        # The staff member's password and fresh TOTP code (11.200(a)(1)) vouch for the
        # attended device; the witness signs in person in front of them.
        auth=AuthEvidence(
            factors=("password", "otp"), verified_at=verified_at, method="staff-attended"
        ),
        idempotency_key=f"witness:{record_id}:{witness_signer_id}",
        client_at=now,
        ip=ip,
        user_agent=user_agent,
        extra={"attestation": attestation},
    )
    return ceremony.sign(
        participant,
        record_id,
        signature,
        actor=Actor(
            kind="staff",
            id=str(staff.id),
            role=SignerRole.WITNESS,
            on_behalf_of=witness_signer_id,
            channel="in-person",
        ),
        now=now,
    )


@dataclass(frozen=True)
class WitnessTurn:
    """A witness who may sign a record now: the person they witness has signed, they have not.

    ``locale`` and ``content_sha256`` are the text read out to the person who cannot
    read (the language they signed in), which the witness signs too; ``statement``
    is what the witness attests, in that language, as the signature stores it.
    """

    record_id: str
    form_id: str
    form_kind: str
    version: int
    witness_signer_id: str
    witness_name: str
    for_signer_id: str
    witnessed_name: str
    locale: str
    content_sha256: str
    statement: str


def _signed_locale(
    events: Sequence[audit.ChainEvent], record_id: str, signer_id: str
) -> str | None:
    """Return the language ``signer_id`` signed this record in (on screen or on paper)."""
    found = None
    for event in events:
        if event.get("record_id") != record_id:
            continue
        data = event["payload"]
        if (event["type"] == "signature.added" and data.get("signer_id") == signer_id) or (
            event["type"] == "paper.recorded" and signer_id in data.get("signer_ids", [])
        ):
            found = data.get("locale")
    return found


def _turns(
    participant: Participant,
    events: Sequence[audit.ChainEvent],
    statuses: Sequence[RecordStatus],
) -> list[WitnessTurn]:
    names = {
        str(s.id): str(participants.signer_identity(s).get("name", ""))
        for s in participants.signers_of(participant)
    }
    found = []
    for status in statuses:
        if status.state not in OPEN_STATES:
            continue
        for missing in status.missing_signers:
            if missing["role"] != SignerRole.WITNESS:
                continue
            witness_id = missing["signer_id"]
            witnessed = witnessed_on_record(events, status.record_id, witness_id)
            progress = status.signers.get(witnessed) if witnessed else None
            if witnessed is None or progress is None or progress.signed_at is None:
                continue  # the witness signs after the person they witness (ceremony.sign)
            data = opened_event(events, status.record_id)["payload"]
            hashes: dict[str, str] = data["content_sha256"]
            locale = _signed_locale(events, status.record_id, witnessed)
            if locale not in hashes:
                locale = (
                    participant.preferred_language
                    if participant.preferred_language in hashes
                    else sorted(hashes)[0]
                )
            assert locale is not None
            found.append(
                WitnessTurn(
                    record_id=status.record_id,
                    form_id=data["form_id"],
                    form_kind=data.get("form_kind", ""),
                    version=data["version"],
                    witness_signer_id=witness_id,
                    witness_name=names.get(witness_id, ""),
                    for_signer_id=witnessed,
                    witnessed_name=names.get(witnessed, ""),
                    locale=locale,
                    content_sha256=hashes[locale],
                    statement=gettext(locale, ceremony.WITNESS_STATEMENT),
                )
            )
    return found


def witness_turns(participant: Participant, *, at: datetime | None = None) -> list[WitnessTurn]:
    """Return every witness who may sign one of the participant's open records now."""
    events = audit.chain_dicts(str(participant.id))
    statuses = records.record_statuses(participant, at=at, events=events)
    return _turns(participant, events, statuses)


def witness_turn(
    participant: Participant,
    record_id: str,
    witness_signer_id: str | None = None,
    *,
    at: datetime | None = None,
) -> WitnessTurn:
    """Return the witness who may sign this record now (``witness_signer_id``, or the first).

    Raises:
        NotFoundError: no such record.
        ConflictError: ``witness-not-due``: no witness of this record may sign now
            (none needed, the person they witness has not signed yet, already signed,
            or the record is closed).
    """
    events = audit.chain_dicts(str(participant.id))
    opened_event(events, record_id)
    statuses = records.record_statuses(participant, at=at, events=events)
    for turn in _turns(participant, events, statuses):
        if turn.record_id == record_id and witness_signer_id in (None, turn.witness_signer_id):
            return turn
    raise ConflictError(
        "No witness can sign this record now: the person who cannot read signs first.",
        code="witness-not-due",
    )
