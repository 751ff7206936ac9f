"""Building blocks for records tests: a family, a record, and the ceremony steps."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from consentkit.models.participant import Participant, Signer
from consentkit.models.study import FormVersion
from consentkit.services import ceremony, participants, records
from consentkit.services.evidence import Actor, AuthEvidence, SignatureInput

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
STAFF = Actor(kind="staff", id="staff-1", role="site-investigator", channel="in-person")
STROKES = [[[10.0, 10.0], [40.0, 30.0], [80.0, 12.0]], [[20.0, 50.0], [90.0, 55.0]]]


@dataclass
class Family:
    participant: Participant
    guardians: list[Signer]
    child: Signer
    investigator: Signer


def enrolled(
    code: str = "P-001",
    *,
    site: str = "FR-01",
    birth_date: date = date(2017, 5, 4),
    at: datetime = T0,
) -> Participant:
    """Enrol a participant of the demo study by staff (no signers yet)."""
    return participants.enrol_participant(
        trial_id="DEMO-NBL-1",
        code=code,
        site_code=site,
        birth_date=birth_date,
        actor=STAFF,
        now=at,
    )


def make_family(
    code: str = "P-001",
    *,
    site: str = "FR-01",
    birth_date: date = date(2017, 5, 4),
    names: tuple[str, str] = ("Ελένη Παπαδοπούλου", "Иван Петров"),
    child_name: str = "Child",
    at: datetime = T0,
) -> Family:
    participant = enrolled(code, site=site, birth_date=birth_date, at=at)
    guardians = [
        participants.add_signer(
            participant, role="guardian", identity={"name": n}, actor=STAFF, now=at
        )
        for n in names
    ]
    child = participants.add_signer(
        participant, role="participant", identity={"name": child_name}, actor=STAFF, now=at
    )
    investigator = participants.add_signer(
        participant, role="investigator", identity={"name": "Dr Demo"}, actor=STAFF, now=at
    )
    return Family(participant, guardians, child, investigator)


def signer_actor(signer: Signer) -> Actor:
    return Actor(kind="signer", id=str(signer.id), role=signer.role)


def content(record: Any, locale: str) -> dict[str, Any]:
    version = FormVersion.objects.get(
        trial_id="DEMO-NBL-1", form_id=record.form_id, version=record.version
    )
    return {"sha": version.content_sha256[locale], **version.content[locale]}


def prepare(
    family: Family,
    record: Any,
    signer: Signer,
    *,
    locale: str = "fr",
    at: datetime = T0,
    choices: dict[str, bool] | None = None,
) -> None:
    """Read every section, pass the questions and choose items (all yes by default)."""
    text = content(record, locale)
    actor = signer_actor(signer)
    ceremony.record_views(
        family.participant,
        record.record_id,
        signer_id=str(signer.id),
        locale=locale,
        sections=[{"id": s["id"], "seconds": 30} for s in text["sections"]],
        actor=actor,
        now=at,
    )
    if text["questions"]:
        ceremony.answer_questions(
            family.participant,
            record.record_id,
            signer_id=str(signer.id),
            locale=locale,
            answers={q["id"]: q["correct"] for q in text["questions"]},
            actor=actor,
            now=at,
        )
    if text["items"]:
        chosen = {i["id"]: True for i in text["items"]}
        chosen.update(choices or {})
        ceremony.choose_items(
            family.participant,
            record.record_id,
            signer_id=str(signer.id),
            choices=chosen,
            actor=actor,
            now=at,
        )


def signature(
    record: Any,
    signer: Signer,
    *,
    locale: str = "fr",
    at: datetime,
    key: str | None = None,
    name: str | None = None,
    **extra: Any,
) -> SignatureInput:
    return SignatureInput(
        signer_id=str(signer.id),
        locale=locale,
        content_sha256=content(record, locale)["sha"],
        printed_name=name or participants.signer_identity(signer)["name"],
        strokes=STROKES,
        auth=AuthEvidence(factors=("session", "otp"), verified_at=at - timedelta(minutes=1)),
        idempotency_key=key or f"{record.record_id}-{signer.id}",
        client_at=at,
        client_offset_minutes=60,
        ip="192.0.2.10",
        user_agent="tests",
        **extra,
    )


def sign(family: Family, record: Any, signer: Signer, *, at: datetime, **kwargs: Any) -> Any:
    return ceremony.sign(
        family.participant,
        record.record_id,
        signature(record, signer, at=at, **kwargs),
        actor=signer_actor(signer),
        now=at,
    )


def consented_family(code: str = "P-001", **kwargs: Any) -> tuple[Family, Any]:
    """Return a family whose parental consent is complete (both guardians and investigator)."""
    family = make_family(code, **kwargs)
    record = records.open_record(
        family.participant, form_id="parental-consent", actor=STAFF, now=T0
    )
    for guardian in family.guardians:
        prepare(family, record, guardian, at=T0)
    for signer in (family.guardians[0], family.investigator, family.guardians[1]):
        sign(family, record, signer, at=T0 + timedelta(hours=25))
    return family, record


def projection_and_chain(family: Family, *, at: datetime) -> tuple[dict[str, str], dict[str, str]]:
    """Return each record's state as its projection shows it and as the whole chain derives it.

    What staff see in the worklists and the dashboard must be what the trail says, whichever
    way a write projected it (a completing signature moves the other records from their
    projections, not from the chain).
    """
    from consentkit.models.audit import ConsentRecord

    mine = ConsentRecord.objects(participant_id=str(family.participant.id))
    projected = {record.record_id: record.state for record in mine}
    statuses = records.record_statuses(family.participant, at=at)
    derived = {status.record_id: status.state.value for status in statuses}
    return projected, derived
