"""Reading consent records as FHIR resources, one participant at a time or a study in bulk.

Reads only: the records are derived from the audit trail as everywhere else
(:func:`consentkit.services.records.record_statuses`) and mapped by
:mod:`consentkit.interop.fhir`. Who may read what is the caller's question (the API
asks it before calling); these functions take the participant or the sites to read.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId

from consentkit.clock import now_utc
from consentkit.errors import InvalidDataError, NotFoundError
from consentkit.interop import fhir as mapping
from consentkit.interop.fhir import Release, SealedDocument, Subject
from consentkit.models.audit import ConsentRecord
from consentkit.models.document import StoredDocument
from consentkit.models.participant import Participant
from consentkit.policy.records import RecordStatus, opened_event
from consentkit.services import audit, documents, records
from consentkit.services.forms import get_study

#: Participants per page of a bulk export; the ``next`` cursor resumes after the last one.
EXPORT_PAGE = 200
EXPORT_PAGE_MAX = 1000


def subject_of(participant: Participant) -> Subject:
    """Return whom a participant's resources are about (their code, site and sponsor)."""
    return Subject(
        trial_id=participant.trial_id,
        code=participant.code,
        site_code=participant.site_code,
        sponsor=get_study(participant.trial_id).sponsor,
    )


def _sha1(document: StoredDocument) -> str:
    """Return the base64 SHA-1 of a stored PDF (FHIR's Attachment.hash), read in chunks."""
    digest = hashlib.sha1(usedforsecurity=False)
    for chunk in documents.file_store().get(ObjectId(document.file_id)):
        digest.update(chunk)
    return base64.b64encode(digest.digest()).decode("ascii")


def _sealed(document: StoredDocument, titles: dict[str, str]) -> SealedDocument:
    title = (
        titles.get(document.record_id or "", document.kind)
        if document.kind == "consent-record"
        else document.kind
    )
    return SealedDocument(
        id=str(document.id),
        kind=document.kind,
        record_id=document.record_id,
        locale=document.locale,
        sha256=document.sha256 or "",
        sha1=_sha1(document),
        size=document.size or 0,
        created_at=document.ready_at or document.created_at,
        title=f"{title} ({document.locale})",
    )


def _titles(statuses: Sequence[RecordStatus]) -> dict[str, str]:
    return {s.record_id: f"{s.form_id} v{s.version}" for s in statuses}


def _documents(participant: Participant, titles: dict[str, str]) -> list[SealedDocument]:
    ready = StoredDocument.objects(participant_id=str(participant.id), status="ready").order_by(
        "created_at"
    )
    return [_sealed(d, titles) for d in ready]


@dataclass(frozen=True)
class ParticipantResources:
    """Every FHIR resource of one participant, in one release."""

    consents: list[dict[str, Any]]
    provenances: list[dict[str, Any]]
    document_references: list[dict[str, Any]]

    def all(self) -> list[dict[str, Any]]:
        """Return them in export order: consents, then signatures, then documents."""
        return [*self.consents, *self.provenances, *self.document_references]


def participant_resources(
    participant: Participant,
    release: Release,
    *,
    at: datetime | None = None,
    events: list[audit.ChainEvent] | None = None,
) -> ParticipantResources:
    """Return a participant's Consents, Provenances and DocumentReferences at ``at``."""
    at = at or now_utc()
    events = audit.chain_dicts(str(participant.id)) if events is None else events
    statuses = records.record_statuses(participant, at=at, events=events)
    subject = subject_of(participant)
    sealed = _documents(participant, _titles(statuses))
    return ParticipantResources(
        consents=[
            mapping.consent(release, subject, s, opened_event(events, s.record_id), events, sealed)
            for s in statuses
        ],
        provenances=[
            p for s in statuses for p in mapping.provenances(release, subject, s.record_id, events)
        ],
        document_references=[mapping.document_reference(release, subject, d) for d in sealed],
    )


def participant_of_record(record_id: str) -> Participant:
    """Return the participant a record belongs to.

    Raises:
        NotFoundError: no such record.
    """
    record = ConsentRecord.objects(record_id=record_id).only("participant_id").first()
    participant: Participant | None = (
        Participant.objects(id=record.participant_id).first() if record is not None else None
    )
    if participant is None:
        raise NotFoundError("Nothing was found with this id.")
    return participant


def participant_of_document(document_id: str) -> Participant:
    """Return the participant a sealed document belongs to.

    Raises:
        NotFoundError: no such document.
    """
    try:
        document = StoredDocument.objects(id=ObjectId(document_id), status="ready").first()
    except InvalidId:
        document = None
    participant: Participant | None = (
        Participant.objects(id=document.participant_id).first() if document is not None else None
    )
    if participant is None:
        raise NotFoundError("Nothing was found with this id.")
    return participant


def _one(found: list[dict[str, Any]], resource_id: str) -> dict[str, Any]:
    for resource in found:
        if resource["id"] == resource_id:
            return resource
    raise NotFoundError("Nothing was found with this id.")


def consent(participant: Participant, record_id: str, release: Release) -> dict[str, Any]:
    """Return one Consent of a participant.

    Raises:
        NotFoundError: the participant has no such record.
    """
    return _one(participant_resources(participant, release).consents, record_id)


def provenance(participant: Participant, provenance_id: str, release: Release) -> dict[str, Any]:
    """Return the Provenance of one signature (id ``<record id>-<seq>``).

    Raises:
        NotFoundError: no such signature.
    """
    return _one(participant_resources(participant, release).provenances, provenance_id)


def document_reference(
    participant: Participant, document_id: str, release: Release
) -> dict[str, Any]:
    """Return the DocumentReference of one sealed PDF.

    Raises:
        NotFoundError: no such document.
    """
    return _one(participant_resources(participant, release).document_references, document_id)


def record_of_provenance(provenance_id: str) -> str:
    """Return the record id a Provenance id names (``<record id>-<seq>``), or ``""``."""
    record_id, _, seq = provenance_id.rpartition("-")
    return record_id if seq.isdigit() else ""


@dataclass(frozen=True)
class ExportPage:
    """One page of a bulk export: NDJSON lines, and where the next page starts (or None)."""

    lines: Iterator[str]
    next_cursor: str | None


def export(
    trial_id: str,
    release: Release,
    *,
    site_codes: Sequence[str] | None,
    since: datetime | None = None,
    cursor: str | None = None,
    count: int = EXPORT_PAGE,
) -> ExportPage:
    """Return a page of a study's resources as NDJSON, one participant after another.

    Participants are read in id order from after ``cursor``; ``count`` of them make a
    page (only their ids are held, so memory does not grow with the study), and
    ``next_cursor`` resumes after the last. With ``since``, participants with no
    event at or after it are left out: a receiver asks again for what changed.

    Raises:
        NotFoundError: no such study.
        InvalidDataError: a cursor that is not one.
    """
    get_study(trial_id)
    query: dict[str, Any] = {"trial_id": trial_id}
    if site_codes is not None:
        query["site_code__in"] = list(site_codes)
    if cursor:
        try:
            query["id__gt"] = ObjectId(cursor)
        except InvalidId:
            raise InvalidDataError(
                "This cursor is not one an export gave.", code="invalid-cursor"
            ) from None
    count = max(1, min(count, EXPORT_PAGE_MAX))
    ids = [p.id for p in Participant.objects(**query).only("id").order_by("id").limit(count)]
    next_cursor = str(ids[-1]) if len(ids) == count else None
    at = now_utc()

    def lines() -> Iterator[str]:
        for participant_id in ids:
            participant = Participant.objects(id=participant_id).first()
            if participant is None:
                continue
            events = audit.chain_dicts(str(participant.id))
            if since is not None and (not events or events[-1]["at"] < since):
                continue
            for resource in participant_resources(participant, release, at=at, events=events).all():
                yield json.dumps(resource, ensure_ascii=False, separators=(",", ":")) + "\n"

    return ExportPage(lines=lines(), next_cursor=next_cursor)
