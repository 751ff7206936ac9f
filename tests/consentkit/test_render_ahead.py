"""The sealed PDF is rendered ahead by the worker as soon as a consent completes.

A family who taps "download your copy" right after the last signature should find
it ready, not wait for WeasyPrint and the seal (issue 17). The last signature
queues a job; any worker runs it once; the download then reads what it stored.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from consentkit.models.document import StoredDocument
from consentkit.models.outbox import OutboxMessage
from consentkit.services import documents, jobs, records
from consentkit.worker import Worker
from tests.consentkit.records_helpers import STAFF, T0, make_family, prepare, sign


def _jobs() -> list[OutboxMessage]:
    return list(OutboxMessage.objects(kind=jobs.RENDER_CONSENT).order_by("dedupe_key"))


def _signed_by_all_but(family: Any, record: Any, last: Any) -> None:
    for guardian in family.guardians:
        prepare(family, record, guardian, at=T0)
    for signer in (family.guardians[0], family.investigator, family.guardians[1]):
        if signer is not last:
            sign(family, record, signer, at=T0 + timedelta(hours=25))


def test_the_last_signature_queues_the_pdf_and_a_worker_renders_it_before_any_download(
    demo_study: object,
) -> None:
    family = make_family()
    record = records.open_record(
        family.participant, form_id="parental-consent", actor=STAFF, now=T0
    )
    last = family.guardians[1]
    _signed_by_all_but(family, record, last)
    assert _jobs() == []  # nothing to render while a signature is missing

    # The second guardian signs in German: each signer's copy is in their language.
    sign(family, record, last, at=T0 + timedelta(hours=26), locale="de")

    queued = _jobs()
    assert [m.params["locale"] for m in queued] == ["de", "fr"]
    assert all(m.participant_id is None for m in queued)  # not a contact with the family
    assert StoredDocument.objects(record_id=record.record_id).count() == 0

    worker = Worker({})  # no channel is needed to run a job
    while worker.run_once():
        pass

    ready = {d.locale: d for d in StoredDocument.objects(record_id=record.record_id)}
    assert {k: d.status for k, d in ready.items()} == {"de": "ready", "fr": "ready"}
    assert [m.status for m in _jobs()] == ["sent", "sent"]
    # The download finds the stored copy: the same file, not a second rendering.
    downloaded = documents.consent_document(family.participant, record.record_id, locale="de")
    assert downloaded.document.file_id == ready["de"].file_id
    assert documents.verify_pdf(downloaded.content).ok


def test_a_retried_last_signature_queues_each_pdf_once(demo_study: object) -> None:
    family = make_family()
    record = records.open_record(
        family.participant, form_id="parental-consent", actor=STAFF, now=T0
    )
    last = family.guardians[1]
    _signed_by_all_but(family, record, last)

    for _ in range(2):  # the same idempotency key: a retry after a lost answer
        sign(family, record, last, at=T0 + timedelta(hours=26), key="retry-me")

    assert [m.params["locale"] for m in _jobs()] == ["fr"]


def test_a_job_for_a_record_not_complete_fails_for_good_and_is_not_retried(
    demo_study: object,
) -> None:
    family = make_family()
    record = records.open_record(
        family.participant, form_id="parental-consent", actor=STAFF, now=T0
    )
    jobs.render_consent_ahead(family.participant, record.record_id, ["fr"])

    worker = Worker({})
    assert worker.run_once()

    [job] = _jobs()
    assert (job.status, job.last_error) == ("failed", "job: record-incomplete")
    assert not worker.run_once()  # nothing left to retry
