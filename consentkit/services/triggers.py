"""Messages sent of the system's own accord: reminders found by a scan, notices after an event.

Each function queues through :func:`consentkit.services.outbox.enqueue` with a
dedupe key that names the reason (what, about which thing, to whom), so a
trigger run twice (a retried request, two workers scanning at once) queues one
message. Whether and when a message may reach the family (no-contact,
unsubscribed, quiet hours, the daily cap) is decided by the worker at send time.
A study switches each trigger on or off and sets its days (:mod:`consentkit.policy.triggers`).

- time-based, found by :func:`scan` (``consentkit worker`` runs it every
  ``CONSENTKIT_TRIGGER_SCAN_S``): an invitation not used after N days (to the
  signer) and after M days (to the site's staff);
- event-based, queued by the service that writes the event: the other guardian's
  turn (:mod:`consentkit.services.ceremony`), a re-consent task and updated
  information (:mod:`consentkit.services.tasks`), the sealed copy ready
  (:mod:`consentkit.services.documents`), an answer to a question
  (:mod:`consentkit.services.questions`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from consentkit import settings
from consentkit.clock import now_utc
from consentkit.errors import NotFoundError
from consentkit.models.access import Invitation, SignerSession
from consentkit.models.outbox import OutboxMessage
from consentkit.models.participant import Participant
from consentkit.models.staff import StaffMember
from consentkit.models.study import Study
from consentkit.policy.records import STOPPED_BY
from consentkit.policy.roles import Grant, StaffRole
from consentkit.policy.triggers import TIME_BASED, Trigger, trigger
from consentkit.services import outbox
from consentkit.services.forms import catalog

#: Staff roles told about a family that has not used its invitation (they work at the site).
SITE_ROLES = (StaffRole.INVESTIGATOR, StaffRole.SITE_STAFF)


def study_trigger(trial_id: str, kind: str) -> Trigger:
    """Return the study's setting for the trigger ``kind`` (its default if the study has none).

    From the study's cached catalog (:func:`consentkit.services.forms.catalog`): a
    signature that triggers a message costs no extra read for it.
    """
    try:
        settings_ = catalog(trial_id).study.settings
    except NotFoundError:
        settings_ = None
    return trigger(settings_, kind)


def family_link() -> str:
    """Return the family pages' address, the link every family message carries."""
    return f"{settings.public_url()}/family/"


def _to_signers(
    kind: str,
    participant: Participant,
    signer_ids: Iterable[str],
    *,
    reason: str,
    params: Mapping[str, Any],
    now: datetime,
) -> list[OutboxMessage]:
    """Queue ``kind`` to each signer, in their language at send time, once per ``reason``."""
    return [
        outbox.enqueue(
            kind,
            {"signer_id": signer_id},
            dedupe_key=f"{kind}:{reason}:{signer_id}",
            trial_id=participant.trial_id,
            participant_id=str(participant.id),
            params={"study": participant.trial_id, "link": family_link(), **params},
            now=now,
        )
        for signer_id in signer_ids
    ]


# ---------------------------------------------------------------- event-based


def _family(participant: Participant) -> list[str]:
    return [str(s.id) for s in outbox.family_recipients(participant)]


def guardian_turn(
    participant: Participant,
    record_id: str,
    waiting: Iterable[str],
    *,
    now: datetime,
) -> list[OutboxMessage]:
    """Tell the guardians in ``waiting`` that the other guardian signed: it is their turn.

    Called by the signature itself (:func:`consentkit.services.ceremony.write_signature`)
    with the ids of the record's guardians who have neither signed nor declined.
    Once per record and guardian.
    """
    if not study_trigger(participant.trial_id, "guardian-turn").enabled:
        return []
    return _to_signers("guardian-turn", participant, waiting, reason=record_id, params={}, now=now)


def reconsent_needed(
    participant: Participant, *, form_id: str, version: int, now: datetime
) -> list[OutboxMessage]:
    """Tell the family a new major version asks for their consent again (a re-consent task)."""
    if not study_trigger(participant.trial_id, "reconsent-needed").enabled:
        return []
    return _to_signers(
        "reconsent-needed",
        participant,
        _family(participant),
        reason=f"{participant.id}:{form_id}:{version}",
        params={"version": version},
        now=now,
    )


def information_updated(
    participant: Participant, *, record_id: str, version: int, now: datetime
) -> list[OutboxMessage]:
    """Tell the family a minor version updated the information they consented on (no signature)."""
    if not study_trigger(participant.trial_id, "information-updated").enabled:
        return []
    return _to_signers(
        "information-updated",
        participant,
        _family(participant),
        reason=f"{record_id}:{version}",
        params={"version": version},
        now=now,
    )


def copy_ready(participant: Participant, *, record_id: str, now: datetime) -> list[OutboxMessage]:
    """Tell the family the sealed copy of their completed consent is in their documents."""
    if not study_trigger(participant.trial_id, "copy-ready").enabled:
        return []
    return _to_signers(
        "copy-ready",
        participant,
        _family(participant),
        reason=record_id,
        params={},
        now=now,
    )


def question_answered(
    participant: Participant, signer_id: str, *, answer_seq: int, now: datetime
) -> list[OutboxMessage]:
    """Tell the signer who asked that the study team answered (the answer is in the family pages).

    The text is not in the message: a message travels through gateways, the
    answer stays behind the family's sign-in.
    """
    if not study_trigger(participant.trial_id, "question-answered").enabled:
        return []
    return _to_signers(
        "question-answered",
        participant,
        [signer_id],
        reason=f"{participant.id}:{answer_seq}",
        params={},
        now=now,
    )


# ---------------------------------------------------------------- time-based: the scan


@dataclass
class ScanReport:
    """What one :func:`scan` queued (dedupe keys), and how many it found already queued."""

    queued: list[str] = field(default_factory=list)
    existing: int = 0


def _site_staff(trial_id: str, site_code: str) -> list[StaffMember]:
    """Return the active members working at ``site_code`` (investigators and site staff)."""
    found = []
    for member in StaffMember.objects(active=True, grants__trial_id=trial_id):
        grants = [Grant.from_dict(g) for g in member.grants]
        if any(
            g.trial_id == trial_id and g.role in SITE_ROLES and g.covers(site_code) for g in grants
        ):
            found.append(member)
    return found


def _aware(moment: datetime) -> datetime:
    """Return ``moment`` as aware UTC (a database connected without ``tz_aware`` gives naive)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _due_for(
    invitation: Invitation, participant: Participant, study: Mapping[str, Any], now: datetime
) -> list[dict[str, Any]]:
    """Return the messages (``enqueue`` arguments) an unused invitation calls for at ``now``."""
    created = _aware(invitation.created_at)
    found: list[dict[str, Any]] = []
    reminder = trigger(study, "invitation-reminder").due_after(created)
    if reminder is not None and reminder <= now:
        found.append(
            {
                "kind": "invitation-reminder",
                "recipient": {"signer_id": invitation.signer_id},
                "dedupe_key": f"invitation-reminder:{invitation.id}",
                "trial_id": participant.trial_id,
                "participant_id": str(participant.id),
                "params": {
                    "study": participant.trial_id,
                    "link": family_link(),
                    "expires": invitation.expires_at.date().isoformat(),
                },
            }
        )
    alert = trigger(study, "invitation-staff-alert").due_after(created)
    # A family who withdrew contact is not called either: staff are not asked to.
    withdrawn = set(participant.withdrawn_scopes or []) & STOPPED_BY["contact"]
    if alert is not None and alert <= now and not withdrawn:
        link = (
            f"{settings.public_url()}/staff/studies/{participant.trial_id}"
            f"/participants/{participant.code}"
        )
        found.extend(
            {
                "kind": "invitation-staff-alert",
                "recipient": {"email": member.email},
                "dedupe_key": f"invitation-staff-alert:{invitation.id}:{member.id}",
                "trial_id": participant.trial_id,
                "participant_id": str(participant.id),
                "locale": member.locale,
                "params": {
                    "study": participant.trial_id,
                    "code": participant.code,
                    "days": (now - created).days,
                    "link": link,
                },
            }
            for member in _site_staff(participant.trial_id, participant.site_code)
        )
    return found


def scan(*, now: datetime | None = None) -> ScanReport:
    """Queue the reminders that have come due at ``now``; safe to run anywhere, any time.

    An invitation still usable (not revoked, not expired) whose signer has not
    signed in since it was created: after the study's ``invitation-reminder``
    days the signer is reminded, after ``invitation-staff-alert`` days the
    site's investigators and staff are told (to call the family). Each once per
    invitation (and member): several workers scanning at once queue one message.
    """
    now = now or now_utc()
    report = ScanReport()
    studies: dict[str, Mapping[str, Any]] = {
        s.trial_id: s.settings or {} for s in Study.objects.only("trial_id", "settings")
    }
    # The shortest delay any study uses bounds the invitations worth reading at all.
    delays = [
        t.days
        for s in studies.values()
        for t in (trigger(s, kind) for kind in TIME_BASED)
        if t.enabled and t.days is not None
    ]
    if not delays:
        return report
    invitations = list(
        Invitation.objects(
            revoked_at=None, expires_at__gt=now, created_at__lte=now - timedelta(days=min(delays))
        )
    )
    if not invitations:
        return report
    signed_in = {
        (s.signer_id, s.created_at)
        for s in SignerSession.objects(signer_id__in=list({i.signer_id for i in invitations})).only(
            "signer_id", "created_at"
        )
    }
    due: list[dict[str, Any]] = []
    for invitation in invitations:
        created = _aware(invitation.created_at)
        if any(sid == invitation.signer_id and _aware(at) >= created for sid, at in signed_in):
            continue  # redeemed: the signer signed in since
        participant = Participant.objects(id=invitation.participant_id).first()
        if participant is None or invitation.trial_id not in studies:
            continue
        due.extend(_due_for(invitation, participant, studies[invitation.trial_id], now))
    known = set(
        OutboxMessage.objects(dedupe_key__in=[d["dedupe_key"] for d in due]).distinct("dedupe_key")
    )
    for message in due:
        if message["dedupe_key"] in known:
            report.existing += 1
            continue
        outbox.enqueue(**message, now=now)
        report.queued.append(message["dedupe_key"])
    return report
