"""The "may I?" permission API: permit or deny per activity, read off the participation profile.

Each answer is :func:`consentkit.services.records.participation` (the profile)
with :func:`consentkit.policy.activities.answer` picking the activity's field;
nothing here decides anything of its own. An unknown participant or activity is
denied with a reason code, never an error, so a caller that asks about a code
it mistyped is told "no". The batch form reads the participants 12 at a time,
looks once per participant for an event after its sealed head, and reads only
the chains whose stored answers no longer hold (docs/permissions.md).

Answers are kept on the participant (``permissions_cache``) for as long as
nothing can change them: the same chain (its last event), the same study
configuration and rule pack, the same local day (age decides requirements) and
the same side of every record's completion deadline (expiry). A later read in
that window answers from the participant document and one indexed look for an
event after the sealed head, without reading or re-deriving the chain; anything
else reads the chain, as before, and stores the new answers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from datetime import time as day_time
from typing import Any
from zoneinfo import ZoneInfo

from consentkit import db
from consentkit.clock import aware_utc, now_utc
from consentkit.errors import InvalidDataError, PermissionDeniedError
from consentkit.models.audit import AuditEvent
from consentkit.models.participant import Participant
from consentkit.policy.activities import (
    ACTIVITIES,
    UNKNOWN_ACTIVITY,
    UNKNOWN_PARTICIPANT,
    answer,
    unknown,
)
from consentkit.policy.activities import valid_until as until_of
from consentkit.policy.age import local_date
from consentkit.policy.jurisdiction import load_rule_pack
from consentkit.services import audit
from consentkit.services.forms import catalog
from consentkit.services.records import participation
from consentkit.services.requirements import requirements_for

#: The most participants one batch may ask about.
BATCH_MAX = 1000
_FIELDS = (
    "trial_id",
    "code",
    "site_code",
    "country",
    "timezone",
    "birth_date",
    "chain_head",
    "permissions_cache",
)


def _config_key(trial_id: str) -> str:
    """What else the answers rest on: the study as imported and the rule pack's version."""
    return f"{catalog(trial_id).study.source_sha256}:{load_rule_pack().version}"


def _window(
    participant: Participant, events: Sequence[audit.ChainEvent], at: datetime
) -> tuple[datetime, datetime]:
    """Return the times around ``at`` with the same answers on these events: [start, end).

    Answers change with the local day (age decides the requirements and the
    competence) and when an open record passes its completion deadline (it
    expires); between those moments they depend on the events alone.
    """
    zone = ZoneInfo(participant.timezone)
    on = local_date(at, participant.timezone)
    start = datetime.combine(on, day_time(), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(on + timedelta(days=1), day_time(), tzinfo=zone).astimezone(UTC)
    for event in events:
        if event["type"] != "record.opened":
            continue
        deadline = aware_utc(event["at"]) + timedelta(days=event["payload"]["window_days"])
        if deadline < at:  # expired at ``at``: the same after it
            start = max(start, deadline + timedelta(microseconds=1))
        else:
            end = min(end, deadline)
    return start, end


def _stored(answers: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The answers as BSON keeps them (a date is not a BSON type)."""
    return [
        {**a, "valid_until": a["valid_until"].isoformat() if a["valid_until"] else None}
        for a in answers
    ]


def _loaded(answers: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [
        {**a, "valid_until": date.fromisoformat(a["valid_until"]) if a["valid_until"] else None}
        for a in answers
    ]


def _cached(
    raw: Mapping[str, Any], at: datetime, newer: bool, config: str
) -> list[dict[str, Any]] | None:
    """Return the stored answers of a participant document if they hold at ``at``, else None.

    ``raw`` is the participant as the database gives it (:data:`_FIELDS`): a batch of
    1,000 reads no Document objects unless their answers must be derived again.
    ``newer``: an event follows the sealed head (an append in progress, or one whose
    writer died before sealing): the stored answers may not know it. ``config`` is
    :func:`_config_key` of the participant's study, worked out once per call.
    """
    cache = raw.get("permissions_cache") or {}
    head = raw.get("chain_head") or {}
    if (
        newer
        or not cache
        or cache.get("seq") != head.get("seq")
        or cache.get("config") != config
        or not aware_utc(cache["start"]) <= at < aware_utc(cache["end"])
    ):
        return None
    return _loaded(cache["answers"])


def _store(
    participant: Participant,
    events: Sequence[audit.ChainEvent],
    at: datetime,
    answers: Sequence[Mapping[str, Any]],
) -> None:
    """Keep every activity's answers on the participant for the window they hold in."""
    if not events:
        return
    start, end = _window(participant, events, at)
    Participant.objects(id=participant.id).update_one(
        set__permissions_cache={
            "seq": events[-1]["seq"],
            "config": _config_key(participant.trial_id),
            "start": start,
            "end": end,
            "answers": _stored(answers),
        }
    )


def _pick(every: Sequence[dict[str, Any]], activities: Sequence[str]) -> list[dict[str, Any]]:
    by_activity = {a["activity"]: a for a in every}
    return [by_activity.get(a) or unknown(a, UNKNOWN_ACTIVITY).to_dict() for a in activities]


def _answers(
    participant: Participant,
    activities: Sequence[str],
    at: datetime,
    events: Sequence[audit.ChainEvent] | None = None,
) -> list[dict[str, Any]]:
    profile = participation(participant, at=at, events=events)
    on = local_date(at, participant.timezone)
    until = until_of(requirements_for(participant, on), participant.birth_date, on)
    return [answer(profile, a, until=until).to_dict() for a in activities]


def _beyond_head(participants: Sequence[Mapping[str, Any]]) -> set[str]:
    """Return the ids of participants with an event after their sealed head.

    One point read each, by equality on both fields of the unique (participant, seq)
    index, which the embedded database answers from the index alone. A batch's two
    ``$in`` (participants, then seqs) made it examine every event of every participant
    asked about: twice as slow at 15 events each, and slower as chains grow; an ``$or``
    of the pairs scanned the whole collection.
    """
    events = AuditEvent._get_collection()
    newer = set()
    for raw in participants:
        participant_id = str(raw["_id"])
        seq = int((raw.get("chain_head") or {}).get("seq") or 0) + 1
        if events.find_one({"participant_id": participant_id, "seq": seq}, {"_id": 1}):
            newer.add(participant_id)
    return newer


def _fresh(
    participant: Participant,
    at: datetime,
    events: Sequence[audit.ChainEvent] | None = None,
) -> list[dict[str, Any]]:
    """Derive every activity's answers from the chain (read unless given) and store them."""
    chain = audit.chain_dicts(str(participant.id)) if events is None else events
    every = _answers(participant, list(ACTIVITIES), at, chain)
    _store(participant, chain, at, every)
    return every


def _activities(asked: Sequence[str] | None) -> list[str]:
    return list(asked) if asked else list(ACTIVITIES)


def _check_sites(found: Sequence[Mapping[str, Any]], sites: frozenset[str] | None) -> None:
    if sites is not None and any(p["site_code"] not in sites for p in found):
        raise PermissionDeniedError("You do not have access to this.")


def _read(query: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The participant documents ``query`` finds, with only :data:`_FIELDS`, as stored."""
    return list(Participant._get_collection().find(query, dict.fromkeys(_FIELDS, 1)))


def _document(raw: Mapping[str, Any]) -> Participant:
    """The Participant of a raw document, for the few whose answers are derived again."""
    participant: Participant = Participant._from_son(dict(raw))
    return participant


def permissions_for(
    trial_id: str,
    code: str,
    *,
    activities: Sequence[str] | None = None,
    at: datetime | None = None,
    sites: frozenset[str] | None = None,
) -> dict[str, Any]:
    """Return the answers for one participant (all activities when none is named).

    ``sites`` are the sites the caller may see (None: all).

    Raises:
        PermissionDeniedError: the participant is at a site the caller may not see.
    """
    at = at or now_utc()
    asked = _activities(activities)
    found = _read({"trial_id": trial_id, "code": code})
    if not found:
        answers = [unknown(a, UNKNOWN_PARTICIPANT).to_dict() for a in asked]
    else:
        _check_sites(found, sites)
        every = _cached(found[0], at, bool(_beyond_head(found)), _config_key(trial_id))
        answers = _pick(_fresh(_document(found[0]), at) if every is None else every, asked)
    return {"trial_id": trial_id, "participant": code, "at": at, "answers": answers}


def permissions_for_many(
    trial_id: str,
    codes: Sequence[str],
    *,
    activities: Sequence[str] | None = None,
    at: datetime | None = None,
    sites: frozenset[str] | None = None,
) -> list[dict[str, Any]]:
    """Return the answers for up to :data:`BATCH_MAX` participants, in the order asked.

    Raises:
        InvalidDataError: ``batch-too-large``.
        PermissionDeniedError: any participant is at a site the caller may not see.
    """
    if len(codes) > BATCH_MAX:
        raise InvalidDataError(
            "Ask about at most %(max)s participants at once.",
            code="batch-too-large",
            params={"max": BATCH_MAX},
        )
    at = at or now_utc()
    asked = _activities(activities)
    unique = sorted(set(codes))
    found: dict[str, dict[str, Any]] = {}
    for chunk in db.in_chunks(unique):
        found.update(
            (raw["code"], raw) for raw in _read({"trial_id": trial_id, "code": {"$in": chunk}})
        )
    _check_sites(list(found.values()), sites)
    people = list(found.values())
    newer = _beyond_head(people)
    config = _config_key(trial_id)
    held = {str(p["_id"]): _cached(p, at, str(p["_id"]) in newer, config) for p in people}
    # Only the participants whose stored answers do not hold have their chains read.
    stale = [_document(p) for p in people if held[str(p["_id"])] is None]
    chains: dict[str, list[audit.ChainEvent]] = {}
    for people_chunk in db.in_chunks(stale):
        chains.update(audit.chains_dicts([str(p.id) for p in people_chunk]))
    for person in stale:
        held[str(person.id)] = _fresh(person, at, chains.get(str(person.id)))
    results = []
    for code in codes:
        raw = found.get(code)
        every = None if raw is None else held[str(raw["_id"])]
        answers = (
            [unknown(a, UNKNOWN_PARTICIPANT).to_dict() for a in asked]
            if every is None
            else _pick(every, asked)
        )
        results.append({"participant": code, "answers": answers})
    return results


def answers_after(
    participant: Participant, events: Sequence[audit.ChainEvent], *, at: datetime
) -> list[dict[str, Any]]:
    """Return every activity's answer on the chain ``events`` at ``at`` (webhook payloads).

    The same answers :func:`permissions_for` gives, for the chain as it stood
    just after one event, so a delivery sent late still says what that event changed.
    """
    return _answers(participant, list(ACTIVITIES), at, events)
