"""Sealed PDF copies of consent records and withdrawals: render once, store, verify.

Each signer receives a copy of what they signed (CTR Art 29(1), ICH E6(R3)
2.8.10, 21 CFR 50.27), in the language they signed in; the trial master file
keeps it verifiable for 25 years (CTR Art 58).

Choice of generation: on first request, under a lock held in the database
(the unique ``StoredDocument.key``), so signing never waits for a PDF and two
requests -- on one machine or many -- never render the same document twice.
``consentkit documents render-pending`` renders ahead of time from cron or a
worker on any number of machines, with the same lock. A stale lock (a renderer
that died) is taken over after :data:`STALE_LOCK`.

A document is fixed by what it covers: a consent record as of the event that
completed it, a withdrawal as of its event. The machine-readable record
attached to the PDF is rebuilt from the database to verify it, so verification
proves the PDF still says what the audit trail says.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, NotRequired, TypedDict
from zoneinfo import ZoneInfo

import gridfs
import mongoengine
from babel.dates import format_datetime
from mongoengine import NotUniqueError
from pypdf import PdfReader

from consentkit.authoring.reader import canonical_json
from consentkit.clock import now_utc
from consentkit.enums import FormKind, RecordState, SignatureMethod
from consentkit.errors import ConflictError, InvalidDataError, NotFoundError
from consentkit.i18n import N_, gettext
from consentkit.labels import LABELS, event_label, label
from consentkit.models.document import StoredDocument
from consentkit.models.participant import Participant
from consentkit.models.study import FormVersion
from consentkit.policy.age import local_date
from consentkit.policy.locales import language_option
from consentkit.policy.records import opened_event, record_status
from consentkit.rendering import pdf as pdf_rendering
from consentkit.rendering import seal as sealing
from consentkit.rendering.markdown import to_html
from consentkit.services import audit
from consentkit.services.forms import catalog, media_data_urls, media_view
from consentkit.services.transitions import Why

ATTACHMENT_NAME = "consent-record.json"
RECORD_FORMAT = "consentkit.record/1"


class RecordSignature(TypedDict):
    """One electronic signature as the sealed record states it (from ``signature.added``)."""

    seq: int
    signer_id: str
    role: str
    printed_name: str
    meaning: str
    locale: str
    content_sha256: str
    binding_sha256: str
    signed_at: str
    auth_factors: list[str]
    #: The investigator's interview (mode, time zone, offset); only on signatures that
    #: recorded it, so earlier sealed records still verify.
    interview: NotRequired[dict[str, Any]]
    #: What an impartial witness attests; only on witness signatures.
    attestation: NotRequired[dict[str, Any]]
    #: Who was present when a young child signed on their device (``signer_id``, ``role``);
    #: only on such signatures (consentkit.policy.children).
    present: NotRequired[dict[str, Any]]
    #: How it was made (drawn, typed, attested); only on signatures that recorded it.
    signature_method: NotRequired[str]
    #: The staff member in front of whom an attested signature was given.
    attested_by: NotRequired[dict[str, Any]]
    #: Why the signer signed before the reflection time ended, when they did.
    early_signing_justification: NotRequired[str]


class PaperSignature(TypedDict):
    """A paper consent transcribed into the record (from ``paper.recorded``)."""

    seq: int
    signers: list[dict[str, str]]
    signed_on: str
    locale: str
    content_sha256: str
    channel: str
    scan_sha256: str | None


class RecordRequirements(TypedDict):
    """The rule-pack decision the record was opened under (docs/regulatory-basis.md)."""

    country: str | None
    guardian_rule: str | None
    minor_role: str | None
    rule_pack_version: str | None


class OpenedFor(TypedDict):
    """The consent task a record was opened for (re-consent, a new age or role, competence)."""

    task_key: str
    reason: str
    #: The age the transition is about ("Consent at 12").
    age: int | None
    #: A re-consent's new version ("Re-consent to version 2").
    version: int | None


class RecordEventRef(TypedDict):
    """An event of the chain the record covers, by position, time and hash."""

    seq: int
    type: str
    at: str
    hash: str


class ConsentRecordPayload(TypedDict):
    """The machine-readable consent record sealed in the PDF (``consentkit.record/1``).

    A TypedDict because this JSON is the point: its canonical form is hashed,
    embedded in the PDF and compared again by :func:`verify_document`.
    """

    format: str
    trial_id: str
    participant_code: str
    site_code: str
    record_id: str
    form_id: str
    form_kind: str
    version: int
    locale: str
    content_sha256: str | None
    state: str
    item_grants: dict[str, bool]
    signatures: list[RecordSignature]
    #: Only on records with paper signatures, so earlier sealed records still verify.
    paper_signatures: NotRequired[list[PaperSignature]]
    #: Only on records opened with a single-parent exception (code, statement, evidence, who).
    guardian_exception: NotRequired[dict[str, Any]]
    #: Only on records opened for a task (``task.opened``), so earlier sealed records verify.
    opened_for: NotRequired[OpenedFor]
    requirements: RecordRequirements
    as_of_seq: int
    events: list[RecordEventRef]


class WithdrawalActor(TypedDict):
    """Who recorded a withdrawal (no identifying data)."""

    kind: str | None
    role: str | None
    on_behalf_of: str | None


class WithdrawalPayload(TypedDict):
    """The machine-readable withdrawal confirmation (``consentkit.withdrawal/1``); see above."""

    format: str
    trial_id: str
    participant_code: str
    site_code: str
    record_id: None
    locale: str
    as_of_seq: int
    scopes: list[str]
    channel: str
    reason: str | None
    reason_declined: bool
    actor: WithdrawalActor
    at: str
    event_hash: str


STALE_LOCK = timedelta(minutes=2)
WAIT_FOR_OTHER_RENDERER_S = 60.0


def file_store() -> gridfs.GridFS:
    """Return the GridFS bucket that holds sealed PDFs and paper scans."""
    return gridfs.GridFS(mongoengine.get_db(), collection="document_files")


# ---------------------------------------------------------------- the machine-readable record


def _completion_seq(events: list[dict[str, Any]], record_id: str) -> int | None:
    for event in events:
        if (
            event.get("record_id") == record_id
            and event.get("state_after") == "consented"
            and (event.get("state_before") != "consented")
        ):
            return int(event["seq"])
    return None


def consent_record_payload(
    participant: Participant, record_id: str, locale: str, as_of_seq: int
) -> ConsentRecordPayload:
    """Return the machine-readable consent record as of an event (deterministic).

    Raises:
        NotFoundError: no such record.
    """
    events = [e for e in audit.chain_dicts(str(participant.id)) if e["seq"] <= as_of_seq]
    opened = opened_event(events, record_id)
    status = record_status(opened, events, at=events[-1]["at"])
    data = opened["payload"]
    signatures = [
        _record_signature(e)
        for e in events
        if e["type"] == "signature.added" and e["record_id"] == record_id
    ]
    paper = [
        PaperSignature(
            seq=e["seq"],
            signers=e["payload"]["signers"],
            signed_on=e["payload"]["signed_on"],
            locale=e["payload"]["locale"],
            content_sha256=e["payload"]["content_sha256"],
            channel=e["payload"]["channel"],
            scan_sha256=e["payload"]["scan_sha256"],
        )
        for e in events
        if e["type"] == "paper.recorded" and e["record_id"] == record_id
    ]
    requirements = data["requirements"]
    result = ConsentRecordPayload(
        format=RECORD_FORMAT,
        trial_id=participant.trial_id,
        participant_code=participant.code,
        site_code=participant.site_code,
        record_id=record_id,
        form_id=data["form_id"],
        form_kind=data["form_kind"],
        version=data["version"],
        locale=locale,
        content_sha256=data["content_sha256"].get(locale),
        state=status.state.value,
        item_grants=status.item_grants,
        signatures=signatures,
        requirements=RecordRequirements(
            country=requirements.get("country"),
            guardian_rule=requirements.get("guardian_rule"),
            minor_role=requirements.get("minor_role"),
            rule_pack_version=requirements.get("rule_pack_version"),
        ),
        as_of_seq=as_of_seq,
        events=[
            RecordEventRef(
                seq=e["seq"],
                type=e["type"],
                at=e["at"].isoformat(timespec="milliseconds"),
                hash=e["hash"],
            )
            for e in events
            if e.get("record_id") in (record_id, None)
        ],
    )
    if paper:
        # Only records with paper signatures carry the key, so earlier sealed records verify.
        result["paper_signatures"] = paper
    if data.get("guardian_exception"):
        result["guardian_exception"] = data["guardian_exception"]
    task = next(
        (e for e in events if e["type"] == "task.opened" and e["record_id"] == record_id), None
    )
    if task is not None:
        # What the record was opened for belongs in the sealed record: an inspector reading
        # a v2 consent or a young person's own consent sees why it was asked for.
        result["opened_for"] = OpenedFor(
            task_key=task["payload"]["key"],
            reason=task["payload"]["reason"],
            age=task["payload"].get("age"),
            version=task["payload"].get("target_version"),
        )
    return result


def _record_signature(event: dict[str, Any]) -> RecordSignature:
    data = event["payload"]
    found = RecordSignature(
        seq=event["seq"],
        signer_id=data["signer_id"],
        role=data["role"],
        printed_name=data["printed_name"],
        meaning=data["meaning"],
        locale=data["locale"],
        content_sha256=data["content_sha256"],
        binding_sha256=data["binding_sha256"],
        signed_at=data["signed_at"],
        auth_factors=data["auth"]["factors"],
    )
    # Only signatures that carry them, so earlier sealed records verify unchanged.
    if data.get("interview"):
        found["interview"] = data["interview"]
    if data.get("attestation"):
        found["attestation"] = data["attestation"]
    if data.get("present"):
        found["present"] = data["present"]
    if data.get("signature_method"):
        found["signature_method"] = data["signature_method"]
    if data.get("attested_by"):
        found["attested_by"] = data["attested_by"]
    if data.get("early_signing_justification"):
        found["early_signing_justification"] = data["early_signing_justification"]
    return found


def verification_code(record_sha256: str) -> str:
    """Return a short code people can read over the phone (from the record's SHA-256)."""
    code = base64.b32encode(bytes.fromhex(record_sha256)[:8]).decode()[:12]
    return "-".join(code[i : i + 4] for i in range(0, 12, 4))


# ---------------------------------------------------------------- rendering


def _local(moment: datetime, tz: str, locale: str) -> str:
    return format_datetime(
        moment, format="long", tzinfo=ZoneInfo(tz), locale=locale.replace("-", "_")
    )


def _interview_text(interview: dict[str, Any] | None, locale: str) -> str | None:
    """Return "In person · Europe/Paris (UTC+01:00)" for the PDF, or None."""
    if not interview:
        return None
    minutes = int(interview.get("utc_offset_minutes", 0))
    sign = "+" if minutes >= 0 else "-"
    offset = f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    mode = label("interview_mode", interview["mode"], locale)
    return f"{mode} · {interview['timezone']} ({offset})"


def _exception_text(exception: dict[str, Any] | None, locale: str) -> dict[str, Any] | None:
    """Return the single-parent exception as the PDF shows it, translated, or None."""
    if not exception:
        return None
    agreement = exception.get("other_parent_agreement")
    return {
        "label": label("guardian_exception", exception["code"], locale),
        "code": exception["code"],
        "statement": gettext(locale, exception["statement"]),
        "evidence": exception["evidence"],
        "recorded_by": exception["recorded_by"],
        "agreement": label("other_parent_agreement", agreement, locale) if agreement else None,
    }


def _present_text(
    present: dict[str, Any] | None, signer_labels: dict[str, str], locale: str
) -> str | None:
    """Return who was present at a young child's signature: role, and name once they signed."""
    if not present:
        return None
    if present.get("staff_name"):
        # A young child's assent given in front of the study team (services.attested).
        return f"{label('actor_kind', 'staff', locale)}: {present['staff_name']}"
    role = label("signer_role", present["role"], locale)
    name = signer_labels.get(present["signer_id"])
    return role if name in (None, role) else f"{role}: {name}"


def _authentication_text(auth: dict[str, Any], locale: str) -> str:
    """Say how the signer's identity was checked, in words (the factors if the way is new)."""
    method = auth.get("method") or "otp"
    if method in LABELS["auth_method"]:
        return label("auth_method", method, locale)
    return ", ".join(auth.get("factors", []))


def _actor_text(actor: dict[str, Any], locale: str) -> str:
    """Name who did an audited step: a family member's role, the study team, or consentkit."""
    kind = actor.get("kind") or ""
    if kind == "signer":
        return label("signer_role", actor.get("role") or "", locale)
    return label("actor_kind", kind, locale)


def _svg_data_uri(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def _purpose(opened_for: OpenedFor | None, form_kind: str, locale: str) -> str | None:
    """Return what the record was opened for, in ``locale`` ("Re-consent to version 2")."""
    if opened_for is None:
        return None
    why = Why(
        opened_for["reason"],
        age=opened_for["age"],
        version=opened_for["version"],
        form_kind=form_kind,
    )
    return why.purpose(locale)


#: The top of an interim copy: what it is, and whose signatures are still awaited.
INTERIM_NOTICE = N_(
    "Interim copy: signed by you, not by everyone yet. Still awaited: %(awaited)s. "
    "The final copy comes when everyone has signed."
)


def _consent_html(
    participant: Participant,
    payload: ConsentRecordPayload,
    seal_is_dev: bool,
    record_sha256: str,
) -> str:
    locale = payload["locale"]
    study = catalog(participant.trial_id).study
    version = FormVersion.objects(
        trial_id=participant.trial_id, form_id=payload["form_id"], version=payload["version"]
    ).first()
    content = version.content[locale]
    pictures = media_data_urls(participant.trial_id, content)
    events = [e for e in audit.chain_dicts(str(participant.id)) if e["seq"] <= payload["as_of_seq"]]
    # Name each chooser as they signed; before signing, by their role.
    signer_labels = {
        e["payload"]["signer_id"]: label("signer_role", e["payload"]["role"], locale)
        for e in events
        if e["type"] == "signer.added"
    }
    signer_labels.update(
        {
            e["payload"]["signer_id"]: e["payload"]["printed_name"]
            for e in events
            if e["type"] == "signature.added"
        }
    )
    choices: dict[str, dict[str, bool]] = {}
    for event in events:
        if event["type"] == "items.chosen" and event["record_id"] == payload["record_id"]:
            choices[event["payload"]["signer_id"]] = event["payload"]["choices"]
    signature_events = {e["seq"]: e for e in events if e["type"] == "signature.added"}
    is_assent = payload["form_kind"] == FormKind.CHILD_ASSENT
    # An interim copy (someone signed, others are awaited) says so at its top, naming whom.
    interim = None
    if payload["state"] != RecordState.CONSENTED:
        status = record_status(
            opened_event(events, payload["record_id"]), events, at=events[-1]["at"]
        )
        awaited = ", ".join(
            dict.fromkeys(label("signer_role", m["role"], locale) for m in status.missing_signers)
        )
        interim = gettext(locale, INTERIM_NOTICE, awaited=awaited)
    doc = {
        "lang": locale,
        "direction": language_option(locale).direction,
        "title": content["title"],
        # A child's assent (CTR Art 32(1)(b)) is labelled as such, never as a consent.
        "kind_label": label("form_kind", payload["form_kind"], locale),
        "is_assent": is_assent,
        "summary": content.get("summary"),
        # The form's own wording of the study and sponsor, in its language, when it gives one.
        "study_title": content.get("study_title") or study.title,
        "trial_id": study.trial_id,
        "eu_ct_number": study.eu_ct_number,
        "sponsor": content.get("sponsor") or study.sponsor,
        "participant_code": participant.code,
        "site_code": participant.site_code,
        "form_id": payload["form_id"],
        "version": payload["version"],
        "locale": locale,
        "language_name": language_option(locale).name,
        "ethics_reference": version.ethics_reference,
        "approved_date": version.approved_date,
        "content_sha256": payload["content_sha256"],
        "state": label("record_state", payload["state"], locale),
        "opened_for": _purpose(payload.get("opened_for"), payload["form_kind"], locale),
        "is_development_seal": seal_is_dev,
        "interim_notice": interim,
        "verification_code": verification_code(record_sha256),
        "record_sha256": record_sha256,
        "sections": [
            {
                "title": s["title"],
                "summary": s.get("summary"),
                "media": media_view(s.get("media"), pictures),
                "html": to_html(s["body"]),
            }
            for s in content["sections"]
        ],
        "consent_items": [
            {
                "text": item["text"],
                "required": item["required"],
                "choices": [
                    {"signer": signer_labels.get(sid, sid), "value": c.get(item["id"])}
                    for sid, c in choices.items()
                ],
            }
            for item in content["items"]
        ],
        "signatures": [
            {
                "role_label": label("signer_role", s["role"], locale),
                "printed_name": s["printed_name"],
                "meaning": s["meaning"],
                "image_data_uri": _svg_data_uri(signature_events[s["seq"]]["payload"]["image_svg"])
                if signature_events[s["seq"]]["payload"].get("image_svg")
                else None,
                "method": label(
                    "signature_method", s.get("signature_method", SignatureMethod.DRAWN), locale
                ),
                "attested_by": (s.get("attested_by") or {}).get("staff_name"),
                "early_reason": s.get("early_signing_justification"),
                "signed_at_utc": s["signed_at"],
                # The interview's own zone when the investigator gave one (a video call
                # from elsewhere); the participant's otherwise.
                "signed_at_local": _local(
                    datetime.fromisoformat(s["signed_at"]),
                    s.get("interview", {}).get("timezone") or participant.timezone,
                    locale,
                ),
                "interview": _interview_text(s.get("interview"), locale),
                "attestation": s.get("attestation"),
                "present": _present_text(s.get("present"), signer_labels, locale),
                "locale": s["locale"],
                "language_name": language_option(s["locale"]).name,
                "content_sha256": s["content_sha256"],
                "authentication": _authentication_text(
                    signature_events[s["seq"]]["payload"]["auth"], locale
                ),
                "binding_sha256": s["binding_sha256"],
            }
            for s in payload["signatures"]
        ],
        "guardian_exception": _exception_text(payload.get("guardian_exception"), locale),
        "events": [
            {
                "seq": e["seq"],
                "at": e["at"].astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
                "type": event_label(e["type"], locale),
                "state": label("record_state", e["state_after"], locale)
                if e.get("state_after") and e.get("state_after") != e.get("state_before")
                else None,
                "by": _actor_text(e["actor"], locale),
                "hash": e["hash"][:20],
            }
            for e in events
            if e.get("record_id") in (payload["record_id"], None)
        ],
    }
    return pdf_rendering.render_html("consent_record.html", doc)


def render_consent_pdf(participant: Participant, payload: ConsentRecordPayload) -> bytes:
    """Render and seal the PDF of a consent record payload."""
    record_json = canonical_json(payload)
    record_sha256 = hashlib.sha256(record_json.encode()).hexdigest()
    material = sealing.seal_material()
    html = _consent_html(participant, payload, material.is_development, record_sha256)
    unsealed = pdf_rendering.write_pdf(
        html,
        attachment_json=record_json,
        attachment_name=ATTACHMENT_NAME,
        created=datetime.fromisoformat(payload["events"][-1]["at"]),
    )
    return sealing.seal_pdf(unsealed)


# ---------------------------------------------------------------- render once, store, read


@dataclass
class DocumentResult:
    """A stored document and its bytes."""

    document: StoredDocument
    content: bytes = field(repr=False)
    #: The name to save it under: study, form and date (``DEMO-NBL-1-assent-6-9-2026-03-02.pdf``).
    filename: str = "document.pdf"


def _render_once(key: str, base: dict[str, Any], render: Any, now: datetime) -> DocumentResult:
    owner = uuid.uuid4().hex
    deadline = time.monotonic() + WAIT_FOR_OTHER_RENDERER_S
    while True:
        existing = StoredDocument.objects(key=key).first()
        if existing is not None and existing.status == "ready":
            return DocumentResult(existing, _read(existing))
        if existing is None:
            try:
                StoredDocument(
                    key=key,
                    status="rendering",
                    lock_owner=owner,
                    lock_at=now_utc(),
                    created_at=now,
                    **base,
                ).save(force_insert=True)
                break
            except NotUniqueError:
                continue
        if existing.lock_at and now_utc() - existing.lock_at > STALE_LOCK:
            taken = StoredDocument.objects(
                key=key, status="rendering", lock_owner=existing.lock_owner
            ).update_one(set__lock_owner=owner, set__lock_at=now_utc())
            if taken:
                break
        if time.monotonic() > deadline:
            raise ConflictError(
                "The document is still being prepared; try again shortly.", code="document-pending"
            )
        time.sleep(0.2)
    try:
        content = render()
    except BaseException:
        # Release the lock so the next request renders again instead of waiting for us.
        StoredDocument.objects(key=key, lock_owner=owner, status="rendering").delete()
        raise
    digest = hashlib.sha256(content).hexdigest()
    file_id = file_store().put(content, filename=f"{key}.pdf", content_type="application/pdf")
    extra = _attached_record_summary(content)
    updated = StoredDocument.objects(key=key, lock_owner=owner, status="rendering").update_one(
        set__status="ready",
        set__file_id=str(file_id),
        set__sha256=digest,
        set__size=len(content),
        set__ready_at=now_utc(),
        set__record_sha256=extra[0],
        set__verification_code=extra[1],
    )
    if not updated:  # our lock was taken over: keep the other renderer's document
        file_store().delete(file_id)
        return _render_once(key, base, render, now)
    return DocumentResult(StoredDocument.objects.get(key=key), content)


def _read(document: StoredDocument) -> bytes:
    from bson import ObjectId

    content: bytes = file_store().get(ObjectId(document.file_id)).read()
    if hashlib.sha256(content).hexdigest() != document.sha256:
        raise ConflictError(
            "A stored document does not match its recorded SHA-256.", code="document-corrupt"
        )
    return content


def stored_content(document: StoredDocument) -> bytes:
    """Return a stored document's PDF, checked against its recorded SHA-256.

    Raises:
        ConflictError: ``document-corrupt``.
    """
    return _read(document)


def _attached_record_summary(pdf: bytes) -> tuple[str, str]:
    record_json = extract_record_json(pdf)
    digest = hashlib.sha256(record_json.encode()).hexdigest()
    return digest, verification_code(digest)


def _interim_seq(events: list[dict[str, Any]], record_id: str, signer_id: str) -> int | None:
    """Return the last signature on an open record once ``signer_id`` has signed it, else None.

    The interim copy shows every signature given so far, so it is rendered as of the
    latest one (a second guardian's signature makes a new interim copy).
    """
    opened = opened_event(events, record_id)
    status = record_status(opened, events, at=events[-1]["at"])
    if status.copy_for(signer_id) != "interim":
        return None
    return max(
        int(e["seq"])
        for e in events
        if e.get("record_id") == record_id and e["type"] in ("signature.added", "paper.recorded")
    )


def consent_document(
    participant: Participant,
    record_id: str,
    *,
    locale: str | None = None,
    now: datetime | None = None,
    signer_id: str | None = None,
) -> DocumentResult:
    """Return the sealed PDF of a completed consent record in one signer's language.

    The language defaults to the record's; each signer may ask for the language
    they signed in, so two guardians get the text each read. A ``signer_id`` who
    has signed a record others still have to sign gets an interim copy ("signed
    by you, awaiting others", sealed like the final one), so a family keeps what
    they signed from the moment they signed it.

    Raises:
        NotFoundError: no such record.
        ConflictError: the record is not complete yet (``record-incomplete``) and,
            with ``signer_id``, that signer has not signed it either.
        InvalidDataError: the record has no text in that language.
    """
    now = now or now_utc()
    events = audit.chain_dicts(str(participant.id))
    opened = opened_event(events, record_id)
    locale = locale or opened["payload"]["locale"]
    if locale not in opened["payload"]["content_sha256"]:
        raise InvalidDataError(
            "This form has no %(locale)s text.", code="unknown-locale", params={"locale": locale}
        )
    as_of = _completion_seq(events, record_id)
    key, suffix = f"consent-record:{record_id}:{locale}", ""
    if as_of is None and signer_id is not None:
        as_of = _interim_seq(events, record_id, signer_id)
        key, suffix = f"consent-record:{record_id}:{locale}:interim:{as_of}", "-interim"
    if as_of is None:
        raise ConflictError(
            "The consent is not complete yet; its document comes after the last signature.",
            code="record-incomplete",
        )
    payload = consent_record_payload(participant, record_id, locale, as_of)
    base = {
        "kind": "consent-record",
        "trial_id": participant.trial_id,
        "participant_id": str(participant.id),
        "record_id": record_id,
        "locale": locale,
        "as_of_seq": as_of,
    }
    result = _render_once(key, base, lambda: render_consent_pdf(participant, payload), now)
    completed_at = next(e["at"] for e in events if e["seq"] == as_of)
    result.filename = document_filename(
        participant.trial_id,
        opened["payload"]["form_id"] + suffix,
        local_date(completed_at, participant.timezone),
    )
    return result


def document_filename(trial_id: str, form_id: str, on: date) -> str:
    """Name a document by study, form and date, in characters every file system accepts."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{trial_id}-{form_id}-{on.isoformat()}")
    return f"{name}.pdf"


def withdrawal_payload(participant: Participant, seq: int, locale: str) -> WithdrawalPayload:
    """Return the machine-readable withdrawal confirmation for the event at ``seq``.

    Raises:
        NotFoundError: no withdrawal at that position.
    """
    event = next((e for e in audit.chain_dicts(str(participant.id)) if e["seq"] == seq), None)
    if event is None or event["type"] != "withdrawal.recorded":
        raise NotFoundError("No withdrawal is recorded at event %(seq)s.", params={"seq": seq})
    data = event["payload"]
    return {
        "format": "consentkit.withdrawal/1",
        "trial_id": participant.trial_id,
        "participant_code": participant.code,
        "site_code": participant.site_code,
        "record_id": None,
        "locale": locale,
        "as_of_seq": seq,
        "scopes": data["scopes"],
        "channel": data["channel"],
        "reason": data["reason"],
        "reason_declined": data["reason_declined"],
        "actor": WithdrawalActor(
            kind=event["actor"].get("kind"),
            role=event["actor"].get("role"),
            on_behalf_of=event["actor"].get("on_behalf_of"),
        ),
        "at": event["at"].isoformat(timespec="milliseconds"),
        "event_hash": event["hash"],
    }


def withdrawal_locale(participant: Participant) -> str:
    """Return the language of a withdrawal confirmation: the participant's, else the site's."""
    site = catalog(participant.trial_id).study.site(participant.site_code)
    return participant.preferred_language or (site.languages[0] if site else "en")


def withdrawal_document(
    participant: Participant,
    seq: int,
    *,
    locale: str | None = None,
    now: datetime | None = None,
) -> DocumentResult:
    """Return the sealed confirmation of the withdrawal recorded at event ``seq``.

    Rendered once, like a consent record (on first request or by
    :func:`render_pending`), in ``locale`` or :func:`withdrawal_locale`.

    Raises:
        NotFoundError: no withdrawal at that position.
    """
    now = now or now_utc()
    locale = locale or withdrawal_locale(participant)
    payload = withdrawal_payload(participant, seq, locale)

    def render() -> bytes:
        record_json = canonical_json(payload)
        digest = hashlib.sha256(record_json.encode()).hexdigest()
        material = sealing.seal_material()
        study = catalog(participant.trial_id).study
        at = datetime.fromisoformat(payload["at"])
        doc = {
            "lang": locale,
            "direction": language_option(locale).direction,
            "study_title": study.title,
            "trial_id": study.trial_id,
            "eu_ct_number": study.eu_ct_number,
            "participant_code": participant.code,
            "site_code": participant.site_code,
            "at_utc": payload["at"],
            "at_local": _local(at, participant.timezone, locale),
            "channel": label("channel", payload["channel"], locale),
            "recorded_by": f"{payload['actor']['kind']}:{payload['actor']['role']}",
            "scopes": [label("withdrawal_scope", scope, locale) for scope in payload["scopes"]],
            "reason": payload["reason"],
            "reason_declined": payload["reason_declined"],
            "event_hash": payload["event_hash"],
            "record_sha256": digest,
            "verification_code": verification_code(digest),
            "is_development_seal": material.is_development,
        }
        html = pdf_rendering.render_html("withdrawal.html", doc)
        return sealing.seal_pdf(
            pdf_rendering.write_pdf(
                html,
                attachment_json=record_json,
                attachment_name=ATTACHMENT_NAME,
                created=at,
            )
        )

    base = {
        "kind": "withdrawal-confirmation",
        "trial_id": participant.trial_id,
        "participant_id": str(participant.id),
        "record_id": None,
        "locale": locale,
        "as_of_seq": seq,
    }
    return _render_once(f"withdrawal:{participant.id}:{seq}:{locale}", base, render, now)


def _needs_rendering(key: str) -> bool:
    """Whether no document is stored under ``key`` and nobody is rendering it right now."""
    existing = StoredDocument.objects(key=key).first()
    return existing is None or (
        existing.status != "ready"
        and not (existing.lock_at and now_utc() - existing.lock_at <= STALE_LOCK)
    )  # an abandoned lock is retried


def render_pending(*, limit: int = 100, now: datetime | None = None) -> int:
    """Render documents that have none yet (for cron or a worker).

    The consent records completed and the withdrawal confirmations, each in
    the language it is kept in; at most ``limit`` documents per call.
    """
    from consentkit.models.audit import AuditEvent, ConsentRecord

    rendered = 0
    for record in ConsentRecord.objects(state="consented").no_cache():
        if rendered >= limit:
            return rendered
        if not _needs_rendering(f"consent-record:{record.record_id}:{record.locale}"):
            continue
        participant = Participant.objects(id=record.participant_id).first()
        if participant is not None:
            consent_document(participant, record.record_id, now=now)
            rendered += 1
    # Participants who withdrew carry the scopes (projected from the events): no event scan.
    for participant in Participant.objects(withdrawn_scopes__0__exists=True).no_cache():
        locale = withdrawal_locale(participant)
        withdrawals = AuditEvent.objects(
            participant_id=str(participant.id), type="withdrawal.recorded"
        ).only("seq")
        for event in withdrawals:
            if rendered >= limit:
                return rendered
            if _needs_rendering(f"withdrawal:{participant.id}:{event.seq}:{locale}"):
                withdrawal_document(participant, event.seq, locale=locale, now=now)
                rendered += 1
    return rendered


# ---------------------------------------------------------------- verification


def extract_record_json(pdf: bytes) -> str:
    """Return the machine-readable record attached to a consentkit PDF.

    Raises:
        InvalidDataError: no consentkit record is attached.
    """
    import io

    try:
        reader = PdfReader(io.BytesIO(pdf))
        attachments = reader.attachments
    except Exception as exc:
        raise InvalidDataError(
            "Not a readable PDF: %(reason)s.", code="not-a-pdf", params={"reason": str(exc)}
        ) from exc
    found = attachments.get(ATTACHMENT_NAME)
    if not found:
        raise InvalidDataError("This PDF carries no consentkit record.", code="no-record")
    return bytes(found[0]).decode("utf-8")


@dataclass
class VerificationReport:
    """The answer to "is this PDF a genuine, unaltered consentkit record?"."""

    ok: bool
    seal: dict[str, Any]
    record_matches: bool
    problems: list[str]
    record: dict[str, Any] | None

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {
            "ok": self.ok,
            "seal": self.seal,
            "record_matches": self.record_matches,
            "problems": self.problems,
            "record": {
                k: self.record.get(k)
                for k in (
                    "trial_id",
                    "participant_code",
                    "record_id",
                    "form_id",
                    "version",
                    "locale",
                    "state",
                    "as_of_seq",
                )
            }
            if self.record
            else None,
        }


def _well_formed(record: Any) -> bool:
    """Return True when an attached record has the shape verification relies on."""
    return (
        isinstance(record, dict)
        and isinstance(record.get("trial_id"), str)
        and isinstance(record.get("participant_code"), str)
        and isinstance(record.get("locale"), str)
        and isinstance(record.get("as_of_seq"), int)
        and not isinstance(record.get("as_of_seq"), bool)
        and (record.get("record_id") is None or isinstance(record.get("record_id"), str))
    )


def verify_pdf(pdf: bytes) -> VerificationReport:
    """Check the seal, then that the attached record matches the audit trail in the database."""
    report = sealing.check_seal(pdf)
    seal = report.to_dict()
    problems = [report.problem] if report.problem else []
    record: dict[str, Any] | None = None
    matches = False
    try:
        parsed = json.loads(extract_record_json(pdf))
        if not _well_formed(parsed):
            raise InvalidDataError("The attached record is malformed.", code="bad-record")
        record = parsed
    except (InvalidDataError, ValueError) as exc:
        problems.append(getattr(exc, "message", str(exc)))
    if record is not None:
        participant = Participant.objects(
            trial_id=record.get("trial_id"), code=record.get("participant_code")
        ).first()
        if participant is None:
            problems.append("the participant in this document is not in this database")
        else:
            expected: WithdrawalPayload | ConsentRecordPayload
            try:
                if record.get("format") == "consentkit.withdrawal/1":
                    expected = withdrawal_payload(
                        participant, record["as_of_seq"], record["locale"]
                    )
                else:
                    expected = consent_record_payload(
                        participant, record["record_id"], record["locale"], record["as_of_seq"]
                    )
            except (NotFoundError, KeyError):
                problems.append("the record in this document is not in this database")
            else:
                matches = canonical_json(expected) == canonical_json(record)
                if not matches:
                    chain = audit.verify_participant(participant)
                    problems.append(
                        "the record in this document differs from the audit trail"
                        if chain.ok
                        else f"the audit trail in the database is broken: {chain.problem}"
                    )
    return VerificationReport(
        ok=report.ok and matches,
        seal=seal,
        record_matches=matches,
        problems=problems,
        record=record,
    )
