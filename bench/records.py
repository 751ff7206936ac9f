"""Benchmark: signing throughput/latency and audit verification rate, on the embedded database.

* Signing: N records (demo parental consent, France: two guardians + investigator);
  both guardians of a record sign at the same moment from two threads, then the
  investigator countersigns. Reports latency per signature and signatures/s.
* Ratio: a signature (``ceremony.sign``) against a bare ``insert_one`` of the same
  stored event document.
* Verification: ``audit.verify`` over 100,000 events (1,000 participants x 100
  events, written directly with valid hashes, since the service would take long
  to produce that many) -> events/s.

Run: .venv/bin/python bench/records.py   (starts its own embedded database process)
"""

from __future__ import annotations

import os
import secrets
import statistics
import sys
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from cryptography.fernet import Fernet

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("CONSENTKIT_ENV", "testing")
os.environ.setdefault("CONSENTKIT_IDENTITY_KEYS", Fernet.generate_key().decode())
os.environ.setdefault("CONSENTKIT_AUDIT_KEY", secrets.token_urlsafe(48))

import mongoengine
from support import running_database

from consentkit import crypto
from consentkit.models.audit import AuditEvent
from consentkit.models.participant import Participant
from consentkit.services import audit, ceremony, records
from consentkit.services.importing import import_demo_study
from tests.consentkit.records_helpers import (
    STAFF,
    T0,
    make_family,
    prepare,
    signature,
    signer_actor,
)

RECORDS = int(os.environ.get("BENCH_RECORDS", "40"))
VERIFY_PARTICIPANTS, VERIFY_EVENTS = 1000, 100


def _sign(family, record, signer, at, timings):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    ceremony.sign(
        family.participant,
        record.record_id,
        signature(record, signer, at=at),
        actor=signer_actor(signer),
        now=at,
    )
    timings.append((time.perf_counter() - started) * 1000)


def bench_signing() -> None:
    at = T0 + timedelta(hours=25)
    prepared = []
    for index in range(RECORDS):
        family = make_family(f"B-{index:05d}")
        record = records.open_record(
            family.participant, form_id="parental-consent", actor=STAFF, now=T0
        )
        for guardian in family.guardians:
            prepare(family, record, guardian, at=T0)
        prepared.append((family, record))
    timings: list[float] = []
    started = time.perf_counter()
    # Throughput includes building each client's submission (a read of the form text).
    for family, record in prepared:
        threads = [
            threading.Thread(target=_sign, args=(family, record, g, at, timings))
            for g in family.guardians
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        _sign(family, record, family.investigator, at, timings)
    elapsed = time.perf_counter() - started
    states = {records.record_statuses(f.participant, at=at)[0].state.value for f, _ in prepared}
    assert states == {"consented"}, states
    print(f"signatures: {len(timings)} on {RECORDS} records (2 guardians at once + investigator)")
    print(
        f"  latency median {statistics.median(timings):.1f} ms, p95 "
        f"{sorted(timings)[int(len(timings) * 0.95)]:.1f} ms; throughput "
        f"{len(timings) / elapsed:.1f} signatures/s"
    )

    sample = AuditEvent.objects(type="signature.added").first().to_mongo().to_dict()
    collection = mongoengine.get_db()["bench_bare_insert"]
    bare = []
    for _ in range(200):
        sample.pop("_id", None)
        started = time.perf_counter()
        collection.insert_one(dict(sample))
        bare.append((time.perf_counter() - started) * 1000)
    print(
        f"  bare insert_one of the same event document: median {statistics.median(bare):.2f} ms"
        f" -> signature/insert ratio {statistics.median(timings) / statistics.median(bare):.1f}x"
    )


def bench_verify() -> None:
    events = mongoengine.get_db()["audit_events"]
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for p in range(VERIFY_PARTICIPANTS):
        participant = Participant(
            trial_id="DEMO-NBL-1",
            code=f"V-{p:05d}",
            site_code="FR-01",
            country="FR",
            timezone="Europe/Paris",
            birth_date=date(2015, 1, 1),
            created_at=start,
        )
        participant.save()
        prev, batch = audit.GENESIS, []
        for seq in range(1, VERIFY_EVENTS + 1):
            fields = {
                "participant_id": str(participant.id),
                "seq": seq,
                "prev_hash": prev,
                "type": "information.viewed",
                "at": start + timedelta(seconds=seq),
                "actor": {"kind": "signer", "id": "x", "role": "guardian"},
                "record_id": "r",
                "payload": {"sections": [{"id": "s", "seconds": 3.0}]},
                "state_before": None,
                "state_after": None,
            }
            digest = audit.event_hash(**fields)
            batch.append({**fields, "hash": digest, "trial_id": "DEMO-NBL-1"})
            prev = digest
        events.insert_many(batch)
        head = {
            "seq": VERIFY_EVENTS,
            "hash": prev,
            "mac": crypto.seal(f"{participant.id}:{VERIFY_EVENTS}:{prev}"),
        }
        Participant.objects(id=participant.id).update_one(set__chain_head=head)
    started = time.perf_counter()
    reports = [r for r in audit.verify(trial_id="DEMO-NBL-1") if r.participant_code[:2] == "V-"]
    elapsed = time.perf_counter() - started
    total = sum(r.events for r in reports)
    assert all(r.ok for r in reports) and total == VERIFY_PARTICIPANTS * VERIFY_EVENTS
    print(f"verification: {total} events in {elapsed:.1f} s -> {total / elapsed:,.0f} events/s")


def main() -> None:
    with running_database(27996):
        import_demo_study()
        bench_signing()
        bench_verify()


if __name__ == "__main__":
    main()
