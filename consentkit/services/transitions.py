"""Transitions that can be completed: opening the record a consent task asks for.

:mod:`consentkit.services.tasks` creates the tasks (re-consent after a major
version, a new age band, a new minor role such as NL turning 12 or PL 13, the
age of legal competence, CTR Art 32(3)); this module makes each one something
staff and families can act on, in one call (:func:`open_for_task`), used by the
staff API and pages ("open and invite", :func:`open_and_invite`) and by the
family API.

What happened is in the audit trail, and the task's status is derived from it
(:func:`task_status`): a ``task.opened`` event links the task to the record
opened for it, and the task is done once that record is consented (or later
superseded). The ``ConsentTask`` document's ``status`` is the projection the
worklists query; :func:`consentkit.services.projection.refresh_projection`
moves it to done in the same step as the record's own projection.

Event payloads:

* ``task.opened`` (record-scoped): key, reason, form_id, form_kind, version,
  due_date, age (the age the transition is about, for "you are now 12"),
  target_version (a re-consent's new version)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from consentkit.clock import now_utc
from consentkit.enums import ENDED_WITHOUT_CONSENT, FormKind, RecordState, SignerRole
from consentkit.errors import ConflictError, NotFoundError, PermissionDeniedError
from consentkit.labels import LABELS, label_with
from consentkit.models.audit import AuditEvent, ConsentRecord
from consentkit.models.participant import Participant, Signer
from consentkit.models.task import ConsentTask
from consentkit.policy.age import age_on, local_date
from consentkit.policy.records import participant_records
from consentkit.policy.versions import version_in_force
from consentkit.services import access, audit, enrolment, records
from consentkit.services.evidence import Actor
from consentkit.services.forms import catalog
from consentkit.services.projection import TASK_RESOLVING_STATES
from consentkit.services.requirements import (
    FormChoice,
    forms_for,
    own_consent_due,
    required_roles,
    requirements_for,
)

#: Task statuses (``ConsentTask.status``).
OPEN, IN_PROGRESS, DONE = "open", "in-progress", "done"
#: Record states that complete the task they were opened for (one list with the projection).
RESOLVING_STATES = TASK_RESOLVING_STATES
#: The participant's own consent at competence: the young person's form written for
#: this moment first, the adult form where the study has only that (CTR Art 32(3)).
_OWN_KINDS = (FormKind.YOUNG_PERSON_CONSENT, FormKind.ADULT_CONSENT)


@dataclass(frozen=True)
class Why:
    """Why a family is asked to read or sign again: a reason code, and what it is about."""

    reason: str
    age: int | None = None
    version: int | None = None
    #: The kind of form the task asks for: a co-signer's new band is a consent, not an assent.
    form_kind: str | None = None

    def label(self, locale: str | None) -> str:
        """Return the family's wording ("You are now 12"), in ``locale``."""
        return label_with("task_why", self.reason, locale, age=self.age, version=self.version)

    def purpose(self, locale: str | None) -> str:
        """Return what the record was opened for ("Re-consent to version 2"), in ``locale``."""
        specific = f"{self.reason}:{self.form_kind}"
        key = specific if specific in LABELS["task_purpose"] else self.reason
        return label_with("task_purpose", key, locale, age=self.age, version=self.version)

    def to_dict(self, locale: str | None) -> dict[str, Any]:
        """Return the JSON form, with the label in ``locale``."""
        return {
            "reason": self.reason,
            "age": self.age,
            "version": self.version,
            "label": self.label(locale),
        }


@dataclass(frozen=True)
class TaskView:
    """A consent task with its status derived from the events, and why it exists."""

    key: str
    participant_code: str
    site_code: str
    reason: str
    form_kind: str
    form_id: str | None
    version: int | None
    due_date: date
    status: str
    record_id: str | None
    detail: str
    why: Why
    created_at: datetime


@dataclass(frozen=True)
class OpenedTask:
    """The record opened for a task; ``opened`` is False when an earlier call had opened it."""

    task: TaskView
    record: ConsentRecord
    opened: bool


@dataclass(frozen=True)
class Invited:
    """An invitation sent for a task's record: its code and link are shown once."""

    signer_id: str
    role: str
    code: str
    link: str
    expires_at: datetime


@dataclass(frozen=True)
class OpenedAndInvited:
    """The record opened for a task and the invitations sent to its family signers."""

    opened: OpenedTask
    invitations: tuple[Invited, ...]


def why_of(task: ConsentTask, participant: Participant) -> Why:
    """Return why ``task`` exists: the new version, or the age the transition is about."""
    if task.reason == "reconsent":
        return Why("reconsent", version=int(task.version) if task.version else None)
    return Why(
        task.reason, age=age_on(participant.birth_date, task.due_date), form_kind=task.form_kind
    )


def _opened_events(events: Sequence[audit.ChainEvent]) -> dict[str, audit.ChainEvent]:
    """Return the ``task.opened`` events by task key; a later one (re-opened) wins."""
    return {e["payload"]["key"]: e for e in events if e["type"] == "task.opened"}


def task_status(
    key: str,
    events: Sequence[audit.ChainEvent],
    states: dict[str, RecordState],
) -> tuple[str, str | None]:
    """Return a task's status and record from the events: open, in-progress or done.

    ``states`` are the derived states of the participant's records by id.
    """
    opened = _opened_events(events).get(key)
    if opened is None:
        return OPEN, None
    record_id = str(opened["record_id"])
    return (DONE if states.get(record_id) in RESOLVING_STATES else IN_PROGRESS), record_id


def _states(participant: Participant, events: list[audit.ChainEvent], at: datetime) -> Any:
    return {
        s.record_id: s.state
        for s in participant_records(
            events, at=at, own_consent_due=own_consent_due(participant, at)
        )
    }


def _view(
    task: ConsentTask, participant: Participant, *, status: str, record_id: str | None
) -> TaskView:
    """One task as staff and families see it; the caller says where its status comes from."""
    return TaskView(
        key=task.key,
        participant_code=task.participant_code,
        site_code=task.site_code,
        reason=task.reason,
        form_kind=task.form_kind,
        form_id=task.form_id,
        version=int(task.version) if task.version else None,
        due_date=task.due_date,
        status=status,
        record_id=record_id,
        detail=task.detail,
        why=why_of(task, participant),
        created_at=task.created_at,
    )


def _derived_view(
    task: ConsentTask,
    participant: Participant,
    events: list[audit.ChainEvent],
    states: dict[str, RecordState],
) -> TaskView:
    """One task with its status derived from the participant's events."""
    status, record_id = task_status(task.key, events, states)
    return _view(task, participant, status=status, record_id=record_id)


def participant_tasks(
    participant: Participant,
    *,
    at: datetime | None = None,
    events: list[audit.ChainEvent] | None = None,
) -> list[TaskView]:
    """Return a participant's consent tasks with their derived status, soonest due first."""
    at = at or now_utc()
    events = audit.chain_dicts(str(participant.id)) if events is None else events
    states = _states(participant, events, at)
    return [
        _derived_view(task, participant, events, states)
        for task in ConsentTask.objects(participant_id=str(participant.id)).order_by(
            "due_date", "key"
        )
    ]


def site_tasks(
    trial_id: str, *, site_codes: Sequence[str] | None, statuses: Sequence[str] = (OPEN,)
) -> list[ConsentTask]:
    """Return a study's tasks at ``site_codes`` (None: every site) in ``statuses``, soonest first.

    The worklist reads the projected status (:mod:`consentkit.services.projection`);
    the participant's task list derives it from the events.
    """
    catalog(trial_id)  # NotFoundError for an unknown study
    query = ConsentTask.objects(trial_id=trial_id, status__in=list(statuses))
    if site_codes is not None:
        query = query(site_code__in=list(site_codes))
    return list(query.order_by("due_date", "site_code", "participant_code"))


def site_task_views(
    trial_id: str, *, site_codes: Sequence[str] | None, statuses: Sequence[str] = (OPEN,)
) -> list[TaskView]:
    """Return :func:`site_tasks` as views (with why), for the staff API and pages."""
    found = site_tasks(trial_id, site_codes=site_codes, statuses=statuses)
    people = {
        str(p.id): p for p in Participant.objects(id__in=list({t.participant_id for t in found}))
    }
    return [
        _view(task, people[task.participant_id], status=task.status, record_id=task.record_id)
        for task in found
        if task.participant_id in people
    ]


def _task(participant: Participant, key: str) -> ConsentTask:
    task: ConsentTask | None = ConsentTask.objects(
        key=key, participant_id=str(participant.id)
    ).first()
    if task is None:
        raise NotFoundError("This task was not found.", code="task-not-found")
    return task


def _choose(participant: Participant, task: ConsentTask, on: date) -> tuple[str, int | None]:
    """Return the form (and version, None: in force) a task opens on ``on``.

    A re-consent opens the task's new version. A transition asks the one forms
    decision (:func:`consentkit.services.requirements.forms_for`) on the day it is
    opened, which is on or after the due date: the form of the task's kind for the
    participant's role and band then (the own consent at competence: the young
    person's form written for this moment, else the adult one).

    Raises:
        ConflictError: ``no-form-for-task``, the study has no form of that kind in force.
    """
    if task.reason == "reconsent" and task.form_id and task.version:
        return str(task.form_id), int(task.version)
    decision = forms_for(
        participant.trial_id,
        site_code=participant.site_code,
        birth_date=participant.birth_date,
        on=on,
    )
    wanted: tuple[str, ...] = (
        _OWN_KINDS if task.reason == "competence-age" else (str(task.form_kind),)
    )
    chosen: dict[str, FormChoice] = {c.kind.value: c for c in decision.chosen}
    for kind in wanted:
        if kind in chosen:
            return chosen[kind].form_id, None
    if task.reason == "competence-age":
        # The young person's own-consent form is for exactly this moment even from 18,
        # where the decision names the adult form the study may not have.
        cached = catalog(participant.trial_id)
        for form in sorted(cached.forms.values(), key=lambda f: f.form_id):
            if form.kind != FormKind.YOUNG_PERSON_CONSENT:
                continue
            versions = [v for v in cached.versions if v.form_id == form.form_id]
            if version_in_force(versions, on) is not None:
                return str(form.form_id), None
    raise ConflictError(
        "The study has no %(kind)s form in force for %(code)s on %(on)s.",
        code="no-form-for-task",
        params={"kind": task.form_kind, "code": participant.code, "on": on.isoformat()},
    )


def _linked_record(
    participant: Participant, events: list[audit.ChainEvent], key: str, at: datetime
) -> ConsentRecord | None:
    """Return the record an earlier call opened for the task, unless it ended without consent."""
    opened = _opened_events(events).get(key)
    if opened is None:
        return None
    states = _states(participant, events, at)
    if states.get(str(opened["record_id"])) in ENDED_WITHOUT_CONSENT:
        return None  # declined or expired: the task is open again, a new record is needed
    found: ConsentRecord | None = ConsentRecord.objects(record_id=opened["record_id"]).first()
    return found


def _open_record(
    participant: Participant, form_id: str, version: int | None, *, actor: Actor, now: datetime
) -> ConsentRecord:
    """Open the record, or find the open one a crashed earlier call left unlinked."""
    try:
        return records.open_record(
            participant, form_id=form_id, version=version, actor=actor, now=now
        )
    except ConflictError as exc:
        if exc.code != "record-exists":
            raise
        query = ConsentRecord.objects(participant_id=str(participant.id), form_id=form_id)
        if version is not None:
            query = query(version=version)
        statuses = {s.record_id: s.state for s in records.record_statuses(participant, at=now)}
        for found in query.order_by("-opened_at"):
            record: ConsentRecord = found
            if statuses.get(record.record_id) not in ENDED_WITHOUT_CONSENT:
                return record
        raise


def open_for_task(
    participant: Participant,
    task_key: str,
    *,
    actor: Actor,
    now: datetime | None = None,
) -> OpenedTask:
    """Open the record a task asks for, with its default signers, and link the task to it.

    The form is decided on the day (:func:`_choose`); the record is opened by
    :func:`consentkit.services.records.open_record` (signers by the rules); a
    ``task.opened`` event ties task and record together for the timeline, the PDF
    and the task's derived status. Idempotent: a second call (or a retry after a
    crash) returns the same record; a record that ended without consent
    (declined, expired) is replaced by a new one.

    Raises:
        NotFoundError: ``task-not-found``, no such task for this participant.
        ConflictError: ``task-not-due`` (before its due date), ``task-done`` (its record
            is consented), ``no-form-for-task``; ``record-exists`` from open_record.
        EligibilityError: the required signers are not registered (``signers-missing``).
    """
    now = now or now_utc()
    today = local_date(now, participant.timezone)
    task = _task(participant, task_key)
    events = audit.chain_dicts(str(participant.id))
    status, _ = task_status(task.key, events, _states(participant, events, now))
    if status == DONE:
        raise ConflictError(
            "This task is already done: its form was signed.",
            code="task-done",
            params={"key": task.key},
        )
    linked = _linked_record(participant, events, task.key, now)
    if linked is not None:
        view = _derived_view(task, participant, events, _states(participant, events, now))
        return OpenedTask(view, linked, False)
    if today < task.due_date:
        raise ConflictError(
            "This task is due on %(due_date)s; it can be opened from that day.",
            code="task-not-due",
            params={"due_date": task.due_date.isoformat()},
        )
    form_id, version = _choose(participant, task, today)
    record = _open_record(participant, form_id, version, actor=actor, now=now)
    why = why_of(task, participant)
    payload = {
        "key": task.key,
        "reason": task.reason,
        "form_id": record.form_id,
        "form_kind": record.form_kind,
        "version": record.version,
        "due_date": task.due_date.isoformat(),
        "age": why.age,
        "target_version": why.version,
    }

    def build(chain: list[audit.ChainEvent]) -> audit.Draft | AuditEvent:
        for event in chain:
            if (
                event["type"] == "task.opened"
                and event["payload"]["key"] == task.key
                and event["record_id"] == record.record_id
            ):
                found: AuditEvent = AuditEvent.objects(
                    participant_id=str(participant.id), seq=event["seq"]
                ).get()
                return found  # a retry: linked already
        return audit.Draft(
            type="task.opened",
            actor=actor.to_dict(),
            payload=payload,
            record_id=record.record_id,
        )

    _, chain = audit.append_to_chain(participant, build, now=now)
    ConsentTask.objects(key=task.key).update_one(
        set__status=IN_PROGRESS, set__record_id=record.record_id, set__opened_at=now
    )
    task.reload()
    return OpenedTask(
        _derived_view(task, participant, chain, _states(participant, chain, now)), record, True
    )


def family_signers(participant: Participant, record_id: str) -> list[Signer]:
    """Return the record's required signers who sign in as family (not the investigator)."""
    events = audit.chain_dicts(str(participant.id))
    opened = next(e for e in events if e["type"] == "record.opened" and e["record_id"] == record_id)
    ids = [
        s["signer_id"]
        for s in opened["payload"]["required_signers"]
        if s["role"] != SignerRole.INVESTIGATOR
    ]
    by_id = {str(s.id): s for s in Signer.objects(participant_id=str(participant.id))}
    return [by_id[i] for i in ids if i in by_id]


def open_and_invite(
    participant: Participant,
    task_key: str,
    *,
    actor: Actor,
    now: datetime | None = None,
) -> OpenedAndInvited:
    """Open a task's record (:func:`open_for_task`) and invite each of its family signers.

    Each invitation goes through :func:`consentkit.services.enrolment.invite`, so
    it is the usual one-time code, audited as ``invitation.created``.

    Raises:
        ConflictError: ``contact-withdrawn``, checked before the record is opened
            (:func:`consentkit.services.access.check_contact_permitted`).
        the errors of :func:`open_for_task`.
    """
    now = now or now_utc()
    access.check_contact_permitted(participant, now=now)
    opened = open_for_task(participant, task_key, actor=actor, now=now)
    sent = []
    for signer in family_signers(participant, opened.record.record_id):
        made = enrolment.invite(participant, str(signer.id), actor=actor, now=now)
        sent.append(
            Invited(
                signer_id=str(signer.id),
                role=str(signer.role),
                code=made["code"],
                link=made["link"],
                expires_at=made["expires_at"],
            )
        )
    return OpenedAndInvited(opened, tuple(sent))


def may_open(participant: Participant, task: TaskView, signer: Signer, on: date) -> bool:
    """Whether a family signer signs the form a task opens (and so may open it themselves).

    From the roles the rules require for the task's kind on ``on`` (the young
    person's own consent at competence is theirs alone; a re-consent of the
    parents' form is the parents').
    """
    requirements = requirements_for(participant, max(on, task.due_date))
    kind = FormKind.YOUNG_PERSON_CONSENT if task.reason == "competence-age" else task.form_kind
    return SignerRole(signer.role) in required_roles(str(kind), requirements)


def open_as_signer(
    participant: Participant,
    signer: Signer,
    task_key: str,
    *,
    actor: Actor,
    now: datetime | None = None,
) -> OpenedTask:
    """Open a task's record from the family's side, when this signer is one of its signers.

    Raises:
        NotFoundError: ``task-not-found``.
        PermissionDeniedError: ``not-a-signer-of-task``, someone else signs that form.
        the errors of :func:`open_for_task`.
    """
    now = now or now_utc()
    task = _task(participant, task_key)
    view = _derived_view(task, participant, [], {})
    if not may_open(participant, view, signer, local_date(now, participant.timezone)):
        raise PermissionDeniedError(
            "Another member of the family signs this form.", code="not-a-signer-of-task"
        )
    return open_for_task(participant, task_key, actor=actor, now=now)
