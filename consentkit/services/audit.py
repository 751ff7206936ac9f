"""Appending to and verifying the hash-chained audit trail.

Every state-changing action on a participant's consents is one event. Events
of a participant form a chain (each carries the previous event's hash); the
chain head is sealed with an HMAC (consentkit.crypto) so truncating the chain
is detected too. There is no update or delete function, by design (21 CFR
11.10(e), EMA computerised-systems guideline: audit trails protected against
change or deletion).

Appending is a compare-and-set on the unique (participant, seq) index: a writer
reads the chain, checks its preconditions against it, and inserts at the next
position; if someone else took that position first, it re-reads and re-checks.
Concurrent actions on one participant are thereby serialised, with no
multi-document transaction and no lost update (STYLE rule 3).

The sealed head and the chain are two writes, so they can disagree, but only in
one way. Invariant: **at most one event follows the sealed head.** An append
inserts event ``n`` and then seals the head at ``n``; a writer that dies
between the two leaves event ``n`` unsealed. Before inserting ``n + 1`` every
writer first seals the head at ``n`` if it lags (:func:`_seal_lagging_head`),
so event ``n + 1`` never exists while the head is below ``n``, even with
concurrent writers or repeated crashes. :func:`verify_participant` holds the
chain to exactly that: the head's hash is the hash of the event at ``head.seq``,
and at most one correctly linked event follows it.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from operator import itemgetter
from typing import Any

from bson import decode_all
from mongoengine import NotUniqueError

from consentkit import crypto
from consentkit.authoring.reader import canonical_json
from consentkit.clock import now_utc
from consentkit.errors import ConflictError
from consentkit.models.audit import AuditEvent
from consentkit.models.participant import Participant
from consentkit.policy.records import opened_event
from consentkit.services import webhook_fanout

log = logging.getLogger(__name__)

#: One event of a chain as stored (see ``_FIELDS``; ``payload`` per event type, documented
#: by the service that writes it). Left a plain dict on purpose: the event payloads are
#: open-ended JSON read back from the trail, and every reader (the policy functions, the
#: ``build`` callbacks of :func:`append`) takes them as such.
ChainEvent = dict[str, Any]

GENESIS = "0" * 64
MAX_ATTEMPTS = 50


@dataclass(frozen=True)
class Draft:
    """An event to append, built by a service from the current chain."""

    type: str
    actor: dict[str, Any]
    payload: dict[str, Any]
    record_id: str | None = None
    state_before: str | None = None
    state_after: str | None = None


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def event_hash(
    *,
    participant_id: str,
    seq: int,
    prev_hash: str,
    type: str,
    at: datetime,
    actor: dict[str, Any],
    record_id: str | None,
    payload: dict[str, Any],
    state_before: str | None,
    state_after: str | None,
) -> str:
    """Return the SHA-256 that chains an event: every field plus the previous hash."""
    body = {
        "participant_id": participant_id,
        "seq": seq,
        "prev_hash": prev_hash,
        "type": type,
        "at": _iso(at),
        "actor": actor,
        "record_id": record_id,
        "payload": payload,
        "state_before": state_before,
        "state_after": state_after,
    }
    return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


_FIELDS = (
    "seq",
    "type",
    "at",
    "actor",
    "record_id",
    "payload",
    "hash",
    "prev_hash",
    "state_before",
    "state_after",
)


def chain_dicts(participant_id: str) -> list[ChainEvent]:
    """Return a participant's events in chain order as plain dicts (fast: no Documents)."""
    cursor = AuditEvent._get_collection().find(
        {"participant_id": participant_id}, {name: 1 for name in _FIELDS}, sort=[("seq", 1)]
    )
    return [_plain(raw) for raw in cursor]


def opened_event_of(participant: Participant, record_id: str) -> ChainEvent:
    """Return a record's ``record.opened`` event (one indexed read, not the chain).

    Raises:
        NotFoundError: the participant has no such record.
    """
    return opened_event(
        _dicts(
            {"participant_id": str(participant.id), "record_id": record_id, "type": "record.opened"}
        ),
        record_id,
    )


def chains_dicts(participant_ids: Sequence[str]) -> dict[str, list[ChainEvent]]:
    """Return many participants' events, each chain in order, in one query (batch reads)."""
    chains: dict[str, list[ChainEvent]] = {pid: [] for pid in participant_ids}
    cursor = AuditEvent._get_collection().find(
        {"participant_id": {"$in": list(participant_ids)}},
        {"participant_id": 1, **{name: 1 for name in _FIELDS}},
    )
    for raw in cursor:
        chains[raw["participant_id"]].append(_plain(raw))
    for chain in chains.values():
        chain.sort(key=lambda e: e["seq"])
    return chains


def _plain(raw: dict[str, Any]) -> ChainEvent:
    return {
        "seq": raw["seq"],
        "type": raw["type"],
        "at": raw["at"],
        "actor": raw.get("actor") or {},
        "record_id": raw.get("record_id"),
        "payload": raw.get("payload") or {},
        "hash": raw["hash"],
        "prev_hash": raw["prev_hash"],
        "state_before": raw.get("state_before"),
        "state_after": raw.get("state_after"),
    }


def _head_text(participant_id: str, seq: int, digest: str) -> str:
    return f"{participant_id}:{seq}:{digest}"


def append(
    participant: Participant,
    build: Callable[[list[ChainEvent]], Draft | AuditEvent],
    *,
    now: datetime | None = None,
) -> AuditEvent:
    """Append the event ``build`` makes from the current chain (see :func:`append_to_chain`)."""
    return append_to_chain(participant, build, now=now)[0]


def append_to_chain(
    participant: Participant,
    build: Callable[[list[ChainEvent]], Draft | AuditEvent],
    *,
    now: datetime | None = None,
    scope: Mapping[str, Any] | None = None,
) -> tuple[AuditEvent, list[ChainEvent]]:
    """Append the event ``build`` makes from the current chain; retry if the chain moved.

    Returns the event and the chain including it (so callers need not read it again).

    ``build`` receives the chain as plain dicts, raises a ConsentKitError when
    a precondition fails, and may return an existing event instead of a draft
    (idempotent retries).

    With ``scope`` (a filter on the participant's events, such as one record's
    events and the participant-wide ones), ``build`` receives only the events
    matching it, and the chain returned is those events and the new one. The
    append then costs no read of the whole chain, so it takes the same time
    whatever the length of the chain: the next position, the previous hash and
    the last time come from the participant's sealed head as loaded, and the
    unique (participant, seq) index is still the compare-and-set. A head that
    was stale, lagging (a writer died before sealing) or written before heads
    carried the time is replaced by reading the chain's last event, once.

    Raises:
        ConflictError: the chain kept moving (pathological contention).
    """
    participant_id = str(participant.id)
    trust_head = scope is not None
    for _ in range(MAX_ATTEMPTS):
        if scope is None:
            # The head is read before the chain: it is sealed only after its event is
            # inserted, so the chain read next reaches at least the head.
            head_seq = int(_stored_head(participant.id).get("seq") or 0)
            stored = chain_dicts(participant_id)
            last = _tip_of(stored[-1]) if stored else None
            if stored and head_seq < stored[-1]["seq"]:
                _seal_lagging_head(participant, stored[-1])
        else:
            last = _head_tip(participant) if trust_head else _read_tip(participant)
            stored = _scoped(scope, participant_id)
            if stored and stored[-1]["seq"] > (last["seq"] if last else 0):
                trust_head = False  # the loaded head was behind the chain: read the tip
                continue
        result = build(stored)
        if isinstance(result, AuditEvent):
            # A retry: queue what a request that died after its write may not have queued.
            webhook_fanout.queue_event(participant, result, now=result.at)
            return result, stored
        at = now or now_utc()
        if last is not None and at < last["at"]:
            at = last["at"]  # keep event times monotonic even if clocks disagree
        seq = last["seq"] + 1 if last else 1
        prev_hash = last["hash"] if last else GENESIS
        fields: dict[str, Any] = {
            "participant_id": participant_id,
            "seq": seq,
            "prev_hash": prev_hash,
            "type": result.type,
            "at": at,
            "actor": result.actor,
            "record_id": result.record_id,
            "payload": result.payload,
            "state_before": result.state_before,
            "state_after": result.state_after,
        }
        event = AuditEvent(trial_id=participant.trial_id, hash=event_hash(**fields), **fields)
        try:
            event.save(force_insert=True)
        except NotUniqueError:
            trust_head = False
            continue  # another writer took this place: re-read and re-check
        _seal_head(participant, seq, event.hash, event.at)
        # The one place other systems learn of it (docs/webhooks.md): every writer appends here.
        webhook_fanout.queue_event(participant, event, now=event.at)
        return event, [*stored, {**fields, "hash": event.hash}]
    raise ConflictError("Too many simultaneous changes to this participant; try again.")


def _scoped(scope: Mapping[str, Any], participant_id: str) -> list[ChainEvent]:
    """Return the participant's events that ``scope`` selects, in chain order.

    An ``$or`` scope is read one branch at a time and merged: the embedded
    database examines every event of the participant for any ``$or`` (373 ms at
    5,000 events), but answers each branch from its own index in about a
    millisecond (``(record_id, seq)``, ``(participant_id, type, seq)``). So a
    ceremony step costs the same however long the chain has grown.
    """
    branches = scope.get("$or")
    if not branches or len(scope) != 1:
        return _dicts({**scope, "participant_id": participant_id})
    found: dict[int, ChainEvent] = {}
    for branch in branches:
        for event in _dicts({**branch, "participant_id": participant_id}):
            found[event["seq"]] = event
    return [found[seq] for seq in sorted(found)]


def _dicts(query: Mapping[str, Any]) -> list[ChainEvent]:
    cursor = AuditEvent._get_collection().find(
        dict(query), {name: 1 for name in _FIELDS}, sort=[("seq", 1)]
    )
    return [_plain(raw) for raw in cursor]


def _tip_of(event: Mapping[str, Any]) -> dict[str, Any]:
    return {"seq": event["seq"], "hash": event["hash"], "at": event["at"]}


def _head_tip(participant: Participant) -> dict[str, Any] | None:
    """Return the chain's tip as the loaded participant's head says, or read it.

    The head is trusted without a read: if the chain has moved since the
    participant was loaded, the insert at the next position fails on the unique
    index and the caller reads the tip (:func:`_read_tip`).
    """
    head = participant.chain_head or {}
    if head.get("at") is None:
        # No head yet, or one sealed before heads carried the time: build it from the chain.
        return _read_tip(participant)
    return {"seq": int(head["seq"]), "hash": head["hash"], "at": head["at"]}


def _read_tip(participant: Participant) -> dict[str, Any] | None:
    """Read the chain's last event (one indexed read) and seal the head at it if it lags."""
    participant_id = str(participant.id)
    raw = AuditEvent._get_collection().find_one(
        {"participant_id": participant_id}, {name: 1 for name in _FIELDS}, sort=[("seq", -1)]
    )
    if raw is None:
        return None
    last = _plain(raw)
    stored = _stored_head(participant.id)
    if int(stored.get("seq") or 0) < last["seq"] or stored.get("at") is None:
        _seal_lagging_head(participant, last)
    return _tip_of(last)


def _stored_head(key: Any) -> dict[str, Any]:
    """Return the sealed head of the participant whose ``_id`` is ``key``, as stored now.

    ``{}``: none yet.
    """
    raw = Participant._get_collection().find_one({"_id": key}, {"chain_head": 1})
    return dict((raw or {}).get("chain_head") or {})


def _seal_head(participant: Participant, seq: int, digest: str, at: datetime) -> None:
    """Seal the head at ``seq`` unless it is further already (never moves it back).

    The head also carries the time of its event (not sealed: only the order of
    event times depends on it), so the next append needs no read of the chain.
    The loaded participant's head moves too, for the next append in this process.
    """
    head = {
        "seq": seq,
        "hash": digest,
        "mac": crypto.seal(_head_text(str(participant.id), seq, digest)),
        "at": at,
    }
    # One condition, not an ``$or`` of "behind", "none yet" and "sealed before heads carried
    # the time": the embedded database examines every participant for an update whose
    # filter has a top-level ``$or`` (173 ms at 20,000 participants, against 1 ms by ``_id``).
    # Rewriting a head already at ``seq`` writes the same event's hash and time again.
    Participant.objects(id=participant.id).filter(
        __raw__={"chain_head.seq": {"$not": {"$gt": seq}}}
    ).update_one(set__chain_head=head)
    loaded = participant.chain_head or {}
    if int(loaded.get("seq") or 0) < seq or loaded.get("at") is None:
        # Not a change of the document (a later save must not write a head back).
        participant._data["chain_head"] = head


def _seal_lagging_head(participant: Participant, last: ChainEvent) -> None:
    """Seal the last event left unsealed by a writer that died (or is about to seal it).

    Keeps the module invariant (at most one event after the head) before the next insert.
    An event that does not hash to what it claims is left unsealed and logged, so the
    head never vouches for it; :func:`verify_participant` names it.
    """
    if _rehash(str(participant.id), last) != last["hash"]:
        log.error(
            "audit chain of participant %s: event %s does not match its hash; not sealed",
            participant.id,
            last["seq"],
        )
        return
    _seal_head(participant, last["seq"], last["hash"], last["at"])


@dataclass
class ChainReport:
    """Result of verifying one participant's chain."""

    participant_id: str
    participant_code: str
    events: int
    ok: bool
    problem: str | None = None
    broken_seq: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {
            "participant_id": self.participant_id,
            "participant_code": self.participant_code,
            "events": self.events,
            "ok": self.ok,
            "problem": self.problem,
            "broken_seq": self.broken_seq,
        }


def verify_participant(participant: Participant) -> ChainReport:
    """Re-walk a participant's chain and report the first broken link.

    Beyond the links, the sealed head (which needs the audit key to forge) must
    vouch for the chain: its hash is the hash of the event at ``head.seq``, and
    at most one event follows it (an append that died before sealing; see the
    module docstring). Re-hashing the whole chain without the key therefore
    fails at the head, even with a filler event appended after it.

    The head and the chain are two reads: when they disagree only in a way a
    concurrent append explains (head behind or ahead of the chain read), both
    are read again before the chain is reported broken.
    """
    head = dict(participant.chain_head or {})
    events = chain_dicts(str(participant.id))
    return _settled(participant.id, participant.code, head, events)


def _settled(
    key: Any, code: str, head: dict[str, Any], events: Sequence[Mapping[str, Any]]
) -> ChainReport:
    """Check a chain read after ``head``; re-read both while a concurrent append explains it.

    ``key`` is the participant's ``_id``; ``events`` are in chain order, as stored
    or as :func:`chain_dicts` returns them.
    """
    participant_id = str(key)
    report, moving = _check_chain(participant_id, code, events, head)
    for _ in range(_VERIFY_REREADS):
        if not moving:
            break
        fresh = _stored_head(key)
        if fresh == head:
            break  # nothing moved: the disagreement is real
        head = fresh
        if int(head.get("seq") or 0) > len(events):
            events = chain_dicts(participant_id)
        report, moving = _check_chain(participant_id, code, events, head)
    return report


#: How often verification re-reads a head that a concurrent append may have moved.
_VERIFY_REREADS = 5


def _rehash(participant_id: str, event: Mapping[str, Any]) -> str:
    """Recompute the hash of an event as stored, or as :func:`_plain` returns it.

    The absent optional fields read as :func:`_plain` reads them, so both forms
    hash to the same :func:`event_hash` text.
    """
    return event_hash(
        participant_id=participant_id,
        seq=event["seq"],
        prev_hash=event["prev_hash"],
        type=event["type"],
        at=event["at"],
        actor=event.get("actor") or {},
        record_id=event.get("record_id"),
        payload=event.get("payload") or {},
        state_before=event.get("state_before"),
        state_after=event.get("state_after"),
    )


def _check_chain(
    participant_id: str,
    code: str,
    events: Sequence[Mapping[str, Any]],
    head: dict[str, Any],
) -> tuple[ChainReport, bool]:
    """Check ``events`` against ``head``; also say whether an append in between may explain it."""
    report = ChainReport(participant_id, code, 0, ok=True)
    expected_prev = GENESIS
    head_seq = int(head.get("seq") or 0)
    hash_at_head: str | None = None
    for count, event in enumerate(events, start=1):
        report.events = count
        seq = event["seq"]
        if seq != count:
            return _broken(report, count, f"event {count} is missing (found seq {seq})"), False
        if event["prev_hash"] != expected_prev:
            return _broken(report, seq, f"event {seq} does not follow event {count - 1}"), False
        if _rehash(participant_id, event) != event["hash"]:
            problem = f"event {seq} ({event['type']}) was altered after it was written"
            return _broken(report, seq, problem), False
        expected_prev = event["hash"]
        if seq == head_seq:
            hash_at_head = event["hash"]
    count = len(events)
    if head:
        if not crypto.seal_matches(
            _head_text(participant_id, head["seq"], head["hash"]), head["mac"]
        ):
            return _broken(report, head.get("seq"), "the sealed chain head was altered"), False
        if head_seq > count:
            problem = f"events after {count} were removed (head is {head_seq})"
            return _broken(report, count + 1, problem), True
        if head["hash"] != hash_at_head:
            problem = f"event {head_seq} differs from the sealed chain head"
            return _broken(report, head_seq, problem), False
    if count > head_seq + 1:
        # One unsealed event is an append that died before sealing; more never stay.
        problem = f"events after {head_seq} are not covered by the sealed chain head"
        return _broken(report, head_seq + 1, problem), True
    return report, False


def _broken(report: ChainReport, seq: int | None, problem: str) -> ChainReport:
    report.ok = False
    report.problem = problem
    report.broken_seq = seq
    return report


def verify(trial_id: str | None = None, code: str | None = None) -> list[ChainReport]:
    """Verify the chains of all participants (of a study, or the one with ``code``)."""
    return list(verify_each(trial_id, code))


#: Participants whose chains are read as one batch: the next batch is read while this one
#: is checked (:func:`verify_each`).
VERIFY_BATCH = 100


def _participants_filter(trial_id: str | None, code: str | None) -> dict[str, Any]:
    query: dict[str, Any] = {}
    if trial_id:
        query["trial_id"] = trial_id
    if code:
        query["code"] = code
    return query


#: The order :func:`verify_each` walks participants in (and reports them in).
_VERIFY_ORDER = [("trial_id", 1), ("code", 1)]


def participants_to_verify(trial_id: str | None = None, code: str | None = None) -> Any:
    """Return the query of the participants :func:`verify_each` walks, in its order."""
    return Participant.objects(__raw__=_participants_filter(trial_id, code)).order_by(
        *(name for name, _direction in _VERIFY_ORDER)
    )


def verify_each(trial_id: str | None = None, code: str | None = None) -> Iterator[ChainReport]:
    """Yield each participant's :class:`ChainReport` as it is verified (see :func:`verify`).

    Participants are read as plain rows (id, code, sealed head), each row before
    its events, as :func:`verify_participant` requires. A worker thread reads the
    events of the next :data:`VERIFY_BATCH` participants (:func:`_stored_chains`)
    while this batch is decoded and hashed here, so the database's work and the
    hashing overlap (the database is a separate process). A chain that
    disagrees with its head in a way a concurrent append explains is verified
    again on its own.
    """
    rows = Participant._get_collection().find(
        _participants_filter(trial_id, code), {"code": 1, "chain_head": 1}, sort=_VERIFY_ORDER
    )
    codec = AuditEvent._get_collection().codec_options
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="audit-verify") as reader:
        batch = list(islice(rows, VERIFY_BATCH))
        pending = reader.submit(_stored_chains, batch) if batch else None
        while pending is not None:
            chains = pending.result()
            batch = list(islice(rows, VERIFY_BATCH))
            pending = reader.submit(_stored_chains, batch) if batch else None
            for row, stored in chains:
                # Let the reader take the interpreter now if its reply has come in, rather
                # than after CPython's 5 ms switch interval, while the database sits idle.
                time.sleep(0)
                events = decode_all(stored, codec)
                events.sort(key=itemgetter("seq"))  # read in index order: a linear pass
                yield _settled(row["_id"], row["code"], dict(row.get("chain_head") or {}), events)


def _stored_chains(rows: list[dict[str, Any]]) -> list[tuple[dict[str, Any], bytes]]:
    """Read each participant's events as the database sends them (BSON, not decoded).

    One equality read per participant on the ``(participant_id, seq)`` index, with
    no projection: on the embedded database that costs about what a bare scan of
    the same events does, where an ``$in`` over many participants compares every
    event with every id of the list and a projection doubles the cost of a read.
    Decoding is left to the caller, so this thread asks for the next chain as
    soon as a reply arrives.
    """
    events = AuditEvent._get_collection()
    return [
        (
            row,
            b"".join(
                events.find_raw_batches({"participant_id": str(row["_id"])}, batch_size=10_000)
            ),
        )
        for row in rows
    ]
