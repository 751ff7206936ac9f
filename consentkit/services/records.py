"""Consent records: enrolment, the signing ceremony, dissent, withdrawal, and the profile.

Every function here appends one event to the participant's audit chain
(:mod:`consentkit.services.audit`) after checking its preconditions against
that chain, and refreshes the record projection. States are derived from the
events by :mod:`consentkit.policy.records`; nothing sets a state by hand, and
nothing deletes or overwrites a signature, a record or an event.

Event payloads (what each ``type`` stores):

* ``participant.enrolled``: code, site, country, birth_date
* ``participant.birth-date-changed``: before, after, reason
* ``signer.added``: signer_id, role (identity is encrypted in ``signers``, never in events)
* ``record.opened``: record_id, form_id, form_kind, version, locale, content_sha256 per
  locale, section_ids, items, question_ids, comprehension, required_signers,
  reflection_hours, window_days, requirements (the rule-pack decision snapshot)
* ``information.viewed``: signer_id, locale, sections [{id, seconds}], client_at
* ``comprehension.answered``: signer_id, locale, answers, score, passed
* ``items.chosen``: signer_id, choices {item_id: bool}
* ``signature.added``: the signature manifestation and binding (see :func:`sign`)
* ``consent.declined``: signer_id, reason
* ``assent.dissent``: expressed_by, channel, note (CTR Art 32(1)(c))
* ``withdrawal.recorded``: scopes, expressed_by, channel, reason, reason_declined
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from mongoengine import NotUniqueError

from consentkit import crypto
from consentkit.authoring.reader import canonical_json
from consentkit.clock import now_utc
from consentkit.enums import (
    Channel,
    FormKind,
    MinorRole,
    RecordState,
    SignerRole,
    WithdrawalScope,
)
from consentkit.errors import ConflictError, EligibilityError, InvalidDataError, NotFoundError
from consentkit.models.audit import AuditEvent, ConsentRecord
from consentkit.models.participant import Participant, Signer
from consentkit.models.study import ConsentForm, FormVersion
from consentkit.policy.age import local_date
from consentkit.policy.jurisdiction import Requirements, decide_requirements
from consentkit.policy.locales import negotiate_locale
from consentkit.policy.records import (
    information_complete,
    opened_event,
    participant_records,
    participation_profile,
    record_status,
)
from consentkit.policy.versions import version_in_force
from consentkit.services import audit, dashboard
from consentkit.services.forms import _bands_for, _overrides, catalog, get_study
from consentkit.services.signatures import Strokes, render_svg, validate_strokes

#: A one-time code older than this is not "fresh" for signing (Part 11 11.200 step-up).
FRESH_AUTH = timedelta(minutes=10)
_CLOSED = {RecordState.DECLINED, RecordState.DISSENT, RecordState.WITHDRAWN, RecordState.EXPIRED}


@dataclass(frozen=True)
class Actor:
    """Who performs an action: a signer on their device, staff, or the system."""

    kind: str
    id: str
    role: str
    on_behalf_of: str | None = None
    channel: str = Channel.APP

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form stored in events."""
        data = {"kind": self.kind, "id": self.id, "role": self.role, "channel": self.channel}
        if self.on_behalf_of:
            data["on_behalf_of"] = self.on_behalf_of
        return data


SYSTEM = Actor(kind="system", id="consentkit", role="system")


@dataclass(frozen=True)
class AuthEvidence:
    """How the signer proved who they are just before signing (Part 11 11.200)."""

    factors: tuple[str, ...]
    verified_at: datetime
    method: str = "otp"

    def check(self, now: datetime) -> None:
        """Refuse stale or single-factor evidence."""
        if len(set(self.factors)) < 2 or "otp" not in self.factors:
            raise EligibilityError(
                "Signing needs two distinct factors including a fresh one-time code.",
                code="fresh-code-required",
            )
        if now - self.verified_at > FRESH_AUTH or self.verified_at > now + timedelta(minutes=1):
            raise EligibilityError(
                "The one-time code is no longer fresh; request a new one to sign.",
                code="fresh-code-required",
            )

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form stored with the signature."""
        return {
            "factors": list(self.factors),
            "verified_at": self.verified_at.isoformat(timespec="milliseconds"),
            "method": self.method,
        }


@dataclass
class SignatureInput:
    """What a signer submits with a signature."""

    signer_id: str
    locale: str
    content_sha256: str
    printed_name: str
    strokes: Strokes
    auth: AuthEvidence
    idempotency_key: str
    client_at: datetime | None = None
    client_offset_minutes: int | None = None
    ip: str | None = None
    user_agent: str | None = None
    early_signing_justification: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------- participants and signers


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
    dashboard.count_enrolment(participant)
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


def signer_identity(signer: Signer) -> dict[str, Any]:
    """Return a signer's decrypted identifying data."""
    return crypto.decrypt_identity(signer.identity)


def signers_of(participant: Participant) -> list[Signer]:
    """Return a participant's signers in the order they were added."""
    return list(Signer.objects(participant_id=str(participant.id)).order_by("created_at", "id"))


def requirements_for(
    participant: Participant, on: date, *, birth_date: date | None = None
) -> Requirements:
    """Return the jurisdiction decision for a participant on a date, with study overrides.

    ``birth_date`` evaluates a corrected birth date before it is stored.
    """
    study = catalog(participant.trial_id).study
    return decide_requirements(
        birth_date=birth_date or participant.birth_date,
        country=participant.country,
        on=on,
        trial_type=study.trial_type,
        overrides=_overrides(study),
        age_bands=_bands_for(study, participant.country),
    )


# ---------------------------------------------------------------- records


def participant_signs(kind: str, minor_role: MinorRole | str) -> bool:
    """Whether a form of ``kind`` needs the participant's own signature.

    The investigator's declaration and the parental consent do not. An informed
    child (CTR Art 32(1)(b): information adapted to age, no assent sought) is
    given the band's child document, but their signature is not required, so an
    infant needs no signer entry, and no contact, of their own.
    """
    if kind == FormKind.CHILD_ASSENT:
        return MinorRole(minor_role) is not MinorRole.INFORMED
    return kind in (FormKind.YOUNG_PERSON_CONSENT, FormKind.ADULT_CONSENT)


def _default_signers(
    kind: str, signers: Sequence[Signer], requirements: Requirements
) -> list[Signer]:
    by_role: dict[str, list[Signer]] = {}
    for signer in signers:
        by_role.setdefault(signer.role, []).append(signer)
    chosen: list[Signer] = []
    if kind == FormKind.PARENTAL_CONSENT:
        guardians = by_role.get(SignerRole.GUARDIAN, [])
        needed = max(requirements.guardians_required, 1)
        if len(guardians) < needed:
            raise EligibilityError(
                "This consent needs %(needed)s parent(s) or guardian(s) "
                "(%(rule)s); %(registered)s registered.",
                code="signers-missing",
                params={
                    "needed": needed,
                    "rule": requirements.guardian_rule.value,
                    "registered": len(guardians),
                },
            )
        chosen.extend(guardians[:needed])
    participants = by_role.get(SignerRole.PARTICIPANT, [])
    if participant_signs(kind, requirements.minor_role):
        if not participants:
            raise EligibilityError(
                "Register the participant as a signer first.", code="signers-missing"
            )
        chosen.append(participants[0])
    elif kind == FormKind.CHILD_ASSENT and participants:
        chosen.append(participants[0])  # an informed child who was registered signs too
    investigators = by_role.get(SignerRole.INVESTIGATOR, [])
    if not investigators:
        # CTR Art 29(1): consent is signed by the person who conducted the interview too.
        raise EligibilityError(
            "Register the investigator who conducts the interview.", code="signers-missing"
        )
    chosen.append(investigators[0])
    return chosen


def open_record(
    participant: Participant,
    *,
    form_id: str,
    actor: Actor,
    version: int | None = None,
    signer_ids: Sequence[str] | None = None,
    fewer_guardians_justification: str | None = None,
    now: datetime | None = None,
) -> ConsentRecord:
    """Open a consent record for a form version (by default the one in force today).

    The required signers follow the jurisdiction rules (e.g. both parents in
    FR) unless ``signer_ids`` names them; the rule decision is snapshotted in
    the record so it can be explained years later.

    Raises:
        NotFoundError: unknown form or version, or no version in force.
        EligibilityError: required signers are not registered.
        ConflictError: this participant already has an open record for that version.
    """
    now = now or now_utc()
    today = local_date(now, participant.timezone)
    study = get_study(participant.trial_id)
    form = ConsentForm.objects(trial_id=participant.trial_id, form_id=form_id).first()
    if form is None:
        raise NotFoundError(
            "Form %(form_id)s was not found in %(trial_id)s.",
            params={"form_id": form_id, "trial_id": participant.trial_id},
        )
    versions = list(FormVersion.objects(trial_id=participant.trial_id, form_id=form_id))
    chosen = (
        next((v for v in versions if v.version == version), None)
        if version is not None
        else version_in_force(versions, today)
    )
    if chosen is None or chosen.status != "published":
        raise NotFoundError(
            "No published version of %(form_id)s to sign.", params={"form_id": form_id}
        )
    requirements = requirements_for(participant, today)
    all_signers = signers_of(participant)
    if signer_ids is None:
        required = _default_signers(form.kind, all_signers, requirements)
    else:
        by_id = {str(s.id): s for s in all_signers}
        unknown = [sid for sid in signer_ids if sid not in by_id]
        if unknown:
            raise NotFoundError(
                "Unknown signer(s): %(signers)s.", params={"signers": ", ".join(unknown)}
            )
        required = [by_id[sid] for sid in signer_ids]
    guardians = sum(1 for s in required if s.role == SignerRole.GUARDIAN)
    if (
        form.kind == FormKind.PARENTAL_CONSENT
        and guardians < requirements.guardians_required
        and not (fewer_guardians_justification or "").strip()
    ):
        # e.g. FR CSP L1122-2 II allows one parent alone only under stated conditions.
        raise EligibilityError(
            "The rules of %(country)s need %(needed)s "
            "parent(s) or guardian(s) (%(rule)s); "
            "record why fewer will sign.",
            code="guardians-missing",
            params={
                "country": participant.country,
                "needed": requirements.guardians_required,
                "rule": requirements.guardian_rule.value,
            },
        )
    if SignerRole.INVESTIGATOR in form.signer_roles and not any(
        s.role == SignerRole.INVESTIGATOR for s in required
    ):
        raise EligibilityError(
            "The person who conducts the interview signs too (CTR Art 29(1)).",
            code="investigator-missing",
        )
    wrong = [s.role for s in required if s.role not in form.signer_roles]
    if wrong:
        raise EligibilityError(
            "%(form_id)s is not signed by: %(roles)s.",
            code="wrong-signer-role",
            params={"form_id": form_id, "roles": ", ".join(wrong)},
        )
    site = study.site(participant.site_code)
    locale = negotiate_locale(
        sorted(chosen.content),
        requested=participant.preferred_language,
        site_default=site.languages[0] if site else None,
    )
    reference = chosen.content[locale or sorted(chosen.content)[0]]
    record_id = uuid.uuid4().hex
    payload = {
        "record_id": record_id,
        "form_id": form_id,
        "form_kind": form.kind,
        "version": chosen.version,
        "locale": locale,
        "content_sha256": dict(chosen.content_sha256),
        "section_ids": [s["id"] for s in reference["sections"]],
        "items": [
            {"id": i["id"], "code": i["code"], "required": i["required"]}
            for i in reference["items"]
        ],
        "question_ids": [q["id"] for q in reference["questions"]],
        "comprehension": dict(chosen.comprehension) or None,
        "required_signers": [{"signer_id": str(s.id), "role": s.role} for s in required],
        "reflection_hours": int(study.settings.get("minimum_reflection_hours", 0)),
        "window_days": int(study.settings.get("completion_window_days", 30)),
        "requirements": requirements.to_dict(),
        "fewer_guardians_justification": fewer_guardians_justification,
    }

    def build(events: list[dict[str, Any]]) -> audit.Draft:
        for event in events:
            if event["type"] != "record.opened":
                continue
            other = event["payload"]
            if other["form_id"] == form_id and other["version"] == chosen.version:
                state = record_status(event, events, at=now).state
                if state not in _CLOSED:
                    raise ConflictError(
                        "%(code)s already has a %(state)s record for %(form_id)s v%(version)s.",
                        code="record-exists",
                        params={
                            "code": participant.code,
                            "state": state.value,
                            "form_id": form_id,
                            "version": chosen.version,
                        },
                    )
        return audit.Draft(
            type="record.opened",
            actor=actor.to_dict(),
            payload=payload,
            record_id=record_id,
            state_after=RecordState.AWAITING_INFORMATION,
        )

    event = audit.append(participant, build, now=now)
    record = ConsentRecord(
        record_id=record_id,
        trial_id=participant.trial_id,
        participant_id=str(participant.id),
        participant_code=participant.code,
        site_code=participant.site_code,
        form_id=form_id,
        form_kind=form.kind,
        version=chosen.version,
        locale=locale,
        state=RecordState.AWAITING_INFORMATION,
        missing_signers=payload["required_signers"],
        last_seq=event.seq,
        opened_at=event.at,
        due_at=event.at + timedelta(days=payload["window_days"]),
    )
    record.save(force_insert=True)
    dashboard.count_record_opened(record)
    return record


def _record_action(
    participant: Participant,
    record_id: str,
    *,
    type: str,
    actor: Actor,
    now: datetime | None,
    check: Any,
) -> AuditEvent:
    """Append a record event after ``check(opened, events, status, at)`` returns its payload."""

    def build(events: list[dict[str, Any]]) -> audit.Draft | AuditEvent:
        at = now or now_utc()
        opened = opened_event(events, record_id)
        before = record_status(opened, events, at=at)
        payload = check(opened, events, before, at)
        if isinstance(payload, AuditEvent):
            return payload
        pseudo = {
            "seq": (events[-1]["seq"] + 1),
            "type": type,
            "at": at,
            "record_id": record_id,
            "payload": payload,
        }
        after = record_status(opened, [*events, pseudo], at=at)
        return audit.Draft(
            type=type,
            actor=actor.to_dict(),
            payload=payload,
            record_id=record_id,
            state_before=before.state.value,
            state_after=after.state.value,
        )

    event, events = audit.append_to_chain(participant, build, now=now)
    _refresh_projection(participant, events)
    return event


def _require_open(status: Any, signer_id: str) -> Any:
    if status.state in _CLOSED or status.state == RecordState.CONSENTED:
        raise ConflictError(
            "The record is %(state)s.", code="record-closed", params={"state": status.state.value}
        )
    progress = status.signers.get(signer_id)
    if progress is None:
        raise EligibilityError("This person is not a signer of this record.", code="not-a-signer")
    return progress


def record_views(
    participant: Participant,
    record_id: str,
    *,
    signer_id: str,
    locale: str,
    sections: Sequence[dict[str, Any]],
    actor: Actor,
    client_at: datetime | None = None,
    now: datetime | None = None,
) -> AuditEvent:
    """Record that a signer viewed sections (batched, with seconds spent; resumable).

    Raises:
        InvalidDataError: an unknown section id or a negative time.
    """

    def check(opened: dict[str, Any], _e: Any, status: Any, _at: datetime) -> dict[str, Any]:
        _require_open(status, signer_id)
        known = set(opened["payload"]["section_ids"])
        bad = [s.get("id") for s in sections if s.get("id") not in known]
        if bad or any(float(s.get("seconds", 0)) < 0 for s in sections):
            raise InvalidDataError(
                "Unknown section(s) or negative time: %(sections)s.",
                code="unknown-section",
                params={"sections": bad},
            )
        if locale not in opened["payload"]["content_sha256"]:
            raise InvalidDataError(
                "This form has no %(locale)s text.",
                code="unknown-locale",
                params={"locale": locale},
            )
        return {
            "signer_id": signer_id,
            "locale": locale,
            "sections": [
                {"id": s["id"], "seconds": round(float(s.get("seconds", 0)), 1)} for s in sections
            ],
            "client_at": client_at.isoformat() if client_at else None,
        }

    return _record_action(
        participant, record_id, type="information.viewed", actor=actor, now=now, check=check
    )


def answer_questions(
    participant: Participant,
    record_id: str,
    *,
    signer_id: str,
    locale: str,
    answers: dict[str, str],
    actor: Actor,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Check comprehension answers; return score, pass, and explanations for wrong answers.

    Raises:
        EligibilityError: the information was not read yet (enforced order, 11.10(f)).
    """
    feedback: dict[str, Any] = {}

    def check(opened: dict[str, Any], _e: Any, status: Any, _at: datetime) -> dict[str, Any]:
        progress = _require_open(status, signer_id)
        if not information_complete(progress, status.section_ids):
            raise EligibilityError(
                "Read every section before the questions.", code="information-incomplete"
            )
        data = opened["payload"]
        version = (
            FormVersion.objects(
                trial_id=participant.trial_id, form_id=data["form_id"], version=data["version"]
            )
            .only("content")
            .first()
        )
        if locale not in version.content:
            raise InvalidDataError(
                "This form has no %(locale)s text.",
                code="unknown-locale",
                params={"locale": locale},
            )
        questions = {q["id"]: q for q in version.content[locale]["questions"]}
        unknown = sorted(set(answers) - set(questions))
        if unknown:
            raise InvalidDataError(
                "Unknown question(s): %(questions)s.",
                code="unknown-question",
                params={"questions": ", ".join(unknown)},
            )
        results = [
            {
                "id": qid,
                "correct": answers.get(qid) == q["correct"],
                "explanation": None if answers.get(qid) == q["correct"] else q["explanation"],
            }
            for qid, q in questions.items()
        ]
        score = sum(r["correct"] for r in results)
        pass_mark = (data["comprehension"] or {}).get("pass_mark", len(questions))
        feedback.update(
            score=score, passed=score >= pass_mark, pass_mark=pass_mark, results=results
        )
        return {
            "signer_id": signer_id,
            "locale": locale,
            "answers": dict(answers),
            "score": score,
            "passed": score >= pass_mark,
        }

    _record_action(
        participant, record_id, type="comprehension.answered", actor=actor, now=now, check=check
    )
    return feedback


def choose_items(
    participant: Participant,
    record_id: str,
    *,
    signer_id: str,
    choices: dict[str, bool],
    actor: Actor,
    now: datetime | None = None,
) -> AuditEvent:
    """Record a signer's yes/no for each consent item (all items must be answered).

    Choices are fixed once the signer has signed: the signature's binding hash
    covers the choices at signing time (21 CFR 11.70), and the record's item
    grants and PDF are derived from the latest ``items.chosen``, so a later
    change would let the record say something the signature never covered.

    Raises:
        ConflictError: the record is closed, or this signer has already signed
            (``already-signed``).
        EligibilityError: information or required comprehension not complete.
        InvalidDataError: an item is unknown or unanswered.
    """

    def check(opened: dict[str, Any], _e: Any, status: Any, _at: datetime) -> dict[str, Any]:
        progress = _require_open(status, signer_id)
        if progress.signed_at is not None:
            raise ConflictError("This person has already signed.", code="already-signed")
        _require_prepared(progress, status, opened, need_items=False)
        ids = {i["id"] for i in opened["payload"]["items"]}
        if set(choices) != ids:
            if ids - set(choices):
                raise InvalidDataError(
                    "Answer every item: %(items)s",
                    code="items-incomplete",
                    params={"items": ", ".join(sorted(ids - set(choices)))},
                )
            raise InvalidDataError(
                "Unknown item(s): %(items)s",
                code="items-incomplete",
                params={"items": ", ".join(sorted(set(choices) - ids))},
            )
        return {"signer_id": signer_id, "choices": {k: bool(v) for k, v in choices.items()}}

    return _record_action(
        participant, record_id, type="items.chosen", actor=actor, now=now, check=check
    )


def _require_prepared(
    progress: Any, status: Any, opened: dict[str, Any], *, need_items: bool
) -> None:
    """Enforce the ceremony order for a non-investigator: information, questions, items."""
    if progress.role == SignerRole.INVESTIGATOR:
        return
    if not information_complete(progress, status.section_ids):
        raise EligibilityError("Read every section first.", code="information-incomplete")
    comprehension = opened["payload"]["comprehension"] or {}
    if comprehension.get("required") and not progress.comprehension_passed:
        raise EligibilityError(
            "Answer the questions about the study first.", code="comprehension-required"
        )
    if need_items and opened["payload"]["items"] and progress.choices is None:
        raise EligibilityError("Choose yes or no for each item first.", code="items-required")


def sign(
    participant: Participant,
    record_id: str,
    signature: SignatureInput,
    *,
    actor: Actor,
    now: datetime | None = None,
) -> AuditEvent:
    """Add a signature, bound to the exact text, language, version and choices signed.

    Submitting again with the same idempotency key returns the first signature.
    The binding hash covers the content SHA-256, locale, version, item choices,
    signer, printed name, meaning and time (21 CFR 11.50, 11.70).

    Raises:
        EligibilityError: ceremony order not followed, stale one-time code, a
            required item refused, or signing inside the reflection time without
            a justification. ``code`` says which, so an app can act on it.
        ConflictError: the record is closed, the signer already signed, or the
            content hash is not what this record shows in that language.
        InvalidDataError: malformed strokes or an empty printed name.
    """
    validate_strokes(signature.strokes)
    printed_name = signature.printed_name.strip()
    if not printed_name:
        raise InvalidDataError("Type your name as you sign.", code="printed-name-required")

    def check(
        opened: dict[str, Any], events: list[dict[str, Any]], status: Any, at: datetime
    ) -> dict[str, Any] | AuditEvent:
        for event in events:
            if (
                event["type"] == "signature.added"
                and event["payload"].get("idempotency_key") == signature.idempotency_key
            ):
                if (
                    event["record_id"] != record_id
                    or event["payload"]["signer_id"] != signature.signer_id
                ):
                    raise ConflictError(
                        "This idempotency key was used for another signature.",
                        code="idempotency-key-reused",
                    )
                first: AuditEvent = AuditEvent.objects(
                    participant_id=str(participant.id), seq=event["seq"]
                ).get()
                return first
        progress = _require_open(status, signature.signer_id)
        if progress.signed_at is not None:
            raise ConflictError("This person has already signed.", code="already-signed")
        data = opened["payload"]
        if data["content_sha256"].get(signature.locale) != signature.content_sha256:
            raise ConflictError(
                "The text you were shown is not the text of this record; reload the form.",
                code="content-mismatch",
            )
        _require_prepared(progress, status, opened, need_items=True)
        signature.auth.check(at)
        if progress.role == SignerRole.INVESTIGATOR:
            family = [p for p in status.signers.values() if p.role != SignerRole.INVESTIGATOR]
            # A declaration only investigators sign has no family signature to wait for.
            if family and not any(p.signed_at for p in family):
                raise EligibilityError(
                    "The investigator countersigns after the family.", code="countersign-too-early"
                )
        else:
            refused = [
                i["id"]
                for i in data["items"]
                if i["required"] and not (progress.choices or {}).get(i["id"])
            ]
            if refused:
                raise EligibilityError(
                    "A required item was answered no; decline instead of signing.",
                    code="required-item-refused",
                    details={"items": refused},
                )
            earliest = progress.first_viewed_at + timedelta(hours=data["reflection_hours"])
            if at < earliest and not (signature.early_signing_justification or "").strip():
                raise EligibilityError(
                    "The study asks for %(hours)s hours to think before "
                    "signing; give a reason to sign sooner.",
                    code="reflection-time",
                    params={"hours": data["reflection_hours"]},
                )
        meaning = _meaning(participant, data, signature.locale, progress.role)
        signed_at = at.isoformat(timespec="milliseconds")
        binding = {
            "trial_id": participant.trial_id,
            "form_id": data["form_id"],
            "version": data["version"],
            "locale": signature.locale,
            "content_sha256": signature.content_sha256,
            "item_choices": progress.choices or {},
            "signer_id": signature.signer_id,
            "role": progress.role,
            "printed_name": printed_name,
            "meaning": meaning,
            "signed_at": signed_at,
        }
        return {
            **binding,
            "binding_sha256": hashlib.sha256(canonical_json(binding).encode()).hexdigest(),
            "strokes": signature.strokes,
            "image_svg": render_svg(signature.strokes),
            "client_at": signature.client_at.isoformat() if signature.client_at else None,
            "client_offset_minutes": signature.client_offset_minutes,
            "ip": signature.ip,
            "user_agent": (signature.user_agent or "")[:500],
            "auth": signature.auth.to_dict(),
            "idempotency_key": signature.idempotency_key,
            "early_signing_justification": signature.early_signing_justification,
        }

    return _record_action(
        participant, record_id, type="signature.added", actor=actor, now=now, check=check
    )


def _meaning(participant: Participant, data: dict[str, Any], locale: str, role: str) -> str:
    version = (
        FormVersion.objects(
            trial_id=participant.trial_id, form_id=data["form_id"], version=data["version"]
        )
        .only(f"content.{locale}")
        .first()
    )
    meaning: str = version.content[locale]["signature_meanings"][role]
    return meaning


def decline(
    participant: Participant,
    record_id: str,
    *,
    signer_id: str,
    actor: Actor,
    reason: str | None = None,
    now: datetime | None = None,
) -> AuditEvent:
    """Record that a signer declines (no reason needed, CTR Art 28(3))."""

    def check(_o: Any, _e: Any, status: Any, _at: datetime) -> dict[str, Any]:
        _require_open(status, signer_id)
        return {"signer_id": signer_id, "reason": reason}

    return _record_action(
        participant, record_id, type="consent.declined", actor=actor, now=now, check=check
    )


# ---------------------------------------------------------------- participant-wide events


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
    _refresh_projection(participant, events)
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
    now: datetime | None = None,
) -> AuditEvent:
    """Record a withdrawal in one or more scopes; nothing collected before is deleted.

    Any entitled person may withdraw (a guardian, the child, the young adult, or
    staff on their behalf with the channel recorded); the reason is optional and
    may be explicitly declined (CTR Art 28(3), GDPR Art 7(3)). ``auth`` is how a
    signer confirmed it on their own device (which factor, when), kept with the event.

    Raises:
        InvalidDataError: no scope or an unknown scope.
    """
    try:
        chosen = sorted({WithdrawalScope(s).value for s in scopes})
    except ValueError as exc:
        raise InvalidDataError(
            "Unknown withdrawal scope: %(scope)s.", code="unknown-scope", params={"scope": str(exc)}
        ) from exc
    if not chosen:
        raise InvalidDataError("Choose at least one scope.", code="unknown-scope")
    event, events = audit.append_to_chain(
        participant,
        lambda _events: audit.Draft(
            type="withdrawal.recorded",
            actor=actor.to_dict(),
            payload={
                "scopes": chosen,
                "expressed_by": expressed_by,
                "channel": actor.channel,
                "reason": None if reason_declined else reason,
                "reason_declined": reason_declined,
                # Ties the event to its request, so a retry after a crash finds it.
                **({"idempotency_key": idempotency_key} if idempotency_key else {}),
                **({"auth": auth.to_dict()} if auth else {}),
            },
        ),
        now=now,
    )
    _refresh_projection(participant, events)
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
        dashboard.count_competence_change(
            participant, previous.competence_date, requirements.competence_date
        )
    return requirements


# ---------------------------------------------------------------- reading


def _events(participant: Participant) -> list[dict[str, Any]]:
    return audit.chain_dicts(str(participant.id))


def _own_consent_due(participant: Participant, at: datetime) -> bool:
    requirements = requirements_for(participant, local_date(at, participant.timezone))
    return requirements.minor_role.value == "own-consent" and bool(
        requirements.reconsent_at_competence
    )


def record_statuses(
    participant: Participant,
    *,
    at: datetime | None = None,
    events: list[dict[str, Any]] | None = None,
) -> list[Any]:
    """Return every record of a participant with its derived state at ``at``.

    ``events`` is the participant's chain when the caller has just read it (saves a read).
    """
    at = at or now_utc()
    return participant_records(
        _events(participant) if events is None else events,
        at=at,
        own_consent_due=_own_consent_due(participant, at),
    )


def profile(participant: Participant, *, at: datetime | None = None) -> dict[str, Any]:
    """Return what is permitted for the participant now (or at ``at``): the one call for others."""
    at = at or now_utc()
    result = participation_profile(
        _events(participant), at=at, own_consent_due=_own_consent_due(participant, at)
    )
    return {"trial_id": participant.trial_id, "participant": participant.code, "at": at, **result}


def history(participant: Participant) -> list[dict[str, Any]]:
    """Return the complete event history of a participant, for inspectors (11.10(b))."""
    return audit.chain_dicts(str(participant.id))


#: What a projection update reads first: its guard, the fields its counters are keyed by,
#: and what it may change (to skip a write that would change nothing).
_PROJECTION_GUARD = {
    **dashboard.RECORD_COUNTER_FIELDS,
    "record_id": True,
    "last_seq": True,
    "missing_signers": True,
    "completed_at": True,
}


def _unchanged(before: dict[str, Any], changes: dict[str, Any]) -> bool:
    """Whether a projection already shows ``changes`` (apart from its ``last_seq``)."""
    completed, wanted = before.get("completed_at"), changes["completed_at"]
    if completed is None or wanted is None:
        same_completion = completed is None and wanted is None
    else:  # stored with millisecond precision
        same_completion = abs((completed - wanted).total_seconds()) < 0.001
    return (
        same_completion
        and before.get("state") == changes["state"]
        and bool(before.get("is_partial")) == changes["is_partial"]
        and (before.get("missing_signers") or []) == changes["missing_signers"]
    )


def _refresh_projection(participant: Participant, events: list[dict[str, Any]]) -> None:
    """Move every record projection of the participant forward to the chain's state.

    All records, because one event can change another record's state (a new
    version consented supersedes the old one; a withdrawal applies to all).
    The state is as of the last event; expiry, which depends only on time, is
    derived when read. ``last_seq`` keeps a lagging writer from moving it back.

    Each move is a compare-and-set on the ``last_seq`` just read, so the
    writer whose update matches knows exactly which projection it replaced and
    moves the dashboard counters from that state: each transition is counted
    once. A writer that finds a later event already projected counts nothing,
    since that writer's diff covered its event. (Not ``find_one_and_update``
    returning the old document: SecantusDB 0.7.0b3 finds that document before
    taking the write lock, so two racing writers can both be handed the same
    old state, and a guardian signing during a withdrawal was counted twice.)
    """
    last = events[-1]
    statuses = participant_records(
        events, at=last["at"], own_consent_due=_own_consent_due(participant, last["at"])
    )
    projections = ConsentRecord._get_collection()
    # One read for all the participant's projections; a record re-reads only if it races.
    current = {
        doc["record_id"]: doc
        for doc in projections.find({"participant_id": str(participant.id)}, _PROJECTION_GUARD)
    }
    for status in statuses:
        state = status.state
        if state == RecordState.EXPIRED:
            state = (
                RecordState.AWAITING_SIGNATURES
                if status.signers and any(p.signed_at for p in status.signers.values())
                else RecordState.AWAITING_INFORMATION
            )
        is_partial = state == RecordState.AWAITING_SIGNATURES and any(
            p.signed_at for p in status.signers.values()
        )
        changes = {
            "state": state.value,
            "missing_signers": status.missing_signers,
            "completed_at": status.completed_at,
            "last_seq": last["seq"],
            "is_partial": is_partial,
        }
        before = current.get(status.record_id)
        if (
            before is not None
            and before["last_seq"] == last["seq"] - 1
            and _unchanged(before, changes)
        ):
            # Projected up to the previous event and this one moved nothing (most events:
            # a section read, an answer): skip the fsync'd write. The next writer still
            # finds last_seq below its own and moves it.
            continue
        while before is not None and before["last_seq"] < last["seq"]:
            moved = projections.update_one(
                {"record_id": status.record_id, "last_seq": before["last_seq"]},
                {"$set": changes},
            )
            if moved.matched_count:
                dashboard.count_transition(before, state=state.value, is_partial=is_partial)
                break
            before = projections.find_one({"record_id": status.record_id}, _PROJECTION_GUARD)
        # Otherwise not inserted yet (open_record inserts it after its event), or a later
        # event was projected first.
    _project_withdrawals(participant, events)


def _project_withdrawals(participant: Participant, events: list[dict[str, Any]]) -> None:
    """Add newly withdrawn scopes to the participant and count each once.

    Scopes only accumulate, so ``$addToSet`` guarded by "not there yet" lets
    exactly one writer add a scope, even when a retried request replays an
    older chain.
    """
    known = set(participant.withdrawn_scopes or [])
    recorded = sorted(
        {
            scope
            for event in events
            if event["type"] == "withdrawal.recorded"
            for scope in event["payload"]["scopes"]
        }
        - known
    )
    participants = Participant._get_collection()
    for scope in recorded:
        added = participants.update_one(
            {"_id": participant.id, "withdrawn_scopes": {"$ne": scope}},
            {"$addToSet": {"withdrawn_scopes": scope}},
        )
        if added.modified_count:
            dashboard.count_withdrawal(participant, scope)
    if recorded:
        participant.withdrawn_scopes = sorted(known | set(recorded))
