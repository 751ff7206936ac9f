"""Attempt counters and what keeps the access collections bounded.

* ``hit()`` counts concurrent first attempts in a window without an error: the unique
  (key, window) index lets one upsert insert the counter and the others retry as increments.
* A daily allowance refuses with ``daily-limit-reached`` once spent, until the next UTC day.
* One-time-code challenges carry a TTL index on their expiry, so the database drops them.
"""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from consentkit.errors import RateLimitedError
from consentkit.models.access import CHALLENGE_KEPT_S, OtpChallenge, RateCounter
from consentkit.services import access

THREADS = 8


def test_hit_counts_concurrent_first_attempts_without_an_error(clean_db: Any) -> None:
    """Many threads hit fresh keys at once; every attempt counts and none fails.

    Racing first upserts were a 500: on MongoDB one gets a duplicate-key error
    (``NotUniqueError``); on SecantusDB, which this suite runs on, the loser's
    find-and-modify answers no document at all (``None.count``). Run the suite with
    ``CONSENTKIT_TEST_MONGODB_URI`` to race a real MongoDB server too.
    """
    errors: list[BaseException] = []
    keys = [f"verify-ip:race-{uuid.uuid4().hex}" for _ in range(20)]
    for key in keys:
        barrier = threading.Barrier(THREADS)

        def one(key: str = key, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            try:
                access.hit(key)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=one) for _ in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert errors == []
    assert [RateCounter.objects(key=k).get().count for k in keys] == [THREADS] * len(keys)


def test_a_daily_allowance_refuses_once_spent_until_the_next_utc_day(clean_db: Any) -> None:
    evening = datetime(2026, 3, 2, 23, 0, tzinfo=UTC)
    for _ in range(3):
        access.spend_daily_allowance("views:s1:r1", 3, now=evening)

    with pytest.raises(RateLimitedError) as refused:
        access.spend_daily_allowance("views:s1:r1", 3, now=evening)
    access.spend_daily_allowance("views:s1:r2", 3, now=evening)  # another record: its own
    access.spend_daily_allowance("views:s1:r1", 3, now=evening + timedelta(hours=1))

    assert refused.value.code == "daily-limit-reached"
    assert refused.value.retry_after == 3600


def test_one_time_code_challenges_expire_from_the_database(clean_db: Any) -> None:
    indexes = OtpChallenge._get_collection().index_information()

    ttl = [i for i in indexes.values() if "expireAfterSeconds" in i]

    assert [(i["key"], i["expireAfterSeconds"]) for i in ttl] == [
        ([("expires_at", 1)], CHALLENGE_KEPT_S)
    ]
