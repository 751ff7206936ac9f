"""The audit trail is tamper-evident: verification names the first broken link."""

from __future__ import annotations

from typing import Any

from click.testing import CliRunner

from consentkit.cli import main
from consentkit.services import audit
from tests.consentkit.records_helpers import consented_family


def _consented_family(code: str = "P-AUD") -> Any:
    return consented_family(code)[0]


def test_verify_accepts_an_untouched_chain(demo_study: Any) -> None:
    family = _consented_family()

    [report] = audit.verify(code="P-AUD")

    assert report.ok, report.problem
    assert report.events == len(audit.chain_dicts(str(family.participant.id)))


def test_verify_names_an_event_edited_in_the_database(demo_study: Any, clean_db: Any) -> None:
    _consented_family()
    signature = clean_db["audit_events"].find_one({"type": "signature.added"}, sort=[("seq", 1)])
    clean_db["audit_events"].update_one(
        {"_id": signature["_id"]}, {"$set": {"payload.printed_name": "Someone Else"}}
    )

    [report] = audit.verify(code="P-AUD")

    assert not report.ok
    assert report.broken_seq == signature["seq"]
    assert "altered" in report.problem
    assert "signature.added" in report.problem


def test_verify_detects_a_removed_last_event(demo_study: Any, clean_db: Any) -> None:
    family = _consented_family()
    last = clean_db["audit_events"].find_one(
        {"participant_id": str(family.participant.id)}, sort=[("seq", -1)]
    )
    clean_db["audit_events"].delete_one({"_id": last["_id"]})

    [report] = audit.verify(code="P-AUD")

    assert not report.ok
    assert "removed" in report.problem


def test_verify_detects_a_rewritten_chain_without_the_key(demo_study: Any, clean_db: Any) -> None:
    family = _consented_family()
    events = list(
        clean_db["audit_events"].find(
            {"participant_id": str(family.participant.id)}, sort=[("seq", 1)]
        )
    )
    # An attacker with database access edits an event and re-hashes the rest of the chain.
    prev = events[0]["prev_hash"]
    for event in events:
        if event["seq"] == 3:
            event["payload"]["role"] = "investigator"
        fields = {
            k: event[k]
            for k in (
                "seq",
                "type",
                "at",
                "actor",
                "record_id",
                "payload",
                "state_before",
                "state_after",
            )
        }
        event["prev_hash"] = prev
        event["hash"] = audit.event_hash(
            participant_id=event["participant_id"], prev_hash=prev, **fields
        )
        prev = event["hash"]
        clean_db["audit_events"].replace_one({"_id": event["_id"]}, event)

    [report] = audit.verify(code="P-AUD")

    assert not report.ok
    assert "head" in report.problem


def test_audit_verify_command_reports_and_exits_nonzero_on_tampering(
    demo_study: Any, clean_db: Any, connected: str, db_name: str, monkeypatch: Any
) -> None:
    monkeypatch.setenv("CONSENTKIT_MONGODB_URI", connected)
    monkeypatch.setenv("CONSENTKIT_MONGODB_DB", db_name)
    _consented_family()
    ok = CliRunner().invoke(main, ["audit", "verify"])
    clean_db["audit_events"].update_one({"seq": 2}, {"$set": {"type": "forged"}})

    broken = CliRunner().invoke(main, ["audit", "verify", "--participant", "P-AUD"])

    assert ok.exit_code == 0, ok.output
    assert "1 participant" in ok.output
    assert broken.exit_code == 1
    assert "P-AUD" in broken.output
    assert "event 2" in broken.output


def test_history_command_shows_every_event_readably(
    demo_study: Any, connected: str, db_name: str, monkeypatch: Any
) -> None:
    monkeypatch.setenv("CONSENTKIT_MONGODB_URI", connected)
    monkeypatch.setenv("CONSENTKIT_MONGODB_DB", db_name)
    family = _consented_family("P-HIST")

    result = CliRunner().invoke(
        main, ["history", "--study", "DEMO-NBL-1", "--participant", "P-HIST"]
    )

    assert result.exit_code == 0, result.output
    assert "Ελένη Παπαδοπούλου" in result.output  # printed name as signed, Greek intact
    assert "[awaiting-signatures -> consented]" in result.output
    assert result.output.count("signature.added") == 3
    lines = [line for line in result.output.splitlines() if line[:4].strip().isdigit()]
    assert len(lines) == len(audit.chain_dicts(str(family.participant.id)))
