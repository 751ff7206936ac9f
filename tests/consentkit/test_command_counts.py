"""How many database commands the ceremony's writes cost (issue 17).

A count is deterministic, unlike a time: a change that adds a read or a write
to a family's signature fails here. Counted with pymongo's command monitoring
(:mod:`tests.command_counter`) against the real database.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from consentkit.services import ceremony, forms, records
from tests.command_counter import counting
from tests.consentkit.records_helpers import (
    STAFF,
    T0,
    content,
    make_family,
    prepare,
    sign,
    signature,
    signer_actor,
)

SIGN_AT = T0 + timedelta(hours=25)


def _prepared(code: str) -> tuple[Any, Any]:
    family = make_family(code)
    record = records.open_record(
        family.participant, form_id="parental-consent", actor=STAFF, now=T0
    )
    for guardian in family.guardians:
        prepare(family, record, guardian, at=T0)
    return family, record


def _commands_of_signature(family: Any, record: Any, signer: Any) -> dict[str, int]:
    """Return the commands one signature issues, by name and collection."""
    submitted = signature(record, signer, at=SIGN_AT)  # what the phone sends
    with counting() as commands:
        ceremony.sign(
            family.participant,
            record.record_id,
            submitted,
            actor=signer_actor(signer),
            now=SIGN_AT,
        )
    return dict(commands)


def test_command_counts_library_signature(demo_study: Any) -> None:
    family, record = _prepared("P-CMD-1")
    sign(family, record, family.guardians[0], at=SIGN_AT)  # warm the form catalogue
    commands = _commands_of_signature(family, record, family.guardians[1])

    # Two reads of the record's events: its own, and the participant-wide ones (each on its
    # own index: the embedded database scans the whole chain for an $or). No chain head
    # read (the loaded one is the position),
    # one of the form's versions (in force, and the signature's meaning), the event, the
    # head, and the projection's signers still missing (no counter moves: no read of it).
    # Before issue 17: 8 (the head and the whole chain read, the form's versions read
    # twice, the projection read before its compare-and-set). The signer's registered name,
    # which the printed name must match (issue 14), is one read here; the signer API passes
    # the signer it has already read (``SignatureInput.registered_name``), so it adds none.
    # The investigator still has to sign: one insert tells this parent their own signed
    # copy is ready (issue 15, trigger own-copy-ready).
    assert commands == {
        "find audit_events": 2,
        "find form_versions": 1,
        "find signers": 1,
        "insert audit_events": 1,
        "update participants": 1,
        "update consent_records": 1,
        "insert outbox_messages": 1,
    }


def test_command_counts_record_views(demo_study: Any) -> None:
    family, record = _prepared("P-CMD-2")
    guardian = family.guardians[0]
    section = content(record, "fr")["sections"][0]["id"]

    with counting() as commands:
        ceremony.record_views(
            family.participant,
            record.record_id,
            signer_id=str(guardian.id),
            locale="fr",
            sections=[{"id": section, "seconds": 5}],
            actor=signer_actor(guardian),
            now=T0 + timedelta(hours=1),
        )

    # A section read again changes nothing the projection shows: it is neither read nor
    # written. Before issue 17: 6 (the head read too, the whole chain rather than the
    # record's events, the projection read and written).
    assert dict(commands) == {
        "find audit_events": 2,
        "insert audit_events": 1,
        "update participants": 1,
    }


def test_command_counts_first_guardian_signature_adds_only_the_two_messages(
    demo_study: Any,
) -> None:
    family, record = _prepared("P-CMD-3")
    forms.catalog("DEMO-NBL-1")  # warm the form catalogue (the study's message settings too)
    commands = _commands_of_signature(family, record, family.guardians[0])

    # The signature's own commands (the first one moves the record's state: the projection
    # reads it and moves a day's counter), and two inserts: "your turn" to the other
    # guardian and "your own copy is ready" to this one (the study's trigger settings come
    # from the cached catalogue, the recipients from the record's status already derived);
    # the signer's registered name, read to check the printed name, as in the signature above.
    assert commands == {
        "find audit_events": 2,
        "find form_versions": 1,
        "find signers": 1,
        "insert audit_events": 1,
        "update participants": 1,
        "find consent_records": 1,
        "update consent_records": 1,
        "update date_counts": 1,
        "insert outbox_messages": 2,
    }


def test_command_counts_completing_signature_reads_no_whole_chain(demo_study: Any) -> None:
    family, record = _prepared("P-CMD-4")
    for guardian in family.guardians:
        sign(family, record, guardian, at=SIGN_AT)
    commands = _commands_of_signature(family, record, family.investigator)

    # The consent reaches the participant's other records (a later version supersedes, an
    # own consent lifts a suspension): their projections are read (one command, however
    # long the chain), not the whole chain (a third events read that grew with it: 60 ms
    # at 10 events, 635 ms at 5,000). The copy-ready message to each member of the family
    # is one insert (it was one each), the PDF rendered ahead another; the record's state
    # moves the status and the day's counters; the family's recipients are read to address
    # the copy, the registered name to check the printed one, and webhook subscriptions for
    # the consent's notification. Before: 17 commands; now 14.
    assert commands == {
        "find audit_events": 2,
        "find form_versions": 1,
        "find signers": 2,
        "insert audit_events": 1,
        "update participants": 1,
        "find consent_records": 1,
        "update consent_records": 1,
        "update status_counts": 1,
        "update date_counts": 1,
        "find webhook_subscriptions": 1,
        "insert outbox_messages": 2,
    }
