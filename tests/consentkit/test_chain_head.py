"""The chain head: appending costs the same whatever the chain's length (issue 17)."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

from consentkit.models.participant import Participant
from consentkit.services import audit, ceremony, records
from tests.command_counter import counting
from tests.consentkit.records_helpers import STAFF, T0, content, make_family, signer_actor


def _view(participant: Participant, record: Any, signer: Any, section: str, at: Any) -> Any:
    return ceremony.record_views(
        participant,
        record.record_id,
        signer_id=str(signer.id),
        locale="fr",
        sections=[{"id": section, "seconds": 5}],
        actor=signer_actor(signer),
        now=at,
    )


def _family_with_record(code: str) -> tuple[Any, Any, str]:
    family = make_family(code)
    record = records.open_record(
        family.participant, form_id="parental-consent", actor=STAFF, now=T0
    )
    return family, record, content(record, "fr")["sections"][0]["id"]


def test_chain_head_is_built_from_the_chain_on_first_append(demo_study: Any, clean_db: Any) -> None:
    # Databases written before heads carried the time, or before there were heads at all.
    family, record, section = _family_with_record("P-HEAD-1")
    guardian = family.guardians[0]
    participants = clean_db["participants"]
    participants.update_one({"_id": family.participant.id}, {"$unset": {"chain_head": ""}})
    length = len(audit.chain_dicts(str(family.participant.id)))

    event = _view(Participant.objects.get(id=family.participant.id), record, guardian, section, T0)

    head = participants.find_one({"_id": family.participant.id})["chain_head"]
    assert event.seq == length + 1
    assert head["seq"] == event.seq and head["hash"] == event.hash and "at" in head
    [report] = audit.verify(code="P-HEAD-1")
    assert report.ok, report.problem

    # Built once: the next append on a freshly loaded participant reads no chain tip.
    with counting() as commands:
        _view(Participant.objects.get(id=family.participant.id), record, guardian, section, T0)
    # The record's own events and the participant-wide ones, one indexed read each.
    assert commands["find audit_events"] == 2


def test_chain_head_two_appends_racing_on_one_loaded_head_give_one_linear_chain(
    demo_study: Any,
) -> None:
    family, record, section = _family_with_record("P-HEAD-2")
    # Both writers start from the same head: one wins the position, the other re-reads.
    loaded = [Participant.objects.get(id=family.participant.id) for _ in family.guardians]
    barrier = threading.Barrier(len(loaded))
    errors: list[BaseException] = []

    def write(participant: Participant, guardian: Any) -> None:
        barrier.wait()
        try:
            _view(participant, record, guardian, section, T0 + timedelta(minutes=1))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [
        threading.Thread(target=write, args=(p, g))
        for p, g in zip(loaded, family.guardians, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not errors, errors
    chain = audit.chain_dicts(str(family.participant.id))
    assert [e["seq"] for e in chain] == list(range(1, len(chain) + 1))
    assert [e["type"] for e in chain[-2:]] == ["information.viewed"] * 2
    head = Participant.objects.get(id=family.participant.id).chain_head
    assert head["seq"] == chain[-1]["seq"] and head["hash"] == chain[-1]["hash"]
    [report] = audit.verify(code="P-HEAD-2")
    assert report.ok, report.problem


def test_chain_head_a_stale_loaded_participant_still_appends_after_the_last_event(
    demo_study: Any,
) -> None:
    family, record, section = _family_with_record("P-HEAD-3")
    stale = Participant.objects.get(id=family.participant.id)
    _view(family.participant, record, family.guardians[0], section, T0)

    event = _view(stale, record, family.guardians[1], section, T0)

    chain = audit.chain_dicts(str(family.participant.id))
    assert event.seq == chain[-1]["seq"] == chain[-2]["seq"] + 1
    assert event.prev_hash == chain[-2]["hash"]
