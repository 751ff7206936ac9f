"""The outbox: enqueue once, lease to one worker, retry with backoff, mark the outcome (real db)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from consentkit.models.outbox import OutboxMessage
from consentkit.services import outbox

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def _enqueue(key: str = "k1", **kwargs: Any) -> OutboxMessage:
    kwargs.setdefault("now", T0)
    return outbox.enqueue("notice", {"email": "a@example.org"}, dedupe_key=key, **kwargs)


def test_enqueue_twice_with_one_key_is_one_message(clean_db: Any) -> None:
    first = _enqueue(params={"subject": "s", "text": "one"})
    second = _enqueue(params={"subject": "s", "text": "two"})
    assert first.id == second.id
    assert OutboxMessage.objects.count() == 1
    assert OutboxMessage.objects.get().params["text"] == "one"


def test_queue_several_keeps_one_message_per_key_and_returns_the_queued_one(
    clean_db: Any,
) -> None:
    # A retried trigger to a whole family queues nothing new: a key already queued is that
    # message, the others are queued beside it in the same write.
    first = _enqueue("copy-ready:r1:a")

    queued = outbox.queue(
        [
            outbox.build_message("test", {"email": f"{name}@example.org"}, dedupe_key=key, now=T0)
            for name, key in (("a", "copy-ready:r1:a"), ("b", "copy-ready:r1:b"))
        ]
    )

    assert [m.dedupe_key for m in queued] == ["copy-ready:r1:a", "copy-ready:r1:b"]
    assert queued[0].id == first.id
    assert queued[1].id is not None
    assert OutboxMessage.objects.count() == 2
    assert OutboxMessage.objects.get(dedupe_key="copy-ready:r1:b").id == queued[1].id


def test_lease_takes_only_due_messages_and_never_the_same_twice(clean_db: Any) -> None:
    _enqueue("now")
    _enqueue("later", due_at=T0 + timedelta(hours=1))
    first = outbox.lease("w1", now=T0)
    assert first is not None and first.dedupe_key == "now"
    assert outbox.lease("w2", now=T0) is None


def test_lease_concurrent_workers_each_get_distinct_messages(clean_db: Any) -> None:
    for i in range(60):
        _enqueue(f"m{i}")
    taken: list[str] = []
    lock = threading.Lock()

    def drain(owner: str) -> None:
        # A lease that lost every race may find nothing while some are left (a worker
        # then simply looks again): drain until none is queued.
        while OutboxMessage.objects(status="queued").count():
            message = outbox.lease(owner, now=T0)
            if message is not None:
                with lock:
                    taken.append(message.dedupe_key)

    threads = [threading.Thread(target=drain, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(taken) == len(set(taken))  # never one message to two workers
    assert sorted(taken) == sorted(f"m{i}" for i in range(60))


def test_lease_expired_is_taken_over_and_the_old_owner_cannot_finish(clean_db: Any) -> None:
    _enqueue()
    stalled = outbox.lease("w1", now=T0)
    assert stalled is not None
    later = T0 + timedelta(minutes=5)  # past the 60 s lease
    again = outbox.lease("w2", now=later)
    assert again is not None and again.attempts == 2
    assert not outbox.mark_sent(stalled, "w1", channel="email", destination="x", now=later)
    assert outbox.mark_sent(again, "w2", channel="email", destination="x", now=later)
    assert OutboxMessage.objects.get().status == "sent"


def test_mark_failed_transient_retries_later_with_backoff(clean_db: Any) -> None:
    _enqueue()
    message = outbox.lease("w1", now=T0)
    assert message is not None
    outbox.mark_failed(message, "w1", error="HTTP 503", permanent=False, jitter=0.0, now=T0)
    stored = OutboxMessage.objects.get()
    assert stored.status == "queued"
    assert stored.due_at.replace(tzinfo=UTC) == T0 + timedelta(seconds=15)
    assert outbox.lease("w1", now=T0) is None


def test_mark_failed_after_max_attempts_is_final(clean_db: Any) -> None:
    _enqueue(max_attempts=2)
    at = T0
    for _ in range(2):
        message = outbox.lease("w1", now=at)
        assert message is not None
        outbox.mark_failed(message, "w1", error="HTTP 503", permanent=False, jitter=1.0, now=at)
        at += timedelta(hours=2)
    stored = OutboxMessage.objects.get()
    assert (stored.status, stored.last_error, stored.attempts) == ("failed", "HTTP 503", 2)


def test_mark_failed_permanent_is_final_at_once(clean_db: Any) -> None:
    _enqueue()
    message = outbox.lease("w1", now=T0)
    assert message is not None
    outbox.mark_failed(message, "w1", error="HTTP 400", permanent=True, now=T0)
    assert OutboxMessage.objects.get().status == "failed"


def test_lease_never_reads_finished_messages(clean_db: Any) -> None:
    """Leasing uses the partial indexes: finished messages are not examined."""
    for i in range(50):
        _enqueue(f"done{i}")
        leased = outbox.lease("w", now=T0)
        assert leased is not None
        outbox.mark_sent(leased, "w", channel="email", destination="x", now=T0)
    _enqueue("live")
    plan = (
        OutboxMessage._get_collection()
        .find({"status": "queued", "due_at": {"$lte": T0}})
        .sort("due_at", 1)
        .limit(1)
        .explain()
    )
    assert plan["executionStats"]["totalDocsExamined"] <= 1
    assert outbox.lease("w", now=T0).dedupe_key == "live"  # type: ignore[union-attr]


def test_claim_from_candidates_gives_each_message_to_one_worker(clean_db: Any) -> None:
    for i in range(10):
        _enqueue(f"m{i}")
    first = outbox.due_candidates(now=T0)
    second = outbox.due_candidates(now=T0)
    assert sorted(map(str, first)) == sorted(map(str, second))  # both read the same batch

    mine = [m for i in first if (m := outbox.claim("w1", i, now=T0)) is not None]
    theirs = [m for i in second if (m := outbox.claim("w2", i, now=T0)) is not None]

    assert len(mine) == 10
    assert theirs == []


def test_due_candidates_leave_out_messages_not_yet_due(clean_db: Any) -> None:
    _enqueue("now")
    _enqueue("later", due_at=T0 + timedelta(hours=1))

    [only] = outbox.due_candidates(now=T0)

    assert OutboxMessage.objects.get(id=only).dedupe_key == "now"
