"""A participant's events told in one line each, for inspectors and staff.

Every face shows the same timeline: the staff page, the API
(``/participants/<code>/timeline``) and ``consentkit history`` label each event
with :func:`consentkit.labels.event_label` in the reader's language and
summarise it with :func:`summary`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from consentkit.labels import event_label
from consentkit.models.participant import Participant
from consentkit.services import records


@dataclass(frozen=True)
class TimelineEntry:
    """One audit event as the timeline shows it: what it did (``label``) and a summary."""

    seq: int
    type: str
    label: str
    summary: str
    at: datetime
    actor: Mapping[str, object]
    record_id: str | None
    state_before: str | None
    state_after: str | None
    hash: str
    prev_hash: str


def entries(events: Iterable[Mapping[str, Any]], locale: str | None) -> list[TimelineEntry]:
    """Return audit events (:func:`consentkit.services.audit.chain_dicts`) as timeline entries.

    ``label`` is in ``locale`` (English when None); ``summary`` is not
    translated yet, as inspectors read the trail in its recorded terms.
    """
    return [
        TimelineEntry(
            seq=event["seq"],
            type=event["type"],
            label=event_label(event["type"], locale),
            summary=summary(event),
            at=event["at"],
            actor=event.get("actor") or {},
            record_id=event.get("record_id"),
            state_before=event.get("state_before"),
            state_after=event.get("state_after"),
            hash=event["hash"],
            prev_hash=event["prev_hash"],
        )
        for event in events
    ]


def participant_timeline(participant: Participant, *, locale: str | None) -> list[TimelineEntry]:
    """Return a participant's whole audit trail as timeline entries, oldest first."""
    return entries(records.history(participant), locale)


def summary(event: Mapping[str, Any]) -> str:
    """Return one line saying what an event did (for the CLI history and the staff timeline)."""
    data = event["payload"]
    kind = event["type"]
    details = {
        "information.viewed": lambda: f"{len(data['sections'])} section(s) in {data['locale']}",
        "comprehension.answered": lambda: (
            f"score {data['score']}, " + ("passed" if data["passed"] else "not passed")
        ),
        "items.chosen": lambda: ", ".join(
            f"{k}={'yes' if v else 'no'}" for k, v in data["choices"].items()
        ),
        "signature.added": lambda: (
            f"{data['role']} '{data['printed_name']}' signed "
            f"{data['form_id']} v{data['version']} ({data['locale']}, "
            f"text {data['content_sha256'][:12]}) meaning: {data['meaning']}"
            + (f"; confirmed by {data['auth']['method']}" if data.get("auth") else "")
        ),
        "record.opened": lambda: (
            f"{data['form_id']} v{data['version']} for "
            + ", ".join(s["role"] for s in data["required_signers"])
        ),
        "withdrawal.recorded": lambda: (
            f"scopes {', '.join(data['scopes'])}; reason: "
            + ("declined to say" if data["reason_declined"] else (data["reason"] or "none given"))
        ),
        "assent.dissent": lambda: f"the child said no ({data['channel']})",
        "participant.competence-reached": lambda: (
            f"{data['competence_age']} on {data['competence_date']} ({data['country']}, "
            f"rules {data['rule_pack_version']}): {len(data['suspended_record_ids'])} "
            "record(s) suspended until their own consent"
        ),
        "task.opened": lambda: (
            f"{data['form_id']} v{data['version']} opened for task {data['reason']} "
            f"(due {data['due_date']})"
        ),
        "version.informed": lambda: (
            f"told about {data['form_id']} v{data['version']} (minor change, "
            f"consented on v{data['previous_version']}): {data['change_summary']}"
        ),
        "dissent.reviewed": lambda: f"decision: {data['decision']}; reason: {data['reason']}",
    }
    return details.get(kind, lambda: json.dumps(data, ensure_ascii=False, default=str))()
