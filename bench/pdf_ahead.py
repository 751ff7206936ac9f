"""Benchmark: from the last signature to the sealed PDF ready to download.

A consent's last signature queues its PDF (``consentkit.services.jobs``); a worker
process, as ``make run`` starts it, renders it ahead. This bench completes a
consent every ``BENCH_PACE_S`` seconds (6 s: 10 completions a minute, the issue's
rate) and times, for each, the wait from the signature's return to the document
being stored ready, polling every 50 ms. Goal (issue 17): p95 under 5 s.

Run: .venv/bin/python bench/pdf_ahead.py   (starts its own embedded database and worker)
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import secrets
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

from cryptography.fernet import Fernet

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("CONSENTKIT_ENV", "testing")
os.environ.setdefault("CONSENTKIT_IDENTITY_KEYS", Fernet.generate_key().decode())
os.environ.setdefault("CONSENTKIT_AUDIT_KEY", secrets.token_urlsafe(48))

from support import free_port, running_database

from consentkit import db
from consentkit.models.document import StoredDocument
from consentkit.services import records
from tests.consentkit.records_helpers import STAFF, T0, make_family, prepare, sign

COMPLETIONS = int(os.environ.get("BENCH_COMPLETIONS", "20"))
PACE_S = float(os.environ.get("BENCH_PACE_S", "6"))


def _worker(uri: str, data_dir: str) -> None:
    """One worker process, as ``consentkit worker`` runs (default poll: 1 s)."""
    os.environ["CONSENTKIT_DATA_DIR"] = data_dir
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    from consentkit.worker import Worker

    db.connect(uri, db_name="bench")
    Worker({}).run()


def _all_but_last(code: str) -> tuple[object, object, object]:
    family = make_family(code)
    record = records.open_record(
        family.participant, form_id="parental-consent", actor=STAFF, now=T0
    )
    for guardian in family.guardians:
        prepare(family, record, guardian, at=T0)
    for signer in (family.guardians[0], family.investigator):
        sign(family, record, signer, at=T0 + timedelta(hours=25))
    return family, record, family.guardians[1]


def main() -> None:
    with running_database(free_port(), durable=True) as (uri, tmp):
        os.environ["CONSENTKIT_DATA_DIR"] = tmp
        from consentkit.services.importing import import_demo_study

        import_demo_study()
        worker = multiprocessing.get_context("spawn").Process(target=_worker, args=(uri, tmp))
        worker.start()
        try:
            # Warm up: the worker's imports and first rendering (fonts) are not the steady state.
            family, record, last = _all_but_last("AHEAD-WARM")
            sign(family, record, last, at=T0 + timedelta(hours=26))
            while not StoredDocument.objects(record_id=record.record_id, status="ready"):
                time.sleep(0.05)
            waits: list[float] = []
            for i in range(COMPLETIONS):
                family, record, last = _all_but_last(f"AHEAD-{i}")
                started = time.perf_counter()
                sign(family, record, last, at=T0 + timedelta(hours=26))
                while not StoredDocument.objects(record_id=record.record_id, status="ready"):
                    time.sleep(0.05)
                waits.append(time.perf_counter() - started)
                time.sleep(max(0.0, PACE_S - waits[-1]))
        finally:
            worker.terminate()
            worker.join()
        waits.sort()
        p95 = waits[max(0, round(0.95 * len(waits)) - 1)]
        print(
            f"{COMPLETIONS} completions, one every {PACE_S:.0f} s, 1 worker: last signature "
            f"to sealed PDF ready: p50 {statistics.median(waits):.2f} s, p95 {p95:.2f} s, "
            f"max {waits[-1]:.2f} s (goal: p95 < 5 s)"
        )


if __name__ == "__main__":
    main()
