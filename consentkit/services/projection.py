"""The record projection and the dashboard counters, moved together after every event.

The audit chain is the truth; :class:`~consentkit.models.audit.ConsentRecord`
is its projection (each record's state as of the last event), and the counters
of :mod:`consentkit.models.dashboard` count the projections so that
:mod:`consentkit.services.dashboard` can answer without counting documents.
Every service that appends an event calls :func:`refresh_projection` with the
chain it just wrote; the counters move in the same step:

* enrolment: +1 participant at the site, +1 on the participant's competence date;
* a birth-date correction: the competence date moves;
* a record opened: +1 in ``awaiting-information``, and on its due date;
* a record changing state: -1 on the old state and +1 on the new in one update;
  the writer that wins the projection's ``last_seq`` guard does it, so each
  transition is counted exactly once however many guardians sign at once;
* a withdrawal scope first recorded for a participant: +1 in that scope;
* a record opened for a consent task (``task.opened``) consented: the task is done.

A process dying between the projection write and the counter write leaves a
counter off by one; :func:`consentkit.services.dashboard.rebuild_counts`
recomputes every counter from the projections.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

from pymongo.errors import DuplicateKeyError

from consentkit.enums import OPEN_STATES, RecordState
from consentkit.models.audit import ConsentRecord
from consentkit.models.base import BaseDocument
from consentkit.models.dashboard import DateCount, StatusCount, counter_key
from consentkit.models.participant import Participant
from consentkit.models.task import ConsentTask
from consentkit.policy.records import (
    RecordStanding,
    RecordStatus,
    cross_record_states,
    opened_event,
    participant_records,
    record_status,
)
from consentkit.services.requirements import own_consent_due

#: Record states that complete the consent task they were opened for: consented, or
#: consented and since replaced by a later version (v2 supersedes v1) or paused at competence.
TASK_RESOLVING_STATES = frozenset(
    {
        RecordState.CONSENTED,
        RecordState.SUPERSEDED,
        RecordState.SUSPENDED_AWAITING_OWN_CONSENT,
    }
)

#: The projection fields its counters are keyed by, read back with the old state, and its
#: opening time (the counters keep the latest one per key: the worklists' walks start there).
RECORD_COUNTER_FIELDS = {
    "_id": False,
    "trial_id": True,
    "site_code": True,
    "form_id": True,
    "version": True,
    "locale": True,
    "state": True,
    "is_partial": True,
    "due_at": True,
    "opened_at": True,
}


# ---------------------------------------------------------------- counter keys


def month_key(day: date) -> str:
    """Return the month a date counter of ``day`` is kept in (``YYYY-MM``)."""
    return day.strftime("%Y-%m")


def utc_day(moment: datetime) -> date:
    """Return the UTC date of a moment (a naive one is taken as UTC already)."""
    return moment.astimezone(UTC).date() if moment.tzinfo else moment.date()


def due_counter_path(record: Mapping[str, Any], state: str, is_partial: bool) -> str | None:
    """Return the ``due`` counter path of a record in ``state``, or None if it cannot expire."""
    due_at = record.get("due_at")
    if due_at is None or state not in OPEN_STATES:
        return None
    key = counter_key(
        record["site_code"],
        record["form_id"],
        record["version"],
        record["locale"],
        state,
        "1" if is_partial else "0",
        utc_day(due_at).isoformat(),
    )
    return f"counts.{key}"


# ---------------------------------------------------------------- keeping counters


def _bump(
    document: type[BaseDocument],
    key: Mapping[str, Any],
    inc: Mapping[str, int],
    *,
    newest: Mapping[str, datetime] | None = None,
    oldest: Mapping[str, datetime] | None = None,
) -> None:
    """Add ``inc`` to the counter document ``key``, creating it on first use.

    ``newest`` and ``oldest`` are moments kept as the latest (``$max``) and the
    earliest (``$min``) seen, in the same update: the bounds of the opening
    times a worklist walks (:class:`consentkit.models.dashboard.StatusCount`).
    """
    changes = {path: n for path, n in inc.items() if n}
    if not changes:
        return
    update: dict[str, Any] = {"$inc": changes}
    if newest:
        update["$max"] = dict(newest)
    if oldest:
        update["$min"] = dict(oldest)
    collection = document._get_collection()
    try:
        collection.update_one(dict(key), update, upsert=True)
    except DuplicateKeyError:
        # Two first writers upserted the same new document and the unique index
        # refused the second insert; its update now finds the winner's document.
        collection.update_one(dict(key), update, upsert=True)


def _bump_competence(participant: Participant, day: date, n: int) -> None:
    _bump(
        DateCount,
        {"trial_id": participant.trial_id, "metric": "competence", "month": month_key(day)},
        {f"counts.{counter_key(participant.site_code, day.isoformat())}": n},
    )


def _bump_due(record: Mapping[str, Any], inc: Mapping[str, int]) -> None:
    # The latest opening time of the records counted on each due day a record enters.
    opened = record.get("opened_at")
    entered = [path for path, n in inc.items() if n > 0]
    _bump(
        DateCount,
        {
            "trial_id": record["trial_id"],
            "metric": "due",
            "month": month_key(utc_day(record["due_at"])),
        },
        inc,
        newest={_newest_path(path): opened for path in entered} if opened else None,
    )


def _newest_path(count_path: str) -> str:
    """Return where the latest opening time of a counter's records is kept (``newest.<key>``)."""
    return "newest." + count_path.removeprefix("counts.")


def count_enrolment(participant: Participant) -> None:
    """Count a newly enrolled participant (once, after the insert succeeded)."""
    _bump(
        StatusCount,
        {"trial_id": participant.trial_id, "site_code": participant.site_code},
        {"participants": 1},
    )
    if participant.competence_date is not None:
        _bump_competence(participant, participant.competence_date, 1)


def count_competence_change(
    participant: Participant, before: date | None, after: date | None
) -> None:
    """Move a participant from one competence date to another (a birth-date correction)."""
    if before == after:
        return
    if before is not None:
        _bump_competence(participant, before, -1)
    if after is not None:
        _bump_competence(participant, after, 1)


def count_record_opened(record: ConsentRecord) -> None:
    """Count a newly inserted record projection in its initial state."""
    fields = {name: record[name] for name in RECORD_COUNTER_FIELDS if name != "_id"}
    key = counter_key(record.form_id, record.version, record.locale, record.state)
    _bump(
        StatusCount,
        {"trial_id": record.trial_id, "site_code": record.site_code},
        {f"counts.{key}": 1},
        newest={f"newest.{key}": record.opened_at},
        oldest={"oldest_opened": record.opened_at},
    )
    path = due_counter_path(fields, record.state, bool(record.is_partial))
    if path is not None:
        _bump_due(fields, {path: 1})


def count_transition(before: Mapping[str, Any], *, state: str, is_partial: bool) -> None:
    """Move a record's counts from the projection ``before`` to ``state``.

    ``before`` is the projection as it was just before the guarded update that
    moved it (fields :data:`RECORD_COUNTER_FIELDS`); only the writer whose
    update matched calls this, so each transition is counted once.
    """
    old_state = before["state"]
    parts = (before["form_id"], before["version"], before["locale"])
    if old_state != state:
        _bump(
            StatusCount,
            {"trial_id": before["trial_id"], "site_code": before["site_code"]},
            {
                f"counts.{counter_key(*parts, old_state)}": -1,
                f"counts.{counter_key(*parts, state)}": 1,
            },
            newest={f"newest.{counter_key(*parts, state)}": before["opened_at"]}
            if before.get("opened_at")
            else None,
        )
    old_path = due_counter_path(before, old_state, bool(before.get("is_partial")))
    new_path = due_counter_path(before, state, is_partial)
    if old_path != new_path:
        # Same due day, so both paths are in one month's document: one atomic update.
        inc = {path: n for path, n in ((old_path, -1), (new_path, 1)) if path is not None}
        _bump_due(before, inc)


def count_withdrawal(participant: Participant, scope: str) -> None:
    """Count a participant's first withdrawal in ``scope`` (scopes only ever accumulate)."""
    _bump(
        StatusCount,
        {"trial_id": participant.trial_id, "site_code": participant.site_code},
        {f"withdrawn.{counter_key(scope)}": 1},
    )


# ---------------------------------------------------------------- the record projection


#: What a projection update reads first: its guard, the fields its counters are keyed by,
#: and what it may change (to skip a write that would change nothing).
_PROJECTION_GUARD = {
    **RECORD_COUNTER_FIELDS,
    "record_id": True,
    "last_seq": True,
    "missing_signers": True,
    "completed_at": True,
}


def _unchanged(before: dict[str, Any], changes: dict[str, Any]) -> bool:
    """Whether a projection already shows ``changes`` (apart from its ``last_seq``)."""
    completed, wanted = before.get("completed_at"), changes["completed_at"]
    if completed is None or wanted is None:
        same_completion = completed is None and wanted is None
    else:  # stored with millisecond precision
        same_completion = abs((completed - wanted).total_seconds()) < 0.001
    return (
        same_completion
        and before.get("state") == changes["state"]
        and bool(before.get("is_partial")) == changes["is_partial"]
        and (before.get("missing_signers") or []) == changes["missing_signers"]
    )


def refresh_projection(
    participant: Participant, events: list[dict[str, Any]], *, record_id: str | None = None
) -> None:
    """Move every record projection of the participant forward to the chain's state.

    All records, because one event can change another record's state (a new
    version consented supersedes the old one; a withdrawal applies to all).
    With ``record_id``, only that record: the caller knows its event reached no
    other record (a ceremony step that neither consents nor dissents), and
    ``events`` need only be that record's events and the participant-wide ones
    (:func:`consentkit.services.ceremony.record_scope`), the last being the new event.
    The state is as of the last event; expiry, which depends only on time, is
    derived when read. ``last_seq`` keeps a lagging writer from moving it back.

    Each move is a compare-and-set on the ``last_seq`` just read, so the
    writer whose update matches knows exactly which projection it replaced and
    moves the dashboard counters from that state: each transition is counted
    once. A writer that finds a later event already projected counts nothing,
    since that writer's diff covered its event. (Not ``find_one_and_update``
    returning the old document: SecantusDB 0.7.0b3 finds that document before
    taking the write lock, so two racing writers can both be handed the same
    old state, and a guardian signing during a withdrawal was counted twice.)
    """
    last = events[-1]
    if record_id is None:
        statuses = participant_records(
            events, at=last["at"], own_consent_due=own_consent_due(participant, last["at"])
        )
        wanted: dict[str, Any] = {"participant_id": str(participant.id)}
    else:
        # Cross-record states (superseded, suspended, dissent lifted) follow only a consent
        # or a dissent, so the record's own status is its projected one.
        opened = opened_event(events, record_id)
        status = record_status(opened, events, at=last["at"])
        if _moved_without_a_read(
            record_id, status, record_status(opened, events[:-1], at=last["at"]), last["seq"]
        ):
            return
        statuses = [status]
        wanted = {"record_id": record_id}
    projections = ConsentRecord._get_collection()
    # One read for the projections concerned; a record re-reads only if it races.
    current = {doc["record_id"]: doc for doc in projections.find(wanted, _PROJECTION_GUARD)}
    for status in statuses:
        changes = _projected(status, last["seq"])
        before = current.get(status.record_id)
        if (
            before is not None
            and before["last_seq"] == last["seq"] - 1
            and _unchanged(before, changes)
        ):
            # Projected up to the previous event and this one moved nothing (most events:
            # a section read, an answer): skip the fsync'd write. The next writer still
            # finds last_seq below its own and moves it.
            continue
        _move(status.record_id, before, changes)
    _project_withdrawals(participant, events)
    _project_tasks(events, statuses)


def _move(record_id: str, before: dict[str, Any] | None, changes: dict[str, Any]) -> None:
    """Compare-and-set one projection on the ``last_seq`` read; count the transition once.

    A writer that loses the race re-reads and tries again while its event is
    still the later one. Nothing is written when the projection is not inserted
    yet (open_record inserts it after its event) or a later event was projected first.
    """
    projections = ConsentRecord._get_collection()
    while before is not None and before["last_seq"] < changes["last_seq"]:
        moved = projections.update_one(
            {"record_id": record_id, "last_seq": before["last_seq"]}, {"$set": changes}
        )
        if moved.matched_count:
            count_transition(
                before,
                state=changes["state"],
                is_partial=changes.get("is_partial", bool(before.get("is_partial"))),
            )
            return
        before = projections.find_one({"record_id": record_id}, _PROJECTION_GUARD)


#: Projected states that stand for a consent given: a record superseded or suspended was
#: consented, and is again if what put it aside goes.
_CONSENT_GIVEN = frozenset(
    {RecordState.CONSENTED, RecordState.SUPERSEDED, RecordState.SUSPENDED_AWAITING_OWN_CONSENT}
)


def refresh_after_consent(
    participant: Participant, events: list[dict[str, Any]], status: RecordStatus
) -> bool:
    """Project a signature that completed a consent, without reading the whole chain.

    A consent reaches other records (a later version supersedes the earlier one;
    an own consent at competence lifts the parental consent's suspension), which
    :func:`refresh_projection` derives from every event of the participant: a
    read that grows with the chain (635 ms at 5,000 events). Here ``events`` are
    the record's and the participant-wide ones (ceremony.record_scope), the last
    being the consent, and ``status`` the record's own status derived from them
    (:func:`consentkit.policy.records.record_status`); the others' come from
    their projections, whose own states the cross-record rule
    (:func:`consentkit.policy.records.cross_record_states`) needs and nothing else.

    Returns False, having written nothing, when a dissent is among the events:
    the child's later agreement may lift it, which moves records opened before it
    from their own events; the caller then refreshes from the whole chain.
    """
    if any(event["type"] == "assent.dissent" for event in events):
        return False
    last = events[-1]
    record_id = status.record_id
    guard = {**_PROJECTION_GUARD, "form_kind": True}
    current = {
        doc["record_id"]: doc
        for doc in ConsentRecord._get_collection().find(
            {"participant_id": str(participant.id)}, guard
        )
    }
    standings = [RecordStanding.of(status)] + [
        RecordStanding(
            doc["record_id"],
            doc["form_id"],
            doc["form_kind"],
            doc["version"],
            RecordState.CONSENTED if doc["state"] in _CONSENT_GIVEN else RecordState(doc["state"]),
        )
        for doc in current.values()
        if doc["record_id"] != record_id
    ]
    states = cross_record_states(
        standings, own_consent_due=own_consent_due(participant, last["at"])
    )
    # The caller's status stays the record's own; the projection shows the cross-record one.
    status = replace(status, state=states[record_id])
    _move(record_id, current.get(record_id), _projected(status, last["seq"]))
    for doc in current.values():
        state = states.get(doc["record_id"])
        if doc["record_id"] != record_id and state is not None and state != doc["state"]:
            _move(doc["record_id"], doc, {"state": state.value, "last_seq": last["seq"]})
    _project_withdrawals(participant, events)
    _project_tasks(events, [status])
    return True


_VISIBLE = ("state", "missing_signers", "completed_at", "is_partial")


def _projected(status: RecordStatus, seq: int) -> dict[str, Any]:
    """Return the projection's fields for a record's status as of event ``seq``."""
    state = status.state
    if state == RecordState.EXPIRED:
        state = (
            RecordState.AWAITING_SIGNATURES
            if status.signers and any(p.signed_at for p in status.signers.values())
            else RecordState.AWAITING_INFORMATION
        )
    is_partial = state == RecordState.AWAITING_SIGNATURES and any(
        p.signed_at for p in status.signers.values()
    )
    return {
        "state": state.value,
        "missing_signers": status.missing_signers,
        "completed_at": status.completed_at,
        "last_seq": seq,
        "is_partial": is_partial,
    }


def _moved_without_a_read(
    record_id: str, status: RecordStatus, previous: RecordStatus, seq: int
) -> bool:
    """Project one ceremony step whose counters cannot move; say whether that was all.

    ``previous`` is the record's status without the step. When the step moved
    nothing visible (most section reads and answers), nothing is written: the
    next step that does move something writes every field. When it moved only
    what no counter is keyed by (the signers still missing), one update guarded
    by the state and partial flag the counters know writes it. Otherwise (a
    transition, or a projection not in the state the chain says it had: a racing
    writer's transition not projected yet) the caller's read and compare-and-set
    count the transition.
    """
    changes, before = _projected(status, seq), _projected(previous, seq)
    if all(changes[name] == before[name] for name in _VISIBLE):
        return True
    if changes["state"] != before["state"] or changes["is_partial"] != before["is_partial"]:
        return False
    moved = ConsentRecord._get_collection().update_one(
        {
            "record_id": record_id,
            "last_seq": {"$lt": seq},
            "state": before["state"],
            "is_partial": True if before["is_partial"] else {"$ne": True},
        },
        {"$set": changes},
    )
    return bool(moved.matched_count)


def _project_tasks(events: list[dict[str, Any]], statuses: list[RecordStatus]) -> None:
    """Mark done the consent tasks whose record (``task.opened``) is now consented.

    Derived from the same events as the records, so the worklists' ``status``
    follows the chain; the conditional update makes it once, whoever signs last.
    """
    linked = {
        str(e["record_id"]): e["payload"]["key"] for e in events if e["type"] == "task.opened"
    }
    if not linked:
        return
    at = events[-1]["at"]
    for status in statuses:
        key = linked.get(status.record_id)
        if key is not None and status.state in TASK_RESOLVING_STATES:
            ConsentTask.objects(key=key, status__ne="done").update_one(
                set__status="done", set__record_id=status.record_id, set__resolved_at=at
            )


def _project_withdrawals(participant: Participant, events: list[dict[str, Any]]) -> None:
    """Add newly withdrawn scopes to the participant and count each once.

    Scopes only accumulate, so ``$addToSet`` guarded by "not there yet" lets
    exactly one writer add a scope, even when a retried request replays an
    older chain.
    """
    known = set(participant.withdrawn_scopes or [])
    recorded = sorted(
        {
            scope
            for event in events
            if event["type"] == "withdrawal.recorded"
            for scope in event["payload"]["scopes"]
        }
        - known
    )
    participants = Participant._get_collection()
    for scope in recorded:
        added = participants.update_one(
            {"_id": participant.id, "withdrawn_scopes": {"$ne": scope}},
            {"$addToSet": {"withdrawn_scopes": scope}},
        )
        if added.modified_count:
            count_withdrawal(participant, scope)
    if recorded:
        participant.withdrawn_scopes = sorted(known | set(recorded))
