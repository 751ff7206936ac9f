"""Idempotency claims are leases: a request that died does not block its retries for a day.

The dead request is a real process, killed (SIGKILL) while it holds the claim.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pymongo.errors import AutoReconnect

from consentkit.errors import ConflictError
from consentkit.services import idempotency

LEASE_S = 1.0

DIE_HOLDING_THE_CLAIM = """
import json, sys, time
from consentkit import db
from consentkit.services import idempotency
uri, name, scope, key, sha = sys.argv[1:]
db.connect(uri, db_name=name)

def hang():
    print("claimed", flush=True)
    time.sleep(600)

idempotency.run_once(scope, key, sha, hang)
"""


@pytest.fixture
def short_lease(monkeypatch: pytest.MonkeyPatch) -> None:
    """Leases of one second, and a retry that waits a fifth of one for a live claim."""
    monkeypatch.setenv("CONSENTKIT_IDEMPOTENCY_LEASE_S", str(LEASE_S))
    monkeypatch.setattr(idempotency, "WAIT_S", 0.2)


@pytest.fixture
def killed_claim(clean_db: Any, connected: str, db_name: str, short_lease: None) -> Iterator[str]:
    """Scope of a claim on key ``k1`` held by a process that was then killed."""
    scope = "session:dead"
    with subprocess.Popen(
        [sys.executable, "-c", DIE_HOLDING_THE_CLAIM, connected, db_name, scope, "k1", "sha-1"],
        stdout=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            assert process.stdout is not None
            assert process.stdout.readline().strip() == "claimed"
        finally:
            process.kill()
    yield scope


def _counting(body: dict[str, Any], pause_s: float = 0.0) -> tuple[list[int], Callable[[], Any]]:
    calls: list[int] = []

    def action() -> tuple[int, dict[str, Any]]:
        calls.append(1)
        time.sleep(pause_s)
        return 201, body

    return calls, action


def test_run_once_retry_within_the_lease_is_told_when_to_come_back(killed_claim: str) -> None:
    calls, action = _counting({"ok": True})

    with pytest.raises(ConflictError) as error:
        idempotency.run_once(killed_claim, "k1", "sha-1", action)

    assert error.value.code == "request-in-progress"
    assert 1 <= error.value.details["retry_after"] <= LEASE_S
    assert calls == []


def test_run_once_retry_after_the_lease_does_the_work_of_a_killed_process(
    killed_claim: str,
) -> None:
    calls, action = _counting({"ok": True})
    time.sleep(LEASE_S + 0.1)

    first = idempotency.run_once(killed_claim, "k1", "sha-1", action)
    again = idempotency.run_once(killed_claim, "k1", "sha-1", action)

    assert first == (201, {"ok": True}, False)
    assert again == (201, {"ok": True}, True)
    assert calls == [1]


def test_run_once_after_the_lease_answers_from_already_done_without_acting(
    killed_claim: str,
) -> None:
    calls, action = _counting({"ok": True})
    time.sleep(LEASE_S + 0.1)

    answer = idempotency.run_once(
        killed_claim, "k1", "sha-1", action, already_done=lambda: (201, {"seq": 7})
    )

    assert answer == (201, {"seq": 7}, True)
    assert idempotency.run_once(killed_claim, "k1", "sha-1", action)[:2] == (201, {"seq": 7})
    assert calls == []


def test_run_once_lets_one_of_concurrent_retries_take_over_an_expired_claim(
    killed_claim: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls, action = _counting({"ok": True}, pause_s=0.1)
    time.sleep(LEASE_S + 0.1)
    # The dead claim has expired. On a loaded machine the new owner may be slower than a
    # second and the others slower to look again: a long new lease and a patient wait keep
    # this about who takes over, not about the machine's speed.
    monkeypatch.setenv("CONSENTKIT_IDEMPOTENCY_LEASE_S", "60")
    monkeypatch.setattr(idempotency, "WAIT_S", 30.0)
    barrier = threading.Barrier(4)
    results: list[Any] = []

    def retry() -> None:
        barrier.wait()
        try:
            results.append(idempotency.run_once(killed_claim, "k1", "sha-1", action))
        except Exception as exc:
            results.append(exc)

    threads = [threading.Thread(target=retry) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert calls == [1]
    assert sorted(results) == [
        (201, {"ok": True}, False),
        (201, {"ok": True}, True),
        (201, {"ok": True}, True),
        (201, {"ok": True}, True),
    ]


def test_run_once_releases_the_claim_when_the_action_is_refused(
    clean_db: Any, short_lease: None
) -> None:
    def refused() -> tuple[int, dict[str, Any]]:
        raise ConflictError("This person has already signed.", code="already-signed")

    with pytest.raises(ConflictError):
        idempotency.run_once("session:s", "k2", "sha-2", refused)
    calls, action = _counting({"ok": True})

    assert idempotency.run_once("session:s", "k2", "sha-2", action) == (201, {"ok": True}, False)
    assert calls == [1]


def test_run_once_keeps_the_claim_when_the_database_failed_mid_action(
    clean_db: Any, short_lease: None
) -> None:
    def lost() -> tuple[int, dict[str, Any]]:
        raise AutoReconnect("connection closed")  # the write may or may not have happened

    with pytest.raises(AutoReconnect):
        idempotency.run_once("session:s", "k3", "sha-3", lost)
    calls, action = _counting({"ok": True})

    with pytest.raises(ConflictError) as error:
        idempotency.run_once("session:s", "k3", "sha-3", action)
    assert error.value.code == "request-in-progress"
    time.sleep(LEASE_S + 0.1)
    assert idempotency.run_once("session:s", "k3", "sha-3", action) == (201, {"ok": True}, False)
    assert calls == [1]


def test_run_once_takes_over_a_claim_stored_before_leases(clean_db: Any, short_lease: None) -> None:
    from consentkit.clock import now_utc
    from consentkit.models.idempotency import IdempotentResponse

    old = now_utc() - idempotency.timedelta(minutes=5)
    IdempotentResponse._get_collection().insert_one(
        {
            "scope": "session:s",
            "key": "k4",
            "request_sha256": "sha-4",
            "status": None,
            "created_at": old,
            "expires_at": old + idempotency.KEEP,
        }
    )
    calls, action = _counting({"ok": True})

    assert idempotency.run_once("session:s", "k4", "sha-4", action) == (201, {"ok": True}, False)
    assert calls == [1]
    assert json.dumps(IdempotentResponse.objects(key="k4").get().body) == '{"ok": true}'
