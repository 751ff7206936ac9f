"""Participants and their signers: enrolment, look-up, and who may sign for them.

A participant is pseudonymous (a code per study); the people who sign for or
with them (guardians, the participant, the investigator) are signers, whose
identifying data is encrypted and never written into the audit trail. Each
change is an event in the participant's chain (:mod:`consentkit.services.audit`).

Event payloads:

* ``participant.enrolled``: code, site, country, birth_date
* ``signer.added``: signer_id, role (identity is encrypted in ``signers``, never in events)
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Required, TypedDict, cast

from bson import ObjectId
from mongoengine import NotUniqueError

from consentkit import crypto
from consentkit.clock import now_utc
from consentkit.enums import SignerRole
from consentkit.errors import ConflictError, InvalidDataError, NotFoundError
from consentkit.models.participant import Participant, Signer
from consentkit.policy.age import local_date
from consentkit.services import audit, projection
from consentkit.services.evidence import Actor
from consentkit.services.forms import get_study
from consentkit.services.requirements import requirements_for


def enrol_participant(
    *,
    trial_id: str,
    code: str,
    site_code: str,
    birth_date: date,
    actor: Actor,
    preferred_language: str | None = None,
    now: datetime | None = None,
) -> Participant:
    """Enrol a pseudonymous participant at a site.

    Raises:
        NotFoundError: unknown study or site.
        ConflictError: the code is taken in this study.
        InvalidDataError: the birth date is in the future.
    """
    now = now or now_utc()
    study = get_study(trial_id)
    site = study.site(site_code)
    if site is None:
        raise NotFoundError(
            "Site %(site_code)s is not a site of %(trial_id)s.",
            params={"site_code": site_code, "trial_id": trial_id},
        )
    if birth_date > local_date(now, site.timezone):
        raise InvalidDataError("The birth date is in the future.")
    participant = Participant(
        trial_id=trial_id,
        code=code,
        site_code=site_code,
        country=site.country,
        timezone=site.timezone,
        birth_date=birth_date,
        preferred_language=preferred_language,
        created_at=now,
    )
    # Stored so the dashboard can count who reaches competence soon (CTR Art 32(3)).
    participant.competence_date = requirements_for(
        participant, local_date(now, site.timezone)
    ).competence_date
    try:
        participant.save(force_insert=True)
    except NotUniqueError as exc:
        raise ConflictError(
            "Participant code %(code)s already exists in %(trial_id)s.",
            params={"code": code, "trial_id": trial_id},
        ) from exc
    projection.count_enrolment(participant)
    audit.append(
        participant,
        lambda _events: audit.Draft(
            type="participant.enrolled",
            actor=actor.to_dict(),
            payload={
                "code": code,
                "site": site_code,
                "country": site.country,
                "birth_date": birth_date.isoformat(),
            },
        ),
        now=now,
    )
    return participant


def get_participant(trial_id: str, code: str) -> Participant:
    """Return a participant by study and code.

    Raises:
        NotFoundError: no such participant.
    """
    participant: Participant | None = Participant.objects(trial_id=trial_id, code=code).first()
    if participant is None:
        raise NotFoundError(
            "Participant %(code)s was not found in %(trial_id)s.",
            params={"code": code, "trial_id": trial_id},
        )
    return participant


def add_signer(
    participant: Participant,
    *,
    role: SignerRole | str,
    identity: dict[str, Any],
    actor: Actor,
    preferred_language: str | None = None,
    now: datetime | None = None,
) -> Signer:
    """Register a signer; their identifying data is encrypted and kept out of the trail.

    Raises:
        InvalidDataError: unknown role or no printed name.
    """
    now = now or now_utc()
    role = SignerRole(role)
    if not str(identity.get("name", "")).strip():
        raise InvalidDataError("A signer needs a name.", details={"errors": {"name": ["Missing"]}})
    signer = Signer(
        trial_id=participant.trial_id,
        participant_id=str(participant.id),
        role=role.value,
        identity=crypto.encrypt_identity(identity),
        contact_index=crypto.contact_index(identity),
        preferred_language=preferred_language,
        created_at=now,
    )
    signer.save(force_insert=True)
    audit.append(
        participant,
        lambda _events: audit.Draft(
            type="signer.added",
            actor=actor.to_dict(),
            payload={"signer_id": str(signer.id), "role": role.value},
        ),
        now=now,
    )
    return signer


class SignerIdentity(TypedDict, total=False):
    """A signer's identifying data, kept encrypted and out of the audit trail (GDPR Art 32).

    A TypedDict because it is stored as this JSON, encrypted, in ``Signer.identity``.
    """

    name: Required[str]
    email: str | None
    phone: str | None
    #: The staff member an investigator signer is (investigators only).
    staff_id: str


def signer_identity(signer: Signer) -> SignerIdentity:
    """Return a signer's decrypted identifying data."""
    stored = crypto.decrypt_identity(signer.identity)
    return cast(SignerIdentity, stored)


#: The family roles: they sign for themselves (the investigator and a witness sign as staff do).
FAMILY_ROLES = (SignerRole.GUARDIAN, SignerRole.PARTICIPANT)


def family_signer(participant: Participant, signer_id: str) -> Signer:
    """Return the participant's guardian or child with this id.

    Raises:
        NotFoundError: no such id, another participant's signer, or a staff-side signer
            (an investigator or witness is not a family member).
    """
    signer: Signer | None = (
        Signer.objects(participant_id=str(participant.id), id=signer_id).first()
        if ObjectId.is_valid(signer_id)
        else None
    )
    if signer is None or signer.role not in FAMILY_ROLES:
        raise NotFoundError("This signer was not found.")
    return signer


def signers_of(participant: Participant) -> list[Signer]:
    """Return a participant's signers in the order they were added."""
    return list(Signer.objects(participant_id=str(participant.id)).order_by("created_at", "id"))
