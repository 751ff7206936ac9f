"""A phone retrying after the server crashed mid-request gets its answer, not "in progress".

The first request runs in a real process (the same app, the same database) that
is killed with SIGKILL while it holds the Idempotency-Key claim: either before
the work, or after the work was stored but before its answer was.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from consentkit.models.access import SignerSession
from consentkit.models.audit import AuditEvent
from consentkit.services import idempotency, signer_flow
from tests.backend.signer_helpers import read_and_prepare
from tests.consentkit.records_helpers import STROKES

LEASE_S = 1.0

#: Runs one POST through the app, then dies (SIGKILL from the test) before or after the work.
KILLED_WORKER = """
import json, sys, time
cfg = json.loads(sys.argv[1])
from consentkit.services import signer_flow
real = getattr(signer_flow, cfg["service"])

def work_then_die(*args, **kwargs):
    if cfg["die"] == "before-work":
        print("null", flush=True)
    else:
        print(json.dumps(real(*args, **kwargs), default=str), flush=True)
    time.sleep(600)

setattr(signer_flow, cfg["service"], work_then_die)
from backend import create_app
client = create_app(cfg["app"]).test_client()
client.post(cfg["url"], data=cfg["body"], headers=cfg["headers"], content_type="application/json")
print("survived", flush=True)
"""


@pytest.fixture(autouse=True)
def short_lease(monkeypatch: pytest.MonkeyPatch) -> None:
    """Leases of one second, and a retry that waits a fifth of one for a live claim."""
    monkeypatch.setenv("CONSENTKIT_IDEMPOTENCY_LEASE_S", str(LEASE_S))
    monkeypatch.setattr(idempotency, "WAIT_S", 0.2)


def _killed_worker(
    app: Any, mongodb_uri: str, db_name: str, tmp_path: Path, request: dict[str, Any]
) -> Any:
    """Send ``request`` from a worker process killed mid-request; return what its work returned."""
    config = {
        "TESTING": True,
        "MONGODB_URI": mongodb_uri,
        "MONGODB_DB": db_name,
        "DATA_DIR": str(tmp_path),
        "SECRET_KEY": app.config["SECRET_KEY"],
    }
    with subprocess.Popen(
        [sys.executable, "-c", KILLED_WORKER, json.dumps({**request, "app": config})],
        stdout=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
        finally:
            process.kill()
    assert line and line.strip() != "survived", line
    return json.loads(line)


def _signature(phone: Any, die: str, **worker: Any) -> tuple[str, bytes, dict[str, str], Any]:
    text = read_and_prepare(phone)
    phone.step_up()
    url = f"/api/v1/me/records/{phone.rec.record_id}/signature"
    body = json.dumps(
        {
            "locale": "fr",
            "content_sha256": text["sha"],
            "printed_name": phone.name,
            "strokes": STROKES,
            "early_signing_justification": "Family travelled far",
        }
    )
    headers = {**phone.headers, "Idempotency-Key": "sig-crash-1"}
    first = _killed_worker(
        **worker,
        request={"service": "sign", "die": die, "url": url, "body": body, "headers": headers},
    )
    return url, body.encode(), {"Idempotency-Key": "sig-crash-1"}, first


def _signatures(phone: Any) -> list[AuditEvent]:
    return list(
        AuditEvent.objects(
            record_id=phone.rec.record_id,
            type="signature.added",
            payload__signer_id=str(phone.fam.guardians[0].id),
        )
    )


def test_signature_retry_after_the_lease_of_a_killed_worker_signs(
    phone: Any,
    app: Any,
    mongodb_uri: str,
    db_name: str,
    tmp_path: Path,
) -> None:
    url, body, key, _ = _signature(
        phone, "before-work", app=app, mongodb_uri=mongodb_uri, db_name=db_name, tmp_path=tmp_path
    )
    time.sleep(LEASE_S + 0.1)

    retry = phone.post(url, data=body, content_type="application/json", headers=key)

    assert retry.status_code == 200, retry.get_json()
    assert retry.get_json()["type"] == "signature.added"
    assert len(_signatures(phone)) == 1


def test_signature_retry_after_the_answer_was_lost_returns_the_stored_signature(
    phone: Any,
    app: Any,
    mongodb_uri: str,
    db_name: str,
    tmp_path: Path,
) -> None:
    url, body, key, first = _signature(
        phone, "after-work", app=app, mongodb_uri=mongodb_uri, db_name=db_name, tmp_path=tmp_path
    )
    time.sleep(LEASE_S + 0.1)

    # No new step-up: the dead worker spent the code on the signature that was stored.
    retry = phone.post(url, data=body, content_type="application/json", headers=key)
    again = phone.post(url, data=body, content_type="application/json", headers=key)

    assert retry.status_code == 200, retry.get_json()
    answer = retry.get_json()
    assert (answer["seq"], answer["binding_sha256"]) == (first["seq"], first["binding_sha256"])
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == answer
    assert [e.seq for e in _signatures(phone)] == [first["seq"]]


def test_signature_retry_within_the_lease_is_409_with_retry_after(
    phone: Any,
    app: Any,
    mongodb_uri: str,
    db_name: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CONSENTKIT_IDEMPOTENCY_LEASE_S", "30")
    url, body, key, _ = _signature(
        phone, "after-work", app=app, mongodb_uri=mongodb_uri, db_name=db_name, tmp_path=tmp_path
    )

    retry = phone.post(url, data=body, content_type="application/json", headers=key)

    assert retry.status_code == 409
    assert retry.get_json()["error"] == "request-in-progress"
    assert 1 <= int(retry.headers["Retry-After"]) <= 30


def test_withdrawal_retry_after_the_answer_was_lost_returns_the_stored_withdrawal(
    phone: Any,
    app: Any,
    mongodb_uri: str,
    db_name: str,
    tmp_path: Path,
) -> None:
    phone.step_up()
    body = json.dumps({"choices": ["destroy-samples"], "reason_declined": True})
    key = {"Idempotency-Key": "withdraw-crash-1"}
    first = _killed_worker(
        app,
        mongodb_uri,
        db_name,
        tmp_path,
        {
            "service": "withdraw",
            "die": "after-work",
            "url": "/api/v1/me/withdrawals",
            "body": body,
            "headers": {**phone.headers, **key},
        },
    )
    time.sleep(LEASE_S + 0.1)

    retry = phone.post(
        "/api/v1/me/withdrawals", data=body, content_type="application/json", headers=key
    )

    assert retry.status_code == 201, retry.get_json()
    assert retry.get_json()["seq"] == first["seq"]
    withdrawals = AuditEvent.objects(
        participant_id=str(phone.fam.participant.id), type="withdrawal.recorded"
    )
    assert [e.seq for e in withdrawals] == [first["seq"]]


def test_signature_sent_again_without_a_key_needs_no_new_code(phone: Any) -> None:
    text = read_and_prepare(phone)
    phone.step_up()
    url = f"/api/v1/me/records/{phone.rec.record_id}/signature"
    body = {
        "locale": "fr",
        "content_sha256": text["sha"],
        "printed_name": phone.name,
        "strokes": STROKES,
        "early_signing_justification": "Family travelled far",
    }

    signed = phone.post(url, json=body)
    again = phone.post(url, json=body)

    assert signed.status_code == 200, signed.get_json()
    assert again.status_code == 200, again.get_json()
    assert again.get_json() == signed.get_json()
    assert len(_signatures(phone)) == 1


def test_withdrawal_with_a_reused_key_counts_only_for_the_same_scopes(phone: Any) -> None:
    session = SignerSession.objects.get()  # the phone's session, as a later one would reuse it
    phone.step_up()
    first = signer_flow.withdraw(
        session, choices=["destroy-samples"], reason=None, reason_declined=True, idempotency_key="w"
    )
    # Sent again (no new code needed): the stored answer. Another scope: a new withdrawal.
    again = signer_flow.withdraw(
        session, choices=["destroy-samples"], reason=None, reason_declined=True, idempotency_key="w"
    )
    phone.step_up()
    other = signer_flow.withdraw(
        session,
        choices=["stop-everything-new", "destroy-samples"],
        reason=None,
        reason_declined=True,
        idempotency_key="w",
    )

    assert again == first
    assert other["seq"] > first["seq"]
