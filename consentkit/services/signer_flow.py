"""The consent flow as one signed-in signer sees it: their tasks, their records, their documents.

Every function takes the signer's session and acts only on records where that
signer is a required signer; anything else is "not found", so a signer cannot
learn that another family's record exists.

The results are the JSON bodies of the signer API (``/api/v1/me``), so they are
TypedDicts: their keys are the contract. Each ceremony write answers with the
signer's ``next_step`` (:func:`consentkit.services.ceremony.next_step`) and each
task with its ``phase`` (:class:`consentkit.enums.RecordPhase`), so no client
keeps its own copy of the ceremony order or of the open states.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, time, timedelta
from typing import Any, Literal, NamedTuple, TypedDict, cast

from consentkit import settings
from consentkit.clock import aware_utc, now_utc
from consentkit.enums import Channel, RecordPhase, SignatureMethod, SignerRole
from consentkit.errors import ConsentKitError, EligibilityError, NotFoundError
from consentkit.i18n import gettext
from consentkit.labels import label
from consentkit.models.access import SignerSession
from consentkit.models.audit import AuditEvent
from consentkit.models.document import StoredDocument
from consentkit.models.participant import Participant, Signer
from consentkit.policy import children
from consentkit.policy import withdrawal as withdrawal_policy
from consentkit.policy.age import local_date
from consentkit.policy.records import opened_event
from consentkit.policy.signing import DEFAULT_METHODS, reflection_applies, reflection_until
from consentkit.services import (
    access,
    audit,
    ceremony,
    documents,
    forms,
    outbox,
    participants,
    participation,
    questions,
    records,
    transitions,
    wallet,
)
from consentkit.services.ceremony import Step
from consentkit.services.evidence import FRESH_AUTH, Actor, AuthEvidence, SignatureInput


class Why(TypedDict):
    """Why this is asked again: a reason code, its localised label, and what it is about."""

    reason: str
    age: int | None
    version: int | None
    label: str


class Information(TypedDict):
    """An updated version the family is told about (a minor change: nothing to sign)."""

    form_id: str
    version: int
    previous_version: int
    change_summary: str
    effective_from: str | None


class Task(TypedDict):
    """A record this signer signs, with what they do next (``GET /me/tasks``).

    Two more kinds of entry have no steps of their own: a consent task staff have
    not opened yet (``record_id`` null, ``phase`` ``to-open``, ``next_step``
    ``open`` when this signer may open it: ``POST /me/tasks/{task_key}/open``),
    and updated information on a consented record (``phase`` ``informed``,
    ``next_step`` ``read-update``, the new version in ``information``).
    """

    record_id: str | None
    participant_code: str
    form_id: str | None
    form_kind: str
    version: int | None
    state: str
    #: open, consented or closed: whether the record still takes steps, without a
    #: client copy of the open states; ``to-open`` and ``informed`` as above.
    phase: RecordPhase | Literal["to-open", "informed"]
    next_step: Step | Literal["open", "read-update"] | None
    #: The record's steps in order (:func:`ceremony.record_steps`), for a step indicator.
    steps: list[str]
    #: The state in this signer's words and language (:func:`ceremony.family_status`).
    status_text: str
    #: The signed copy this signer may download now: final, interim (signed by them,
    #: awaiting others) or None (:meth:`RecordStatus.copy_for`).
    copy: str | None
    due_at: datetime
    reflection_until: datetime | None
    #: The time to think, from the signer's first reading (0: none asked).
    reflection_hours: int
    #: How this record may be signed (policy.signing.allowed_methods, fixed at opening).
    signature_methods: list[str]
    #: This signer's answers to the consent items (item id -> yes), once given: what they sign.
    choices: dict[str, bool] | None
    missing_signers: list[str]
    #: The withdrawal scopes that apply to the record (``state`` ``withdrawn`` once ``full``
    #: is among them): what the family asked to stop, shown with the task.
    withdrawn_scopes: list[str]
    #: The consent task this record was opened for (or is still to be opened for).
    task_key: str | None
    why: Why | None
    information: Information | None
    #: True when this is the child's own assent, offered to the parent as "your child's
    #: turn": the child below the study's own-invitation age signs on this device, the
    #: parent recorded as present (:mod:`consentkit.policy.children`).
    child_turn: bool


class EventResult(TypedDict):
    """The event a write appended: its place in the chain and the record's state after it."""

    seq: int
    type: str
    at: datetime
    state: str | None


class StepResult(EventResult):
    """A ceremony step's event, with the signer's next step after it."""

    next_step: Step


class SignatureResult(EventResult):
    """A signature's event, with its binding hash and the signer's next step (done)."""

    binding_sha256: str
    next_step: Step


class QuestionFeedback(TypedDict):
    """One comprehension question's result; the explanation only for a wrong answer."""

    id: str
    correct: bool
    explanation: str | None


class AnswerResult(TypedDict):
    """The score of a set of comprehension answers, and the signer's next step after it."""

    score: int
    passed: bool
    #: Whether every answer was right: a pass with a wrong answer is not "well done".
    all_correct: bool
    pass_mark: int
    results: list[QuestionFeedback]
    next_step: Step


class DocumentEntry(TypedDict):
    """A sealed document this signer may download."""

    document_id: str
    kind: str
    locale: str
    record_id: str | None
    as_of_seq: int
    sha256: str
    size: int
    verification_code: str
    created_at: datetime


class WithdrawalSummary(TypedDict):
    """What the family's withdrawal choices will mean, shown back before they confirm."""

    choices: list[str]
    scopes: list[str]
    summary: list[str]


class WithdrawalEntry(TypedDict):
    """One withdrawal of the participant (``GET /me/withdrawals``), with its confirmation link."""

    seq: int
    at: datetime
    scopes: list[str]
    #: The plain choices the family made in the app; None when staff recorded scopes.
    choices: list[str] | None
    channel: str | None
    expressed_by_me: bool
    summary: list[str]
    document: str


def _context(session: SignerSession) -> tuple[Participant, Signer, Actor]:
    participant = Participant.objects(id=session.participant_id).get()
    signer = Signer.objects(id=session.signer_id).get()
    actor = Actor(kind="signer", id=str(signer.id), role=signer.role, channel=Channel.APP)
    return participant, signer, actor


def _why(view: transitions.Why, locale: str | None) -> Why:
    return {
        "reason": view.reason,
        "age": view.age,
        "version": view.version,
        "label": view.label(locale),
    }


def tasks(
    session: SignerSession, *, at: datetime | None = None, locale: str | None = None
) -> list[Task]:
    """Return the records this signer must read or sign, with the next step and due date.

    A record opened for a consent task says why (``why``: "You are now 12"); the
    participant's tasks not opened yet that this signer signs, and updated
    information on this signer's consented records, follow the records.
    """
    at = at or now_utc()
    participant, signer, _ = _context(session)
    events = audit.chain_dicts(str(participant.id))
    opened = {e["payload"]["record_id"]: e for e in events if e["type"] == "record.opened"}
    consent_tasks = transitions.participant_tasks(participant, at=at, events=events)
    why_by_record = {t.record_id: t for t in consent_tasks if t.record_id}
    found: list[Task] = []
    statuses = records.record_statuses(participant, at=at, events=events)
    young = _children_in_turn(participant, signer, at)
    for status in statuses:
        acting = str(signer.id)
        if acting not in status.signers:
            # The child's own assent, offered to the parent as "your child's turn".
            acting = next((sid for sid in status.signers if sid in young), "")
            if not acting:
                continue
        event = opened[status.record_id]
        linked = why_by_record.get(status.record_id)
        step = ceremony.next_step(status, acting, event)
        # The time to think, unless this form has none (a child's assent: policy.signing).
        hours = (
            event["payload"].get("reflection_hours", 0)
            if reflection_applies(status.form_kind)
            else 0
        )
        found.append(
            {
                "record_id": status.record_id,
                "participant_code": participant.code,
                "form_id": status.form_id,
                "form_kind": status.form_kind,
                "version": status.version,
                "state": status.state.value,
                "phase": RecordPhase.of(status.state),
                "next_step": step,
                "steps": [s.value for s in ceremony.record_steps(event)],
                "status_text": ceremony.family_status(status, acting, step).text(locale),
                # Which signed copy this signer may download now (final, interim or none).
                "copy": status.copy_for(acting),
                "due_at": status.opened_at + timedelta(days=event["payload"]["window_days"]),
                # Signing before this needs a stated reason (the time to think, CTR Art 29(1)):
                # from this signer's first reading (policy.signing.reflection_until).
                "reflection_until": reflection_until(status.signers[acting].first_viewed_at, hours)
                if hours
                else None,
                "reflection_hours": hours,
                "signature_methods": list(
                    event["payload"].get("signature_methods") or DEFAULT_METHODS
                ),
                "choices": status.signers[acting].choices,
                "missing_signers": [m["role"] for m in status.missing_signers],
                "withdrawn_scopes": list(status.withdrawn_scopes),
                "task_key": linked.key if linked else None,
                "why": _why(linked.why, locale) if linked else None,
                "information": None,
                "child_turn": str(signer.id) not in status.signers,
            }
        )
    today = local_date(at, participant.timezone)
    for task in consent_tasks:
        if task.status != transitions.OPEN or not transitions.may_open(
            participant, task, signer, today
        ):
            continue
        found.append(
            {
                "record_id": None,
                "participant_code": participant.code,
                "form_id": task.form_id,
                "form_kind": task.form_kind,
                "version": task.version,
                "state": "to-open",
                "phase": "to-open",
                # Staff may open it earlier than the family; the family from the due date.
                "next_step": "open" if today >= task.due_date else None,
                "steps": [],
                "status_text": label("task_status", "open", locale),
                "copy": None,
                "due_at": datetime.combine(task.due_date, time(0), tzinfo=UTC),
                "reflection_until": None,
                "reflection_hours": 0,
                "signature_methods": [],
                "choices": None,
                "missing_signers": [],
                "withdrawn_scopes": [],
                "task_key": task.key,
                "why": _why(task.why, locale),
                "information": None,
                "child_turn": False,
            }
        )
    mine = {s.record_id for s in statuses if str(signer.id) in s.signers}
    for event in events:
        if event["type"] != "version.informed" or event["record_id"] not in mine:
            continue
        data = event["payload"]
        found.append(
            {
                "record_id": event["record_id"],
                "participant_code": participant.code,
                "form_id": data["form_id"],
                "form_kind": opened[event["record_id"]]["payload"]["form_kind"],
                "version": data["version"],
                "state": "informed",
                "phase": "informed",
                "next_step": "read-update",
                "steps": [],
                "status_text": label("task_why", "updated-information", locale),
                "copy": None,
                "due_at": event["at"],
                "reflection_until": None,
                "reflection_hours": 0,
                "signature_methods": [],
                "choices": None,
                "missing_signers": [],
                "withdrawn_scopes": [],
                "task_key": None,
                "why": _why(
                    transitions.Why("updated-information", version=data["version"]), locale
                ),
                "information": {
                    "form_id": data["form_id"],
                    "version": data["version"],
                    "previous_version": data["previous_version"],
                    "change_summary": data["change_summary"],
                    "effective_from": data.get("effective_from"),
                },
                "child_turn": False,
            }
        )
    return found


def open_task(session: SignerSession, task_key: str) -> Task:
    """Open the record of one of the participant's consent tasks, as one of its signers.

    Returns this signer's task entry for the record opened (or opened before).

    Raises:
        NotFoundError: ``task-not-found``.
        PermissionDeniedError: ``not-a-signer-of-task``, someone else signs that form.
        ConflictError: ``task-not-due``, ``task-done``, ``no-form-for-task``.
        EligibilityError: required signers are not registered.
    """
    participant, signer, actor = _context(session)
    opened = transitions.open_as_signer(participant, signer, task_key, actor=actor)
    for task in tasks(session):
        if task["record_id"] == opened.record.record_id and task["phase"] != "informed":
            return task
    raise NotFoundError("This task was not found.", code="task-not-found")


def _children_in_turn(participant: Participant, signer: Signer, at: datetime) -> set[str]:
    """Return the ids of the participant signers this signer may hand their device to now.

    A parent or guardian, for a child below the study's own-invitation age
    (:func:`consentkit.policy.children.may_sign_for_child`); empty for anyone else.
    """
    if signer.role != SignerRole.GUARDIAN:
        return set()
    settings_ = forms.catalog(participant.trial_id).study.settings
    today = local_date(at, participant.timezone)
    return {
        str(child.id)
        for child in Signer.objects(
            participant_id=str(participant.id), role=SignerRole.PARTICIPANT
        ).only("id", "role")
        if children.may_sign_for_child(
            signer.role, child.role, participant.birth_date, on=today, settings=settings_
        )
    }


class Turn(NamedTuple):
    """Whose step a request on a record takes: the signer's own, or their young child's."""

    participant: Participant
    actor: Actor
    #: The signer whose reading, choices and signature these are.
    signer_id: str
    #: The parent whose device and session it is, on the child's turn; else None.
    present: Signer | None
    #: The signer's registered name when their record was already read (their own turn),
    #: so the signature's name check needs no second read; else None.
    registered_name: str | None = None


def _turn(session: SignerSession, record_id: str) -> Turn:
    """Return whose step this is on a record: the session's signer, or their young child's.

    The signer's own record when they must sign it; otherwise the child's assent when
    the signer is a parent of a child below the study's own-invitation age: the steps
    and the signature are the child's (their role is recorded), the parent is recorded
    as present and as the one whose device it was (``actor.on_behalf_of``). Anything
    else is not found.
    """
    try:
        _opened_for_signer(session, record_id)
    except NotFoundError:
        pass
    else:
        participant, signer, actor = _context(session)
        name = participants.signer_identity(signer).get("name")
        return Turn(participant, actor, session.signer_id, None, name)
    participant, signer, _ = _context(session)
    opened = (
        AuditEvent.objects(
            record_id=record_id, participant_id=session.participant_id, type="record.opened"
        )
        .only("payload")
        .first()
    )
    young = _children_in_turn(participant, signer, now_utc())
    child = next(
        (
            s["signer_id"]
            for s in (opened.payload["required_signers"] if opened else [])
            if s["signer_id"] in young
        ),
        None,
    )
    if child is None:
        raise NotFoundError("This record was not found.")
    actor = Actor(
        kind="signer",
        id=str(signer.id),
        role=signer.role,
        on_behalf_of=child,
        channel=Channel.APP,
    )
    return Turn(participant, actor, child, signer)


def _opened_for_turn(session: SignerSession, record_id: str) -> dict[str, Any]:
    """Return the ``record.opened`` payload if this signer or their young child signs it."""
    try:
        return _opened_for_signer(session, record_id)
    except NotFoundError:
        _turn(session, record_id)
        opened = (
            AuditEvent.objects(
                record_id=record_id, participant_id=session.participant_id, type="record.opened"
            )
            .only("payload")
            .get()
        )
        return dict(opened.payload)


def _own_record(session: SignerSession, record_id: str) -> tuple[Participant, Actor]:
    """Return the participant and actor if this signer must sign the record, else not found.

    One indexed read decides access; the service the caller goes on to use reads
    and checks the chain itself, so deriving it here too would be done twice.
    """
    _opened_for_signer(session, record_id)
    participant, _, actor = _context(session)
    return participant, actor


#: (participant, signer, record) -> the record's ``record.opened`` payload. Events
#: are never changed, so a positive answer stays true; only those are kept.
_OPENED: dict[tuple[str, str, str], dict[str, Any]] = {}
_OPENED_MAX = 50_000


def _opened_for_signer(session: SignerSession, record_id: str) -> dict[str, Any]:
    """Return a record's ``record.opened`` payload if this signer must sign it.

    One indexed read the first time, none after (the answer cannot change).
    """
    key = (session.participant_id, session.signer_id, record_id)
    cached = _OPENED.get(key)
    if cached is not None:
        return cached
    opened = (
        AuditEvent.objects(
            record_id=record_id, participant_id=session.participant_id, type="record.opened"
        )
        .only("payload")
        .first()
    )
    if opened is None or not any(
        s["signer_id"] == session.signer_id for s in opened.payload["required_signers"]
    ):
        raise NotFoundError("This record was not found.")
    payload: dict[str, Any] = dict(opened.payload)
    if len(_OPENED) >= _OPENED_MAX:
        _OPENED.clear()
    _OPENED[key] = payload
    return payload


def form_for_record(
    session: SignerSession,
    record_id: str,
    *,
    requested: str | None,
    accept_language: str | None,
) -> forms.FormView:
    """Return the text of a record's form version in the signer's best language.

    Reading is the app's hot path (every screen, every 304 revalidation): one
    indexed read for access, the study catalog from the per-process cache, and
    the rendered text from the cache keyed by its hash.
    """
    payload = _opened_for_turn(session, record_id)
    return forms.version_view(
        session.trial_id,
        payload["form_id"],
        payload["version"],
        requested=requested,
        accept_language=accept_language,
        default_locale=payload["locale"],
    )


def information(
    session: SignerSession,
    form_id: str,
    version: int,
    *,
    requested: str | None,
    accept_language: str | None,
) -> forms.FormView:
    """Return the text of a minor version this signer was informed of, to read (not to sign).

    A minor version is told to families who consented (a ``version.informed``
    event on their record, :func:`consentkit.services.tasks.inform_of_minor_version`);
    each of those records' signers may read the new text, in the language the
    record was opened in unless they ask for another.

    Raises:
        NotFoundError: ``information-not-found``, this signer was not informed of it.
    """
    informed = AuditEvent.objects(
        participant_id=session.participant_id,
        type="version.informed",
        payload__form_id=form_id,
        payload__version=version,
    ).only("record_id")
    for event in informed:
        try:
            opened = _opened_for_signer(session, str(event.record_id))
        except NotFoundError:
            continue  # another family member's record
        return forms.version_view(
            session.trial_id,
            form_id,
            version,
            requested=requested,
            accept_language=accept_language,
            default_locale=opened["locale"],
        )
    raise NotFoundError("This information was not found.", code="information-not-found")


def _event_result(event: AuditEvent) -> EventResult:
    return {"seq": event.seq, "type": event.type, "at": event.at, "state": event.state_after}


def _next_step(participant: Participant, record_id: str, signer_id: str) -> Step:
    """Return the signer's next step on a record, from the chain as it stands after a write.

    The same derivation as :func:`tasks` (the participant's records, then
    :func:`ceremony.next_step`), so a write's answer and the task list agree.
    """
    events = audit.chain_dicts(str(participant.id))
    status = next(
        s for s in records.record_statuses(participant, events=events) if s.record_id == record_id
    )
    return ceremony.next_step(status, signer_id, opened_event(events, record_id))


def _step_result(written: ceremony.Written, signer_id: str) -> StepResult:
    """Answer a ceremony write from what it wrote: no read of the chain again."""
    return {**_event_result(written.event), "next_step": written.next_step(signer_id)}


def view(
    session: SignerSession,
    record_id: str,
    *,
    locale: str,
    sections: list[dict[str, Any]],
    client_at: datetime | None,
) -> StepResult:
    """Record viewed sections (sent in batches, possibly late from an offline phone).

    Raises:
        RateLimitedError: ``daily-limit-reached``, the day's batches for this record are spent.
    """
    participant, actor, signer_id, _, _ = _turn(session, record_id)
    access.spend_daily_allowance(
        f"views:{signer_id}:{record_id}", settings.signer_views_per_record_per_day()
    )
    written = ceremony.write_views(
        participant,
        record_id,
        signer_id=signer_id,
        locale=locale,
        sections=sections,
        actor=actor,
        client_at=client_at,
    )
    return _step_result(written, signer_id)


def answer(
    session: SignerSession, record_id: str, *, locale: str, answers: dict[str, str]
) -> AnswerResult:
    """Check quiz answers; explanations come back for wrong ones."""
    participant, actor, signer_id, _, _ = _turn(session, record_id)
    feedback, written = ceremony.write_answers(
        participant,
        record_id,
        signer_id=signer_id,
        locale=locale,
        answers=answers,
        actor=actor,
    )
    # The feedback's JSON is ceremony's; the next step is added here, where the session is.
    next_step = written.next_step(signer_id)
    return cast(AnswerResult, {**feedback.to_dict(), "next_step": next_step})


def choose(session: SignerSession, record_id: str, *, choices: dict[str, bool]) -> StepResult:
    """Record yes/no for every consent item."""
    participant, actor, signer_id, _, _ = _turn(session, record_id)
    written = ceremony.write_choices(
        participant, record_id, signer_id=signer_id, choices=choices, actor=actor
    )
    return _step_result(written, signer_id)


def _spend_step_up(session: SignerSession, now: datetime) -> AuthEvidence:
    """Use the session's fresh one-time code once: each signature or withdrawal needs its own.

    The proof is spent by a compare-and-set on its time: first on the time the
    session was loaded with (a request's session is read as it starts: one
    command), then, if that no longer matches (loaded before the code was
    verified, or spent meanwhile), on the time read afresh.
    """
    verified, method = session.step_up_at, session.step_up_method
    if not _spent(session, verified, now):
        fresh = (
            SignerSession.objects(session_id=session.session_id)
            .only("step_up_at", "step_up_method")
            .first()
        )
        verified, method = (fresh.step_up_at, fresh.step_up_method) if fresh else (None, None)
        if not _spent(session, verified, now):
            raise EligibilityError(
                "Confirm with a fresh one-time code first.", code="fresh-code-required"
            )
    assert verified is not None  # spent: it was there
    # The factor that gave the proof (otp-email, otp-sms, totp-app): 21 CFR 11.200 evidence.
    return AuthEvidence(
        factors=("session", "otp"), verified_at=aware_utc(verified), method=method or "otp"
    )


def _spent(session: SignerSession, verified: datetime | None, now: datetime) -> bool:
    """Whether the proof verified at ``verified`` was fresh and this call spent it."""
    return (
        verified is not None
        and now - aware_utc(verified) <= FRESH_AUTH
        and bool(
            SignerSession.objects(session_id=session.session_id, step_up_at=verified).update_one(
                set__step_up_at=None
            )
        )
    )


def _give_back_step_up(session: SignerSession, evidence: AuthEvidence) -> None:
    """Return an unused proof after a refused signature, so fixing the cause needs no new code.

    Nothing was signed with it; it keeps its original time, so it expires as before.
    """
    SignerSession.objects(session_id=session.session_id, step_up_at=None).update_one(
        set__step_up_at=evidence.verified_at, set__step_up_method=evidence.method
    )


def _signature_result(participant: Participant, event: AuditEvent) -> SignatureResult:
    return {
        **_event_result(event),
        "binding_sha256": event.payload["binding_sha256"],
        "next_step": _next_step(participant, str(event.record_id), event.payload["signer_id"]),
    }


def derived_signature_key(session: SignerSession, record_id: str, body: bytes) -> str:
    """Return the idempotency key of a signature sent without one: signer, record and body.

    A retry of the same request finds its first answer; two guardians who send
    byte-identical bodies (same printed name, same strokes) for one record are two
    signatures, so the key names the signer and the record, not the body alone
    (the chain refuses a key reused for another signature, ``idempotency-key-reused``).
    """
    digest = hashlib.sha256()
    for part in (session.signer_id.encode(), record_id.encode(), body):
        digest.update(len(part).to_bytes(8, "big") + part)
    return "derived-" + digest.hexdigest()


def signature_for_key(
    session: SignerSession, record_id: str, idempotency_key: str
) -> SignatureResult | None:
    """Return the answer to this signer's signature sent with this key, if it was stored.

    A retry after a crash (signature written, answer lost) is answered from the
    event, without a new one-time code: nothing new is signed.
    """
    try:
        signer_id = _turn(session, record_id).signer_id
    except NotFoundError:
        return None
    return _signature_of(session, record_id, signer_id, idempotency_key)


def _signature_of(
    session: SignerSession, record_id: str, signer_id: str, idempotency_key: str
) -> SignatureResult | None:
    """Return the answer to ``signer_id``'s signature sent with this key, if stored.

    Split from :func:`signature_for_key` so that :func:`sign`, which has already
    worked out whose turn it is, does not read the session's context twice.
    """
    event = AuditEvent.objects(
        participant_id=session.participant_id,
        record_id=record_id,
        type="signature.added",
        payload__signer_id=signer_id,
        payload__idempotency_key=idempotency_key,
    ).first()
    if event is None:
        return None
    return _signature_result(Participant.objects(id=session.participant_id).get(), event)


def sign(
    session: SignerSession,
    record_id: str,
    *,
    locale: str,
    content_sha256: str,
    printed_name: str,
    strokes: list[list[list[float]]],
    idempotency_key: str,
    client_at: datetime | None,
    client_offset_minutes: int | None,
    ip: str | None,
    user_agent: str | None,
    early_signing_justification: str | None,
    signature_method: str = SignatureMethod.DRAWN,
    i_sign: bool = False,
) -> SignatureResult:
    """Sign, using the step-up code just verified on this device.

    On a young child's turn the signature is the child's, given on the parent's
    device within the parent's session: no one-time code (the child has none), the
    parent recorded as present (``present`` in the signature, shown in the PDF).
    """
    participant, actor, signer_id, present, registered_name = _turn(session, record_id)
    done = _signature_of(session, record_id, signer_id, idempotency_key)
    if done is not None:
        return done
    now = now_utc()
    extra: dict[str, Any] = {}
    if present is None:
        evidence = _spend_step_up(session, now)
    else:
        evidence = AuthEvidence(
            factors=("session", children.IN_PRESENCE),
            verified_at=now,
            method=children.IN_PRESENCE,
        )
        extra["present"] = {"signer_id": str(present.id), "role": present.role}
    signature = SignatureInput(
        signer_id=signer_id,
        locale=locale,
        content_sha256=content_sha256,
        printed_name=printed_name,
        strokes=strokes,
        auth=evidence,
        idempotency_key=idempotency_key,
        client_at=client_at,
        client_offset_minutes=client_offset_minutes,
        ip=ip,
        user_agent=user_agent,
        early_signing_justification=early_signing_justification,
        extra=extra,
        method=signature_method,
        i_sign=i_sign,
        registered_name=registered_name,
    )
    try:
        written = ceremony.write_signature(participant, record_id, signature, actor=actor, now=now)
    except ConsentKitError:
        if present is None:
            _give_back_step_up(session, evidence)
        raise
    return {
        **_event_result(written.event),
        "binding_sha256": written.event.payload["binding_sha256"],
        "next_step": written.next_step(signer_id),
    }


def decline(session: SignerSession, record_id: str, *, reason: str | None) -> EventResult:
    """Say no to this consent (no reason needed)."""
    participant, actor = _own_record(session, record_id)
    return _event_result(
        ceremony.decline(
            participant, record_id, signer_id=session.signer_id, actor=actor, reason=reason
        )
    )


def dissent(
    session: SignerSession, *, note: str | None, record_id: str | None = None
) -> EventResult:
    """The child says no: on their own session, or on their turn on a parent's device.

    ``record_id`` names the child's assent on a parent's device ("your child's turn");
    the dissent is the child's (``expressed_by``), the parent's device the actor's.
    """
    if record_id is not None:
        participant, actor, signer_id, present, _ = _turn(session, record_id)
        if present is None and actor.role != SignerRole.PARTICIPANT:
            raise NotFoundError("This record was not found.")
        return _event_result(
            participation.record_dissent(
                participant, actor=actor, expressed_by=signer_id, note=note
            )
        )
    participant, signer, actor = _context(session)
    if signer.role != "participant":
        raise NotFoundError("This record was not found.")
    return _event_result(
        participation.record_dissent(
            participant, actor=actor, expressed_by=str(signer.id), note=note
        )
    )


def withdrawal_for_key(
    session: SignerSession, idempotency_key: str, *, scopes: list[str]
) -> EventResult | None:
    """Return the answer to this signer's withdrawal sent with this key, if it was stored.

    Only a withdrawal of the same scopes counts: a key reused for another
    withdrawal must not hide it behind the first one's answer.
    """
    event = AuditEvent.objects(
        participant_id=session.participant_id,
        type="withdrawal.recorded",
        payload__expressed_by=session.signer_id,
        payload__idempotency_key=idempotency_key,
        payload__scopes=sorted(set(scopes)),
    ).first()
    return None if event is None else _event_result(event)


def withdrawal_summary(choices: list[str], *, locale: str | None) -> WithdrawalSummary:
    """Return what the family's choices will mean, in ``locale``, before they confirm.

    Nothing is written: the family page shows this back and asks to confirm
    (GDPR Art 7(3): withdrawing must be as easy, and as clear, as consenting).

    Raises:
        InvalidDataError: ``unknown-choice`` or ``conflicting-choices``.
    """
    scopes = withdrawal_policy.scopes_for_choices(choices)
    return {
        "choices": list(dict.fromkeys(choices)),
        "scopes": list(scopes),
        "summary": [gettext(locale, line) for line in withdrawal_policy.summary(scopes)],
    }


def withdrawals(session: SignerSession, *, locale: str | None) -> list[WithdrawalEntry]:
    """Return the participant's withdrawals, each with its plain summary and confirmation link.

    Every signer of the participant sees them, whoever expressed them (in the app
    or through the study team): a withdrawal concerns the whole participation.
    """
    participant, _, _ = _context(session)
    found: list[WithdrawalEntry] = []
    for event in audit.chain_dicts(str(participant.id)):
        if event["type"] != "withdrawal.recorded":
            continue
        scopes = event["payload"]["scopes"]
        found.append(
            {
                "seq": event["seq"],
                "at": event["at"],
                "scopes": scopes,
                "choices": event["payload"].get("choices"),
                "channel": event["payload"].get("channel"),
                "expressed_by_me": event["payload"].get("expressed_by") == session.signer_id,
                "summary": [gettext(locale, line) for line in withdrawal_policy.summary(scopes)],
                "document": f"/me/withdrawals/{event['seq']}/document",
            }
        )
    return found


def withdraw(
    session: SignerSession,
    *,
    choices: list[str],
    reason: str | None,
    reason_declined: bool,
    idempotency_key: str | None = None,
) -> EventResult:
    """Withdraw as the family chose (plain choices, mapped to scopes), with a fresh code.

    The choices are checked before the code is spent. A retry with the key of a
    withdrawal already stored gets its answer again, without a new code and
    without a second withdrawal.

    Raises:
        InvalidDataError: ``unknown-choice``, ``conflicting-choices`` or ``conflicting-scopes``.
    """
    participant, signer, actor = _context(session)
    scopes = list(withdrawal_policy.scopes_for_choices(choices))
    done = withdrawal_for_key(session, idempotency_key, scopes=scopes) if idempotency_key else None
    if done is not None:
        return done
    evidence = _spend_step_up(session, now_utc())
    try:
        event = participation.withdraw(
            participant,
            scopes=scopes,
            actor=actor,
            expressed_by=str(signer.id),
            reason=reason,
            reason_declined=reason_declined,
            idempotency_key=idempotency_key,
            auth=evidence,
            choices=list(dict.fromkeys(choices)),
        )
    except ConsentKitError:
        _give_back_step_up(session, evidence)
        raise
    return _event_result(event)


def ask_question(session: SignerSession, *, text: str, record_id: str | None) -> EventResult:
    """Send a question to the study team (kept in the participant's trail).

    Raises:
        RateLimitedError: ``daily-limit-reached``, the signer's questions for the day are spent.
    """
    participant, _, actor = _context(session)
    if record_id is not None:
        _opened_for_turn(session, record_id)
    access.spend_daily_allowance(
        f"questions:{session.signer_id}", settings.signer_questions_per_day()
    )
    event = audit.append(
        participant,
        lambda _e: audit.Draft(
            type="question.asked",
            actor=actor.to_dict(),
            record_id=record_id,
            payload={"text": text[:4000]},
        ),
    )
    return _event_result(event)


def my_questions(session: SignerSession) -> list[questions.Question]:
    """Return the questions this signer asked, each with the study team's answers, oldest first.

    Only the signer's own: a child's question is not shown to a parent, nor the reverse.
    """
    participant, signer, _ = _context(session)
    return questions.thread_of(participant, signer_id=str(signer.id))


def my_documents(session: SignerSession) -> list[DocumentEntry]:
    """Return the sealed documents of this signer's records and withdrawals."""
    participant, _, _ = _context(session)
    own_records = {t["record_id"] for t in tasks(session)}
    found: list[DocumentEntry] = []
    for doc in StoredDocument.objects(participant_id=str(participant.id), status="ready"):
        if doc.record_id is None or doc.record_id in own_records:
            found.append(
                {
                    "document_id": str(doc.id),
                    "kind": doc.kind,
                    "locale": doc.locale,
                    "record_id": doc.record_id,
                    "as_of_seq": doc.as_of_seq,
                    "sha256": doc.sha256,
                    "size": doc.size,
                    "verification_code": doc.verification_code,
                    "created_at": doc.ready_at,
                }
            )
    return found


def withdrawal_document(session: SignerSession, seq: int) -> bytes:
    """Return (rendering on first request) the sealed confirmation of a withdrawal.

    Any signer of the participant gets it: a withdrawal concerns the whole
    participation, whoever expressed it.

    Raises:
        NotFoundError: the participant has no withdrawal at event ``seq``.
    """
    participant, _, _ = _context(session)
    return documents.withdrawal_document(participant, seq).content


def record_document(
    session: SignerSession, record_id: str, *, locale: str | None
) -> documents.DocumentResult:
    """Return (rendering on first request) the sealed PDF of a record and its name.

    The final copy once everyone has signed; before that, once this signer (or their
    young child, on the child's turn) has signed, an interim copy.
    """
    turn = _turn(session, record_id)
    return documents.consent_document(
        turn.participant, record_id, locale=locale, signer_id=turn.signer_id
    )


class ContactSettings(TypedDict):
    """How the signer wants to be reached (never their addresses: those staff correct)."""

    preferred_channel: str | None
    is_unsubscribed: bool
    has_push_subscription: bool
    has_app_token: bool
    unsubscribe_token: str


def _contact_settings(signer_id: str) -> ContactSettings:
    found = outbox.preferences_of(signer_id)
    return {
        "preferred_channel": found.preferred_channel if found else None,
        "is_unsubscribed": bool(found and found.is_unsubscribed),
        "has_push_subscription": bool(found and found.push_subscription),
        "has_app_token": bool(found and found.app_token),
        "unsubscribe_token": outbox.unsubscribe_token(signer_id),
    }


def contact_settings(session: SignerSession) -> ContactSettings:
    """Return the signer's own contact settings."""
    return _contact_settings(session.signer_id)


def change_contact_settings(
    session: SignerSession,
    *,
    preferred_channel: str | None = None,
    is_unsubscribed: bool | None = None,
    push_subscription: dict[str, Any] | None = None,
    app_token: str | None = None,
) -> ContactSettings:
    """Change the signer's channel, switch non-essential messages off or on, register a device.

    Raises:
        InvalidDataError: ``unknown-channel``, ``invalid-push-subscription``.
    """
    outbox.set_preferences(
        session.signer_id,
        preferred_channel=preferred_channel,
        is_unsubscribed=is_unsubscribed,
        push_subscription=push_subscription,
        app_token=app_token,
    )
    return _contact_settings(session.signer_id)


def my_wallet(session: SignerSession, *, locale: str | None) -> wallet.Wallet:
    """Return everything the signed-in person signs for: siblings, studies, records, documents."""
    return wallet.wallet(session.signer_id, locale=locale)


def wallet_document(session: SignerSession, document_id: str) -> tuple[bytes, str]:
    """Return a sealed document of the wallet (any child's) and its file name."""
    return wallet.document(session.signer_id, document_id)


def change_choice(
    session: SignerSession,
    *,
    record_id: str,
    item_id: str,
    value: bool,
    idempotency_key: str | None = None,
) -> wallet.ChoiceChange:
    """Change one optional choice of a signed record in the wallet, with a fresh code.

    Checked before the code is spent; a refused write gives the code back, as for
    a signature. A retry with the key of a change already stored gets its answer
    again, without a new code and without a second event.

    Raises:
        NotFoundError, InvalidDataError, ConflictError: as :func:`wallet.change_choice`.
        EligibilityError: ``fresh-code-required``.
    """
    if idempotency_key:
        done = wallet.change_for_key(session.signer_id, record_id, idempotency_key)
        if done is not None:
            return done
    wallet.check_choice(session.signer_id, record_id, item_id, value)
    evidence = _spend_step_up(session, now_utc())
    try:
        return wallet.change_choice(
            session.signer_id,
            record_id,
            item_id=item_id,
            value=value,
            auth=evidence,
            idempotency_key=idempotency_key,
        )
    except ConsentKitError:
        _give_back_step_up(session, evidence)
        raise
