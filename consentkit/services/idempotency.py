"""Idempotency keys: the first response to a request is the answer to its retries.

A key is scoped to its caller (e.g. a signer's session). The first request
claims the key (unique index) before doing its work, so two simultaneous retries
cannot both act; the second waits briefly for the first's answer.

A claim is a short lease, not a lock for the key's lifetime: a worker killed
mid-request (or a database that went away under it) never completes its claim,
and its client must still get an answer. Once the lease has run out, a retry
with the same key and request takes the claim over with a compare-and-set on
the lease owner, so of two retries only one does. The new owner first asks the
caller's ``already_done`` hook whether the work was in fact finished (for a
signature: the signer's ``signature.added`` event carrying this key exists) and
answers from it; otherwise it does the work itself.
"""

from __future__ import annotations

import contextlib
import math
import secrets
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from mongoengine import NotUniqueError
from mongoengine.errors import OperationError
from pymongo.errors import PyMongoError

from consentkit import settings
from consentkit.clock import now_utc
from consentkit.errors import ConflictError, DatabaseUnavailableError, InvalidDataError
from consentkit.models.idempotency import IdempotentResponse

KEEP = timedelta(hours=24)
#: How long a retry waits for a live claim to complete before answering 409 with
#: Retry-After: well inside a web worker's timeout, so waiting never kills the worker.
WAIT_S = 5.0

Outcome = tuple[int, dict[str, Any]]

#: Errors after which nobody knows whether the action's write happened: the claim
#: is kept and its lease decides when a retry may look again.
_OUTCOME_UNKNOWN = (PyMongoError, OperationError, DatabaseUnavailableError)


def run_once(
    scope: str,
    key: str,
    request_sha256: str,
    action: Callable[[], Outcome],
    *,
    already_done: Callable[[], Outcome | None] | None = None,
) -> tuple[int, dict[str, Any], bool]:
    """Run ``action`` once per (scope, key); return (status, body, replayed).

    ``already_done`` is asked only when this call takes over the claim of a
    request that died: it returns the outcome if that request's work was done
    (derived from the events), or None to run ``action``.

    An error from ``action`` releases the key, so a corrected retry can succeed
    at once; a database error (the write may have happened) keeps it until the
    lease runs out, and the retry then finds out.

    Raises:
        InvalidDataError: the key was used with a different request body (``idempotency-mismatch``).
        ConflictError: the first request with this key is still running after a
            wait (``request-in-progress``); ``details["retry_after"]`` says when its
            lease runs out.
    """
    owner, took_over, stored = _claim(scope, key, request_sha256)
    if stored is not None:
        return stored[0], stored[1], True
    try:
        done = already_done() if took_over and already_done is not None else None
        if done is not None:
            return (*_complete(scope, key, done), True)
        outcome = action()
    except _OUTCOME_UNKNOWN:
        raise
    except Exception:
        _release(scope, key, owner)
        raise
    return (*_complete(scope, key, outcome), False)


def _claim(scope: str, key: str, request_sha256: str) -> tuple[str, bool, Outcome | None]:
    """Claim the key; return (owner, taken over from a dead request?, stored outcome)."""
    owner = secrets.token_hex(16)
    deadline = time.monotonic() + WAIT_S
    while True:
        now = now_utc()
        try:
            IdempotentResponse(
                scope=scope,
                key=key,
                request_sha256=request_sha256,
                created_at=now,
                expires_at=now + KEEP,
                lease_owner=owner,
                lease_until=now + _lease(),
            ).save(force_insert=True)
        except NotUniqueError:
            pass
        else:
            return owner, False, None
        first = IdempotentResponse.objects(scope=scope, key=key).first()
        if first is None:  # released by a failed first attempt: claim it again
            continue
        if first.request_sha256 != request_sha256:
            raise InvalidDataError(
                "This Idempotency-Key was used for a different request.",
                code="idempotency-mismatch",
            )
        if first.status is not None:
            return owner, False, (first.status, dict(first.body or {}))
        lease_until = _lease_until(first)
        if lease_until <= now:
            # Compare-and-set on the dead owner: of two retries, one takes it over.
            if IdempotentResponse.objects(
                scope=scope, key=key, status=None, lease_owner=first.lease_owner
            ).update_one(set__lease_owner=owner, set__lease_until=now + _lease()):
                return owner, True, None
            continue
        if time.monotonic() > deadline:
            raise ConflictError(
                "The first request with this key is still running.",
                code="request-in-progress",
                details={"retry_after": max(1, math.ceil((lease_until - now).total_seconds()))},
            )
        time.sleep(0.1)


def _lease() -> timedelta:
    return timedelta(seconds=settings.idempotency_lease_s())


def _lease_until(claim: IdempotentResponse) -> datetime:
    """Return when a claim's lease ends (claims from before leases: created_at + lease)."""
    until: datetime = claim.lease_until or claim.created_at + _lease()
    return until


def _complete(scope: str, key: str, outcome: Outcome) -> Outcome:
    """Store the answer, unless another owner already stored one: then that is the answer.

    A request slower than its lease may finish after a retry took over; the
    first answer stored stays the answer to every retry.
    """
    status, body = outcome
    if IdempotentResponse.objects(scope=scope, key=key, status=None).update_one(
        set__status=status, set__body=body
    ):
        return outcome
    stored = IdempotentResponse.objects(scope=scope, key=key).first()
    if stored is None or stored.status is None:
        return outcome
    return stored.status, dict(stored.body or {})


def _release(scope: str, key: str, owner: str) -> None:
    """Give up our claim after a known failure, so an immediate retry runs again."""
    # If the database went away too, the lease runs out instead.
    with contextlib.suppress(*_OUTCOME_UNKNOWN):
        IdempotentResponse.objects(scope=scope, key=key, status=None, lease_owner=owner).delete()
