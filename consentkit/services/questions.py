"""The families' questions to the study team: the thread, the staff inbox, answers and closing.

A question is the ``question.asked`` event a signer appends
(:func:`consentkit.services.signer_flow.ask_question`); its seq is its id. Staff
answer (``question.answered``, in the language of the signer who asked unless
they choose another) and close it (``question.closed``): every step is an event
in the participant's audit trail, and nothing in it is identifying beyond what
the family and the team typed. The signer who asked is told of an answer by a
message that does not carry the answer (:func:`consentkit.services.triggers.question_answered`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from consentkit.clock import now_utc
from consentkit.errors import ConflictError, NotFoundError
from consentkit.models.audit import AuditEvent
from consentkit.models.participant import Participant, Signer
from consentkit.services import audit, triggers
from consentkit.services.evidence import Actor

ASKED = "question.asked"
ANSWERED = "question.answered"
CLOSED = "question.closed"
TYPES = (ASKED, ANSWERED, CLOSED)


class QuestionStatus(StrEnum):
    """Where a question stands (labels: ``question_status``)."""

    OPEN = "open"  # asked, not answered yet
    ANSWERED = "answered"  # answered; the family may ask again in the thread
    CLOSED = "closed"  # the team closed it


@dataclass(frozen=True)
class Answer:
    """One answer of the study team."""

    seq: int
    at: datetime
    text: str
    locale: str | None
    #: The staff member's role as recorded in the trail (no name: the trail holds no identity).
    by_role: str | None


@dataclass
class Question:
    """One question with its answers, as staff and the family see it."""

    seq: int
    trial_id: str
    participant_code: str
    site_code: str
    signer_id: str | None
    record_id: str | None
    asked_at: datetime
    text: str
    #: The language to answer in: the asking signer's, else the participant's.
    locale: str | None
    status: QuestionStatus = QuestionStatus.OPEN
    answers: list[Answer] = field(default_factory=list)
    closed_at: datetime | None = None


def _threads(
    participant: Participant, events: Iterable[dict[str, Any]], languages: dict[str, str | None]
) -> list[Question]:
    """Fold one participant's question events (in chain order) into questions, oldest first."""
    found: dict[int, Question] = {}
    for event in events:
        payload = event["payload"] or {}
        if event["type"] == ASKED:
            signer_id = _asker(event)
            found[event["seq"]] = Question(
                seq=event["seq"],
                trial_id=participant.trial_id,
                participant_code=participant.code,
                site_code=participant.site_code,
                signer_id=signer_id,
                record_id=event.get("record_id"),
                asked_at=event["at"],
                text=payload.get("text", ""),
                locale=languages.get(signer_id or "") or participant.preferred_language,
            )
            continue
        question = found.get(int(payload.get("question_seq", 0)))
        if question is None:
            continue
        if event["type"] == ANSWERED:
            question.answers.append(
                Answer(
                    seq=event["seq"],
                    at=event["at"],
                    text=payload.get("text", ""),
                    locale=payload.get("locale"),
                    by_role=event["actor"].get("role"),
                )
            )
            question.status = QuestionStatus.ANSWERED
        elif event["type"] == CLOSED:
            question.status = QuestionStatus.CLOSED
            question.closed_at = event["at"]
    return sorted(found.values(), key=lambda q: q.seq)


def _languages(participant_ids: Sequence[str]) -> dict[str, str | None]:
    return {
        str(s.id): s.preferred_language
        for s in Signer.objects(participant_id__in=list(participant_ids)).only(
            "id", "preferred_language"
        )
    }


def _events(participant: Participant) -> list[dict[str, Any]]:
    return [
        e
        for e in audit.chain_dicts(str(participant.id))
        if e["type"] in TYPES  # the chain in order, only the question events
    ]


def thread_of(participant: Participant, *, signer_id: str | None = None) -> list[Question]:
    """Return a participant's questions with their answers, oldest first.

    With ``signer_id``, only the questions that signer asked (the family pages).
    """
    found = _threads(participant, _events(participant), _languages([str(participant.id)]))
    return [q for q in found if signer_id is None or q.signer_id == signer_id]


def asked_before_signing(
    participant: Participant, record_id: str, *, events: Sequence[dict[str, Any]] | None = None
) -> list[Question]:
    """Return the questions asked about ``record_id`` or about no record in particular.

    What the investigator reads before countersigning (teach-back: what the family
    asked and how it was answered, for the interview in which the investigator
    checks the family understood, CTR Art 29(2)(c);
    docs/regulatory-basis.md#ctr-art-29). ``events``: the participant's chain, if read already.
    """
    chain = _events(participant) if events is None else [e for e in events if e["type"] in TYPES]
    found = _threads(participant, chain, _languages([str(participant.id)]))
    return [q for q in found if q.record_id in (None, record_id)]


def inbox(
    trial_id: str,
    *,
    site_codes: Sequence[str] | None = None,
    status: QuestionStatus | None = None,
) -> list[Question]:
    """Return a study's questions (at ``site_codes``; None: every site), oldest open first.

    One read of the question events of the study (index ``trial_id, type, at``),
    one of their participants and one of their signers' languages.
    """
    by_participant: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in (
        AuditEvent.objects(trial_id=trial_id, type__in=list(TYPES))
        .order_by("seq")
        .only("participant_id", "seq", "type", "at", "actor", "record_id", "payload")
    ):
        by_participant[event.participant_id].append(
            {
                "seq": event.seq,
                "type": event.type,
                "at": event.at,
                "actor": event.actor,
                "record_id": event.record_id,
                "payload": event.payload,
            }
        )
    query = Participant.objects(id__in=list(by_participant))
    if site_codes is not None:
        query = query(site_code__in=list(site_codes))
    participants = list(query)
    languages = _languages([str(p.id) for p in participants])
    found = [
        q
        for p in participants
        for q in _threads(p, by_participant[str(p.id)], languages)
        if status is None or q.status == status
    ]
    order = {QuestionStatus.OPEN: 0, QuestionStatus.ANSWERED: 1, QuestionStatus.CLOSED: 2}
    return sorted(found, key=lambda q: (order[q.status], q.asked_at))


def _asked(events: list[audit.ChainEvent], seq: int) -> audit.ChainEvent:
    """Return the ``question.asked`` event ``seq``, if the question is still open to answers.

    Raises:
        NotFoundError: ``question-not-found``.
        ConflictError: ``question-closed``.
    """
    asked = next((e for e in events if e["type"] == ASKED and e["seq"] == seq), None)
    if asked is None:
        raise NotFoundError(
            "There is no question %(seq)s.", code="question-not-found", params={"seq": seq}
        )
    if any(e["type"] == CLOSED and (e["payload"] or {}).get("question_seq") == seq for e in events):
        raise ConflictError("This question is closed.", code="question-closed")
    return asked


def _asker(asked: audit.ChainEvent) -> str | None:
    actor = asked["actor"]
    return str(actor.get("id")) if actor.get("kind") == "signer" else None


SCOPE = {"type": {"$in": list(TYPES)}}


def answer_question(
    participant: Participant,
    seq: int,
    *,
    text: str,
    locale: str | None,
    actor: Actor,
    now: datetime | None = None,
) -> AuditEvent:
    """Answer question ``seq`` (``question.answered``) and tell the signer who asked.

    ``locale`` is the language the answer is written in; None: the asking
    signer's (or the participant's) language.

    Raises:
        NotFoundError: ``question-not-found``.
        ConflictError: ``question-closed``.
    """
    now = now or now_utc()
    asked_by: list[str | None] = []

    def build(events: list[audit.ChainEvent]) -> audit.Draft:
        asked = _asked(events, seq)
        signer_id = _asker(asked)
        asked_by.append(signer_id)
        language = locale
        if language is None and signer_id:
            signer = Signer.objects(id=signer_id).only("preferred_language").first()
            language = signer.preferred_language if signer else None
        return audit.Draft(
            type=ANSWERED,
            actor=actor.to_dict(),
            record_id=asked.get("record_id"),
            payload={
                "question_seq": seq,
                "text": text[:4000],
                "locale": language or participant.preferred_language,
            },
        )

    event, _ = audit.append_to_chain(participant, build, now=now, scope=SCOPE)
    if asked_by and asked_by[-1]:
        triggers.question_answered(participant, asked_by[-1], answer_seq=event.seq, now=now)
    return event


def close_question(
    participant: Participant, seq: int, *, actor: Actor, now: datetime | None = None
) -> AuditEvent:
    """Close question ``seq`` (``question.closed``): answered enough, or not a question.

    Raises:
        NotFoundError: ``question-not-found``.
        ConflictError: ``question-closed``, closed already.
    """

    def build(events: list[audit.ChainEvent]) -> audit.Draft:
        asked = _asked(events, seq)
        return audit.Draft(
            type=CLOSED,
            actor=actor.to_dict(),
            record_id=asked.get("record_id"),
            payload={"question_seq": seq},
        )

    return audit.append_to_chain(participant, build, now=now, scope=SCOPE)[0]
