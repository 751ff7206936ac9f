"""The signing ceremony on an open record: read, answer, choose, sign or decline.

Each step is an event appended to the participant's chain by
:func:`append_record_event`, after its check has run against the chain just
read, and the record projection is refreshed in the same call
(:mod:`consentkit.services.projection`). The order of the steps is one rule,
:func:`next_step`: the ceremony enforces it (21 CFR 11.10(f)) and the signer's
task list shows it.

Event payloads:

* ``information.viewed``: signer_id, locale, sections [{id, seconds}], client_at
* ``comprehension.answered``: signer_id, locale, answers, score, passed
* ``items.chosen``: signer_id, choices {item_id: bool}
* ``signature.added``: the signature manifestation and binding (see :func:`sign`)
* ``consent.declined``: signer_id, reason
* ``assent.dissent`` (with the record's id): signer_id, expressed_by, channel, note, reason,
  form_kind: the minor's "no" on their own form (:func:`decline`), in the shape of
  :func:`consentkit.services.participation.record_dissent`'s event
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from babel import UnknownLocaleError
from babel.lists import format_list
from pymongo.errors import PyMongoError

from consentkit.authoring.reader import canonical_json
from consentkit.clock import now_utc
from consentkit.enums import (
    ENDED_WITHOUT_CONSENT,
    OPEN_STATES,
    FormKind,
    RecordState,
    SignatureMethod,
    SignerRole,
)
from consentkit.errors import ConflictError, EligibilityError, InvalidDataError
from consentkit.i18n import N_, gettext
from consentkit.labels import label, label_with
from consentkit.models.audit import AuditEvent
from consentkit.models.participant import Participant, Signer
from consentkit.models.study import FormVersion
from consentkit.policy.age import local_date
from consentkit.policy.children import CHILD_METHODS
from consentkit.policy.items import refuse_unknown_items
from consentkit.policy.records import (
    MINOR_OWN_KINDS,
    RecordStatus,
    SignerProgress,
    information_complete,
    opened_event,
    record_status,
)
from consentkit.policy.signing import (
    DEFAULT_METHODS,
    check_act,
    check_method,
    check_printed_name,
    reflection_applies,
    reflection_until,
)
from consentkit.policy.versions import version_in_force
from consentkit.policy.witnesses import witnessed_on_record
from consentkit.services import audit, jobs, participants, triggers
from consentkit.services.evidence import Actor, SignatureInput
from consentkit.services.forms import catalog
from consentkit.services.projection import refresh_after_consent, refresh_projection
from consentkit.services.requirements import requirements_for
from consentkit.services.signatures import render_svg, validate_strokes

log = logging.getLogger(__name__)

#: What an impartial witness signs (CTR Art 29(1); E6(R3) 2.8.7).
WITNESS_STATEMENT = N_(
    "I was present while the information was read out and explained to the person who "
    "cannot read; they had the chance to ask questions and gave their consent freely."
)

#: ``check(opened, events, status, at)``: refuse (raise) or return the event's payload, or
#: an event already stored (an idempotent retry). Payloads are open-ended JSON per event type
#: (module docstring), hence ``dict[str, Any]``.
Check = Callable[
    [audit.ChainEvent, list[audit.ChainEvent], RecordStatus, datetime],
    dict[str, Any] | AuditEvent,
]


@dataclass(frozen=True)
class QuestionFeedback:
    """One comprehension question as answered: right or not, and why when not."""

    id: str
    correct: bool
    #: The question's explanation, given only for a wrong answer.
    explanation: str | None


@dataclass(frozen=True)
class ComprehensionFeedback:
    """What :func:`answer_questions` tells the signer: the score and each question's feedback."""

    score: int
    passed: bool
    pass_mark: int
    results: tuple[QuestionFeedback, ...]

    @property
    def all_correct(self) -> bool:
        """Whether every answer was right (a pass may still have wrong answers)."""
        return all(r.correct for r in self.results)

    def to_dict(self) -> dict[str, object]:
        """Return the JSON form the signer API answers with."""
        return {
            "score": self.score,
            "passed": self.passed,
            "all_correct": self.all_correct,
            "pass_mark": self.pass_mark,
            "results": [
                {"id": r.id, "correct": r.correct, "explanation": r.explanation}
                for r in self.results
            ],
        }


class Step(StrEnum):
    """What a signer does next on a record, in the order the ceremony enforces."""

    READ = "read"
    QUESTIONS = "questions"
    CHOICES = "choices"
    SIGN = "sign"
    DONE = "done"


def record_steps(opened: Mapping[str, Any]) -> tuple[Step, ...]:
    """Return the steps a family signer takes on a record, in order (the step indicator).

    ``opened`` is the record's ``record.opened`` event. Questions come only when
    the form requires comprehension, choices only when it has items (21 CFR
    11.10(f): the steps are taken in this order).
    """
    payload = opened["payload"]
    steps = [Step.READ]
    if (payload["comprehension"] or {}).get("required"):
        steps.append(Step.QUESTIONS)
    if payload["items"]:
        steps.append(Step.CHOICES)
    steps.append(Step.SIGN)
    return tuple(steps)


def next_step(status: RecordStatus, signer_id: str, opened: Mapping[str, Any]) -> Step:
    """Return the signer's next step: the first of :func:`record_steps` not done yet."""
    progress = status.signers[signer_id]
    if progress.signed_at:
        return Step.DONE
    done = {
        Step.READ: information_complete(progress, status.section_ids),
        Step.QUESTIONS: progress.comprehension_passed,
        Step.CHOICES: progress.choices is not None,
        Step.SIGN: False,
    }
    return next(step for step in record_steps(opened) if not done[step])


#: How a family member names each missing signer, by who is reading: (reader, missing) role.
_OTHERS: dict[tuple[str, str], str] = {
    (SignerRole.GUARDIAN, SignerRole.GUARDIAN): "other-parent",
    (SignerRole.GUARDIAN, SignerRole.PARTICIPANT): "child",
    (SignerRole.PARTICIPANT, SignerRole.GUARDIAN): "parents",
}
#: Missing signers named the same whoever reads.
_STAFF_SIGNERS: dict[str, str] = {
    SignerRole.INVESTIGATOR: "study-doctor",
    SignerRole.WITNESS: "witness",
}


@dataclass(frozen=True)
class FamilyStatus:
    """A record's state as a family member reads it: their turn, or whom it waits for."""

    #: A key of the ``family_status`` vocabulary (:mod:`consentkit.labels`).
    key: str
    #: Keys of the ``family_waiting_for`` vocabulary, when ``key`` is ``waiting``.
    waiting_for: tuple[str, ...] = ()

    def text(self, locale: str | None) -> str:
        """Return the status in the reader's words and language."""
        if self.key != "waiting":
            return label("family_status", self.key, locale)
        people = [label("family_waiting_for", who, locale) for who in self.waiting_for]
        try:
            joined = format_list(people, locale=(locale or "en").replace("-", "_"))
        except (UnknownLocaleError, ValueError):
            joined = ", ".join(people)
        return label_with("family_status", "waiting", locale, people=joined)


def family_status(status: RecordStatus, signer_id: str, step: Step) -> FamilyStatus:
    """Return what a record waits for, told to ``signer_id`` in their own words.

    Before this signer has signed, it is their turn (whatever others did); after,
    it waits for the others still missing ("the other parent", "the study
    doctor"), never for "the information to be read". A closed record says how
    it ended.
    """
    if status.state not in OPEN_STATES:
        return FamilyStatus(status.state.value)
    if step is not Step.DONE:
        return FamilyStatus("your-turn")
    reader = status.signers[signer_id].role
    waiting: list[str] = []
    for missing in status.missing_signers:
        role = missing["role"]
        who = _OTHERS.get((reader, role)) or _STAFF_SIGNERS.get(role, "study-team")
        if who not in waiting:
            waiting.append(who)
    return FamilyStatus("waiting", tuple(waiting)) if waiting else FamilyStatus("your-turn")


@dataclass(frozen=True)
class Written:
    """What a ceremony step wrote: the event, and the record as it stands after it.

    Returned so that a caller answering the signer (the API's ``next_step``)
    need not read the chain again. ``event`` is the stored event, or the first
    one when an idempotent retry found it already written.
    """

    event: AuditEvent
    #: The record's ``record.opened`` event.
    opened: audit.ChainEvent
    #: The record's own status after the event (:func:`record_status`; cross-record states
    #: such as superseded are the projection's and never change a signer's next step).
    status: RecordStatus

    def next_step(self, signer_id: str) -> Step:
        """Return the signer's next step on this record after this event (:func:`next_step`)."""
        return next_step(self.status, signer_id, self.opened)


def append_record_event(
    participant: Participant,
    record_id: str,
    *,
    type: str,
    actor: Actor,
    now: datetime | None,
    check: Check,
) -> AuditEvent:
    """Append a record event after ``check(opened, events, status, at)`` returns its payload.

    See :func:`write_record_event`, which also returns the record after the event.
    """
    return write_record_event(
        participant, record_id, type=type, actor=actor, now=now, check=check
    ).event


def write_record_event(
    participant: Participant,
    record_id: str,
    *,
    type: str,
    actor: Actor,
    now: datetime | None,
    check: Check,
) -> Written:
    """Append a record event after ``check(opened, events, status, at)`` returns its payload.

    The check runs against the record's events just read (:func:`record_scope`),
    so every check happens before the write; the event records the record's
    state before and after it, and the projection is refreshed from the events
    written. Returns the event with the record's status after it.
    """

    def build(events: list[audit.ChainEvent]) -> audit.Draft | AuditEvent:
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

    event, events = audit.append_to_chain(
        participant, build, now=now, scope=record_scope(record_id)
    )
    opened = opened_event(events, record_id)
    status = record_status(opened, events, at=events[-1]["at"] if events else event.at)
    retried = events[-1]["seq"] != event.seq  # an idempotent retry returned the first event
    if not retried and event.state_after == RecordState.CONSENTED:
        # A consent reaches other records (supersession, suspension): moved from their
        # projections, without a read of the whole chain, unless a dissent is on it (the
        # consent may lift it, which re-derives the records opened before it).
        if not refresh_after_consent(participant, events, status):
            refresh_projection(participant, audit.chain_dicts(str(participant.id)))
    elif retried or event.type == "assent.dissent":
        # A dissent reaches every record opened before it. A retry moves forward what a
        # request that died after its write left behind.
        refresh_projection(participant, audit.chain_dicts(str(participant.id)))
    else:
        refresh_projection(participant, events, record_id=record_id)
    if not retried and event.state_after == RecordState.CONSENTED:
        _render_ahead(participant, record_id, opened, events)
    return Written(event, opened, status)


def _render_ahead(
    participant: Participant,
    record_id: str,
    opened: audit.ChainEvent,
    events: Sequence[audit.ChainEvent],
) -> None:
    """Queue the sealed PDF of a record that just completed, in each language signed in.

    An optimisation, not part of the consent: the signature is written, and a
    PDF not rendered ahead is rendered on its first download. So a database
    error here is logged, never raised to the signer whose signature stands.
    """
    locales = {opened["payload"]["locale"]} | {
        e["payload"]["locale"]
        for e in events
        if e["type"] == "signature.added" and e.get("record_id") == record_id
    }
    try:
        jobs.render_consent_ahead(participant, record_id, locales)
    except PyMongoError:
        log.warning("record %s: its PDF was not queued to render ahead", record_id, exc_info=True)


#: Events without the record's id that still decide a record's state or a ceremony check:
#: dissent and withdrawal apply to every record (:func:`record_status`), and a signature's
#: idempotency key is unique across the participant's records (:func:`sign`).
PARTICIPANT_WIDE_TYPES = ("assent.dissent", "withdrawal.recorded", "signature.added")


def record_scope(record_id: str) -> dict[str, Any]:
    """Return the filter on a participant's events that one record's ceremony needs.

    Every check of the ceremony and the record's state (:func:`record_status`)
    gives the same answer on these events as on the whole chain, so a step costs
    the same however long the participant's chain has grown (each branch is read
    on its own index: :func:`consentkit.services.audit._scoped`).
    """
    return {"$or": [{"record_id": record_id}, {"type": {"$in": list(PARTICIPANT_WIDE_TYPES)}}]}


def require_open(status: RecordStatus, signer_id: str) -> SignerProgress:
    """Return the signer's progress on a record that still takes their steps.

    Raises:
        ConflictError: ``record-closed``, the record ended or is consented.
        EligibilityError: ``not-a-signer``, this person does not sign this record.
    """
    if status.state in ENDED_WITHOUT_CONSENT or status.state == RecordState.CONSENTED:
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
    """Record that a signer viewed sections; return the event (see :func:`write_views`)."""
    return write_views(
        participant,
        record_id,
        signer_id=signer_id,
        locale=locale,
        sections=sections,
        actor=actor,
        client_at=client_at,
        now=now,
    ).event


def write_views(
    participant: Participant,
    record_id: str,
    *,
    signer_id: str,
    locale: str,
    sections: Sequence[dict[str, Any]],
    actor: Actor,
    client_at: datetime | None = None,
    now: datetime | None = None,
) -> Written:
    """Record that a signer viewed sections (batched, with seconds spent; resumable).

    Raises:
        InvalidDataError: an unknown section id or a negative time.
    """

    def check(
        opened: audit.ChainEvent,
        _e: list[audit.ChainEvent],
        status: RecordStatus,
        _at: datetime,
    ) -> dict[str, Any]:
        require_open(status, signer_id)
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

    return write_record_event(
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
) -> ComprehensionFeedback:
    """Check comprehension answers; return the feedback (see :func:`write_answers`)."""
    return write_answers(
        participant,
        record_id,
        signer_id=signer_id,
        locale=locale,
        answers=answers,
        actor=actor,
        now=now,
    )[0]


def write_answers(
    participant: Participant,
    record_id: str,
    *,
    signer_id: str,
    locale: str,
    answers: dict[str, str],
    actor: Actor,
    now: datetime | None = None,
) -> tuple[ComprehensionFeedback, Written]:
    """Check comprehension answers; return score, pass, and explanations for wrong answers.

    Raises:
        EligibilityError: the information was not read yet (enforced order, 11.10(f)).
    """
    feedback: list[ComprehensionFeedback] = []  # the check reruns if the chain moved: last wins

    def check(
        opened: audit.ChainEvent,
        _e: list[audit.ChainEvent],
        status: RecordStatus,
        _at: datetime,
    ) -> dict[str, Any]:
        progress = require_open(status, signer_id)
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
        results = tuple(
            QuestionFeedback(
                id=qid,
                correct=answers.get(qid) == q["correct"],
                explanation=None if answers.get(qid) == q["correct"] else q["explanation"],
            )
            for qid, q in questions.items()
        )
        score = sum(r.correct for r in results)
        pass_mark = int((data["comprehension"] or {}).get("pass_mark", len(questions)))
        feedback[:] = [
            ComprehensionFeedback(
                score=score, passed=score >= pass_mark, pass_mark=pass_mark, results=results
            )
        ]
        return {
            "signer_id": signer_id,
            "locale": locale,
            "answers": dict(answers),
            "score": score,
            "passed": score >= pass_mark,
        }

    written = write_record_event(
        participant, record_id, type="comprehension.answered", actor=actor, now=now, check=check
    )
    return feedback[-1], written


def choose_items(
    participant: Participant,
    record_id: str,
    *,
    signer_id: str,
    choices: dict[str, bool],
    actor: Actor,
    now: datetime | None = None,
) -> AuditEvent:
    """Record a signer's yes/no for each item; return the event (see :func:`write_choices`)."""
    return write_choices(
        participant, record_id, signer_id=signer_id, choices=choices, actor=actor, now=now
    ).event


def write_choices(
    participant: Participant,
    record_id: str,
    *,
    signer_id: str,
    choices: dict[str, bool],
    actor: Actor,
    now: datetime | None = None,
) -> Written:
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

    def check(
        opened: audit.ChainEvent,
        _e: list[audit.ChainEvent],
        status: RecordStatus,
        _at: datetime,
    ) -> dict[str, Any]:
        progress = require_open(status, signer_id)
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
            refuse_unknown_items(choices, ids)
        return {"signer_id": signer_id, "choices": {k: bool(v) for k, v in choices.items()}}

    return write_record_event(
        participant, record_id, type="items.chosen", actor=actor, now=now, check=check
    )


def _require_prepared(
    progress: SignerProgress, status: RecordStatus, opened: audit.ChainEvent, *, need_items: bool
) -> None:
    """Enforce the ceremony order (:func:`next_step`) for a non-investigator.

    The investigator countersigns what the family was shown and did, so their
    own signature needs none of the family's steps.
    """
    if progress.role in (SignerRole.INVESTIGATOR, SignerRole.WITNESS):
        return
    step = next_step(status, progress.signer_id, opened)
    if step is Step.READ:
        raise EligibilityError("Read every section first.", code="information-incomplete")
    if step is Step.QUESTIONS:
        raise EligibilityError(
            "Answer the questions about the study first.", code="comprehension-required"
        )
    if need_items and step is Step.CHOICES:
        raise EligibilityError("Choose yes or no for each item first.", code="items-required")


def sign(
    participant: Participant,
    record_id: str,
    signature: SignatureInput,
    *,
    actor: Actor,
    now: datetime | None = None,
) -> AuditEvent:
    """Add a signature; return its event (see :func:`write_signature`, which raises)."""
    return write_signature(participant, record_id, signature, actor=actor, now=now).event


def write_signature(
    participant: Participant,
    record_id: str,
    signature: SignatureInput,
    *,
    actor: Actor,
    now: datetime | None = None,
) -> Written:
    """Add a signature, bound to the exact text, language, version and choices signed.

    Submitting again with the same idempotency key returns the first signature.
    The binding hash covers the content SHA-256, locale, version, item choices,
    signer, printed name, meaning and time (21 CFR 11.50, 11.70).

    Raises:
        EligibilityError: ceremony order not followed, stale one-time code, a
            required item refused, or signing inside the reflection time without
            a justification. ``code`` says which, so an app can act on it.
        ConflictError: the record is closed, the signer already signed, the
            content hash is not what this record shows in that language, or
            ``version-superseded``: a later version of the form is in force at
            the participant's site on the signing day (:func:`check_version_in_force`).
        InvalidDataError: malformed strokes or an empty printed name.
    """
    check_act(signature.method, has_strokes=bool(signature.strokes), i_sign=signature.i_sign)
    if signature.method == SignatureMethod.DRAWN:
        validate_strokes(signature.strokes)
    printed_name = signature.printed_name.strip()
    if not printed_name:
        raise InvalidDataError("Type your name as you sign.", code="printed-name-required")
    registered = signature.registered_name
    if registered is None:
        signer = Signer.objects(participant_id=str(participant.id), id=signature.signer_id).first()
        registered = participants.signer_identity(signer)["name"] if signer else printed_name

    def check(
        opened: audit.ChainEvent,
        events: list[audit.ChainEvent],
        status: RecordStatus,
        at: datetime,
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
        progress = require_open(status, signature.signer_id)
        if progress.signed_at is not None:
            raise ConflictError("This person has already signed.", code="already-signed")
        data = opened["payload"]
        if data["content_sha256"].get(signature.locale) != signature.content_sha256:
            raise ConflictError(
                "The text you were shown is not the text of this record; reload the form.",
                code="content-mismatch",
            )
        _require_prepared(progress, status, opened, need_items=True)
        family_signed = any(
            p.signed_at for p in status.signers.values() if p.role != SignerRole.INVESTIGATOR
        )
        # One read of the form's versions serves both the version in force and the meaning.
        versions = _versions_with_meaning(participant, data["form_id"], signature.locale)
        if not (progress.role == SignerRole.INVESTIGATOR and family_signed):
            check_version_in_force(participant, data["form_id"], data["version"], at, versions)
        signature.auth.check(at)
        if signature.auth.method in CHILD_METHODS and progress.role != SignerRole.PARTICIPANT:
            # Only a young child signs without a code of their own (policy.children).
            raise EligibilityError(
                "Confirm with a fresh one-time code first.", code="fresh-code-required"
            )
        if progress.role == SignerRole.INVESTIGATOR:
            if not status.family_has_signed():
                raise EligibilityError(
                    "The investigator countersigns after the family.", code="countersign-too-early"
                )
        elif progress.role == SignerRole.WITNESS:
            # The witness attests a consent given in their presence: after that signature.
            witnessed = witnessed_on_record(events, record_id, signature.signer_id)
            if witnessed is None or status.signers[witnessed].signed_at is None:
                raise EligibilityError(
                    "The witness signs after the person who cannot read has signed.",
                    code="witness-too-early",
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
            # Every section was read (:func:`_require_prepared`), so the first view is known.
            assert progress.first_viewed_at is not None
            earliest = reflection_until(progress.first_viewed_at, data["reflection_hours"])
            assert earliest is not None
            # The time to think belongs to the guardians, not a child's assent (policy.signing).
            if (
                reflection_applies(data["form_kind"])
                and at < earliest
                and not (signature.early_signing_justification or "").strip()
            ):
                raise EligibilityError(
                    "The study asks for %(hours)s hours to think before "
                    "signing; give a reason to sign sooner.",
                    code="reflection-time",
                    params={"hours": data["reflection_hours"]},
                )
        if progress.role not in (SignerRole.INVESTIGATOR, SignerRole.WITNESS):
            # The form's choice is about the family; staff and witnesses sign on the staff device.
            check_method(signature.method, data.get("signature_methods") or DEFAULT_METHODS)
        # A young child (on a parent's device or with staff) writes their first name.
        check_printed_name(
            printed_name, registered, first_name=signature.auth.method in CHILD_METHODS
        )
        signed = next(v for v in versions if v.version == data["version"])
        meaning = _meaning(signed, signature.locale, progress.role)
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
        if signature.method != SignatureMethod.DRAWN:
            # Only added when not drawn, so signatures made before methods existed verify.
            binding["signature_method"] = signature.method
        return {
            # What the caller adds to the evidence (e.g. the investigator's interview mode);
            # never in place of the keys below.
            **signature.extra,
            **binding,
            "binding_sha256": hashlib.sha256(canonical_json(binding).encode()).hexdigest(),
            "signature_method": signature.method,
            "strokes": signature.strokes,
            "image_svg": render_svg(signature.strokes) if signature.strokes else None,
            "client_at": signature.client_at.isoformat() if signature.client_at else None,
            "client_offset_minutes": signature.client_offset_minutes,
            "ip": signature.ip,
            "user_agent": (signature.user_agent or "")[:500],
            "auth": signature.auth.to_dict(),
            "idempotency_key": signature.idempotency_key,
            "early_signing_justification": signature.early_signing_justification,
        }

    written = write_record_event(
        participant, record_id, type="signature.added", actor=actor, now=now, check=check
    )
    _notify_after_signature(participant, written)
    return written


def _notify_after_signature(participant: Participant, written: Written) -> None:
    """Queue what a signature tells the family: the copy ready, their own copy, the other's turn.

    Here, where the signature is written, so every way of signing (app, family
    pages, in person) triggers it; the dedupe keys make a retried signature queue nothing new.
    """
    event = written.event
    status = written.status
    at = event.at
    if status.state == RecordState.CONSENTED and status.completed_seq == event.seq:
        triggers.copy_ready(participant, record_id=status.record_id, now=at)
        return
    signer_id = event.payload.get("signer_id", "")
    if status.copy_for(signer_id) == "interim" and event.payload.get("role") in (
        SignerRole.GUARDIAN,
        SignerRole.PARTICIPANT,
    ):
        triggers.own_copy_ready(
            participant, record_id=status.record_id, signer_id=signer_id, now=at
        )
    if event.payload.get("role") != SignerRole.GUARDIAN:
        return
    waiting = [
        signer_id
        for signer_id, progress in status.signers.items()
        if progress.role == SignerRole.GUARDIAN
        and progress.signed_at is None
        and not progress.declined
    ]
    if waiting:
        triggers.guardian_turn(participant, status.record_id, waiting, now=at)


def check_version_in_force(
    participant: Participant,
    form_id: str,
    version: int,
    at: datetime,
    versions: Sequence[FormVersion] | None = None,
) -> None:
    """Refuse a signature on a version no longer in force at the participant's site.

    A family signs the version the ethics committee approves for that day
    (docs/regulatory-basis.md#ctr-art-29, CTR-29e; a signature is bound to the exact version
    signed): once a later version has taken effect at the participant's site
    (its local date of ``at``), a record opened for the earlier one cannot be
    signed, unless the study allows finishing an older version for
    ``finish_older_version_days`` after the new one took effect (study.yaml
    ``settings``, default 0: never).

    :func:`sign` does not ask this of the investigator countersigning a record
    the family already signed: the family's signatures are bound to the version
    they were shown when it was in force, and the countersignature attests the
    interview that led to them (CTR Art 29(1)); refusing it would leave a
    consent given in good faith incomplete for ever. The family is asked about
    the new version through a re-consent, not by voiding what they signed.

    Raises:
        ConflictError: ``version-superseded``, with ``current_version`` in details.
    """
    today = local_date(at, participant.timezone)
    if versions is None:
        versions = list(
            FormVersion.objects(trial_id=participant.trial_id, form_id=form_id).only(
                "version", "status", "effective_from"
            )
        )
    current = version_in_force(versions, today)
    if current is None or current.version <= version:
        return
    settings = catalog(participant.trial_id).study.settings or {}
    grace = int(settings.get("finish_older_version_days", 0) or 0)
    if current.effective_from is not None and today < current.effective_from + timedelta(
        days=grace
    ):
        return
    raise ConflictError(
        "Version %(current)s of this form is now in force; open a record for it and sign that one.",
        code="version-superseded",
        params={"current": current.version},
        details={"form_id": form_id, "version": version, "current_version": current.version},
    )


def _versions_with_meaning(
    participant: Participant, form_id: str, locale: str
) -> list[FormVersion]:
    """Return a form's versions: what decides the one in force, and each one's meanings."""
    return list(
        FormVersion.objects(trial_id=participant.trial_id, form_id=form_id).only(
            "version", "status", "effective_from", f"content.{locale}.signature_meanings"
        )
    )


def _meaning(version: FormVersion, locale: str, role: str) -> str:
    meanings = version.content[locale]["signature_meanings"]
    if role == SignerRole.WITNESS and role not in meanings:
        # Forms written before witnesses were supported: the attestation's own words.
        return gettext(locale, WITNESS_STATEMENT)
    meaning: str = meanings[role]
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
    """Record that a signer declines (no reason needed, CTR Art 28(3)).

    A minor saying no on their own form (assent, co-consent, own consent) is
    dissent (docs/regulatory-basis.md#ctr-art-32, CTR Art 32(1)(c), CTR-32c): the event is an
    ``assent.dissent`` with this record's id, which ends every record opened
    before it and blocks participation like
    :func:`consentkit.services.participation.record_dissent`, until lifted as
    :func:`consentkit.policy.records.lifted_dissents` says. A parent's or an
    adult's "no" is a ``consent.declined`` of this record only.
    """
    at = now or now_utc()
    opened = audit.opened_event_of(participant, record_id)
    # Kind and signer roles are fixed when the record is opened, so this read may precede
    # the append; the check below still runs on the chain the event is appended to.
    roles = {s["signer_id"]: s["role"] for s in opened["payload"]["required_signers"]}
    kind = opened["payload"]["form_kind"]
    dissent = (
        roles.get(signer_id) == SignerRole.PARTICIPANT
        and kind in MINOR_OWN_KINDS
        and (
            kind in (FormKind.CHILD_ASSENT, FormKind.YOUNG_PERSON_CO_CONSENT)
            or requirements_for(participant, local_date(at, participant.timezone)).is_minor
        )
    )

    def check(
        _o: audit.ChainEvent,
        _e: list[audit.ChainEvent],
        status: RecordStatus,
        _at: datetime,
    ) -> dict[str, Any]:
        require_open(status, signer_id)
        if not dissent:
            return {"signer_id": signer_id, "reason": reason}
        return {
            "signer_id": signer_id,
            "expressed_by": signer_id,
            "channel": actor.channel,
            "note": reason,
            "reason": reason,
            "form_kind": kind,
        }

    return append_record_event(
        participant,
        record_id,
        type="assent.dissent" if dissent else "consent.declined",
        actor=actor,
        now=now,
        check=check,
    )
