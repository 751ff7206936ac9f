"""A family signature given in front of the study team, and a registered name put right.

Some people cannot draw on a screen or type, or would rather sign with the study
team: they give their signature in front of a staff member (and, when the study
uses one, an impartial witness), who attests it on the staff device after
re-authenticating (password and authenticator code, 21 CFR 11.200(a)(1)). The
signature is the signer's own, recorded as ``attested`` (policy.signing), with
who attested it; the form must allow that method. A signature's printed name
must be the signer's registered name (policy.signing.check_printed_name); when
the study team registered it wrongly they correct it here, as an audited event
that names neither the old nor the new name (they stay encrypted on the signer).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from consentkit import crypto
from consentkit.clock import now_utc
from consentkit.enums import Channel, SignatureMethod
from consentkit.errors import ConflictError, InvalidDataError
from consentkit.models.audit import AuditEvent
from consentkit.models.participant import Participant, Signer
from consentkit.models.staff import StaffMember
from consentkit.policy.records import opened_event
from consentkit.policy.signing import DEFAULT_METHODS, names_match
from consentkit.services import audit, ceremony, participants
from consentkit.services.evidence import Actor, AuthEvidence, SignatureInput


@dataclass(frozen=True)
class AttestedText:
    """What a family member signs in front of staff: the text, their name, whether allowed."""

    record_id: str
    form_id: str
    form_kind: str
    version: int
    locale: str
    content_sha256: str
    signer_id: str
    signer_name: str
    #: The form allows an attested signature (otherwise the page says so and offers none).
    allowed: bool


def attestable_records(participant: Participant) -> set[str]:
    """Return the ids of the participant's records whose form allows an attested signature."""
    return {
        e["payload"]["record_id"]
        for e in audit.chain_dicts(str(participant.id))
        if e["type"] == "record.opened"
        and SignatureMethod.ATTESTED in (e["payload"].get("signature_methods") or ())
    }


def attested_text(participant: Participant, record_id: str, signer_id: str) -> AttestedText:
    """Return the text a family member signs in person, in the record's language.

    Raises:
        NotFoundError: no such record, or not a family signer of this participant.
    """
    signer = participants.family_signer(participant, signer_id)
    opened = opened_event(audit.chain_dicts(str(participant.id)), record_id)
    data = opened["payload"]
    hashes: dict[str, str] = data["content_sha256"]
    locale = signer.preferred_language if signer.preferred_language in hashes else data["locale"]
    if locale not in hashes:
        locale = sorted(hashes)[0]
    return AttestedText(
        record_id=record_id,
        form_id=data["form_id"],
        form_kind=data.get("form_kind", ""),
        version=data["version"],
        locale=locale,
        content_sha256=hashes[locale],
        signer_id=str(signer.id),
        signer_name=participants.signer_identity(signer)["name"],
        allowed=SignatureMethod.ATTESTED in (data.get("signature_methods") or DEFAULT_METHODS),
    )


def sign_attested(
    participant: Participant,
    record_id: str,
    *,
    signer_id: str,
    staff: StaffMember,
    staff_role: str,
    locale: str,
    content_sha256: str,
    printed_name: str,
    verified_at: datetime,
    witness_name: str | None = None,
    early_signing_justification: str | None = None,
    ip: str | None = None,
    user_agent: str | None = None,
    now: datetime | None = None,
) -> AuditEvent:
    """Record a family member's signature given in front of ``staff`` (method ``attested``).

    The member's recent password and code (``verified_at``, their re-authentication)
    vouch for the person and the device; the signature stores who attested it and,
    when given, the impartial witness present. Every ceremony rule applies as on the
    family's own device: the text read, the items chosen, the reflection time.

    Raises:
        NotFoundError: not a family signer of this participant.
        InvalidDataError: ``signature-method-not-allowed`` (the form does not allow
            attested signatures), ``printed-name-mismatch``; ceremony errors.
        EligibilityError: ``fresh-code-required`` (re-authentication too old).
    """
    now = now or now_utc()
    signer = participants.family_signer(participant, signer_id)
    attested_by: dict[str, str] = {"staff_id": str(staff.id), "staff_name": staff.name}
    if (witness_name or "").strip():
        attested_by["witness_name"] = (witness_name or "").strip()
    signature = SignatureInput(
        signer_id=str(signer.id),
        locale=locale,
        content_sha256=content_sha256,
        printed_name=printed_name,
        strokes=[],
        auth=AuthEvidence(
            factors=("password", "otp"), verified_at=verified_at, method="staff-attested"
        ),
        idempotency_key=f"attested:{record_id}:{signer.id}",
        client_at=now,
        ip=ip,
        user_agent=user_agent,
        early_signing_justification=early_signing_justification,
        extra={"attested_by": attested_by},
        method=SignatureMethod.ATTESTED,
    )
    return ceremony.sign(
        participant,
        record_id,
        signature,
        actor=Actor(
            kind="staff",
            id=str(staff.id),
            role=staff_role,
            on_behalf_of=str(signer.id),
            channel=Channel.IN_PERSON,
        ),
        now=now,
    )


def correct_name(
    participant: Participant,
    signer_id: str,
    *,
    name: str,
    reason: str,
    actor: Actor,
    now: datetime | None = None,
) -> bool:
    """Correct a family member's registered name; audited as ``signer.name-corrected``.

    Signatures already made keep the name printed on them (a signed record is
    never changed); the next signature is checked against the corrected name.
    Returns False when the name was already this one (nothing recorded).

    Raises:
        NotFoundError: not a family signer of this participant.
        InvalidDataError: ``name-required``, ``reason-required``.
        ConflictError: ``name-changed``: corrected meanwhile (try again on fresh data).
    """
    now = now or now_utc()
    signer = participants.family_signer(participant, signer_id)
    name = " ".join(name.split())
    if not name:
        raise InvalidDataError("Give the signer's full name.", code="name-required")
    if not reason.strip():
        raise InvalidDataError("Say why the name is corrected.", code="reason-required")
    identity = participants.signer_identity(signer)
    if identity.get("name") == name:
        return False
    corrected = {**identity, "name": name}
    if not Signer.objects(id=signer.id, identity=signer.identity).update_one(
        set__identity=crypto.encrypt_identity(corrected),
        set__contact_index=crypto.contact_index(corrected),
    ):
        raise ConflictError(
            "The name was changed meanwhile. Reload and try again.", code="name-changed"
        )
    audit.append(
        participant,
        lambda _e: audit.Draft(
            type="signer.name-corrected",
            actor=actor.to_dict(),
            payload={
                "signer_id": str(signer.id),
                "reason": reason.strip(),
                # Whether only case or accents changed (a spelling fix) or the name itself.
                "spelling_only": names_match(identity.get("name", ""), name),
            },
        ),
        now=now,
    )
    return True
