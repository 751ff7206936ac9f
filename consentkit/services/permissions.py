"""The "may I?" permission API: permit or deny per activity, read off the participation profile.

Each answer is :func:`consentkit.services.records.participation` (the profile)
with :func:`consentkit.policy.activities.answer` picking the activity's field;
nothing here decides anything of its own. An unknown participant or activity is
denied with a reason code, never an error, so a caller that asks about a code
it mistyped is told "no". The batch form reads every participant and every
chain in two queries per 25 participants (docs/permissions.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from consentkit.clock import now_utc
from consentkit.errors import InvalidDataError, PermissionDeniedError
from consentkit.models.participant import Participant
from consentkit.policy.activities import ACTIVITIES, UNKNOWN_PARTICIPANT, answer, unknown
from consentkit.policy.activities import valid_until as until_of
from consentkit.policy.age import local_date
from consentkit.services import audit
from consentkit.services.records import participation
from consentkit.services.requirements import requirements_for

#: The most participants one batch may ask about.
BATCH_MAX = 1000
#: Participants per bulk read: on the embedded database a larger $in outlasts its timeout.
READ_CHUNK = 25
_FIELDS = ("trial_id", "code", "site_code", "country", "timezone", "birth_date")


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


def _activities(asked: Sequence[str] | None) -> list[str]:
    return list(asked) if asked else list(ACTIVITIES)


def _check_sites(found: Sequence[Participant], sites: frozenset[str] | None) -> None:
    if sites is not None and any(p.site_code not in sites for p in found):
        raise PermissionDeniedError("You do not have access to this.")


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
    participant = Participant.objects(trial_id=trial_id, code=code).only(*_FIELDS).first()
    if participant is None:
        answers = [unknown(a, UNKNOWN_PARTICIPANT).to_dict() for a in asked]
    else:
        _check_sites([participant], sites)
        answers = _answers(participant, asked, at)
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
    found: dict[str, Participant] = {}
    for start in range(0, len(unique), READ_CHUNK):
        chunk = unique[start : start + READ_CHUNK]
        found.update(
            (p.code, p)
            for p in Participant.objects(trial_id=trial_id, code__in=chunk).only(*_FIELDS)
        )
    _check_sites(list(found.values()), sites)
    ids = [str(p.id) for p in found.values()]
    chains: dict[str, list[audit.ChainEvent]] = {}
    for start in range(0, len(ids), READ_CHUNK):
        chains.update(audit.chains_dicts(ids[start : start + READ_CHUNK]))
    results = []
    for code in codes:
        participant = found.get(code)
        answers = (
            [unknown(a, UNKNOWN_PARTICIPANT).to_dict() for a in asked]
            if participant is None
            else _answers(participant, asked, at, chains[str(participant.id)])
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
