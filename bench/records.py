"""Benchmark: signing throughput/latency and audit verification rate, on the embedded database.

* Signing: N records (demo parental consent, France: two guardians + investigator);
  both guardians of a record sign at the same moment from two threads, then the
  investigator countersigns. Reports latency per signature and signatures/s.
* Ratio: a signature (``ceremony.sign``) against a bare ``insert_one`` of the same
  stored event document.
* Chain length: the same signatures for participants whose chains already hold
  10 and 5,000 events (written directly with valid hashes and a sealed head);
  appending reads only the record's own events, so the medians should match.
* Verification: ``audit.verify`` over 100,000 events (1,000 participants x 100
  events, written directly with valid hashes, since the service would take long
  to produce that many) -> events/s, as a ratio to a bare scan of the same events.

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
# Counting and scanning 100,000 events in one command outlasts the default 3 s bound.
os.environ.setdefault("CONSENTKIT_DB_TIMEOUT_MS", "120000")

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
    # The client's submission (it reads the form text to hash it) is built before the
    # clock starts: the latency is the library's signature alone.
    submission = signature(record, signer, at=at)
    started = time.perf_counter()
    ceremony.sign(
        family.participant,
        record.record_id,
        submission,
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


def _fill_chain(participant: Participant, count: int, start: datetime) -> None:
    """Append ``count`` valid events to the participant's chain directly and seal its head."""
    events = mongoengine.get_db()["audit_events"]
    last = events.find_one({"participant_id": str(participant.id)}, sort=[("seq", -1)])
    prev = last["hash"] if last else audit.GENESIS
    first = last["seq"] + 1 if last else 1
    at = last["at"].replace(tzinfo=UTC) if last else start
    batch = []
    for seq in range(first, first + count):
        fields = {
            "participant_id": str(participant.id),
            "seq": seq,
            "prev_hash": prev,
            "type": "information.viewed",
            "at": at,
            "actor": {"kind": "signer", "id": "x", "role": "guardian"},
            "record_id": "an-earlier-record",
            "payload": {"sections": [{"id": "s", "seconds": 3.0}]},
            "state_before": None,
            "state_after": None,
        }
        digest = audit.event_hash(**fields)
        batch.append({**fields, "hash": digest, "trial_id": participant.trial_id})
        prev = digest
    for chunk in range(0, len(batch), 250):  # small inserts: the socket timeout is 3 s
        events.insert_many(batch[chunk : chunk + 250])
    seq = first + count - 1
    head = {
        "seq": seq,
        "hash": prev,
        "mac": crypto.seal(f"{participant.id}:{seq}:{prev}"),
        "at": at,
    }
    Participant.objects(id=participant.id).update_one(set__chain_head=head)


def bench_chain_length() -> None:
    """Sign for participants with 10 and with 5,000 earlier events: the same cost."""
    at = T0 + timedelta(hours=25)
    per_length = max(4, RECORDS // 4)
    medians: dict[int, tuple[float, float]] = {}
    for length in (10, 5000):
        family_timings: list[float] = []
        consent_timings: list[float] = []
        for index in range(per_length):
            family = make_family(f"L{length}-{index:04d}")
            _fill_chain(family.participant, length, T0 - timedelta(days=1))
            participant = Participant.objects.get(id=family.participant.id)
            family.participant = participant
            record = records.open_record(
                participant, form_id="parental-consent", actor=STAFF, now=T0
            )
            for guardian in family.guardians:
                prepare(family, record, guardian, at=T0)
            for guardian in family.guardians:
                _sign(family, record, guardian, at, family_timings)
            _sign(family, record, family.investigator, at, consent_timings)
        medians[length] = (statistics.median(family_timings), statistics.median(consent_timings))
    (short_family, short_consent), (long_family, long_consent) = medians[10], medians[5000]
    print(
        f"chain length: guardian signature median {short_family:.1f} ms with 10 earlier events, "
        f"{long_family:.1f} ms with 5,000 -> ratio {long_family / short_family:.2f}x"
    )
    print(
        f"  consenting countersignature median {short_consent:.1f} ms with 10, "
        f"{long_consent:.1f} ms with 5,000 -> ratio {long_consent / short_consent:.2f}x"
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
    everything = events.count_documents({})
    started = time.perf_counter()
    scanned = sum(1 for _ in events.find({}, batch_size=10_000))
    bare_rate = scanned / (time.perf_counter() - started)
    started = time.perf_counter()
    reports = audit.verify()
    elapsed = time.perf_counter() - started
    total = sum(r.events for r in reports)
    assert all(r.ok for r in reports), [r for r in reports if not r.ok][:3]
    assert total == scanned == everything
    rate = total / elapsed
    print(
        f"verification: {total} events in {elapsed:.1f} s -> {rate:,.0f} events/s; bare scan of "
        f"the events collection {bare_rate:,.0f} events/s -> ratio {rate / bare_rate:.2f}x"
    )


def main() -> None:
    with running_database(27996):
        import_demo_study()
        bench_signing()
        bench_chain_length()
        bench_verify()


if __name__ == "__main__":
    main()
