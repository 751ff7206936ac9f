"""Paper consent: the fallback when e-consent is not possible.

The family signs the paper print of the same approved version, in one of the
record's languages; staff then record which required signers signed, on which
date, who conducted the interview, and upload the scan. The scan is written once
to GridFS with its SHA-256 (a :class:`StoredDocument` of kind ``paper-scan``),
and one ``paper.recorded`` event joins the participant's audit chain. Paper
signatures count like electronic ones for completeness
(:mod:`consentkit.policy.records`); the trail and the record JSON say which
signatures were on paper.

Event payload of ``paper.recorded``: signer_ids, roles, signed_on (the date on the
form), locale, content_sha256 of that language, choices (yes/no per item, see
:func:`paper_choices`), channel ``paper``, scan_sha256, scan_document_id, scan_size, note.

The largest scan accepted is the caller's ``max_bytes``: the web app passes its
``CONSENTKIT_PAPER_SCAN_MAX_BYTES`` (``backend/config.py``), so the API and the
staff page refuse the same scans.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from pypdf import PdfReader
from pypdf.errors import PyPdfError

from consentkit.clock import now_utc
from consentkit.enums import SignerRole
from consentkit.errors import (
    ConflictError,
    EligibilityError,
    InvalidDataError,
    NotFoundError,
    PermissionDeniedError,
)
from consentkit.models.audit import AuditEvent
from consentkit.models.document import StoredDocument
from consentkit.models.participant import Participant
from consentkit.models.staff import StaffMember
from consentkit.policy.age import local_date
from consentkit.policy.items import refuse_unknown_items
from consentkit.policy.records import opened_event, record_status
from consentkit.services import audit, enrolment
from consentkit.services.ceremony import append_record_event, require_open
from consentkit.services.documents import file_store
from consentkit.services.evidence import Actor

#: How the signatures were given, stored in the event payload.
PAPER_CHANNEL = "paper"
SCAN_KIND = "paper-scan"


def check_scan(scan_pdf: bytes, *, max_bytes: int) -> None:
    """Refuse anything but a readable PDF of at most ``max_bytes``.

    Raises:
        InvalidDataError: ``scan-too-large`` or ``not-a-pdf``.
    """
    if len(scan_pdf) > max_bytes:
        raise InvalidDataError(
            "The scan is larger than %(megabytes)s MB.",
            code="scan-too-large",
            params={"megabytes": max_bytes // (1024 * 1024)},
        )
    if not scan_pdf.startswith(b"%PDF-"):
        raise InvalidDataError("The scan must be a PDF file.", code="not-a-pdf")
    try:
        pages = len(PdfReader(io.BytesIO(scan_pdf)).pages)
    except (PyPdfError, ValueError, OSError, KeyError, TypeError) as exc:
        raise InvalidDataError("The scan must be a PDF file.", code="not-a-pdf") from exc
    if pages < 1:
        raise InvalidDataError("The scan must be a PDF file.", code="not-a-pdf")


def _check(
    participant: Participant,
    opened: dict[str, Any],
    status: Any,
    *,
    signer_ids: Sequence[str],
    signed_on: date,
    locale: str,
    items_yes: Sequence[str],
    at: datetime,
    may_countersign: bool,
) -> tuple[list[dict[str, str]], dict[str, bool] | None]:
    """Check the paper signature against the chain; return the signers and their choices."""
    if not signer_ids or len(set(signer_ids)) != len(signer_ids):
        raise InvalidDataError("Choose who signed on paper, once each.", code="signers-required")
    signers = []
    for signer_id in signer_ids:
        progress = require_open(status, signer_id)
        if progress.signed_at is not None:
            raise ConflictError("This person has already signed.", code="already-signed")
        if not enrolment.may_record_on_paper(progress.role, may_countersign=may_countersign):
            raise PermissionDeniedError(
                "Only an investigator of this site can record the investigator's signature.",
                code="countersign-required",
            )
        signers.append({"signer_id": signer_id, "role": progress.role})
    data = opened["payload"]
    if locale not in data["content_sha256"]:
        raise InvalidDataError(
            "This form has no %(locale)s text.", code="unknown-locale", params={"locale": locale}
        )
    if signed_on > local_date(at, participant.timezone):
        raise InvalidDataError("The signing date is in the future.", code="signed-on-invalid")
    if signed_on < local_date(opened["at"], participant.timezone):
        raise InvalidDataError(
            "The signing date is before the record was opened.", code="signed-on-invalid"
        )
    choices = paper_choices(data["items"], items_yes, [s["role"] for s in signers])
    if choices is not None:
        refused = [i["id"] for i in data["items"] if i["required"] and not choices.get(i["id"])]
        if refused:
            raise EligibilityError(
                "A required item was answered no; decline instead of signing.",
                code="required-item-refused",
                details={"items": refused},
            )
    return signers, choices


def paper_choices(
    items: Sequence[dict[str, Any]], items_yes: Sequence[str], roles: Sequence[str]
) -> dict[str, bool] | None:
    """Return the yes/no per item from the boxes ticked yes on the paper form.

    A paper form shows every item with its box: an item not ticked yes was
    answered no, as in the app, where a family signer answers every item before
    signing (:func:`consentkit.services.ceremony.next_step`). So when a family
    member signed a form that has items, the choices are always recorded (a
    required item left unticked is refused by the caller). The investigator
    chooses nothing; a paper event of the investigator alone records no choices.

    Raises:
        InvalidDataError: ``items-incomplete``, an item id the form does not have.
    """
    ids = [i["id"] for i in items]
    refuse_unknown_items(items_yes, ids)
    if not ids or all(role == SignerRole.INVESTIGATOR for role in roles):
        return None
    return {item_id: item_id in items_yes for item_id in ids}


def _store_scan(
    participant: Participant, record_id: str, locale: str, scan_pdf: bytes, seq: int, now: datetime
) -> StoredDocument:
    """Write the scan once (the same scan for the same record is stored once)."""
    digest = hashlib.sha256(scan_pdf).hexdigest()
    key = f"{SCAN_KIND}:{record_id}:{digest}"
    existing: StoredDocument | None = StoredDocument.objects(key=key).first()
    if existing is not None and existing.status == "ready":
        return existing
    file_id = file_store().put(scan_pdf, filename=f"{key}.pdf", content_type="application/pdf")
    document = StoredDocument(
        key=key,
        kind=SCAN_KIND,
        trial_id=participant.trial_id,
        participant_id=str(participant.id),
        record_id=record_id,
        locale=locale,
        as_of_seq=seq,
        status="ready",
        file_id=str(file_id),
        sha256=digest,
        size=len(scan_pdf),
        created_at=now,
        ready_at=now,
    )
    try:
        document.save(force_insert=True)
    except Exception:
        # Another request stored the same scan first: keep theirs, drop our copy.
        file_store().delete(file_id)
        found: StoredDocument = StoredDocument.objects.get(key=key)
        return found
    return document


def record_paper_consent(
    participant: Participant,
    record_id: str,
    *,
    signer_ids: Sequence[str],
    signed_on: date,
    locale: str,
    scan_pdf: bytes,
    actor: Actor,
    max_bytes: int,
    items_yes: Sequence[str] = (),
    note: str | None = None,
    now: datetime | None = None,
) -> AuditEvent:
    """Record that required signers signed the paper form, with the scan as evidence.

    ``actor`` is the member who records it; the investigator's paper signature
    may only be recorded by a member with countersign rights at the site
    (:func:`consentkit.services.enrolment.may_record_on_paper`). ``items_yes``
    are the items ticked yes on paper; every other item is a no
    (:func:`paper_choices`). ``max_bytes`` is the largest scan accepted.

    Raises:
        NotFoundError: no such record.
        ConflictError: the record is closed or a signer already signed.
        EligibilityError: not a signer of this record, or a required item refused.
        InvalidDataError: not a PDF, too large, wrong language, a bad date, or an
            unknown item.
        PermissionDeniedError: ``countersign-required``, the investigator's
            signature recorded by someone who may not countersign.
    """
    now = now or now_utc()
    check_scan(scan_pdf, max_bytes=max_bytes)
    signer_ids = list(signer_ids)
    items_yes = list(items_yes)
    may_countersign = _may_countersign(participant, actor)
    # Check first, so a refused request stores nothing; checked again when appending.
    events = audit.chain_dicts(str(participant.id))
    opened = opened_event(events, record_id)
    _check(
        participant,
        opened,
        record_status(opened, events, at=now),
        signer_ids=signer_ids,
        signed_on=signed_on,
        locale=locale,
        items_yes=items_yes,
        at=now,
        may_countersign=may_countersign,
    )
    stored = _store_scan(participant, record_id, locale, scan_pdf, events[-1]["seq"], now)

    def check(
        opened: dict[str, Any], _events: list[dict[str, Any]], status: Any, at: datetime
    ) -> dict[str, Any]:
        signers, choices = _check(
            participant,
            opened,
            status,
            signer_ids=signer_ids,
            signed_on=signed_on,
            locale=locale,
            items_yes=items_yes,
            at=at,
            may_countersign=may_countersign,
        )
        return {
            "signer_ids": signer_ids,
            "signers": signers,
            "signed_on": signed_on.isoformat(),
            "locale": locale,
            "content_sha256": opened["payload"]["content_sha256"][locale],
            "choices": choices,
            "channel": PAPER_CHANNEL,
            "scan_sha256": stored.sha256,
            "scan_document_id": str(stored.id),
            "scan_size": stored.size,
            "note": (note or "").strip()[:2000] or None,
        }

    return append_record_event(
        participant, record_id, type="paper.recorded", actor=actor, now=now, check=check
    )


def _may_countersign(participant: Participant, actor: Actor) -> bool:
    """Whether the recording member holds countersign rights at the participant's site."""
    from bson import ObjectId

    if actor.kind != "staff" or not ObjectId.is_valid(actor.id):
        return False
    member: StaffMember | None = StaffMember.objects(id=ObjectId(actor.id)).first()
    return member is not None and enrolment.may_countersign(
        member, participant.trial_id, participant.site_code
    )


def paper_scan(participant: Participant, document_id: str) -> bytes:
    """Return a stored paper scan of this participant, checked against its SHA-256.

    Raises:
        NotFoundError: no such scan for this participant.
        ConflictError: the stored file does not match its hash.
    """
    from bson import ObjectId
    from bson.errors import InvalidId

    try:
        oid = ObjectId(document_id)
    except (InvalidId, TypeError) as exc:
        raise NotFoundError("Document %(id)s was not found.", params={"id": document_id}) from exc
    document: StoredDocument | None = StoredDocument.objects(
        id=oid, participant_id=str(participant.id), kind=SCAN_KIND
    ).first()
    if document is None:
        raise NotFoundError("Document %(id)s was not found.", params={"id": document_id})
    content: bytes = file_store().get(ObjectId(document.file_id)).read()
    if hashlib.sha256(content).hexdigest() != document.sha256:
        raise ConflictError(
            "A stored document does not match its recorded SHA-256.", code="document-corrupt"
        )
    return content
