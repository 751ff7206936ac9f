"""Idempotency keys: the first response to a request is the answer to its retries.

A key is scoped to its caller (e.g. a signer's session). The first request
claims the key (unique index) before doing its work, so two simultaneous retries
cannot both act; the second waits for the first's answer.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from mongoengine import NotUniqueError

from consentkit.clock import now_utc
from consentkit.errors import ConflictError, InvalidDataError
from consentkit.models.idempotency import IdempotentResponse

KEEP = timedelta(hours=24)
WAIT_S = 30.0


def run_once(
    scope: str, key: str, request_sha256: str, action: Callable[[], tuple[int, dict[str, Any]]]
) -> tuple[int, dict[str, Any], bool]:
    """Run ``action`` once per (scope, key); return (status, body, replayed).

    Any error from ``action`` releases the key, so a corrected retry can succeed.

    Raises:
        InvalidDataError: the key was used with a different request body (``idempotency-mismatch``).
        ConflictError: the first request with this key is still running after a wait.
    """
    now = now_utc()
    try:
        IdempotentResponse(
            scope=scope,
            key=key,
            request_sha256=request_sha256,
            created_at=now,
            expires_at=now + KEEP,
        ).save(force_insert=True)
    except NotUniqueError:
        deadline = time.monotonic() + WAIT_S
        while True:
            first = IdempotentResponse.objects(scope=scope, key=key).first()
            if first is None:  # released by a failed first attempt: try to claim it again
                return run_once(scope, key, request_sha256, action)
            if first.request_sha256 != request_sha256:
                raise InvalidDataError(
                    "This Idempotency-Key was used for a different request.",
                    code="idempotency-mismatch",
                ) from None
            if first.status is not None:
                return first.status, dict(first.body or {}), True
            if time.monotonic() > deadline:
                raise ConflictError(
                    "The first request with this key is still running.", code="request-in-progress"
                ) from None
            time.sleep(0.1)
    try:
        status, body = action()
    except BaseException:
        IdempotentResponse.objects(scope=scope, key=key, status=None).delete()
        raise
    IdempotentResponse.objects(scope=scope, key=key).update_one(set__status=status, set__body=body)
    return status, body, False
