"""The family's consent wallet: everything one person signs for, and changing an optional choice.

One sign-in shows every child (siblings), every study, every record with its
state in plain words, the documents and what is agreed to now. Signers are
pseudonymous and their contacts encrypted, so one person's signers are found
by a keyed blind index of their contact (:func:`consentkit.crypto.contact_index`,
stored on ``Signer.contact_index``): the e-mail address when the signer has one,
else the phone number, the same contact their one-time codes go to.

Who is shown (:func:`linked_signers`): only family signers (a guardian or the
participant themselves; never an investigator or a witness) with the same
contact, and only the records where that signer is a required signer. A linked
signer whose every invitation staff revoked (a lost letter, a custody change)
is left out: staff took that access away. The session's own signer is always in.

Signers stored before the index existed get it from ``consentkit wallet
backfill`` (:func:`backfill_contact_index`, idempotent, only signers without
one), and the reader's own signer at their first wallet read.

Changing an optional choice after signing (:func:`change_choice`) is a new
signed event, ``items.changed`` (signer_id, changes {item_id: bool}, auth), with
the same fresh one-time code as a signature; the signed ``items.chosen`` and the
signature stay as they were. The record's item grants, the participation
profile, the permission API, FHIR and the exports read the change
(:attr:`consentkit.policy.records.SignerProgress.current_choices`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bson import ObjectId

from consentkit import crypto
from consentkit.clock import now_utc
from consentkit.enums import Channel, RecordPhase, RecordState
from consentkit.errors import ConflictError, InvalidDataError, NotFoundError
from consentkit.labels import label
from consentkit.models.access import Invitation
from consentkit.models.audit import AuditEvent
from consentkit.models.document import StoredDocument
from consentkit.models.participant import Participant, Signer
from consentkit.policy.items import refuse_unknown_items
from consentkit.policy.records import opened_event, record_status
from consentkit.services import (
    audit,
    ceremony,
    documents,
    forms,
    participants,
    projection,
    records,
)
from consentkit.services.evidence import Actor, AuthEvidence

#: The profile's activities, in the order the wallet lists them.
AGREEMENTS = (
    "treatment",
    "randomisation",
    "study_procedures",
    "data_collection",
    "sample_collection",
    "sample_future_use",
    "genetic_analysis",
    "use_outside_protocol",
    "contact",
    "re_contact",
)


@dataclass(frozen=True)
class WalletItem:
    """One consent item of a record: as signed, as it stands now, and whether it may change."""

    item_id: str
    code: str
    text: str
    required: bool
    #: This signer's answer when they signed (None: they have not chosen yet).
    signed: bool | None
    #: This signer's answer now, with every later change.
    current: bool | None
    #: Whether :func:`change_choice` accepts it now: optional, signed, record consented.
    changeable: bool


@dataclass(frozen=True)
class WalletRecord:
    """One record this person signs, with its state in their words."""

    record_id: str
    form_id: str
    form_kind: str
    version: int
    title: str
    state: str
    phase: str
    #: The state in this signer's words and language (:func:`ceremony.family_status`).
    status_text: str
    signed_at: datetime | None
    items: tuple[WalletItem, ...]


@dataclass(frozen=True)
class WalletDocument:
    """A sealed document of this person's records or of the participant's withdrawals."""

    document_id: str
    kind: str
    locale: str
    record_id: str | None
    created_at: datetime
    verification_code: str


@dataclass(frozen=True)
class WalletAgreement:
    """One activity of the participation profile, said plainly: agreed now or not."""

    activity: str
    agreed: bool
    text: str
    #: ``data_collection`` only: ``all``, ``routine-care-only`` or ``none``.
    value: str | None = None


@dataclass(frozen=True)
class WalletChild:
    """One participant (a child, or the signer themselves) and what this person sees of them."""

    trial_id: str
    study_title: str
    participant_code: str
    site_code: str
    #: This person's role for them: ``guardian`` or ``participant``.
    role: str
    #: Whether this is the participant the session is signed in for.
    is_current: bool
    participating: bool
    withdrawn_scopes: tuple[str, ...]
    agreements: tuple[WalletAgreement, ...]
    records: tuple[WalletRecord, ...]
    documents: tuple[WalletDocument, ...]


@dataclass(frozen=True)
class Wallet:
    """Everything one person signs for, each child with its study, records and documents."""

    children: tuple[WalletChild, ...]


@dataclass(frozen=True)
class ChoiceChange:
    """An optional choice changed: the event written and the participant's permissions after it."""

    seq: int
    type: str
    at: datetime
    record_id: str
    item_id: str
    value: bool
    participant_code: str
    permissions: dict[str, Any]


def _link_key(signer: Signer) -> str | None:
    """Return the blind index that links this signer to their other signers.

    The e-mail's when there is one, else the phone's: the contact one-time codes go to.
    """
    index = list(signer.contact_index or [])
    if not index:
        index = crypto.contact_index(participants.signer_identity(signer))
        if index:
            # The reader's own signer, stored before the index existed: index it now.
            Signer.objects(id=signer.id).update_one(set__contact_index=index)
            signer.contact_index = index
    return next((k for k in index if k.startswith("e:")), None) or next(iter(index), None)


def _access_revoked(signer_ids: list[str]) -> set[str]:
    """Return the signers whose every invitation was revoked by staff."""
    seen: dict[str, bool] = {}
    for invitation in Invitation.objects(signer_id__in=signer_ids).only("signer_id", "revoked_at"):
        seen[invitation.signer_id] = seen.get(invitation.signer_id, False) or (
            invitation.revoked_at is None
        )
    return {signer_id for signer_id, active in seen.items() if not active}


def linked_signers(signer: Signer) -> list[Signer]:
    """Return this person's family signers: this one first, then the same contact's, oldest first.

    Only guardians and participants; a linked signer whose every invitation was
    revoked is left out (the signer itself never is: their session proves access).
    """
    found = [signer]
    key = _link_key(signer)
    if key is None:
        return found
    others = [
        s
        for s in Signer.objects(
            contact_index=key, role__in=[r.value for r in participants.FAMILY_ROLES]
        ).order_by("created_at", "id")
        if str(s.id) != str(signer.id)
    ]
    revoked = _access_revoked([str(s.id) for s in others])
    return found + [s for s in others if str(s.id) not in revoked]


def _items(
    opened: dict[str, Any], status: Any, signer_id: str, texts: dict[str, str]
) -> tuple[WalletItem, ...]:
    progress = status.signers.get(signer_id)
    signed = progress is not None and progress.signed_at is not None
    found = []
    for item in opened["payload"]["items"]:
        before = (progress.choices or {}).get(item["id"]) if progress else None
        now = (progress.current_choices or {}).get(item["id"]) if progress else None
        found.append(
            WalletItem(
                item_id=item["id"],
                code=item["code"],
                text=texts.get(item["id"], item["code"]),
                required=bool(item["required"]),
                signed=before if signed else None,
                current=now if signed else None,
                changeable=signed
                and not item["required"]
                and status.state == RecordState.CONSENTED,
            )
        )
    return tuple(found)


def _child(
    signer: Signer, *, current_participant_id: str, at: datetime, locale: str | None
) -> WalletChild:
    participant = Participant.objects(id=signer.participant_id).get()
    events = audit.chain_dicts(str(participant.id))
    signer_id = str(signer.id)
    found: list[WalletRecord] = []
    mine: set[str] = set()
    for status in records.record_statuses(participant, at=at, events=events):
        if signer_id not in status.signers:
            continue
        mine.add(status.record_id)
        opened = opened_event(events, status.record_id)
        view = forms.version_view(
            participant.trial_id,
            status.form_id,
            status.version,
            requested=locale,
            default_locale=opened["payload"]["locale"],
        )
        texts = {i["id"]: i["text"] for i in view["items"]}
        step = ceremony.next_step(status, signer_id, opened)
        found.append(
            WalletRecord(
                record_id=status.record_id,
                form_id=status.form_id,
                form_kind=status.form_kind,
                version=status.version,
                title=view["title"],
                state=status.state.value,
                phase=RecordPhase.of(status.state).value,
                status_text=ceremony.family_status(status, signer_id, step).text(locale),
                signed_at=status.signers[signer_id].signed_at,
                items=_items(opened, status, signer_id, texts),
            )
        )
    profile = records.participation(participant, at=at, events=events)
    allowed = profile.permissions.to_dict()
    agreements = tuple(
        WalletAgreement(
            activity=activity,
            agreed=allowed[activity] not in (False, "none"),
            text=label("agreement", activity, locale),
            value=allowed[activity] if activity == "data_collection" else None,
        )
        for activity in AGREEMENTS
    )
    documents = tuple(
        WalletDocument(
            document_id=str(doc.id),
            kind=doc.kind,
            locale=doc.locale,
            record_id=doc.record_id,
            created_at=doc.ready_at,
            verification_code=doc.verification_code,
        )
        for doc in StoredDocument.objects(participant_id=str(participant.id), status="ready")
        if doc.record_id is None or doc.record_id in mine
    )
    study = forms.catalog(participant.trial_id).study
    return WalletChild(
        trial_id=participant.trial_id,
        study_title=study.title,
        participant_code=participant.code,
        site_code=participant.site_code,
        role=signer.role,
        is_current=str(participant.id) == current_participant_id,
        participating=profile.participating,
        withdrawn_scopes=profile.withdrawn_scopes,
        agreements=agreements,
        records=tuple(found),
        documents=documents,
    )


def wallet(signer_id: str, *, at: datetime | None = None, locale: str | None = None) -> Wallet:
    """Return everything the person behind ``signer_id`` signs for, in their language.

    Raises:
        NotFoundError: no such signer.
    """
    at = at or now_utc()
    signer = _signer(signer_id)
    return Wallet(
        children=tuple(
            _child(s, current_participant_id=signer.participant_id, at=at, locale=locale)
            for s in linked_signers(signer)
        )
    )


def _signer(signer_id: str) -> Signer:
    signer: Signer | None = Signer.objects(id=signer_id).first()
    if signer is None:
        raise NotFoundError("This signer was not found.")
    return signer


def signer_of_record(signer_id: str, record_id: str) -> tuple[Participant, Signer]:
    """Return the participant and this person's signer of a record in their wallet.

    Raises:
        NotFoundError: the record is not one this person signs (another family's
            records are "not found", never "forbidden").
    """
    for linked in linked_signers(_signer(signer_id)):
        if _signs(linked, record_id):
            return Participant.objects(id=linked.participant_id).get(), linked
    raise NotFoundError("This record was not found.")


def _signs(signer: Signer, record_id: str) -> bool:
    """Return whether ``signer`` is a required signer of the record (one indexed read)."""
    opened = (
        AuditEvent.objects(
            participant_id=signer.participant_id, record_id=record_id, type="record.opened"
        )
        .only("payload")
        .first()
    )
    return opened is not None and any(
        s["signer_id"] == str(signer.id) for s in opened.payload["required_signers"]
    )


def document(signer_id: str, document_id: str) -> tuple[bytes, str]:
    """Return a sealed document in this person's wallet and its file name.

    A document of a record this person signs, or a withdrawal confirmation of a
    participant they sign for (a withdrawal concerns the whole participation).

    Raises:
        NotFoundError: not a document in this person's wallet (another family's
            documents are "not found", like one that does not exist).
    """
    found: StoredDocument | None = (
        StoredDocument.objects(id=document_id, status="ready").first()
        if ObjectId.is_valid(document_id)
        else None
    )
    if found is not None:
        for linked in linked_signers(_signer(signer_id)):
            if linked.participant_id != found.participant_id:
                continue
            if found.record_id is None:
                return documents.stored_content(found), f"withdrawal-{found.as_of_seq}.pdf"
            if _signs(linked, found.record_id):
                return documents.stored_content(found), f"consent-{found.record_id}.pdf"
    raise NotFoundError("This document was not found.")


def check_choice(signer_id: str, record_id: str, item_id: str, value: bool) -> None:
    """Refuse a choice change before any code is spent (the same checks as the write).

    Raises:
        NotFoundError, InvalidDataError, ConflictError: as :func:`change_choice`.
    """
    participant, signer = signer_of_record(signer_id, record_id)
    events = audit.chain_dicts(str(participant.id))
    _checked(opened_event(events, record_id), events, str(signer.id), item_id, value, now_utc())


def _checked(
    opened: dict[str, Any],
    events: list[Any],
    signer_id: str,
    item_id: str,
    value: bool,
    at: datetime,
) -> dict[str, Any]:
    """Return the ``items.changed`` payload, or raise why this change is refused."""
    items = {i["id"]: i for i in opened["payload"]["items"]}
    refuse_unknown_items([item_id], items)
    if items[item_id]["required"]:
        raise InvalidDataError(
            "This point is needed to take part and cannot be changed here. To stop, "
            "use 'Stop taking part'.",
            code="item-required",
        )
    status = record_status(opened, events, at=at)
    progress = status.signers.get(signer_id)
    if progress is None or progress.signed_at is None:
        raise ConflictError(
            "You can change a choice once you have signed.", code="record-not-signed"
        )
    if status.state != RecordState.CONSENTED:
        raise ConflictError(
            "The record is %(state)s.", code="record-closed", params={"state": status.state.value}
        )
    if (progress.current_choices or {}).get(item_id) == value:
        raise ConflictError("This is already your choice.", code="choice-unchanged")
    return {"signer_id": signer_id, "changes": {item_id: bool(value)}}


def change_choice(
    signer_id: str,
    record_id: str,
    *,
    item_id: str,
    value: bool,
    auth: AuthEvidence,
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> ChoiceChange:
    """Change one optional choice of a signed record, as a new signed event (``items.changed``).

    ``auth`` is the fresh one-time code the caller spent, as for a signature. The
    signed record, its ``items.chosen`` and its PDF stay as they were; from now on
    its item grants, the profile and the permission API follow the change. Another
    signer's "no" still makes a "no" (several consenters: one no is a no).

    Raises:
        NotFoundError: not a record this person signs.
        InvalidDataError: ``items-incomplete`` (no such item), ``item-required``.
        ConflictError: ``record-not-signed``, ``record-closed``, ``choice-unchanged``.
    """
    participant, signer = signer_of_record(signer_id, record_id)
    actor = Actor(kind="signer", id=str(signer.id), role=signer.role, channel=Channel.APP)

    def draft(events: list[Any]) -> audit.Draft | AuditEvent:
        if idempotency_key:
            for event in events:
                if (
                    event["type"] == "items.changed"
                    and event["payload"].get("idempotency_key") == idempotency_key
                    and event["payload"]["signer_id"] == str(signer.id)
                ):
                    stored: AuditEvent = AuditEvent.objects(
                        participant_id=str(participant.id), seq=event["seq"]
                    ).get()
                    return stored
        at = now or now_utc()
        opened = opened_event(events, record_id)
        payload = _checked(opened, events, str(signer.id), item_id, value, at)
        payload["auth"] = auth.to_dict()
        if signer_id != str(signer.id):
            # Signed in for a sibling: the same person (same contact), another signer record.
            payload["via_signer_id"] = signer_id
        if idempotency_key:
            payload["idempotency_key"] = idempotency_key
        return audit.Draft(
            type="items.changed",
            actor=actor.to_dict(),
            payload=payload,
            record_id=record_id,
            state_before=RecordState.CONSENTED.value,
            state_after=RecordState.CONSENTED.value,
        )

    event, events = audit.append_to_chain(participant, draft, now=now)
    projection.refresh_projection(participant, events)
    return _change_result(participant, event, [e for e in events if e["seq"] <= event.seq])


def _change_result(participant: Participant, event: AuditEvent, events: list[Any]) -> ChoiceChange:
    """Answer a choice change from its event: the permissions just after it."""
    profile = records.participation(participant, at=event.at, events=events)
    [(item_id, value)] = event.payload["changes"].items()
    return ChoiceChange(
        seq=event.seq,
        type=event.type,
        at=event.at,
        record_id=str(event.record_id),
        item_id=item_id,
        value=bool(value),
        participant_code=participant.code,
        permissions=profile.permissions.to_dict(),
    )


def change_for_key(signer_id: str, record_id: str, idempotency_key: str) -> ChoiceChange | None:
    """Return the answer to this person's choice change sent with this key, if it was stored.

    A retry after a crash (event written, answer lost) gets the first answer, with no
    new code and no second event.
    """
    try:
        participant, signer = signer_of_record(signer_id, record_id)
    except NotFoundError:
        return None
    event: AuditEvent | None = AuditEvent.objects(
        participant_id=str(participant.id),
        record_id=record_id,
        type="items.changed",
        payload__signer_id=str(signer.id),
        payload__idempotency_key=idempotency_key,
    ).first()
    if event is None:
        return None
    events = [e for e in audit.chain_dicts(str(participant.id)) if e["seq"] <= event.seq]
    return _change_result(participant, event, events)


def backfill_contact_index(*, limit: int | None = None, rebuild: bool = False) -> int:
    """Store the contact blind index on signers that have none (all with ``rebuild``).

    Idempotent; after a change of ``CONSENTKIT_BLIND_INDEX_KEY`` run it with
    ``rebuild``. Returns how many signers were written.
    """
    query = Signer.objects() if rebuild else Signer.objects(contact_index__exists=False)
    written = 0
    for signer in query.only("id", "identity").limit(limit or 0):
        index = crypto.contact_index(participants.signer_identity(signer))
        Signer.objects(id=signer.id).update_one(set__contact_index=index)
        written += 1
    return written
