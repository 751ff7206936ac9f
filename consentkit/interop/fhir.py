"""A consent record as FHIR: Consent (R4 and R5), Provenance, DocumentReference; and back.

Pure mapping: the caller passes the derived record (:class:`RecordStatus`), the
participant's events and the sealed documents as plain data; nothing here reads the
database or the clock. Every resource is built as a dict and validated by
``fhir.resources`` (R5, and its R4B package for R4) before it is returned, so a shape
FHIR does not allow fails here, never at the receiver. The mapping table is
docs/fhir.md.

R4 follows the MII Broad Consent constraints where they fit: scope ``research``,
category LOINC 57016-8 plus the form kind, ``policy.uri``, a base provision of type
``deny`` with a period, one nested provision per consent item (and per withdrawal
scope), each with a ``code`` and a ``period``, no deeper nesting, no ``action``.
R5 states the same with a root ``decision`` and provisions as its exceptions.

Nobody is named: the patient is the pseudonymous participant code, signers are
their consentkit ids (``urn:consentkit:signer``), never names or contacts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from urllib.parse import quote

from consentkit.enums import RecordState, SignerRole, WithdrawalScope
from consentkit.policy.records import (
    GATING_KINDS,
    REVOKED_BY,
    Permissions,
    RecordStatus,
    chosen_items,
    permissions_for,
)


class Release(StrEnum):
    """The FHIR releases served: R4 (as R4B, the EU research reality) and R5."""

    R4 = "r4"
    R5 = "r5"


#: consentkit's own code systems and identifier namespaces (docs/fhir.md#code-systems).
BASE = "https://consentkit.org/fhir"
ITEM_SYSTEM = f"{BASE}/CodeSystem/consent-item"
SCOPE_SYSTEM = f"{BASE}/CodeSystem/withdrawal-scope"
REFUSAL_SYSTEM = f"{BASE}/CodeSystem/refusal"
FORM_KIND_SYSTEM = f"{BASE}/CodeSystem/form-kind"
SIGNER_ROLE_SYSTEM = f"{BASE}/CodeSystem/signer-role"
SIGNER_SYSTEM = "urn:consentkit:signer"
SITE_SYSTEM = "urn:consentkit:site"
SHA256_SYSTEM = "urn:consentkit:document-sha256"
LOINC = "http://loinc.org"
#: LOINC 57016-8 "Privacy policy acknowledgment Document" (MII Broad Consent category).
CONSENT_CATEGORY = {"system": LOINC, "code": "57016-8"}
#: LOINC 59284-0 "Patient Consent" (the sealed PDF's document type).
CONSENT_DOCUMENT_TYPE = {"system": LOINC, "code": "59284-0", "display": "Patient Consent"}
CONSENT_SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"
ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
PARTICIPANT_TYPE = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
SIGNATURE_TYPE = "urn:iso-astm:E1762-95:2013"
#: ASTM E1762 signature types: a family's consent, the interviewer's verification, the
#: impartial witness's attestation (CTR Art 29(1)).
SIGNATURE_TYPES = {
    SignerRole.GUARDIAN: ("1.2.840.10065.1.12.1.7", "Consent Signature"),
    SignerRole.PARTICIPANT: ("1.2.840.10065.1.12.1.7", "Consent Signature"),
    SignerRole.INVESTIGATOR: ("1.2.840.10065.1.12.1.5", "Verification Signature"),
    SignerRole.WITNESS: ("1.2.840.10065.1.12.1.11", "Consent Witness Signature"),
}
#: The FHIR resource type a signer of each role is (references carry it in ``type``).
SIGNER_TYPES = {
    SignerRole.GUARDIAN: "RelatedPerson",
    SignerRole.PARTICIPANT: "Patient",
    SignerRole.INVESTIGATOR: "Practitioner",
    SignerRole.WITNESS: "RelatedPerson",
}
#: How a drawn signature is kept (services/signatures.py renders the strokes as SVG).
SIGNATURE_FORMAT = "image/svg+xml"

#: Record state -> Consent.status (R4 has no "not-done", R5 no "proposed"/"rejected").
STATUS_R4 = {
    RecordState.AWAITING_INFORMATION: "proposed",
    RecordState.AWAITING_SIGNATURES: "proposed",
    RecordState.CONSENTED: "active",
    RecordState.DECLINED: "rejected",
    RecordState.DISSENT: "rejected",
    RecordState.WITHDRAWN: "inactive",
    RecordState.SUPERSEDED: "inactive",
    RecordState.EXPIRED: "rejected",
    RecordState.SUSPENDED_AWAITING_OWN_CONSENT: "inactive",
}
STATUS_R5 = {
    RecordState.AWAITING_INFORMATION: "draft",
    RecordState.AWAITING_SIGNATURES: "draft",
    RecordState.CONSENTED: "active",
    RecordState.DECLINED: "not-done",
    RecordState.DISSENT: "not-done",
    RecordState.WITHDRAWN: "inactive",
    RecordState.SUPERSEDED: "inactive",
    RecordState.EXPIRED: "not-done",
    RecordState.SUSPENDED_AWAITING_OWN_CONSENT: "inactive",
}


@dataclass(frozen=True)
class Subject:
    """Whom the resources are about, pseudonymously, and who runs the study."""

    trial_id: str
    code: str
    site_code: str
    sponsor: str


@dataclass(frozen=True)
class SealedDocument:
    """A sealed PDF as FHIR describes it (from ``StoredDocument``; ``sha1`` is base64)."""

    id: str
    kind: str
    record_id: str | None
    locale: str
    sha256: str
    sha1: str
    size: int
    created_at: datetime
    title: str


def _instant(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")


def participant_system(trial_id: str) -> str:
    """Return the identifier system of a study's participant codes."""
    return f"urn:consentkit:trial:{quote(trial_id, safe='')}:participant"


def patient_reference(subject: Subject) -> dict[str, Any]:
    """Return the patient as a logical reference: the study's pseudonymous code only."""
    return {
        "type": "Patient",
        "identifier": {"system": participant_system(subject.trial_id), "value": subject.code},
    }


def signer_reference(signer_id: str, role: str) -> dict[str, Any]:
    """Return a signer as a logical reference by consentkit id (never a name)."""
    return {
        "type": SIGNER_TYPES.get(SignerRole(role), "RelatedPerson"),
        "identifier": {"system": SIGNER_SYSTEM, "value": signer_id},
    }


def _site(subject: Subject) -> dict[str, Any]:
    return {
        "type": "Organization",
        "identifier": {"system": SITE_SYSTEM, "value": subject.site_code},
    }


def _sponsor(subject: Subject) -> dict[str, Any]:
    return {"type": "Organization", "display": subject.sponsor}


def policy_uri(subject: Subject, status: RecordStatus) -> str:
    """Return the URI naming the form version a record was opened for."""
    trial, form = quote(subject.trial_id, safe=""), quote(status.form_id, safe="")
    return f"urn:consentkit:trial:{trial}:form:{form}:version:{status.version}"


def _concept(system: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code}]}


def _period(start: datetime, end: datetime | None = None) -> dict[str, str]:
    period = {"start": _instant(start)}
    if end is not None:
        period["end"] = _instant(end)
    return period


@dataclass(frozen=True)
class _Facts:
    """What a record's Consent states, in either release."""

    start: datetime
    signed: bool
    #: item code -> (chosen yes, revoked at)
    items: dict[str, tuple[bool, datetime | None]]
    #: withdrawal scope -> first recorded at (withdrawals after the record was opened)
    scopes: dict[str, datetime]
    dissent_at: datetime | None
    ended_at: datetime | None


def _facts(
    status: RecordStatus, opened: Mapping[str, Any], events: Sequence[Mapping[str, Any]]
) -> _Facts:
    signed = bool(status.signers) and all(p.signed_at for p in status.signers.values())
    completed = max((p.signed_at for p in status.signers.values() if p.signed_at), default=None)
    start = completed if signed and completed is not None else status.opened_at
    scopes: dict[str, datetime] = {}
    dissent_at = None
    for event in events:
        if event["seq"] <= status.opened_seq:
            continue
        if event["type"] == "withdrawal.recorded":
            for scope in event["payload"]["scopes"]:
                scopes.setdefault(scope, event["at"])
        elif event["type"] == "assent.dissent" and status.state == RecordState.DISSENT:
            dissent_at = dissent_at or event["at"]
    items: dict[str, tuple[bool, datetime | None]] = {}
    if signed:
        chosen = chosen_items(opened["payload"]["items"], status.signers, RecordState.CONSENTED)
        for code, granted in chosen.items():
            revoked = [at for scope, at in scopes.items() if scope in REVOKED_BY.get(code, set())]
            items[code] = (granted, min(revoked) if granted and revoked else None)
    ended_at = scopes.get(WithdrawalScope.FULL) if status.state == RecordState.WITHDRAWN else None
    return _Facts(start, signed, items, scopes, dissent_at, ended_at or dissent_at)


def _nested_r4(facts: _Facts) -> list[dict[str, Any]]:
    nested = [
        {
            "type": "permit" if granted else "deny",
            "period": _period(facts.start, revoked),
            "code": [_concept(ITEM_SYSTEM, code)],
        }
        for code, (granted, revoked) in facts.items.items()
    ]
    nested.extend(
        {"type": "deny", "period": _period(at), "code": [_concept(SCOPE_SYSTEM, scope)]}
        for scope, at in facts.scopes.items()
    )
    if facts.dissent_at is not None:
        nested.append(
            {
                "type": "deny",
                "period": _period(facts.dissent_at),
                "code": [_concept(REFUSAL_SYSTEM, "dissent")],
            }
        )
    return nested


def _exceptions_r5(facts: _Facts) -> list[dict[str, Any]]:
    """R5 provisions under a ``permit`` decision are its exceptions: what is denied."""
    found: list[dict[str, Any]] = []
    for code, (granted, revoked) in facts.items.items():
        if not granted:
            found.append({"code": [_concept(ITEM_SYSTEM, code)]})
        elif revoked is not None:
            found.append({"period": _period(revoked), "code": [_concept(ITEM_SYSTEM, code)]})
    found.extend(
        {"period": _period(at), "code": [_concept(SCOPE_SYSTEM, scope)]}
        for scope, at in facts.scopes.items()
    )
    if facts.dissent_at is not None:
        found.append(
            {"period": _period(facts.dissent_at), "code": [_concept(REFUSAL_SYSTEM, "dissent")]}
        )
    return found


def _signed_by(status: RecordStatus, roles: Iterable[str]) -> list[dict[str, Any]]:
    wanted = set(roles)
    return [
        signer_reference(p.signer_id, p.role)
        for p in status.signers.values()
        if p.role in wanted and p.signed_at is not None
    ]


def consent(
    release: Release,
    subject: Subject,
    status: RecordStatus,
    opened: Mapping[str, Any],
    events: Sequence[Mapping[str, Any]],
    documents: Sequence[SealedDocument] = (),
) -> dict[str, Any]:
    """Return the FHIR Consent of one record, validated.

    ``opened`` is the record's ``record.opened`` event, ``events`` the participant's
    chain up to the moment the record was derived at, ``documents`` its sealed PDFs.
    """
    facts = _facts(status, opened, events)
    family = _signed_by(status, (SignerRole.GUARDIAN, SignerRole.PARTICIPANT))
    investigators = [
        p for p in status.signers.values() if p.role == SignerRole.INVESTIGATOR and p.signed_at
    ]
    category = [
        {"coding": [CONSENT_CATEGORY]},
        _concept(FORM_KIND_SYSTEM, status.form_kind),
    ]
    mine = [d for d in documents if d.record_id == status.record_id]
    resource: dict[str, Any] = {
        "resourceType": "Consent",
        "id": status.record_id,
        "category": category,
    }
    if release is Release.R4:
        resource |= {
            "status": STATUS_R4[status.state],
            "scope": _concept(CONSENT_SCOPE, "research"),
            "patient": patient_reference(subject),
            "dateTime": _instant(facts.start),
            "organization": [_site(subject)],
            "policy": [{"uri": policy_uri(subject, status)}],
            "provision": {
                "type": "deny",
                "period": _period(facts.start, facts.ended_at),
                "provision": _nested_r4(facts),
            },
        }
        if family:
            resource["performer"] = family
        if mine:
            resource["sourceReference"] = {"reference": f"DocumentReference/{mine[-1].id}"}
        if investigators:
            resource["verification"] = [
                {
                    "verified": True,
                    "verifiedWith": signer_reference(p.signer_id, p.role),
                    "verificationDate": _instant(p.signed_at),
                }
                for p in investigators
                if p.signed_at is not None
            ]
        return validated(release, resource)
    resource |= {
        "status": STATUS_R5[status.state],
        "subject": patient_reference(subject),
        "date": facts.start.date().isoformat(),
        "period": _period(facts.start, facts.ended_at),
        "grantee": [_site(subject)],
        "manager": [_site(subject)],
        "controller": [_sponsor(subject)],
        "policyBasis": {"url": policy_uri(subject, status)},
        "decision": "permit" if status.state == RecordState.CONSENTED else "deny",
    }
    if family:
        resource["grantor"] = family
    if mine:
        resource["sourceAttachment"] = [_attachment(d) for d in mine]
    if investigators:
        resource["verification"] = [
            {
                "verified": True,
                "verificationType": {"text": "interview"},
                "verifiedBy": signer_reference(p.signer_id, p.role),
                "verificationDate": [_instant(p.signed_at)],
            }
            for p in investigators
            if p.signed_at is not None
        ]
    if resource["decision"] == "permit":
        exceptions = _exceptions_r5(facts)
        resource["provision"] = [
            {
                "period": _period(facts.start),
                "purpose": [{"system": ACT_REASON, "code": "HRESCH"}],
                **({"provision": exceptions} if exceptions else {}),
            }
        ]
    return validated(release, resource)


def _attachment(document: SealedDocument) -> dict[str, Any]:
    return {
        "contentType": "application/pdf",
        "language": document.locale,
        "size": document.size,
        "hash": document.sha1,
        "title": document.title,
        "creation": _instant(document.created_at),
    }


def provenances(
    release: Release,
    subject: Subject,
    record_id: str,
    events: Sequence[Mapping[str, Any]],
) -> list[dict[str, Any]]:
    """Return one Provenance per signature on a record: who, role, for whom, when, format."""
    return [
        provenance(release, subject, event)
        for event in events
        if event["type"] == "signature.added" and event.get("record_id") == record_id
    ]


def provenance_id(record_id: str, seq: int) -> str:
    """Return the id of the Provenance of the signature event ``seq`` on a record."""
    return f"{record_id}-{seq}"


def provenance(release: Release, subject: Subject, event: Mapping[str, Any]) -> dict[str, Any]:
    """Return the Provenance of one ``signature.added`` event, validated."""
    data = event["payload"]
    role = SignerRole(data["role"])
    who = signer_reference(data["signer_id"], role)
    code, display = SIGNATURE_TYPES[role]
    # A parent signs on behalf of the child; anyone else for themselves or as a witness.
    on_behalf = event.get("actor", {}).get("on_behalf_of") or (
        "participant" if role == SignerRole.GUARDIAN else None
    )
    agent: dict[str, Any] = {
        "type": _concept(
            PARTICIPANT_TYPE, "verifier" if role == SignerRole.INVESTIGATOR else "author"
        ),
        "role": [_concept(SIGNER_ROLE_SYSTEM, role.value)],
        "who": who,
    }
    signature: dict[str, Any] = {
        "type": [{"system": SIGNATURE_TYPE, "code": code, "display": display}],
        "when": data["signed_at"],
        "who": who,
        "sigFormat": SIGNATURE_FORMAT,
        "targetFormat": "application/json",
    }
    if on_behalf:
        agent["onBehalfOf"] = patient_reference(subject)
        signature["onBehalfOf"] = patient_reference(subject)
    resource: dict[str, Any] = {
        "resourceType": "Provenance",
        "id": provenance_id(str(event["record_id"]), int(event["seq"])),
        "target": [{"reference": f"Consent/{event['record_id']}"}],
        "occurredDateTime": data["signed_at"],
        "recorded": _instant(event["at"]),
        "agent": [agent],
        "signature": [signature],
    }
    if release is Release.R5:
        resource["patient"] = patient_reference(subject)
    return validated(release, resource)


def document_reference(
    release: Release, subject: Subject, document: SealedDocument
) -> dict[str, Any]:
    """Return the DocumentReference of a sealed PDF with its hashes, validated."""
    resource: dict[str, Any] = {
        "resourceType": "DocumentReference",
        "id": document.id,
        "identifier": [{"system": SHA256_SYSTEM, "value": document.sha256}],
        "status": "current",
        "docStatus": "final",
        "type": {"coding": [CONSENT_DOCUMENT_TYPE]},
        "subject": patient_reference(subject),
        "date": _instant(document.created_at),
        "content": [{"attachment": _attachment(document)}],
    }
    if document.record_id:
        related = {"reference": f"Consent/{document.record_id}"}
        resource["context"] = {"related": [related]} if release is Release.R4 else [related]
    return validated(release, resource)


def validated(release: Release, resource: dict[str, Any]) -> dict[str, Any]:
    """Return ``resource`` after ``fhir.resources`` accepted it for ``release``.

    Raises:
        pydantic.ValidationError: a shape the release does not allow (a bug here).
    """
    from fhir.resources import get_fhir_model_class
    from fhir.resources.R4B import get_fhir_model_class as get_r4_class

    find = get_r4_class if release is Release.R4 else get_fhir_model_class
    find(resource["resourceType"]).model_validate(resource)
    return resource


# ---------------------------------------------------------------- and back


def _in_force(period: Mapping[str, str] | None, at: datetime) -> bool:
    if not period:
        return True
    start, end = period.get("start"), period.get("end")
    return (start is None or datetime.fromisoformat(start) <= at) and (
        end is None or at < datetime.fromisoformat(end)
    )


def _codes(provision: Mapping[str, Any], system: str) -> list[str]:
    return [
        c["code"]
        for concept in provision.get("code", ())
        for c in concept.get("coding", ())
        if c.get("system") == system
    ]


def permissions_from_r4(consents: Iterable[Mapping[str, Any]], *, at: datetime) -> Permissions:
    """Read a participant's R4 Consents and answer permit/deny per activity at ``at``.

    What a receiver does with the export: a consent takes part when it is ``active``,
    of a form kind that gates participation, and its base period covers ``at``; its
    nested provisions in force say which items it grants; a ``deny`` with a withdrawal
    scope or a dissent applies from its start. The answer comes from
    :func:`consentkit.policy.records.permissions_for`, the participation profile's own.
    The cross-record gate (a required consent never signed, ``missing:*``) is not in
    any one Consent: the permission API answers it.
    """
    grants: dict[str, bool] = {}
    withdrawn: set[str] = set()
    dissent = False
    has_consent = False
    for resource in consents:
        base = resource.get("provision") or {}
        nested = base.get("provision", ())
        for provision in nested:
            if provision.get("type") != "deny" or not _in_force(provision.get("period"), at):
                continue
            withdrawn.update(_codes(provision, SCOPE_SYSTEM))
            dissent = dissent or "dissent" in _codes(provision, REFUSAL_SYSTEM)
        if resource.get("status") != "active" or not _in_force(base.get("period"), at):
            continue
        kinds = {
            c["code"]
            for concept in resource.get("category", ())
            for c in concept.get("coding", ())
            if c.get("system") == FORM_KIND_SYSTEM
        }
        has_consent = has_consent or bool(kinds & GATING_KINDS)
        for provision in nested:
            for code in _codes(provision, ITEM_SYSTEM):
                granted = provision.get("type") == "permit" and _in_force(
                    provision.get("period"), at
                )
                grants[code] = grants.get(code, True) and granted
    participating = (
        has_consent
        and not dissent
        and WithdrawalScope.FULL not in withdrawn
        and grants.get("participation", True)
    )
    return permissions_for(
        participating=participating, grants=grants, withdrawn=withdrawn, dissent=dissent
    )


# ---------------------------------------------------------------- bundles and errors

#: HTTP status -> OperationOutcome.issue.code (http://hl7.org/fhir/issue-type).
ISSUE_BY_STATUS = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    406: "not-supported",
    409: "conflict",
    413: "too-long",
    415: "not-supported",
    422: "invalid",
    429: "throttled",
}
ERROR_SYSTEM = f"{BASE}/CodeSystem/error"


def searchset(release: Release, resources: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Return search results as a ``searchset`` Bundle, validated."""
    bundle = {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "entry": [
            {
                "fullUrl": f"{r['resourceType']}/{r['id']}",
                "resource": r,
                "search": {"mode": "match"},
            }
            for r in resources
        ],
    }
    return validated(release, bundle)


def operation_outcome(status: int, error: str, message: str) -> dict[str, Any]:
    """Return an error as an OperationOutcome: the issue type, our stable code, the message.

    The same shape is valid in R4 and R5 (validated against both).
    """
    outcome = {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": "error" if status < 500 else "fatal",
                "code": ISSUE_BY_STATUS.get(status, "exception" if status >= 500 else "processing"),
                "details": {"coding": [{"system": ERROR_SYSTEM, "code": error}], "text": message},
                "diagnostics": message,
            }
        ],
    }
    validated(Release.R4, outcome)
    return validated(Release.R5, outcome)
