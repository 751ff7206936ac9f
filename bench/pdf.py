"""Benchmark: sealed consent-record PDFs.

* Time per sealed record PDF (the demo parental consent, 3 signatures: two
  guardians and the investigator) against WeasyPrint rendering the same HTML
  alone (goal: <= 1.3x).
* PDFs per minute with 2 worker processes sharing the database (render-once
  lock, GridFS storage), and the peak memory of a worker.

Run: .venv/bin/python bench/pdf.py   (starts its own embedded database process)
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import resource
import secrets
import statistics
import sys
import time
from pathlib import Path

from cryptography.fernet import Fernet

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("CONSENTKIT_ENV", "testing")
os.environ.setdefault("CONSENTKIT_IDENTITY_KEYS", Fernet.generate_key().decode())
os.environ.setdefault("CONSENTKIT_AUDIT_KEY", secrets.token_urlsafe(48))

import logging

from pypdf import PdfReader
from support import running_database
from weasyprint import CSS, HTML

from consentkit import db
from consentkit.authoring.reader import canonical_json
from consentkit.rendering import pdf as pdf_rendering
from consentkit.rendering import seal as sealing
from consentkit.services import documents, records
from consentkit.services.importing import import_demo_study
from tests.consentkit.records_helpers import consented_family

DOCUMENTS = int(os.environ.get("BENCH_DOCUMENTS", "12"))
PORT = 27994
URI = f"mongodb://127.0.0.1:{PORT}/"


def _consented(code: str) -> tuple[object, str]:
    family, record = consented_family(code)
    return family.participant, record.record_id


def _worker(codes: list[str]) -> tuple[int, int]:
    db.connect(URI, db_name="bench")
    from consentkit.services.participants import get_participant

    for code in codes:
        participant = get_participant("DEMO-NBL-1", code)
        record = next(iter(records.record_statuses(participant)))
        documents.consent_document(participant, record.record_id)
    return len(codes), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main() -> None:
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    with running_database(PORT) as (_uri, tmp):
        os.environ["CONSENTKIT_DATA_DIR"] = tmp
        import_demo_study()
        participant, record_id = _consented("PDF-0")
        events = records.history(participant)
        as_of = max(e["seq"] for e in events if e.get("state_after") == "consented")
        payload = documents.consent_record_payload(participant, record_id, "fr", as_of)
        record_json = canonical_json(payload)
        digest = hashlib.sha256(record_json.encode()).hexdigest()
        html = documents._consent_html(participant, payload, True, digest)
        css = CSS(string=pdf_rendering._stylesheet())
        documents.render_consent_pdf(participant, payload)  # warm fonts and caches

        plain, sealed, seal_only = [], [], []
        for _ in range(5):
            started = time.perf_counter()
            HTML(string=html).write_pdf(stylesheets=[css])
            plain.append(time.perf_counter() - started)
            started = time.perf_counter()
            pdf = documents.render_consent_pdf(participant, payload)
            sealed.append(time.perf_counter() - started)
            unsealed = pdf_rendering.write_pdf(
                html,
                attachment_json=record_json,
                attachment_name="r.json",
                created=events[-1]["at"],
            )
            started = time.perf_counter()
            sealing.seal_pdf(unsealed)
            seal_only.append(time.perf_counter() - started)
        pages = len(PdfReader(__import__("io").BytesIO(pdf)).pages)
        p, s = statistics.median(plain), statistics.median(sealed)
        print(
            f"document: demo parental consent (fr), {pages} pages, 3 signatures, "
            f"{len(pdf) / 1024:.0f} KiB"
        )
        print(f"WeasyPrint alone, same HTML:      median {p * 1000:7.0f} ms")
        print(
            f"sealed PDF/A-3b record:           median {s * 1000:7.0f} ms "
            f"(of which seal {statistics.median(seal_only) * 1000:.0f} ms)"
        )
        print(f"ratio sealed / WeasyPrint alone:  {s / p:.2f}x (goal <= 1.3x)")

        codes = [f"PDF-{i}" for i in range(1, DOCUMENTS + 1)]
        for code in codes:
            _consented(code)
        db.disconnect()
        halves = [codes[0::2], codes[1::2]]
        started = time.perf_counter()
        with multiprocessing.get_context("spawn").Pool(2) as pool:
            results = pool.map(_worker, halves)
        elapsed = time.perf_counter() - started
        made = sum(n for n, _ in results)
        print(
            f"2 worker processes: {made} sealed PDFs in {elapsed:.1f} s -> "
            f"{made / elapsed * 60:.0f} PDFs/minute (incl. process start-up)"
        )
        print(f"peak memory of a worker: {max(m for _, m in results) / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
