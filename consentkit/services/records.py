"""Consent records: opening one for a form version, and reading what they say.

A record is opened for a participant and a published form version with its
required signers (:func:`open_record`); what happens to it afterwards is in
:mod:`consentkit.services.ceremony` (read, answer, choose, sign, decline) and
:mod:`consentkit.services.participation` (dissent, withdrawal). States are
derived from the events by :mod:`consentkit.policy.records`; nothing sets a
state by hand, and nothing deletes or overwrites a signature, a record or an
event. The rest of the code asks :func:`profile` what is permitted now.

The ``record.opened`` event stores: record_id, form_id, form_kind, version,
locale, content_sha256 per locale, section_ids, items, question_ids,
comprehension, required_signers, reflection_hours, window_days, requirements
(the rule-pack decision snapshot), guardian_exception (the recognised reason fewer
parents sign, with its evidence, or None; it is also its own
``guardian.exception-recorded`` event right after).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from consentkit.clock import now_utc
from consentkit.enums import ENDED_WITHOUT_CONSENT, FormKind, RecordState, SignerRole
from consentkit.errors import ConflictError, EligibilityError, InvalidDataError, NotFoundError
from consentkit.models.audit import ConsentRecord
from consentkit.models.participant import Participant
from consentkit.models.study import ConsentForm, FormVersion
from consentkit.policy.age import local_date
from consentkit.policy.guardians import GuardianException, check_exception
from consentkit.policy.locales import negotiate_locale
from consentkit.policy.records import (
    ParticipationProfile,
    RecordStatus,
    participant_records,
    participation_profile,
    record_status,
)
from consentkit.policy.signing import allowed_methods
from consentkit.policy.versions import version_in_force
from consentkit.policy.witnesses import witnesses_for
from consentkit.services import audit, projection
from consentkit.services.evidence import Actor
from consentkit.services.forms import get_study
from consentkit.services.participants import signers_of
from consentkit.services.requirements import default_signers, own_consent_due, requirements_for


def open_record(
    participant: Participant,
    *,
    form_id: str,
    actor: Actor,
    version: int | None = None,
    signer_ids: Sequence[str] | None = None,
    guardian_exception: GuardianException | None = None,
    now: datetime | None = None,
) -> ConsentRecord:
    """Open a consent record for a form version (by default the one in force today).

    The required signers follow the jurisdiction rules (e.g. both parents in
    FR) unless ``signer_ids`` names them; the rule decision is snapshotted in
    the record so it can be explained years later. Fewer parents than the rule
    asks sign a parental consent only with a ``guardian_exception`` the
    participant's row recognises (:mod:`consentkit.policy.guardians`); it is
    recorded as a ``guardian.exception-recorded`` event and in the snapshot.

    Raises:
        NotFoundError: unknown form or version, or no version in force.
        EligibilityError: required signers are not registered;
            ``guardian-exception-required``.
        InvalidDataError: an exception the row does not recognise, or without evidence.
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
        # With a recorded exception, one registered parent is whom the defaults choose.
        asked = (
            replace(requirements, guardians_required=1)
            if guardian_exception is not None and form.kind == FormKind.PARENTAL_CONSENT
            else requirements
        )
        required = default_signers(form.kind, all_signers, asked)
    else:
        by_id = {str(s.id): s for s in all_signers}
        unknown = [sid for sid in signer_ids if sid not in by_id]
        if unknown:
            raise NotFoundError(
                "Unknown signer(s): %(signers)s.", params={"signers": ", ".join(unknown)}
            )
        required = [by_id[sid] for sid in signer_ids]
    guardians = sum(1 for s in required if s.role == SignerRole.GUARDIAN)
    exception = None
    if form.kind == FormKind.PARENTAL_CONSENT:
        # e.g. FR CSP L1122-2 II allows one parent alone only under stated conditions.
        exception = check_exception(requirements, guardian_exception, guardians_signing=guardians)
    elif guardian_exception is not None:
        raise InvalidDataError(
            "Every parent the rules ask for signs; record no exception.",
            code="guardian-exception-unneeded",
            details={"errors": {"guardian_exception": ["Not needed"]}},
        )
    if SignerRole.INVESTIGATOR in form.signer_roles and not any(
        s.role == SignerRole.INVESTIGATOR for s in required
    ):
        raise EligibilityError(
            "The person who conducts the interview signs too (CTR Art 29(1)).",
            code="investigator-missing",
        )
    wrong = [s.role for s in required if s.role not in form.signer_roles]
    # A signer who cannot read signs with their impartial witness (CTR Art 29(1)), on any form.
    witnesses = witnesses_for(audit.chain_dicts(str(participant.id)), (str(s.id) for s in required))
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
        "required_signers": [
            *({"signer_id": str(s.id), "role": s.role} for s in required),
            *witnesses,
        ],
        "reflection_hours": int(study.settings.get("minimum_reflection_hours", 0)),
        "signature_methods": list(
            allowed_methods(form.signature_methods, study.settings.get("signature_methods"))
        ),
        "window_days": int(study.settings.get("completion_window_days", 30)),
        "requirements": requirements.to_dict(),
        "guardian_exception": None if exception is None else exception.to_dict(),
    }

    def refuse_a_second(events: list[audit.ChainEvent]) -> None:
        for event in events:
            if event["type"] != "record.opened":
                continue
            other = event["payload"]
            if other["form_id"] == form_id and other["version"] == chosen.version:
                state = record_status(event, events, at=now).state
                if state not in ENDED_WITHOUT_CONSENT:
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

    def build(events: list[audit.ChainEvent]) -> audit.Draft:
        refuse_a_second(events)
        return audit.Draft(
            type="record.opened",
            actor=actor.to_dict(),
            payload=payload,
            record_id=record_id,
            state_after=RecordState.AWAITING_INFORMATION,
        )

    event = audit.append(participant, build, now=now)
    if exception is not None:
        # After the record it belongs to, so every reader finds the record first.

        def record_exception(_events: list[audit.ChainEvent]) -> audit.Draft:
            return audit.Draft(
                type="guardian.exception-recorded",
                actor=actor.to_dict(),
                payload={
                    **payload["guardian_exception"],
                    "form_id": form_id,
                    "version": chosen.version,
                    "guardians_signing": guardians,
                    "guardian_rule": requirements.guardian_rule.value,
                    "valid_codes": [c.value for c in requirements.guardian_exceptions],
                    "confidence": requirements.guardian_exceptions_confidence.value,
                },
                record_id=record_id,
            )

        audit.append(participant, record_exception, now=now)

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
    projection.count_record_opened(record)
    return record


# ---------------------------------------------------------------- reading


def _events(participant: Participant) -> list[audit.ChainEvent]:
    return audit.chain_dicts(str(participant.id))


def record_statuses(
    participant: Participant,
    *,
    at: datetime | None = None,
    events: list[audit.ChainEvent] | None = None,
) -> list[RecordStatus]:
    """Return every record of a participant with its derived state at ``at``.

    ``events`` is the participant's chain when the caller has just read it (saves a read).
    """
    at = at or now_utc()
    return participant_records(
        _events(participant) if events is None else events,
        at=at,
        own_consent_due=own_consent_due(participant, at),
    )


def participation(
    participant: Participant,
    *,
    at: datetime | None = None,
    events: Sequence[audit.ChainEvent] | None = None,
) -> ParticipationProfile:
    """Return what is permitted for the participant now (or at ``at``), typed.

    The gate is the decided requirements (rule pack + study overrides) on the
    participant's local date of ``at``: every required consent of that day must
    be in force (:func:`consentkit.policy.records.missing_consents`), so a child
    who turns 12 in NL or 13 in PL is out until they co-sign. ``events`` is the
    participant's chain when the caller has read it already (the permission
    API's batch reads many chains in one query).
    """
    at = at or now_utc()
    requirements = requirements_for(participant, local_date(at, participant.timezone))
    return participation_profile(
        _events(participant) if events is None else events,
        at=at,
        requirements=requirements,
        own_consent_due=own_consent_due(participant, at),
    )


def profile(participant: Participant, *, at: datetime | None = None) -> dict[str, Any]:
    """Return what is permitted for the participant now (or at ``at``): the one call for others."""
    at = at or now_utc()
    result = participation(participant, at=at).to_dict()
    return {"trial_id": participant.trial_id, "participant": participant.code, "at": at, **result}


def history(participant: Participant) -> list[audit.ChainEvent]:
    """Return the complete event history of a participant, for inspectors (11.10(b))."""
    return audit.chain_dicts(str(participant.id))
