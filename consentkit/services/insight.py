"""Comprehension insight: the facts of reading and quizzes read off the audit trail, aggregated.

Three event types of a study are read through the ``(trial_id, type, at)`` index
of the trail (``record.opened``, ``information.viewed``, ``comprehension.answered``);
each family member's facts per record and language go to the pure aggregation
:func:`consentkit.policy.insight.comprehension_insight`, which hides small groups.
Whether an answer was right is read from the form version's answer key, as the
ceremony checked it. Nothing that names a participant or a signer leaves here.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

from consentkit.enums import SignerRole
from consentkit.models.audit import AuditEvent
from consentkit.models.participant import Participant
from consentkit.models.study import FormVersion
from consentkit.policy import insight as rules
from consentkit.policy.insight import Insight, SignerFacts
from consentkit.services.forms import get_study

TYPES = ("record.opened", "information.viewed", "comprehension.answered")
FAMILY = {SignerRole.GUARDIAN.value, SignerRole.PARTICIPANT.value}
#: The payload fields read: a record's opening is large (its requirements, its text's hashes).
PAYLOAD = {
    f"payload.{name}": 1
    for name in (
        "record_id",
        "form_id",
        "version",
        "locale",
        "section_ids",
        "required_signers",
        "requirements.age_band",
        "signer_id",
        "sections",
        "answers",
    )
}


def _answer_keys(trial_id: str) -> dict[tuple[str, int, str], dict[str, Any]]:
    keys: dict[tuple[str, int, str], dict[str, Any]] = {}
    for version in FormVersion.objects(trial_id=trial_id).only("form_id", "version", "content"):
        for locale, content in (version.content or {}).items():
            keys[(version.form_id, version.version, locale)] = {
                q["id"]: q.get("correct") for q in content.get("questions", [])
            }
    return keys


def _events(trial_id: str, sites: Iterable[str] | None) -> Iterable[dict[str, Any]]:
    query: dict[str, Any] = {"trial_id": trial_id, "type": {"$in": list(TYPES)}}
    if sites is not None:
        ids = [
            str(p.id)
            for p in Participant.objects(trial_id=trial_id, site_code__in=list(sites)).only("id")
        ]
        query["participant_id"] = {"$in": ids}
    found: Iterable[dict[str, Any]] = (
        AuditEvent._get_collection()
        .find(query, {"type": 1, "record_id": 1, "at": 1, "seq": 1, **PAYLOAD})
        .sort([("at", 1), ("seq", 1)])
    )
    return found


def facts(trial_id: str, sites: Iterable[str] | None = None) -> list[SignerFacts]:
    """Return each family member's reading and quiz facts, per record and language.

    ``sites`` None: every site; otherwise only participants at those sites.
    """
    keys = _answer_keys(trial_id)
    opened: dict[str, dict[str, Any]] = {}
    seconds: dict[tuple[str, str, str], dict[str, float]] = {}
    attempts: dict[tuple[str, str, str], list[dict[str, bool]]] = {}
    for event in _events(trial_id, sites):
        payload = event.get("payload") or {}
        if event["type"] == "record.opened":
            opened[payload["record_id"]] = payload
            continue
        record = opened.get(event.get("record_id") or "")
        if record is None:
            continue
        roles = {s["signer_id"]: s.get("role") for s in record.get("required_signers", [])}
        signer_id = str(payload.get("signer_id"))
        if roles.get(signer_id) not in FAMILY:
            continue
        locale = str(payload.get("locale") or record.get("locale") or "")
        key = (str(record["record_id"]), signer_id, locale)
        if event["type"] == "information.viewed":
            spent = seconds.setdefault(key, {})
            for section in payload.get("sections", []):
                spent[section["id"]] = spent.get(section["id"], 0.0) + float(section["seconds"])
        else:
            answer_key = keys.get((record["form_id"], record["version"], key[2]), {})
            given = payload.get("answers") or {}
            attempts.setdefault(key, []).append(
                {qid: given.get(qid) == correct for qid, correct in answer_key.items()}
            )
    found = []
    for key in sorted(set(seconds) | set(attempts)):
        record = opened[key[0]]
        band = ((record.get("requirements") or {}).get("age_band")) or rules.NO_BAND
        found.append(
            SignerFacts(
                form_id=record["form_id"],
                version=int(record["version"]),
                locale=key[2],
                age_band=band,
                section_ids=tuple(record.get("section_ids", [])),
                seconds=seconds.get(key, {}),
                attempts=tuple(attempts.get(key, [])),
            )
        )
    return found


def study_insight(
    trial_id: str, *, sites: Iterable[str] | None = None, min_group: int = rules.MIN_GROUP
) -> Insight:
    """Return the comprehension insight of a study (or of ``sites``), small groups hidden.

    Raises:
        NotFoundError: no such study.
    """
    get_study(trial_id)
    return rules.comprehension_insight(facts(trial_id, sites), min_group=min_group)


def to_csv(insight: Insight) -> str:
    """Return the insight as CSV (:data:`consentkit.policy.insight.CSV_COLUMNS`)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=rules.CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rules.csv_rows(insight))
    return out.getvalue()
