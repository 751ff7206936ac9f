"""Messages sent of the system's own accord: reminders found by a scan, notices after an event.

Each function queues through :func:`consentkit.services.outbox.enqueue` with a
dedupe key that names the reason (what, about which thing, to whom), so a
trigger run twice (a retried request, two workers scanning at once) queues one
message. Whether and when a message may reach the family (no-contact,
unsubscribed, quiet hours, the daily cap) is decided by the worker at send time.
A study switches each trigger on or off and sets its days (:mod:`consentkit.policy.triggers`).

- time-based, found by :func:`scan` (``consentkit worker`` runs it every
  ``CONSENTKIT_TRIGGER_SCAN_S``): an invitation not used after N days (to the
  signer) and after M days (to the site's staff); reading started N days ago and
  not signed, a completion window ending in N days (to the signer who has not
  signed); a new age band, a new role of the child or the age of competence N
  days ahead (a consent task's due date: to the family and to the site's staff);
  the staff digest is queued by :mod:`consentkit.services.digest`;
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
from consentkit.clock import aware_utc, now_utc
from consentkit.enums import OPEN_STATES, SignerRole
from consentkit.errors import NotFoundError
from consentkit.models.access import Invitation, SignerSession
from consentkit.models.audit import AuditEvent, ConsentRecord
from consentkit.models.outbox import OutboxMessage
from consentkit.models.participant import Participant
from consentkit.models.staff import StaffMember
from consentkit.models.study import Study
from consentkit.models.task import ConsentTask
from consentkit.policy.age import local_date
from consentkit.policy.records import STOPPED_BY
from consentkit.policy.roles import Grant, StaffRole
from consentkit.policy.triggers import LIFECYCLE, Trigger, reminds_family, trigger
from consentkit.services import outbox
from consentkit.services.forms import catalog

#: The event of a signer reading a record's sections (consentkit.services.ceremony).
VIEWED = "information.viewed"
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
    messages = [
        outbox.build_message(
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
    return outbox.queue(messages)


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


def own_copy_ready(
    participant: Participant, *, record_id: str, signer_id: str, now: datetime
) -> list[OutboxMessage]:
    """Tell a family member who signed that their own signed copy is ready (others awaited).

    The interim copy ("signed by you, awaiting others",
    :meth:`consentkit.policy.records.RecordStatus.copy_for`); the final one follows with
    :func:`copy_ready` when everyone has signed. Once per record and signer.
    """
    if not study_trigger(participant.trial_id, "own-copy-ready").enabled:
        return []
    return _to_signers(
        "own-copy-ready", participant, [signer_id], reason=record_id, params={}, now=now
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


def _due_for(
    invitation: Invitation, participant: Participant, study: Mapping[str, Any], now: datetime
) -> list[dict[str, Any]]:
    """Return the messages (``enqueue`` arguments) an unused invitation calls for at ``now``."""
    created = aware_utc(invitation.created_at)
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
                "recipient": {"email": member.email, "timezone": participant.timezone},
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


def _invitations_due(
    studies: Mapping[str, Mapping[str, Any]], now: datetime
) -> list[dict[str, Any]]:
    """Return the messages unused invitations call for at ``now``."""
    # The shortest delay any study uses bounds the invitations worth reading at all.
    delays = [
        t.days
        for s in studies.values()
        for t in (trigger(s, kind) for kind in ("invitation-reminder", "invitation-staff-alert"))
        if t.enabled and t.days is not None
    ]
    if not delays:
        return []
    invitations = list(
        Invitation.objects(
            revoked_at=None, expires_at__gt=now, created_at__lte=now - timedelta(days=min(delays))
        )
    )
    if not invitations:
        return []
    signed_in = {
        (s.signer_id, s.created_at)
        for s in SignerSession.objects(signer_id__in=list({i.signer_id for i in invitations})).only(
            "signer_id", "created_at"
        )
    }
    due: list[dict[str, Any]] = []
    for invitation in invitations:
        created = aware_utc(invitation.created_at)
        if any(sid == invitation.signer_id and aware_utc(at) >= created for sid, at in signed_in):
            continue  # redeemed: the signer signed in since
        participant = Participant.objects(id=invitation.participant_id).first()
        if participant is None or invitation.trial_id not in studies:
            continue
        due.extend(_due_for(invitation, participant, studies[invitation.trial_id], now))
    return due


def _family_message(
    kind: str, participant: Participant, signer_id: str, reason: str, **params: Any
) -> dict[str, Any]:
    """Return the ``enqueue`` arguments of ``kind`` to one family signer, once per ``reason``."""
    return {
        "kind": kind,
        "recipient": {"signer_id": signer_id},
        "dedupe_key": f"{kind}:{reason}:{signer_id}",
        "trial_id": participant.trial_id,
        "participant_id": str(participant.id),
        "params": {"study": participant.trial_id, "link": family_link(), **params},
    }


def _participants(ids: Iterable[str]) -> dict[str, Participant]:
    return {str(p.id): p for p in Participant.objects(id__in=sorted(set(ids)))}


def _open_records(trial_id: str, **ranges: Any) -> list[dict[str, Any]]:
    """Return the open records of a study in ``ranges`` (one index per open state)."""
    fields = {"_id": 0, "record_id": 1, "participant_id": 1, "missing_signers": 1, "due_at": 1}
    found = []
    for state in sorted(OPEN_STATES):
        # Equality on (trial, state) and one range: the (trial_id, state, due_at) and
        # (trial_id, state, opened_at) indexes of the worklist and the dashboard.
        query = {"trial_id": trial_id, "state": state, **ranges}
        found.extend(ConsentRecord._get_collection().find(query, fields))
    return found


def _expiry_due(trial_id: str, study: Mapping[str, Any], now: datetime) -> list[dict[str, Any]]:
    """Return reminders to the signers of records whose window ends within the study's days."""
    setting = trigger(study, "expiry-reminder")
    if not setting.enabled or setting.days is None:
        return []
    records = _open_records(
        trial_id, due_at={"$gt": now, "$lte": now + timedelta(days=setting.days)}
    )
    people = _participants(r["participant_id"] for r in records)
    due: list[dict[str, Any]] = []
    for record in records:
        participant = people.get(record["participant_id"])
        if participant is None or not reminds_family(participant.withdrawn_scopes or []):
            continue
        # The last day as the family counts days: at the site.
        ends = local_date(aware_utc(record["due_at"]), participant.timezone)
        due.extend(
            _family_message(
                "expiry-reminder",
                participant,
                missing["signer_id"],
                record["record_id"],
                date=ends.isoformat(),
            )
            for missing in record.get("missing_signers") or []
            if missing["role"] != SignerRole.INVESTIGATOR
        )
    return due


def _reading_due(trial_id: str, study: Mapping[str, Any], now: datetime) -> list[dict[str, Any]]:
    """Return reminders to signers who began reading ``days`` ago and have not signed.

    The open records opened at least ``days`` ago are read by index, with who has
    still to sign (the projection's ``missing_signers``); signers already reminded
    are dropped by their dedupe keys (one query), and only the remaining records'
    ``information.viewed`` events are read (the ``record_id`` index), for when each
    signer began reading. No participant's whole chain is read.
    """
    setting = trigger(study, "reading-reminder")
    if not setting.enabled or setting.days is None:
        return []
    since = timedelta(days=setting.days)
    waiting: dict[str, tuple[str, str, str]] = {}
    for record in _open_records(trial_id, opened_at={"$lte": now - since}):
        if record.get("due_at") is not None and aware_utc(record["due_at"]) <= now:
            continue  # expired: nothing to finish any more
        for missing in record.get("missing_signers") or []:
            if missing["role"] != SignerRole.INVESTIGATOR:
                key = f"reading-reminder:{record['record_id']}:{missing['signer_id']}"
                waiting[key] = (record["record_id"], missing["signer_id"], record["participant_id"])
    if not waiting:
        return []
    for key in OutboxMessage.objects(dedupe_key__in=list(waiting)).distinct("dedupe_key"):
        del waiting[key]
    began: dict[tuple[str, str], datetime] = {}
    viewed = AuditEvent._get_collection().find(
        {"record_id": {"$in": sorted({r for r, _s, _p in waiting.values()})}, "type": VIEWED},
        {"_id": 0, "record_id": 1, "payload.signer_id": 1, "at": 1},
    )
    for event in viewed:
        seen = (event["record_id"], event["payload"]["signer_id"])
        at = aware_utc(event["at"])
        began[seen] = min(began.get(seen, at), at)
    due_now = [
        (record_id, signer_id, participant_id)
        for record_id, signer_id, participant_id in waiting.values()
        if (record_id, signer_id) in began and began[(record_id, signer_id)] + since <= now
    ]
    people = _participants(p for _r, _s, p in due_now)
    return [
        _family_message("reading-reminder", people[participant_id], signer_id, record_id)
        for record_id, signer_id, participant_id in due_now
        if participant_id in people
        and reminds_family(people[participant_id].withdrawn_scopes or [])
    ]


def _lifecycle_due(trial_id: str, study: Mapping[str, Any], now: datetime) -> list[dict[str, Any]]:
    """Return the reminders of the age transitions coming within each trigger's days.

    An open consent task (``consentkit due`` creates them up to 90 days ahead) of
    a new age band, a new role or the age of competence whose due date is at most
    the trigger's days away and not past: to each family signer, and to each
    member working at the participant's site (to prepare the new form). Not about
    a participant who withdrew entirely; staff are not asked to call a family who
    withdrew contact either (the family's own reminder is skipped when sending).
    """
    settings_ = {reason: trigger(study, kind) for reason, kind in LIFECYCLE.items()}
    ahead = [t.days for t in settings_.values() if t.enabled and t.days is not None]
    if not ahead:
        return []
    today = now.astimezone(UTC).date()
    window = {
        "$gte": datetime.combine(today, datetime.min.time(), tzinfo=UTC),
        "$lte": datetime.combine(today + timedelta(days=max(ahead)), datetime.min.time(), UTC),
    }
    tasks = []
    for site in sorted({s.code for s in catalog(trial_id).study.sites}):
        # Equality on (trial, site, status) and one range on due_date: the tasks index.
        tasks.extend(
            ConsentTask.objects(
                trial_id=trial_id,
                site_code=site,
                status="open",
                reason__in=list(LIFECYCLE),
                due_date__gte=window["$gte"],
                due_date__lte=window["$lte"],
            )
        )
    people = _participants(t.participant_id for t in tasks)
    members: dict[str, list[StaffMember]] = {}
    due: list[dict[str, Any]] = []
    for task in tasks:
        participant = people.get(task.participant_id)
        setting = settings_[task.reason]
        fires = setting.due_before(datetime.combine(task.due_date, datetime.min.time(), UTC))
        if participant is None or fires is None or fires > now:
            continue
        scopes = participant.withdrawn_scopes or []
        if not reminds_family(scopes):
            continue
        day = task.due_date.isoformat()
        due.extend(
            _family_message(setting.kind, participant, str(signer.id), task.key, date=day)
            for signer in outbox.family_recipients(participant)
        )
        if set(scopes) & STOPPED_BY["contact"]:
            continue
        link = (
            f"{settings.public_url()}/staff/studies/{participant.trial_id}"
            f"/participants/{participant.code}"
        )
        if participant.site_code not in members:
            members[participant.site_code] = _site_staff(trial_id, participant.site_code)
        due.extend(
            {
                "kind": "transition-staff-reminder",
                "recipient": {"email": member.email, "timezone": participant.timezone},
                "dedupe_key": f"transition-staff-reminder:{task.key}:{member.id}",
                "trial_id": participant.trial_id,
                "participant_id": str(participant.id),
                "locale": member.locale,
                "params": {
                    "study": participant.trial_id,
                    "code": participant.code,
                    "reason": task.reason,
                    "date": day,
                    "link": link,
                },
            }
            for member in members[participant.site_code]
        )
    return due


def scan(*, now: datetime | None = None) -> ScanReport:
    """Queue the reminders that have come due at ``now``; safe to run anywhere, any time.

    - An invitation still usable (not revoked, not expired) whose signer has not
      signed in since it was created: after the study's ``invitation-reminder``
      days the signer is reminded, after ``invitation-staff-alert`` days the
      site's investigators and staff are told (to call the family).
    - A signer who began reading an open record ``reading-reminder`` days ago and
      has not signed; a record whose completion window ends within
      ``expiry-reminder`` days: each family signer who has not signed is reminded.
    - A new age band, role or the age of competence within the days of its
      reminder: the family and the site's staff.

    Each once per reason and recipient: several workers scanning at once queue
    one message.
    """
    now = now or now_utc()
    report = ScanReport()
    studies: dict[str, Mapping[str, Any]] = {
        s.trial_id: s.settings or {} for s in Study.objects.only("trial_id", "settings")
    }
    due = _invitations_due(studies, now)
    for trial_id, study in sorted(studies.items()):
        due.extend(_reading_due(trial_id, study, now))
        due.extend(_expiry_due(trial_id, study, now))
        due.extend(_lifecycle_due(trial_id, study, now))
    if not due:
        return report
    known = set(
        OutboxMessage.objects(dedupe_key__in=[d["dedupe_key"] for d in due]).distinct("dedupe_key")
    )
    for message in due:
        if message["dedupe_key"] in known:
            report.existing += 1
            continue
        known.add(message["dedupe_key"])
        outbox.enqueue(**message, now=now)
        report.queued.append(message["dedupe_key"])
    return report
