"""Creating consent tasks: re-consent after a major version, and age transitions.

Both entry points are idempotent (a unique key per task), so the import and
``consentkit due`` may run again, or on several machines at once, and still
create each task exactly once.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from mongoengine import NotUniqueError

from consentkit.clock import now_utc
from consentkit.enums import FormKind, MinorRole, RecordState
from consentkit.models.audit import AuditEvent, ConsentRecord
from consentkit.models.participant import Participant
from consentkit.models.study import ConsentForm, FormVersion
from consentkit.models.task import ConsentTask
from consentkit.policy.age import date_of_age
from consentkit.policy.jurisdiction import Requirements, Transition, TransitionReason
from consentkit.services import audit, triggers
from consentkit.services.evidence import SYSTEM
from consentkit.services.requirements import forms_for, requirements_for

log = logging.getLogger(__name__)

#: The form the participant (not the parents) signs because of a transition. Reaching
#: competence is the own consent (CTR Art 32(3)); a new minor role or a new age band is
#: read from the role on the transition date (:data:`_KIND_FOR_ROLE`).
_KIND_FOR_REASON = {
    "competence-age": FormKind.YOUNG_PERSON_CONSENT,
}
#: The form a minor signs in their new role or band: NL turning 12 or PL turning 13 co-sign
#: with the parents (the co-consent, not the own consent at competence); a child who starts
#: to assent, or enters a new band, gets the assent document of their band; a co-signer who
#: enters a new band gets the co-consent written for it (DE: 7-11, then 12-17).
_KIND_FOR_ROLE = {
    MinorRole.INFORMED: FormKind.CHILD_ASSENT,
    MinorRole.ASSENT: FormKind.CHILD_ASSENT,
    MinorRole.CO_SIGN: FormKind.YOUNG_PERSON_CO_CONSENT,
    MinorRole.OWN_CONSENT_WITH_GUARDIAN: FormKind.YOUNG_PERSON_CO_CONSENT,
    MinorRole.OWN_CONSENT: FormKind.YOUNG_PERSON_CONSENT,
}


#: Roles whose document is a co-consent, not the band's assent document: a new band
#: changes their form only where the study writes a co-consent for a band.
_CO_SIGNING = frozenset({MinorRole.CO_SIGN, MinorRole.OWN_CONSENT_WITH_GUARDIAN})


def _kind_for(participant: Participant, reason: str, on: date) -> FormKind:
    """Return the form kind a transition on ``on`` asks the participant to sign."""
    if reason in _KIND_FOR_REASON:
        return _KIND_FOR_REASON[reason]
    return _KIND_FOR_ROLE[requirements_for(participant, on).minor_role]


def _co_consent_form(participant: Participant, on: date) -> str | None:
    """Return the co-consent form the one forms decision picks on ``on`` (None: none)."""
    decision = forms_for(
        participant.trial_id,
        site_code=participant.site_code,
        birth_date=participant.birth_date,
        on=on,
    )
    return next(
        (c.form_id for c in decision.chosen if c.kind is FormKind.YOUNG_PERSON_CO_CONSENT), None
    )


def _next_change(
    participant: Participant, requirements: Requirements, until: date
) -> Transition | None:
    """Return the next change that asks something of the participant, up to ``until``.

    The rules' :attr:`~consentkit.policy.jurisdiction.Requirements.next_transition`,
    except for a co-signing minor whose study writes its co-consent per age band:
    the policy cannot know that a band chooses a co-consent (NL 12-15 read one
    unbanded co-consent, nothing at 14), so the forms decision is asked on each
    band boundary before the rules' next change, and a different co-consent form
    there is an ``age-band`` transition (DE: the 7-11 co-consent, then 12-17).
    """
    transition = requirements.next_transition
    if requirements.minor_role not in _CO_SIGNING:
        return transition
    band_now = requirements.age_band.id if requirements.age_band else None
    form_now: str | None = None
    for age in range(requirements.age + 1, requirements.competence_age):
        when = date_of_age(participant.birth_date, age)
        if when > until or (transition is not None and when >= transition.date):
            break
        later = requirements_for(participant, when)
        if (later.age_band.id if later.age_band else None) == band_now:
            continue
        form_now = form_now or _co_consent_form(participant, requirements.on)
        if later.minor_role in _CO_SIGNING and _co_consent_form(participant, when) != form_now:
            return Transition(when, TransitionReason.AGE_BAND)
        band_now = later.age_band.id if later.age_band else None
    return transition


@dataclass(frozen=True)
class CreatedTask:
    """One task a run created: who, why, what to sign and by when (``consentkit due`` lists it)."""

    key: str
    participant_code: str
    site_code: str
    reason: str
    form_kind: str
    due_date: date
    form_id: str | None = None
    version: str | None = None

    def line(self) -> str:
        """Return the task on one line: ``<code> (<site>): <reason>, <form kind>, due <date>``."""
        form = f" ({self.form_id} v{self.version})" if self.form_id else ""
        return (
            f"{self.participant_code} ({self.site_code}): {self.reason}, "
            f"{self.form_kind}{form}, due {self.due_date.isoformat()}"
        )

    def as_dict(self) -> dict[str, str | None]:
        """Return the task's fields as JSON values (the date in ISO 8601)."""
        return {**asdict(self), "due_date": self.due_date.isoformat()}


@dataclass
class TaskReport:
    """What a run created (and how many it found already there).

    ``created`` holds the keys of the new tasks, ``tasks`` the tasks themselves, in
    the order created, so a run can say exactly what it asked of whom.
    """

    created: list[str] = field(default_factory=list)
    existing: int = 0
    tasks: list[CreatedTask] = field(default_factory=list)

    def add(self, task: ConsentTask) -> None:
        """Count a task this run inserted."""
        self.created.append(task.key)
        self.tasks.append(
            CreatedTask(
                key=task.key,
                participant_code=task.participant_code,
                site_code=task.site_code,
                reason=task.reason,
                form_kind=task.form_kind,
                due_date=task.due_date,
                form_id=task.form_id,
                version=task.version,
            )
        )

    def summary(self) -> str:
        """Return a one-line account."""
        return f"{len(self.created)} task(s) created, {self.existing} already existed"


def _create(report: TaskReport, participant: Participant, *, now: datetime, **fields: Any) -> None:
    task = ConsentTask(
        trial_id=participant.trial_id,
        participant_id=str(participant.id),
        participant_code=participant.code,
        site_code=participant.site_code,
        created_at=now,
        **fields,
    )
    try:
        task.save(force_insert=True)
    except NotUniqueError:
        report.existing += 1
        return
    report.add(task)
    audit.append(
        participant,
        lambda _events: audit.Draft(
            type="task.created",
            actor=SYSTEM.to_dict(),
            payload={
                "key": task.key,
                "reason": task.reason,
                "form_kind": task.form_kind,
                "due_date": task.due_date.isoformat(),
                "detail": task.detail,
            },
        ),
        now=now,
    )


def create_reconsent_tasks(
    trial_id: str, form_id: str, version: int, *, now: datetime | None = None
) -> TaskReport:
    """Ask everyone consented on an older version of a form to consent to ``version``.

    Only for a ``major`` change (a ``minor`` one creates none: FDA MyStudies' lesson,
    docs/design-lessons.md#major-minor-changes), and only at sites whose languages the
    new version has.
    """
    now = now or now_utc()
    report = TaskReport()
    new = (
        FormVersion.objects(trial_id=trial_id, form_id=form_id, version=version)
        .only("change", "content_sha256", "effective_from")
        .first()
    )
    form = ConsentForm.objects(trial_id=trial_id, form_id=form_id).first()
    if new is None or form is None or new.change != "major":
        return report
    locales = set(new.content_sha256)
    for record in ConsentRecord.objects(
        trial_id=trial_id, form_id=form_id, version__lt=version, state=RecordState.CONSENTED
    ):
        if record.locale not in locales and record.locale.split("-")[0] not in locales:
            continue  # no approved text in the family's language yet: nothing to sign
        participant = Participant.objects(id=record.participant_id).first()
        if participant is None:
            continue
        _create(
            report,
            participant,
            now=now,
            key=f"reconsent:{record.participant_id}:{form_id}:{version}",
            reason="reconsent",
            form_kind=form.kind,
            form_id=form_id,
            version=str(version),
            due_date=new.effective_from or now.date(),
            detail=f"{form_id} v{version} is a major change; consented on v{record.version}",
        )
        # The family is told where the task is created (once per participant and version).
        triggers.reconsent_needed(participant, form_id=form_id, version=version, now=now)
    return report


def inform_of_minor_version(
    trial_id: str, form_id: str, version: int, *, now: datetime | None = None
) -> TaskReport:
    """Tell families who consented on an older version about a minor change: no signature.

    A minor change (a typo, a new phone number) needs no new consent (FDA
    MyStudies' lesson, docs/design-lessons.md#major-minor-changes), but the family
    is given the new text: one ``version.informed`` event per consented record
    (form_id, version, previous_version, change_summary), on that record, which
    the family's task list shows as "updated information". Idempotent: a record
    already told about this version is not told again (``report.existing``).
    """
    now = now or now_utc()
    report = TaskReport()
    new = FormVersion.objects(trial_id=trial_id, form_id=form_id, version=version).first()
    if new is None or new.change != "minor":
        return report
    for record in ConsentRecord.objects(
        trial_id=trial_id, form_id=form_id, version__lt=version, state=RecordState.CONSENTED
    ):
        participant = Participant.objects(id=record.participant_id).first()
        if participant is None:
            continue
        told = _inform(participant, record, new, now=now)
        if told:
            report.created.append(f"informed:{record.record_id}:{form_id}:{version}")
            triggers.information_updated(
                participant, record_id=record.record_id, version=version, now=now
            )
        else:
            report.existing += 1
    return report


def _inform(
    participant: Participant, record: ConsentRecord, new: FormVersion, *, now: datetime
) -> bool:
    """Append ``version.informed`` for one record, unless the chain already has it."""
    added = True

    def build(events: list[audit.ChainEvent]) -> audit.Draft | AuditEvent:
        nonlocal added
        for event in events:
            if (
                event["type"] == "version.informed"
                and event["record_id"] == record.record_id
                and event["payload"]["version"] == new.version
            ):
                added = False
                found: AuditEvent = AuditEvent.objects(
                    participant_id=str(participant.id), seq=event["seq"]
                ).get()
                return found
        return audit.Draft(
            type="version.informed",
            actor=SYSTEM.to_dict(),
            payload={
                "form_id": new.form_id,
                "version": new.version,
                "previous_version": record.version,
                "change_summary": new.change_summary or "",
                "effective_from": new.effective_from.isoformat() if new.effective_from else None,
            },
            record_id=record.record_id,
        )

    audit.append(participant, build, now=now)
    return added


def create_due_tasks(
    *, on: date, horizon_days: int = 90, trial_id: str | None = None, now: datetime | None = None
) -> TaskReport:
    """Create tasks for participants whose requirements change within the horizon.

    A new assent band (or, for a co-signer, a new banded co-consent:
    :func:`_next_change`), co-signing age or the age of legal competence (CTR Art
    32(3)) each become a task due on that date; on the competence date itself
    participation is derived as ``suspended-awaiting-own-consent`` until the
    young person signs (consentkit.policy.records).
    """
    now = now or now_utc()
    report = TaskReport()
    until = on + timedelta(days=horizon_days)
    query = Participant.objects(trial_id=trial_id) if trial_id else Participant.objects
    for participant in query.no_cache():
        requirements = requirements_for(participant, on)
        transition = _next_change(participant, requirements, until)
        if transition is None or transition.date > until:
            continue
        reason = transition.reason.value
        if (
            reason == "competence-age"
            and not requirements_for(participant, transition.date).reconsent_at_competence
        ):
            # Where the row says no re-consent at competence (NL: the co-signature of 12-15
            # stands, CCMO), reaching it asks nothing: no task, nothing suspended.
            continue
        _create(
            report,
            participant,
            now=now,
            key=f"transition:{participant.id}:{reason}:{transition.date.isoformat()}",
            reason=reason,
            form_kind=_kind_for(participant, reason, transition.date).value,
            due_date=transition.date,
            detail=f"requirements change on {transition.date.isoformat()} ({reason})",
        )
    return report
