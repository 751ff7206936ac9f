"""The audit trail is tamper-evident: verification names the first broken link."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from typing import Any

from click.testing import CliRunner

from consentkit.cli import main
from consentkit.models.participant import Participant
from consentkit.services import audit
from tests.conftest import REPO_ROOT
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


_HASHED = ("seq", "type", "at", "actor", "record_id", "payload", "state_before", "state_after")


def _rehash_from(clean_db: Any, participant_id: str, first_seq: int, edit: Any) -> int:
    """Edit events from ``first_seq`` on, re-hash the chain without the key; return the last seq."""
    events = list(
        clean_db["audit_events"].find({"participant_id": participant_id}, sort=[("seq", 1)])
    )
    prev = events[first_seq - 2]["hash"]
    for event in events[first_seq - 1 :]:
        edit(event)
        event["prev_hash"] = prev
        event["hash"] = audit.event_hash(
            participant_id=participant_id, prev_hash=prev, **{k: event[k] for k in _HASHED}
        )
        prev = event["hash"]
        clean_db["audit_events"].replace_one({"_id": event["_id"]}, event)
    return int(events[-1]["seq"])


def _insert_after(clean_db: Any, participant_id: str, type: str = "information.viewed") -> None:
    """Insert a correctly linked event at the end of the chain, leaving the head as it is."""
    last = clean_db["audit_events"].find_one({"participant_id": participant_id}, sort=[("seq", -1)])
    fields = {
        "participant_id": participant_id,
        "seq": last["seq"] + 1,
        "prev_hash": last["hash"],
        "type": type,
        "at": last["at"],
        "actor": {"kind": "system", "id": "consentkit", "role": "system"},
        "record_id": None,
        "payload": {},
        "state_before": None,
        "state_after": None,
    }
    clean_db["audit_events"].insert_one(
        {**fields, "trial_id": "DEMO-NBL-1", "hash": audit.event_hash(**fields)}
    )


def test_verify_detects_a_rewritten_chain_with_a_filler_event_after_the_head(
    demo_study: Any, clean_db: Any
) -> None:
    family = _consented_family()
    participant_id = str(family.participant.id)

    def forge(event: dict[str, Any]) -> None:
        if event["type"] == "signature.added":
            event["payload"]["printed_name"] = "Someone Else"

    # Rewrite events 2..N with fresh plain SHA-256 links, then append one filler event so
    # the sealed head (still at N) is no longer the last event.
    last = _rehash_from(clean_db, participant_id, 2, forge)
    _insert_after(clean_db, participant_id)

    [report] = audit.verify(code="P-AUD")

    assert not report.ok
    assert report.broken_seq == last
    assert "sealed chain head" in report.problem


def test_verify_accepts_one_event_left_unsealed_by_a_crashed_append(
    demo_study: Any, clean_db: Any
) -> None:
    family = _consented_family()

    _insert_after(clean_db, str(family.participant.id))  # inserted, then the writer died

    [report] = audit.verify(code="P-AUD")

    assert report.ok, report.problem


def test_verify_refuses_two_events_after_the_sealed_head(demo_study: Any, clean_db: Any) -> None:
    family = _consented_family()
    participant_id = str(family.participant.id)
    head = clean_db["participants"].find_one({"_id": family.participant.id})["chain_head"]

    _insert_after(clean_db, participant_id)
    _insert_after(clean_db, participant_id, type="withdrawal.recorded")

    [report] = audit.verify(code="P-AUD")

    assert not report.ok
    assert report.broken_seq == head["seq"] + 1
    assert "not covered" in report.problem


def test_append_after_two_crashed_writers_keeps_the_chain_verifiable(
    demo_study: Any, clean_db: Any, monkeypatch: Any
) -> None:
    family = _consented_family()
    participant_id = str(family.participant.id)
    _insert_after(clean_db, participant_id)  # the first writer died before sealing
    crashed_seq = clean_db["audit_events"].count_documents({"participant_id": participant_id})
    seal = audit._seal_head

    def die_before_sealing_own_event(participant: Any, seq: int, digest: str, at: Any) -> None:
        if seq <= crashed_seq:  # sealing what the first writer left is allowed to happen
            seal(participant, seq, digest, at)

    monkeypatch.setattr(audit, "_seal_head", die_before_sealing_own_event)
    audit.append(
        family.participant,
        lambda _events: audit.Draft(type="note", actor={"kind": "system"}, payload={}),
    )

    head = clean_db["participants"].find_one({"_id": family.participant.id})["chain_head"]
    assert head["seq"] == crashed_seq
    [report] = audit.verify(code="P-AUD")
    assert report.ok, report.problem


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


def test_audit_verify_reads_in_batches_and_names_the_broken_chain_among_them(
    demo_study: Any, clean_db: Any, connected: str, db_name: str, monkeypatch: Any
) -> None:
    monkeypatch.setenv("CONSENTKIT_MONGODB_URI", connected)
    monkeypatch.setenv("CONSENTKIT_MONGODB_DB", db_name)
    monkeypatch.setattr(audit, "VERIFY_BATCH", 2)  # three participants: two batches
    families = [_consented_family(code) for code in ("P-B1", "P-B2", "P-B3")]
    clean_db["audit_events"].update_one(
        {"participant_id": str(families[1].participant.id), "seq": 3},
        {"$set": {"type": "forged"}},
    )

    piped = CliRunner().invoke(main, ["audit", "verify"])
    reports = audit.verify()

    assert [(r.participant_code, r.ok) for r in reports] == [
        ("P-B1", True),
        ("P-B2", False),
        ("P-B3", True),
    ]
    assert reports[1].broken_seq == 3
    assert all(r.events == len(audit.chain_dicts(r.participant_id)) for r in reports if r.ok)
    assert piped.exit_code == 1
    assert "Verifying" not in piped.output  # no progress bar when not on a terminal
    assert "3 participant(s)" in piped.output


def test_verify_in_batches_names_each_broken_chain_as_verifying_it_alone_does(
    demo_study: Any, clean_db: Any, monkeypatch: Any
) -> None:
    monkeypatch.setattr(audit, "VERIFY_BATCH", 2)  # five participants: three batches
    codes = ("P-T1", "P-T2", "P-T3", "P-T4", "P-T5")
    ids = {code: str(_consented_family(code).participant.id) for code in codes}
    events = clean_db["audit_events"]
    events.update_one(  # P-T2: an event edited, in the first batch
        {"participant_id": ids["P-T2"], "type": "signature.added"},
        {"$set": {"payload.printed_name": "Someone Else"}},
    )
    last = events.find_one({"participant_id": ids["P-T3"]}, sort=[("seq", -1)])
    events.delete_one({"_id": last["_id"]})  # P-T3: the last event removed, across the boundary
    _insert_after(clean_db, ids["P-T4"])  # P-T4: two events after the sealed head
    _insert_after(clean_db, ids["P-T4"])
    _insert_after(clean_db, ids["P-T5"])  # P-T5: one, left by a crashed append (allowed)

    reports = audit.verify()

    assert [(r.participant_code, r.ok) for r in reports] == [
        ("P-T1", True),
        ("P-T2", False),
        ("P-T3", False),
        ("P-T4", False),
        ("P-T5", True),
    ]
    assert "altered" in reports[1].problem
    assert "removed" in reports[2].problem
    assert "not covered" in reports[3].problem
    alone = [audit.verify_participant(Participant.objects.get(code=code)) for code in codes]
    assert [r.to_dict() for r in reports] == [r.to_dict() for r in alone]


def test_verify_reads_an_absent_optional_field_as_the_chain_reader_does(
    demo_study: Any, clean_db: Any
) -> None:
    family = _consented_family()
    audit.append(
        family.participant,
        lambda _events: audit.Draft(type="note", actor={"kind": "system"}, payload={}),
    )
    # Events stored without their empty fields (as another writer may store them) hash
    # as the chain reader reads them: no record, no states, an empty payload.
    unset = {"record_id": "", "state_before": "", "state_after": "", "payload": ""}
    emptied = clean_db["audit_events"].update_many(
        {"participant_id": str(family.participant.id), "record_id": None, "payload": {}},
        {"$unset": unset},
    )
    assert emptied.modified_count

    [report] = audit.verify(code="P-AUD")

    assert report.ok, report.problem
    assert report.to_dict() == audit.verify_participant(family.participant).to_dict()


def test_audit_verify_command_draws_a_progress_bar_on_a_terminal(
    demo_study: Any, connected: str, db_name: str
) -> None:
    for code in ("P-BAR1", "P-BAR2"):
        _consented_family(code)
    terminal, child_end = pty.openpty()
    env = {**os.environ, "CONSENTKIT_MONGODB_URI": connected, "CONSENTKIT_MONGODB_DB": db_name}
    command = [sys.executable, "-m", "consentkit", "audit", "verify", "--study", "DEMO-NBL-1"]
    with subprocess.Popen(
        command,
        cwd=REPO_ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=child_end,
        text=True,
    ) as child:
        os.close(child_end)
        drawn = b""
        while True:
            try:
                chunk = os.read(terminal, 4096)
            except OSError:  # the command closed the terminal
                break
            if not chunk:
                break
            drawn += chunk
        os.close(terminal)
        summary, _ = child.communicate(timeout=60)
    assert child.returncode == 0, drawn.decode(errors="replace")

    assert "Verifying chains" in drawn.decode()
    assert "100%" in drawn.decode()
    assert "2 participant(s)" in summary
    assert "all chains intact" in summary


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


def test_history_command_labels_each_event_like_the_staff_timeline(
    demo_study: Any, connected: str, db_name: str, monkeypatch: Any
) -> None:
    monkeypatch.setenv("CONSENTKIT_MONGODB_URI", connected)
    monkeypatch.setenv("CONSENTKIT_MONGODB_DB", db_name)
    _consented_family("P-LABEL")
    command = ["history", "--study", "DEMO-NBL-1", "--participant", "P-LABEL"]

    english = CliRunner().invoke(main, command)
    french = CliRunner().invoke(main, [*command, "--language", "fr"])

    assert english.exit_code == 0, english.output
    assert "      Enrolled: " in english.output
    assert english.output.count("      Signed: ") == 3
    assert "      Inclus: " in french.output
    assert french.output.count("      Signé: ") == 3
