"""What site staff do for a family: enrol, invite, countersign, record a withdrawal.

Each function takes the acting staff member as data (their id, name, role), so
the web layer only authorises and calls; every change is an event on the
participant's chain through the services that own each step (participants,
records, ceremony, participation).

The person who conducts the consent interview signs too (CTR Art 29(1)); the
investigator who enrols, or the one staff name as interviewer, is registered
as the participant's investigator signer, bound to their staff account, and
only they can countersign. That signer is always a member with countersign
rights at the participant's site (consentkit.policy.roles): site staff who
enrol name the site's investigator (:func:`interviewer_for`), since a record
whose investigator signer cannot countersign could never be completed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, NoReturn, TypedDict
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bson import ObjectId

from consentkit import crypto
from consentkit.clock import now_utc
from consentkit.enums import (
    OPEN_STATES,
    Channel,
    FormKind,
    InterviewMode,
    OtherParentAgreement,
    SignerRole,
)
from consentkit.errors import ConflictError, EligibilityError, InvalidDataError, NotFoundError
from consentkit.models.audit import AuditEvent
from consentkit.models.participant import Participant, Signer
from consentkit.models.staff import StaffMember
from consentkit.policy import children
from consentkit.policy.age import local_date
from consentkit.policy.guardians import (
    ExceptionOption,
    GuardianException,
    check_exception,
    exception_options,
    guardians_expected,
)
from consentkit.policy.records import GATING_KINDS, opened_event
from consentkit.policy.roles import Action, Grant, allowed
from consentkit.policy.withdrawal_reason import withdrawal_reason
from consentkit.policy.witnesses import witness_of
from consentkit.services import (
    access,
    audit,
    ceremony,
    forms,
    participants,
    participation,
    questions,
    records,
    witness,
)
from consentkit.services.evidence import Actor, AuthEvidence, SignatureInput
from consentkit.services.requirements import FormsDecision, forms_for


@dataclass(frozen=True)
class SignerEntry:
    """A family member to register: role, name and how to reach them for one-time codes.

    ``witness_name`` marks a signer who cannot read: the impartial witness who will be
    present and sign with them (CTR Art 29(1); :mod:`consentkit.services.witness`).
    """

    role: str
    name: str
    email: str | None = None
    phone: str | None = None
    preferred_language: str | None = None
    witness_name: str | None = None


def signer_entries(rows: Sequence[dict[str, Any]]) -> list[SignerEntry]:
    """Return entries from validated request rows (``role``, ``name``, contacts, language)."""
    return [
        SignerEntry(
            role=row["role"],
            name=row["name"],
            email=row.get("email"),
            phone=row.get("phone"),
            preferred_language=row.get("preferred_language"),
            witness_name=row.get("witness_name"),
        )
        for row in rows
    ]


@dataclass
class Enrolment:
    """The result of enrolling: the participant, its signers and the records opened."""

    participant: Participant
    signers: list[Signer]
    records: list[Any] = field(default_factory=list)


class PreviewForm(TypedDict):
    """A form enrolment would open: its id, kind, version in force and age band."""

    form_id: str
    kind: str
    version: int
    age_band: str | None


class InvestigatorOption(TypedDict):
    """A site member who may countersign, offered as the interviewer."""

    staff_id: str
    name: str


class Preview(TypedDict):
    """What enrolment would need, before saving (``POST .../participants/preview``).

    A TypedDict because it is the API's JSON and the staff page reads it as is;
    ``requirements`` is :meth:`consentkit.policy.jurisdiction.Requirements.to_dict`.
    """

    trial_id: str
    site: str
    on: date
    requirements: dict[str, Any]
    forms: list[PreviewForm]
    missing_form_kinds: list[str]
    #: The only reasons staff may record for fewer parents signing, for this row.
    guardian_exceptions: list[ExceptionOption]
    signers_needed: dict[str, int]
    investigators: list[InvestigatorOption]


class SignerDetail(TypedDict):
    """A signer as staff see them: decrypted name and contacts, and any witness link.

    ``staff_id`` is set on the investigator signer only; ``witness_signer_id``
    marks a family member who cannot read, ``witness_for`` whom a witness witnesses.
    """

    signer_id: str
    role: str
    name: str
    email: str | None
    phone: str | None
    staff_id: str | None
    preferred_language: str | None
    witness_signer_id: str | None
    witness_for: str | None


class Invitation(TypedDict):
    """A new invitation: its one-time code and link (shown once) and when it expires."""

    signer_id: str
    code: str
    link: str
    expires_at: datetime


def staff_actor(staff: StaffMember, role: str, channel: str = Channel.IN_PERSON) -> Actor:
    """Return the audit actor for a staff member acting in ``role``."""
    return Actor(kind="staff", id=str(staff.id), role=role, channel=channel)


def preview(trial_id: str, *, site_code: str, birth_date: date, on: date) -> Preview:
    """Return what enrolment would need: the policy's requirements and the forms to open.

    Staff see this before saving (guardians needed, assent band, next transition).
    The forms are :func:`consentkit.services.requirements.forms_for`'s decision,
    the same one :func:`enrol` opens.

    Raises:
        NotFoundError: unknown study or site.
        InvalidDataError: birth date after ``on``.
    """
    decision = forms_for(trial_id, site_code=site_code, birth_date=birth_date, on=on)
    return _describe(trial_id, decision)


def _describe(trial_id: str, decision: FormsDecision) -> Preview:
    return {
        "trial_id": trial_id,
        "site": decision.site.code,
        "on": decision.on,
        "requirements": decision.requirements.to_dict(),
        "forms": [
            {
                "form_id": choice.form_id,
                "kind": choice.kind.value,
                "version": choice.version.version,
                "age_band": choice.form.age_band,
            }
            for choice in decision.chosen
        ],
        "missing_form_kinds": [kind.value for kind in decision.missing_kinds],
        # The only reasons staff may record for fewer parents signing, for this row.
        "guardian_exceptions": exception_options(decision.requirements),
        "signers_needed": decision.signers_needed,
        "investigators": [
            {"staff_id": str(m.id), "name": m.name}
            for m in site_investigators(trial_id, decision.site.code)
        ],
    }


def guardian_exceptions_for(
    trial_id: str, *, site_code: str, birth_date: date, on: date
) -> list[ExceptionOption]:
    """Return the single-parent exceptions valid for a participant's row on ``on``.

    Each is ``{code, statement, needs_agreement}``; the staff page and the API offer
    only these (the preview lists them too).

    Raises:
        NotFoundError: unknown study or site.
    """
    decision = forms_for(trial_id, site_code=site_code, birth_date=birth_date, on=on)
    return exception_options(decision.requirements)


def refuse_free_text_justification(
    trial_id: str, *, site_code: str, birth_date: date, on: date
) -> NoReturn:
    """Refuse the retired free-text reason for fewer parents, naming what replaces it.

    Raises:
        InvalidDataError: ``free-text-justification-refused``, always, with the valid codes.
    """
    codes = [
        option["code"]
        for option in guardian_exceptions_for(
            trial_id, site_code=site_code, birth_date=birth_date, on=on
        )
    ]
    raise InvalidDataError(
        "A free-text reason for fewer parents is no longer accepted; record a "
        "guardian_exception with its evidence, one of: %(codes)s.",
        code="free-text-justification-refused",
        params={"codes": ", ".join(codes) or "-"},
        details={
            "errors": {"fewer_guardians_justification": ["Use guardian_exception"]},
            "valid_codes": codes,
        },
    )


def guardian_exception_from(
    data: dict[str, Any] | None, *, recorded_by: StaffMember
) -> GuardianException | None:
    """Return the typed exception from validated request data, recorded by ``recorded_by``."""
    if not data:
        return None
    agreement = data.get("other_parent_agreement")
    return GuardianException(
        code=data["code"],
        evidence=data["evidence"],
        recorded_by=recorded_by.name,
        other_parent_agreement=None if agreement is None else OtherParentAgreement(agreement),
    )


def may_countersign(staff: StaffMember, trial_id: str, site_code: str) -> bool:
    """Whether an active member holds countersign rights at the site (the investigator signer)."""
    grants = [Grant.from_dict(g) for g in staff.grants or []]
    return bool(staff.active) and allowed(grants, Action.COUNTERSIGN, trial_id, site_code)


def site_investigators(trial_id: str, site_code: str) -> list[StaffMember]:
    """Return the active members who may countersign at a site, by name."""
    members = StaffMember.objects(grants__trial_id=trial_id, active=True).order_by("name", "id")
    return [m for m in members if may_countersign(m, trial_id, site_code)]


def interviewer_for(
    trial_id: str, site_code: str, *, enrolling: StaffMember, investigator_id: str | None
) -> StaffMember:
    """Return who becomes the investigator signer of a new participant.

    The member named by ``investigator_id``, who must be able to countersign at
    the site; without it, the enrolling member, if they can.

    Raises:
        InvalidDataError: ``investigator-required`` (the enrolling member cannot
            countersign and named nobody) or ``investigator-invalid``.
    """
    if investigator_id is None:
        if may_countersign(enrolling, trial_id, site_code):
            return enrolling
        raise InvalidDataError(
            "Choose the investigator of this site who conducts the interview.",
            code="investigator-required",
            details={"errors": {"investigator_id": ["Missing"]}},
        )
    for member in site_investigators(trial_id, site_code):
        if str(member.id) == investigator_id:
            return member
    raise InvalidDataError(
        "This person cannot countersign at this site; choose one of its investigators.",
        code="investigator-invalid",
        details={"errors": {"investigator_id": ["Not an investigator of this site"]}},
    )


def enrol_as(
    enrolling: StaffMember,
    trial_id: str,
    *,
    code: str,
    site_code: str,
    birth_date: date,
    signers: Sequence[SignerEntry],
    actor: Actor,
    investigator_id: str | None = None,
    preferred_language: str | None = None,
    guardian_exception: GuardianException | None = None,
    now: datetime | None = None,
) -> Enrolment:
    """Enrol on behalf of a staff member: the API and the staff page both call this.

    The investigator signer is the member named by ``investigator_id``, or the
    enrolling member when none is named (:func:`interviewer_for`), then
    :func:`enrol` checks and writes everything.

    Raises:
        InvalidDataError: ``investigator-required`` or ``investigator-invalid``, and
            whatever :func:`enrol` raises.
        NotFoundError, ConflictError, EligibilityError: as :func:`enrol`.
    """
    interviewer = interviewer_for(
        trial_id, site_code, enrolling=enrolling, investigator_id=investigator_id
    )
    return enrol(
        trial_id,
        code=code,
        site_code=site_code,
        birth_date=birth_date,
        signers=signers,
        interviewer=interviewer,
        actor=actor,
        preferred_language=preferred_language,
        guardian_exception=guardian_exception,
        now=now,
    )


def _check_family(
    needs: dict[str, int],
    signers: Sequence[SignerEntry],
    needs_contact: Callable[[str], bool] = lambda _role: True,
) -> None:
    counts: dict[str, int] = {}
    for entry in signers:
        if entry.role not in (SignerRole.GUARDIAN, SignerRole.PARTICIPANT):
            raise InvalidDataError(
                "Register parents, guardians and the participant here; "
                "the investigator is the interviewer.",
                code="signer-role-invalid",
            )
        if not entry.name.strip():
            raise InvalidDataError("A signer needs a name.", code="signer-name-required")
        # A child below the study's own-invitation age signs on a parent's device
        # (consentkit.policy.children): no contact of their own.
        if not (entry.email or entry.phone) and needs_contact(entry.role):
            raise InvalidDataError(
                "Give an e-mail address or a phone number for each signer.",
                code="signer-contact-required",
            )
        if entry.witness_name is not None and not entry.witness_name.strip():
            raise InvalidDataError(
                "Give the witness's full name.",
                code="witness-name-required",
                details={"errors": {"witness_name": ["Missing"]}},
            )
        counts[entry.role] = counts.get(entry.role, 0) + 1
    for role, needed in needs.items():
        if counts.get(role, 0) < needed:
            raise EligibilityError(
                "The rules need %(needed)s signer(s) with the role %(role)s; %(given)s given.",
                code="signers-missing",
                params={"needed": needed, "role": role, "given": counts.get(role, 0)},
            )


def _check_forms(planned: FormsDecision) -> None:
    """Refuse to enrol someone who could never take part: a required consent has no form.

    The participation gate needs every required consent kind
    (:func:`consentkit.policy.records.missing_consents`); the child's assent is
    not one of them (docs/regulatory-basis.md#ctr-art-32: information adapted to age, a refusal
    respected), so a band without an assent document is no reason to refuse.
    """
    gating = [k for k in planned.missing_kinds if k in GATING_KINDS]
    if gating:
        raise EligibilityError(
            "The rules ask for %(kinds)s, but the study has no such form in force; "
            "publish one before enrolling.",
            code="form-kind-missing",
            params={"kinds": ", ".join(k.value for k in gating)},
            details={"kinds": [k.value for k in gating]},
        )


def enrol(
    trial_id: str,
    *,
    code: str,
    site_code: str,
    birth_date: date,
    signers: Sequence[SignerEntry],
    interviewer: StaffMember,
    actor: Actor,
    preferred_language: str | None = None,
    guardian_exception: GuardianException | None = None,
    now: datetime | None = None,
) -> Enrolment:
    """Enrol a participant with their family and open the consent records the policy asks for.

    The family is checked against the requirements before anything is written,
    so a refused enrolment leaves nothing half-made. ``interviewer`` becomes the
    investigator signer and must be able to countersign at the site (see
    :func:`interviewer_for`). Fewer parents than the rule asks (e.g. one in NL)
    need a ``guardian_exception`` the row recognises (the preview lists them);
    it goes with the parental consent (:func:`consentkit.services.records.open_record`).

    Raises:
        NotFoundError: unknown study or site.
        ConflictError: the participant code is taken.
        EligibilityError: ``signers-missing`` (e.g. NL 12-15: both parents and the child),
            ``guardian-exception-required`` (one parent, no recognised exception);
            ``form-kind-missing`` when the rules ask for a kind of consent the study has
            no form in force for (``details["kinds"]``).
        InvalidDataError: a signer without name or contact, birth date in the future,
            ``investigator-invalid`` when ``interviewer`` cannot countersign there.
    """
    now = now or now_utc()
    code = code.strip()
    if not code:
        raise InvalidDataError("A participant code is required.", code="code-required")
    study = forms.catalog(trial_id).study
    site = study.site(site_code)
    if site is None:
        raise NotFoundError(
            "Site %(site_code)s is not a site of %(trial_id)s.",
            params={"site_code": site_code, "trial_id": trial_id},
        )
    today = local_date(now, site.timezone)
    if birth_date > today:
        raise InvalidDataError("The birth date is in the future.")
    # The preview's decision, on the site's date: the forms staff were shown are the ones opened.
    planned = forms_for(trial_id, site_code=site_code, birth_date=birth_date, on=today)
    _check_forms(planned)
    needs = dict(planned.signers_needed)
    exception = _guardian_exception(planned, signers, guardian_exception)
    if exception is not None:
        needs[SignerRole.GUARDIAN] = min(needs.get(SignerRole.GUARDIAN, 0), 1)
    _check_family(
        needs,
        signers,
        lambda role: children.needs_own_contact(
            role, birth_date, on=today, settings=study.settings
        ),
    )
    if not may_countersign(interviewer, trial_id, site_code):
        raise InvalidDataError(
            "This person cannot countersign at this site; choose one of its investigators.",
            code="investigator-invalid",
            details={"errors": {"investigator_id": ["Not an investigator of this site"]}},
        )
    participant = participants.enrol_participant(
        trial_id=trial_id,
        code=code,
        site_code=site_code,
        birth_date=birth_date,
        actor=actor,
        preferred_language=preferred_language,
        now=now,
    )
    made = [
        participants.add_signer(
            participant,
            role=entry.role,
            identity={
                k: v
                for k, v in (
                    ("name", entry.name.strip()),
                    ("email", entry.email),
                    ("phone", entry.phone),
                )
                if v
            },
            actor=actor,
            preferred_language=entry.preferred_language or preferred_language,
            now=now,
        )
        for entry in signers
    ]
    made.append(_investigator_signer(participant, interviewer, actor, now))
    result = Enrolment(participant, made)
    for choice in planned.chosen:
        result.records.append(
            records.open_record(
                participant,
                form_id=choice.form_id,
                version=choice.version.version,
                actor=actor,
                guardian_exception=exception if choice.kind == FormKind.PARENTAL_CONSENT else None,
                now=now,
            )
        )
    for entry, signer in list(zip(signers, made, strict=False)):
        if entry.witness_name:
            # After the records, so each record this signer signs asks for the witness too.
            made.append(
                witness.register_witness(
                    participant,
                    for_signer_id=str(signer.id),
                    name=entry.witness_name,
                    actor=actor,
                    now=now,
                )
            )
    return result


def _guardian_exception(
    planned: FormsDecision, signers: Sequence[SignerEntry], given: GuardianException | None
) -> GuardianException | None:
    """Check the exception for the family before anything is written (None: not needed)."""
    parents = sum(1 for entry in signers if entry.role == SignerRole.GUARDIAN)
    opens_parental = any(c.kind == FormKind.PARENTAL_CONSENT for c in planned.chosen)
    if opens_parental and parents == 0:
        return None  # no parent at all: ``signers-missing`` says so
    if not opens_parental:
        # No parental consent to go with: an exception would be recorded for nothing.
        return check_exception(planned.requirements, given, guardians_signing=2) if given else None
    signing = min(parents, guardians_expected(planned.requirements))
    return check_exception(planned.requirements, given, guardians_signing=signing)


def _investigator_signer(
    participant: Participant, staff: StaffMember, actor: Actor, now: datetime
) -> Signer:
    return participants.add_signer(
        participant,
        role=SignerRole.INVESTIGATOR,
        identity={"name": staff.name, "email": staff.email, "staff_id": str(staff.id)},
        actor=actor,
        preferred_language=staff.locale,
        now=now,
    )


def signer_details(participant: Participant) -> list[SignerDetail]:
    """Return the participant's signers with their decrypted names and contacts, for staff.

    ``witness_signer_id`` marks a family member who cannot read (their impartial
    witness); ``witness_for`` is, on a witness, whom they witness.
    """
    events = audit.chain_dicts(str(participant.id))
    witnessed = {
        e["payload"]["witness_signer_id"]: e["payload"]["for_signer_id"]
        for e in events
        if e["type"] == "witness.registered"
    }
    found: list[SignerDetail] = []
    for signer in participants.signers_of(participant):
        identity = participants.signer_identity(signer)
        found.append(
            {
                "signer_id": str(signer.id),
                "role": signer.role,
                "name": identity.get("name", ""),
                "email": identity.get("email"),
                "phone": identity.get("phone"),
                "staff_id": identity.get("staff_id"),
                "preferred_language": signer.preferred_language,
                "witness_signer_id": witness_of(events, str(signer.id)),
                "witness_for": witnessed.get(str(signer.id)),
            }
        )
    return found


def staff_signer(participant: Participant, staff: StaffMember) -> Signer | None:
    """Return the investigator signer bound to this staff member, if any."""
    for signer in participants.signers_of(participant):
        if signer.role == SignerRole.INVESTIGATOR and participants.signer_identity(signer).get(
            "staff_id"
        ) == str(staff.id):
            return signer
    return None


def invite(
    participant: Participant, signer_id: str, *, actor: Actor, now: datetime | None = None
) -> Invitation:
    """Create an invitation for a family signer; the code is shown once.

    Raises:
        NotFoundError: not a signer of this participant.
        InvalidDataError: the signer is the investigator (staff sign in as staff).
    """
    signer = _family_signer(participant, signer_id)
    code = access.create_invitation(participant, signer, actor=actor, now=now)
    return {
        "signer_id": signer_id,
        "code": code,
        "link": access.invitation_link(code),
        "expires_at": (now or now_utc()) + access.INVITATION_TTL,
    }


def reissue(
    participant: Participant, invitation_id: str, *, actor: Actor, now: datetime | None = None
) -> Invitation:
    """Replace an invitation with a fresh code (the old one stops working); shown once."""
    now = now or now_utc()
    signer_id, code = access.resend_invitation(participant, invitation_id, actor=actor, now=now)
    return {
        "signer_id": signer_id,
        "code": code,
        "link": access.invitation_link(code),
        "expires_at": now + access.INVITATION_TTL,
    }


def end_sessions(
    participant: Participant, signer_id: str, *, actor: Actor, now: datetime | None = None
) -> int:
    """Sign a family member out of every device at once (a lost phone, the wrong person); audited.

    Returns how many live sessions ended; the signer signs in again with their
    invitation code, or a new one.

    Raises:
        NotFoundError: not a signer of this participant.
        InvalidDataError: the signer is the investigator (staff sign in as staff).
    """
    now = now or now_utc()
    signer = _family_signer(participant, signer_id)
    ended = access.revoke_signer_sessions(str(signer.id), now=now)
    audit.append(
        participant,
        lambda _e: audit.Draft(
            type="access.sessions-ended",
            actor=actor.to_dict(),
            payload={"signer_id": str(signer.id), "sessions_ended": ended},
        ),
        now=now,
    )
    return ended


@dataclass(frozen=True)
class ContactCorrection:
    """What a contact correction changed: which fields, and how many sessions it ended."""

    signer_id: str
    changed: tuple[str, ...]
    sessions_ended: int


def correct_contact(
    participant: Participant,
    signer_id: str,
    *,
    email: str | None,
    phone: str | None,
    reason: str,
    actor: Actor,
    now: datetime | None = None,
) -> ContactCorrection:
    """Correct a family member's e-mail address and phone number (where codes go); audited.

    The event names the fields changed and the reason, never the addresses (the
    trail is append-only; identifying data stays encrypted on the signer). Codes
    sent so far went to the old contact, so whoever received them may be signed
    in: every session of the signer ends with the correction.

    Raises:
        NotFoundError: not a signer of this participant.
        InvalidDataError: the investigator, no contact left, or no reason given.
        ConflictError: the contact changed meanwhile (try again on fresh data).
    """
    now = now or now_utc()
    signer = _family_signer(participant, signer_id)
    email = (email or "").strip() or None
    phone = (phone or "").strip() or None
    if not (email or phone):
        raise InvalidDataError(
            "Give an e-mail address or a phone number for each signer.",
            code="signer-contact-required",
        )
    if not reason.strip():
        raise InvalidDataError("Say why the contact is corrected.", code="reason-required")
    identity = participants.signer_identity(signer)
    changed = tuple(
        key for key, value in (("email", email), ("phone", phone)) if identity.get(key) != value
    )
    if not changed:
        return ContactCorrection(str(signer.id), (), 0)
    corrected = {**identity, "email": email, "phone": phone}
    if not Signer.objects(id=signer.id, identity=signer.identity).update_one(
        set__identity=crypto.encrypt_identity(corrected),
        set__contact_index=crypto.contact_index(corrected),
    ):
        raise ConflictError(
            "The contact was changed meanwhile. Reload and try again.", code="contact-changed"
        )
    ended = access.revoke_signer_sessions(str(signer.id), now=now)
    audit.append(
        participant,
        lambda _e: audit.Draft(
            type="signer.contact-corrected",
            actor=actor.to_dict(),
            payload={
                "signer_id": str(signer.id),
                "changed": list(changed),
                "reason": reason.strip(),
                "sessions_ended": ended,
            },
        ),
        now=now,
    )
    return ContactCorrection(str(signer.id), changed, ended)


def _family_signer(participant: Participant, signer_id: str) -> Signer:
    if not ObjectId.is_valid(signer_id):  # not an id at all: as unknown as a missing one
        raise NotFoundError("This signer was not found.")
    signer: Signer | None = Signer.objects(participant_id=str(participant.id), id=signer_id).first()
    if signer is None:
        raise NotFoundError("This signer was not found.")
    if signer.role == SignerRole.INVESTIGATOR:
        raise InvalidDataError(
            "Investigators sign in as staff, not by invitation.", code="signer-role-invalid"
        )
    if signer.role == SignerRole.WITNESS:
        # CTR Art 29(1): the witness is present when the text is read out; they sign there.
        raise InvalidDataError(
            "A witness signs in person on the staff device, not by invitation.",
            code="signer-role-invalid",
        )
    return signer


@dataclass(frozen=True)
class CountersignText:
    """The text an investigator countersigns: the record's form, version, language and hash."""

    record_id: str
    form_id: str
    form_kind: str
    version: int
    locale: str
    content_sha256: str
    #: The family's questions about this record (or none in particular), with the answers:
    #: read before countersigning (teach-back).
    questions: tuple[questions.Question, ...] = ()


def countersign_text(
    participant: Participant, record_id: str, *, staff_locale: str | None
) -> CountersignText:
    """Return the language and text hash the investigator countersigns on this record.

    The investigator attests the interview the family had, so they sign the text
    the family signed: the language of the latest family signature, else the
    participant's language, else the member's (``staff_locale``), else the
    record's first language (CTR Art 29(1); docs/regulatory-basis.md#ctr-art-29).

    Raises:
        NotFoundError: no such record.
    """
    events = audit.chain_dicts(str(participant.id))
    opened = opened_event(events, record_id)
    data = opened["payload"]
    hashes: dict[str, str] = data["content_sha256"]
    signed_in = [
        e["payload"].get("locale")
        for e in events
        if e["type"] == "signature.added"
        and e.get("record_id") == record_id
        and e["payload"].get("role") != SignerRole.INVESTIGATOR
    ]
    for candidate in (*reversed(signed_in), participant.preferred_language, staff_locale):
        if candidate and candidate in hashes:
            break
    else:
        candidate = sorted(hashes)[0]
    return CountersignText(
        record_id=record_id,
        form_id=data["form_id"],
        form_kind=data.get("form_kind", ""),
        version=data["version"],
        locale=candidate,
        content_sha256=hashes[candidate],
        questions=tuple(questions.asked_before_signing(participant, record_id, events=events)),
    )


def may_record_on_paper(role: str, *, may_countersign: bool) -> bool:
    """Whether a member may record this signer's paper signature.

    Recording the investigator's signature completes the record in their place:
    it needs the same right as countersigning (consentkit.policy.roles, CTR Art
    29(1)); any family signer's may be recorded by whoever may record paper.
    """
    return role != SignerRole.INVESTIGATOR or may_countersign


@dataclass(frozen=True)
class RecordActions:
    """What one member may do on one record now.

    ``countersign``: the member is the record's investigator signer, holds
    countersign rights at the site, has not signed yet, the record is open and a
    family member has signed (:meth:`RecordStatus.family_has_signed`).
    ``paper_signers``: the missing signers whose paper signature the member may
    record ({signer_id, role}); empty when the record is closed or the member may
    not record paper consent.
    """

    record_id: str
    countersign: bool
    paper_signers: tuple[dict[str, str], ...]

    @property
    def paper(self) -> bool:
        """Whether the member may record a paper signature on this record now."""
        return bool(self.paper_signers)


def record_actions(participant: Participant, staff: StaffMember) -> dict[str, RecordActions]:
    """Return, by record id, what ``staff`` may do on each of the participant's records now."""
    grants = [Grant.from_dict(g) for g in staff.grants or []]
    countersigns = may_countersign(staff, participant.trial_id, participant.site_code)
    papers = bool(staff.active) and allowed(
        grants, Action.RECORD_PAPER, participant.trial_id, participant.site_code
    )
    mine = staff_signer(participant, staff)
    found = {}
    for status in records.record_statuses(participant):
        missing = status.missing_signers if status.state in OPEN_STATES else []
        found[status.record_id] = RecordActions(
            record_id=status.record_id,
            # Offered only once the family has signed (sign() refuses it before).
            countersign=countersigns
            and mine is not None
            and status.family_has_signed()
            and any(m["signer_id"] == str(mine.id) for m in missing),
            paper_signers=tuple(
                {"signer_id": m["signer_id"], "role": m["role"]}
                for m in missing
                if papers and may_record_on_paper(m["role"], may_countersign=countersigns)
            ),
        )
    return found


def actions_on(participant: Participant, staff: StaffMember, record_id: str) -> RecordActions:
    """Return what ``staff`` may do on one record now (see :func:`record_actions`).

    Raises:
        NotFoundError: the participant has no such record.
    """
    found = record_actions(participant, staff).get(record_id)
    if found is None:
        raise NotFoundError("Record %(record_id)s was not found.", params={"record_id": record_id})
    return found


#: How an interview mode reached the team, as the actor's channel of the countersignature.
_INTERVIEW_CHANNELS = {
    InterviewMode.IN_PERSON: Channel.IN_PERSON,
    InterviewMode.VIDEO: Channel.VIDEO,
    InterviewMode.PHONE: Channel.PHONE,
}


@dataclass(frozen=True)
class Interview:
    """How the consent interview took place, as the investigator attests it.

    ``timezone`` is the IANA zone the interview's local time is read in (the site's,
    or the one given, e.g. a video call from another country); ``utc_offset_minutes``
    its offset at the moment of signing (CTR Art 29(2)(c); checklist item 21: date
    and time in UTC and local offset).
    """

    mode: InterviewMode
    timezone: str
    utc_offset_minutes: int

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form kept in the signature event."""
        return {
            "mode": self.mode.value,
            "timezone": self.timezone,
            "utc_offset_minutes": self.utc_offset_minutes,
        }


def interview_of(
    participant: Participant, mode: InterviewMode | str, timezone: str | None, at: datetime
) -> Interview:
    """Return the interview's mode and time zone (the site's when ``timezone`` is None).

    Raises:
        InvalidDataError: ``interview-mode-invalid`` or ``timezone-invalid``.
    """
    try:
        chosen = InterviewMode(mode)
    except ValueError:
        raise InvalidDataError(
            "Say how the interview took place: in person, by video or by phone.",
            code="interview-mode-invalid",
            details={"errors": {"interview_mode": ["Not one of in-person, video, phone"]}},
        ) from None
    zone_name = (timezone or "").strip() or participant.timezone
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidDataError(
            "Unknown time zone %(timezone)s; use an IANA name such as Europe/Paris.",
            code="timezone-invalid",
            params={"timezone": zone_name[:60]},
            details={"errors": {"timezone": ["Unknown time zone"]}},
        ) from None
    offset = at.astimezone(zone).utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    return Interview(chosen, zone_name, minutes)


def countersign(
    participant: Participant,
    record_id: str,
    *,
    staff: StaffMember,
    locale: str,
    content_sha256: str,
    printed_name: str,
    strokes: list[list[list[float]]],
    verified_at: datetime,
    interview_mode: InterviewMode | str,
    timezone: str | None = None,
    ip: str | None = None,
    user_agent: str | None = None,
    now: datetime | None = None,
) -> AuditEvent:
    """Sign a record as the investigator who conducted the interview.

    The signature records how the interview took place (``interview_mode``) and
    the time zone it is read in (``timezone``, else the site's): an inspector must
    not read a video call as an in-person interview, nor a Paris evening as UTC.

    Raises:
        EligibilityError: ``not-the-interviewer`` when this member is not the
            record's investigator signer; ceremony errors from ceremony.sign.
        InvalidDataError: ``interview-mode-invalid`` or ``timezone-invalid``.
    """
    signer = staff_signer(participant, staff)
    if signer is None:
        raise EligibilityError(
            "Only the investigator who conducted the interview can countersign.",
            code="not-the-interviewer",
        )
    now = now or now_utc()
    interview = interview_of(participant, interview_mode, timezone, now)
    signature = SignatureInput(
        signer_id=str(signer.id),
        locale=locale,
        content_sha256=content_sha256,
        printed_name=printed_name,
        strokes=strokes,
        # Password and a one-time TOTP code at sign-in or re-authentication (11.200(a)(1)).
        auth=AuthEvidence(factors=("password", "otp"), verified_at=verified_at, method="totp"),
        idempotency_key=f"countersign:{record_id}:{signer.id}",
        client_at=now,
        client_offset_minutes=interview.utc_offset_minutes,
        ip=ip,
        user_agent=user_agent,
        extra={"interview": interview.to_dict()},
    )
    return ceremony.sign(
        participant,
        record_id,
        signature,
        actor=staff_actor(staff, SignerRole.INVESTIGATOR, _INTERVIEW_CHANNELS[interview.mode]),
        now=now,
    )


def record_withdrawal(
    participant: Participant,
    *,
    scopes: Sequence[str],
    expressed_by: str | None,
    channel: str,
    actor: Actor,
    reason: str | None,
    reason_declined: bool,
    now: datetime | None = None,
) -> AuditEvent:
    """Record a withdrawal the family expressed in person, by phone or by letter.

    ``expressed_by`` is the signer id of the family member who asked, or None.
    Staff record the reason the family gave or that they declined to give one
    (exactly one of the two): the trail must not read "declined" when nobody
    asked (:func:`consentkit.policy.withdrawal_reason.withdrawal_reason`).

    Raises:
        InvalidDataError: an unknown scope or channel, ``expressed-by-invalid``,
            ``withdrawal-reason-required`` or ``withdrawal-reason-conflict``.
    """
    if channel not in (Channel.IN_PERSON, Channel.PHONE, Channel.LETTER):
        raise InvalidDataError("Choose how the withdrawal reached you.", code="channel-invalid")
    said = withdrawal_reason(reason, reason_declined, answer_required=True)
    return participation.withdraw(
        participant,
        scopes=scopes,
        actor=Actor(kind=actor.kind, id=actor.id, role=actor.role, channel=channel),
        expressed_by=_expressed_by(participant, expressed_by),
        reason=said.reason,
        reason_declined=said.declined,
        now=now,
    )


def record_dissent(
    participant: Participant,
    *,
    expressed_by: str | None,
    actor: Actor,
    note: str | None = None,
    now: datetime | None = None,
) -> AuditEvent:
    """Record a child's dissent heard by the team (CTR Art 32(1)(c)).

    ``expressed_by`` is the signer id of the family member who said it (the
    child, or a parent passing it on), or None when the team heard the child.

    Raises:
        InvalidDataError: ``expressed-by-invalid``.
    """
    return participation.record_dissent(
        participant,
        actor=actor,
        expressed_by=_expressed_by(participant, expressed_by),
        note=note,
        now=now,
    )


def _expressed_by(participant: Participant, signer_id: str | None) -> str | None:
    """Return ``signer_id`` if it names one of the participant's family signers.

    The trail stores it as who expressed a withdrawal or a dissent, so it must
    be someone of this family, never free text (nor the investigator).
    """
    if signer_id is None:
        return None
    family = {
        str(s.id)
        for s in participants.signers_of(participant)
        if s.role in (SignerRole.GUARDIAN, SignerRole.PARTICIPANT)
    }
    if signer_id not in family:
        raise InvalidDataError(
            "Choose who expressed it among the participant's family.",
            code="expressed-by-invalid",
            details={"errors": {"expressed_by": ["Not a family member of this participant"]}},
        )
    return signer_id
