"""The staff dashboard: counts of consent records per study and site, and the worklist.

A sponsor looks at a whole study, site staff at their own sites only
(``site_codes``). The summary of a study of 100,000 participants must answer
in under 50 ms on the embedded database (issue 7), and SecantusDB reads every
document a count matches (about 50 microseconds each, ``bench/dashboard.py``),
so the summary never counts projections: it reads the counters of
:mod:`consentkit.models.dashboard`, which :mod:`consentkit.services.projection`
moves in the same step as the projection they are derived from (that module
lists what moves them).

Expiry needs no event: a record still awaiting information or signatures
after its completion window is ``expired`` (consentkit.policy.records). The
summary derives it at the moment asked, from the due-date counters.

A process dying between the projection write and the counter write leaves a
counter off by one; :func:`rebuild_counts` (``consentkit dashboard rebuild``)
recomputes every counter from the projections.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from itertools import islice
from typing import Any

from pymongo import DeleteOne, ReplaceOne

from consentkit import db
from consentkit.clock import aware_utc, now_utc
from consentkit.enums import OPEN_STATES, ChangeKind, RecordState, VersionStatus, WithdrawalScope
from consentkit.errors import InvalidDataError
from consentkit.models.audit import AuditEvent, ConsentRecord
from consentkit.models.dashboard import DateCount, StatusCount, counter_key, split_key
from consentkit.models.participant import Participant
from consentkit.models.study import FormVersion
from consentkit.models.task import ConsentTask
from consentkit.policy.jurisdiction import TransitionReason
from consentkit.rendering.tables import csv_lines, xlsx_chunks
from consentkit.services import keyset
from consentkit.services.forms import catalog, get_study
from consentkit.services.projection import (
    RECORD_COUNTER_FIELDS,
    due_counter_path,
    month_key,
    utc_day,
)
from consentkit.services.requirements import requirements_for

__all__ = [
    "BAND_CHANGE_REASONS",
    "COMPETENCE_WINDOW_DAYS",
    "DUE_FILTERS",
    "EXPORT_COLUMNS",
    "EXPORT_FORMATS",
    "MAX_PAGE_SIZE",
    "DueCount",
    "DueFilter",
    "Export",
    "FormVersionCounts",
    "RebuildReport",
    "Summary",
    "WorklistPage",
    "WorklistRow",
    "counter_documents",
    "countersign_waiting",
    "expiring_within",
    "export",
    "export_filename",
    "export_rows",
    "rebuild_counts",
    "status_table",
    "summary",
]

#: How far ahead the dashboard looks for participants reaching the age of legal competence,
#: whose own consent must be obtained before they continue (CTR Art 32(3),
#: docs/regulatory-basis.md#ctr-art-32); the same horizon as ``consentkit due``.
COMPETENCE_WINDOW_DAYS = 90
#: The task reasons the dashboard counts as an age-group change: a new assent band, or a new
#: minor role (NL turning 12, PL 13: the young person starts to co-sign). Reaching competence
#: is counted on its own (``competence_within_90_days``).
BAND_CHANGE_REASONS = (TransitionReason.AGE_BAND.value, TransitionReason.MINOR_ROLE.value)
MAX_PAGE_SIZE = 500


class DueFilter(StrEnum):
    """What a "needs attention" count of the dashboard counted, as a worklist filter.

    Each count links to the worklist filtered by its value, and the list holds
    exactly what was counted (``status_table(due=...).total`` equals the count):

    * ``reconsent``: consented records of a version older than the form's latest
      major version, where that version exists in the record's language (E6(R3) 2.8.10);
    * ``competence``: participants reaching the age of legal competence within
      :data:`COMPETENCE_WINDOW_DAYS` days (CTR Art 32(3)), one row each;
    * ``band-change``: participants with an open age-band or minor-role task due
      within that window or overdue (``consentkit due`` creates them), one row each;
    * ``suspended``: records suspended until the young person's own consent (from the
      competence date, once an event or the daily ``consentkit due`` has projected it:
      :mod:`consentkit.services.competence`);
    * ``dissent``: records ended by the minor's dissent (CTR Art 32(1)(c)).
    """

    RECONSENT = "reconsent"
    COMPETENCE = "competence"
    BAND_CHANGE = "band-change"
    SUSPENDED = "suspended"
    DISSENT = "dissent"


#: The values of :class:`DueFilter`, in the order the dashboard shows their counts.
DUE_FILTERS = tuple(f.value for f in DueFilter)
#: Due filters that are a record state, and that state.
_DUE_STATE = {
    DueFilter.RECONSENT: RecordState.CONSENTED.value,
    DueFilter.SUSPENDED: RecordState.SUSPENDED_AWAITING_OWN_CONSENT.value,
    DueFilter.DISSENT: RecordState.DISSENT.value,
}
#: The columns of an exported worklist (CSV or XLSX), in order: the fields of a row.
EXPORT_COLUMNS = (
    "participant_code",
    "site_code",
    "form_id",
    "version",
    "locale",
    "state",
    "missing_signers",
    "opened_at",
    "due_at",
    "completed_at",
    "record_id",
)
#: The file formats of an export and their media types.
EXPORT_FORMATS = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
_EXPIRED = RecordState.EXPIRED.value
_STATES = [s.value for s in RecordState]
_ROW_FIELDS = {
    "_id": False,
    "record_id": True,
    "participant_code": True,
    "site_code": True,
    "form_id": True,
    "version": True,
    "locale": True,
    "state": True,
    "missing_signers": True,
    "opened_at": True,
    "due_at": True,
    "completed_at": True,
}

#: (site, form, version, locale, state): the grain of every record count.
_Key = tuple[str, str, int, str, str]


# ---------------------------------------------------------------- rebuilding


@dataclass
class RebuildReport:
    """What :func:`rebuild_counts` found: each counter it had to correct."""

    trial_id: str
    sites: int = 0
    corrected: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """Return a one-line account."""
        if not self.corrected:
            return f"{self.trial_id}: the counters of {self.sites} site(s) were exact"
        return (
            f"{self.trial_id}: counters of {self.sites} site(s) rebuilt, "
            f"{len(self.corrected)} corrected"
        )


def _backfilled_record(record: dict[str, Any]) -> dict[str, Any]:
    """Fill a projection's dashboard fields if it was written before the dashboard existed."""
    changes: dict[str, Any] = {}
    events = AuditEvent._get_collection()
    if record.get("due_at") is None:
        opened = events.find_one(
            {"record_id": record["record_id"], "type": "record.opened"},
            {"at": True, "payload.window_days": True},
        )
        if opened is not None:
            changes["due_at"] = opened["at"] + timedelta(days=int(opened["payload"]["window_days"]))
    if "is_partial" not in record:
        signed = record["state"] == RecordState.AWAITING_SIGNATURES and events.find_one(
            {"record_id": record["record_id"], "type": "signature.added"}, {"_id": True}
        )
        changes["is_partial"] = bool(signed)
    if changes:
        ConsentRecord._get_collection().update_one({"_id": record["_id"]}, {"$set": changes})
    return {**record, **changes}


def counter_documents(
    trial_id: str,
    records: Iterable[Mapping[str, Any]],
    participants: Iterable[Mapping[str, Any]],
    withdrawals: Iterable[Mapping[str, Any]],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Return the StatusCount and DateCount documents that count these documents.

    ``records`` are projections (at least :data:`RECORD_COUNTER_FIELDS`),
    ``participants`` have ``_id``, ``site_code`` and ``competence_date``, and
    ``withdrawals`` are ``withdrawal.recorded`` events. The counters the
    services keep equal exactly this, which is what :func:`rebuild_counts`
    writes and ``bench/dashboard.py`` loads.
    """
    sites: dict[str, dict[str, Any]] = defaultdict(
        lambda: {
            "counts": Counter(),
            "participants": 0,
            "withdrawn": Counter(),
            "newest": {},
            "oldest_opened": None,
        }
    )
    days: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    due_newest: dict[tuple[str, str], dict[str, datetime]] = defaultdict(dict)
    for record in records:
        key = counter_key(record["form_id"], record["version"], record["locale"], record["state"])
        site = sites[record["site_code"]]
        site["counts"][key] += 1
        opened = record.get("opened_at")
        if opened is not None:
            _keep_newest(site["newest"], key, opened)
            if site["oldest_opened"] is None or opened < site["oldest_opened"]:
                site["oldest_opened"] = opened
        path = due_counter_path(record, record["state"], bool(record.get("is_partial")))
        if path is not None:
            month = ("due", month_key(utc_day(record["due_at"])))
            due_key = path.removeprefix("counts.")
            days[month][due_key] += 1
            if opened is not None:
                _keep_newest(due_newest[month], due_key, opened)
    site_of: dict[str, str] = {}
    for participant in participants:
        code = participant["site_code"]
        sites[code]["participants"] += 1
        site_of[str(participant["_id"])] = code
        competence = participant.get("competence_date")
        if competence is not None:
            day = utc_day(competence) if isinstance(competence, datetime) else competence
            days[("competence", month_key(day))][counter_key(code, day.isoformat())] += 1
    scopes: dict[str, set[str]] = defaultdict(set)
    for event in withdrawals:
        scopes[event["participant_id"]].update(event["payload"]["scopes"])
    for participant_id, chosen in scopes.items():
        if participant_id in site_of:
            sites[site_of[participant_id]]["withdrawn"].update(counter_key(s) for s in chosen)
    status = [
        {
            "trial_id": trial_id,
            "site_code": code,
            "counts": _nonzero(site["counts"]),
            "participants": site["participants"],
            "withdrawn": _nonzero(site["withdrawn"]),
            "newest": site["newest"],
            "oldest_opened": site["oldest_opened"],
        }
        for code, site in sorted(sites.items())
    ]
    dates = [
        {
            "trial_id": trial_id,
            "metric": metric,
            "month": month,
            "counts": _nonzero(counts),
            **({"newest": due_newest[(metric, month)]} if metric == "due" else {}),
        }
        for (metric, month), counts in sorted(days.items())
    ]
    return status, dates


def _keep_newest(newest: dict[str, datetime], key: str, opened: datetime) -> None:
    if key not in newest or opened > newest[key]:
        newest[key] = opened


def _with_competence(participant: dict[str, Any]) -> dict[str, Any]:
    """Decide the competence date of a participant enrolled before the dashboard existed."""
    if participant.get("competence_date") is not None:
        return participant
    loaded = Participant.objects.get(id=participant["_id"])
    competence = requirements_for(loaded, utc_day(loaded.created_at)).competence_date
    Participant.objects(id=loaded.id).update_one(set__competence_date=competence)
    return {**participant, "competence_date": competence}


def _recount(trial_id: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Recount a study from its projections (one pass over each collection)."""
    fields = {**RECORD_COUNTER_FIELDS, "_id": True, "record_id": True}
    records = ConsentRecord._get_collection().find({"trial_id": trial_id}, fields)
    participants = Participant._get_collection().find(
        {"trial_id": trial_id}, {"site_code": True, "competence_date": True}
    )
    # Withdrawals from the events themselves, the truth the participants' scope lists follow.
    withdrawals = AuditEvent._get_collection().find(
        {"trial_id": trial_id, "type": "withdrawal.recorded"},
        {"participant_id": True, "payload.scopes": True},
    )
    return counter_documents(
        trial_id,
        (_backfilled_record(r) for r in records),
        (_with_competence(p) for p in participants),
        withdrawals,
    )


def _nonzero(values: Mapping[str, int]) -> dict[str, int]:
    return {k: int(v) for k, v in values.items() if v}


def _differences(label: str, was: Mapping[str, int], now: Mapping[str, int]) -> list[str]:
    return [
        f"{label} {'/'.join(split_key(k))}: {was.get(k, 0)} -> {now.get(k, 0)}"
        for k in sorted(set(was) | set(now))
        if was.get(k, 0) != now.get(k, 0)
    ]


def rebuild_counts(trial_id: str) -> RebuildReport:
    """Recompute every dashboard counter of a study from the projections.

    For after a crash between a projection write and its counter write, and
    once after upgrading: it also fills the due dates, partial flags and
    competence dates of documents written before the dashboard existed.
    Withdrawal scopes are recounted from the audit events. Writes made while
    it runs may be counted twice or not at all: run it when the study is
    quiet, or run it again.

    Raises:
        NotFoundError: no such study.
    """
    get_study(trial_id)
    report = RebuildReport(trial_id=trial_id)
    fresh_status, fresh_dates = _recount(trial_id)
    report.sites = len(fresh_status)

    status = StatusCount._get_collection()
    writes: list[Any] = []
    existing = {doc["site_code"]: doc for doc in status.find({"trial_id": trial_id})}
    for new in fresh_status:
        code = new["site_code"]
        old = existing.get(code, {})
        found = [
            *_differences(f"{code} counts", _nonzero(old.get("counts", {})), new["counts"]),
            *_differences(
                f"{code} withdrawn", _nonzero(old.get("withdrawn", {})), new["withdrawn"]
            ),
        ]
        if old.get("participants", 0) != new["participants"]:
            found.append(
                f"{code} participants: {old.get('participants', 0)} -> {new['participants']}"
            )
        # Counters written before they kept the bounds of opening times get them too.
        bounds = ("newest", "oldest_opened")
        if found or not old or any(old.get(name) != new[name] for name in bounds):
            writes.append(ReplaceOne({"trial_id": trial_id, "site_code": code}, new, upsert=True))
        report.corrected += found
    for code in sorted(set(existing) - {doc["site_code"] for doc in fresh_status}):
        report.corrected.append(f"{code}: no records or participants, counters removed")
        writes.append(DeleteOne({"trial_id": trial_id, "site_code": code}))
    if writes:
        status.bulk_write(writes, ordered=False)

    dates = DateCount._get_collection()
    writes = []
    old_days = {(d["metric"], d["month"]): d for d in dates.find({"trial_id": trial_id})}
    for new in fresh_dates:
        metric, month = new["metric"], new["month"]
        old_doc = old_days.get((metric, month))
        found = _differences(metric, _nonzero((old_doc or {}).get("counts", {})), new["counts"])
        if found or old_doc is None or old_doc.get("newest") != new.get("newest"):
            key = {"trial_id": trial_id, "metric": metric, "month": month}
            writes.append(ReplaceOne(key, new, upsert=True))
        report.corrected += found
    for metric, month in sorted(set(old_days) - {(d["metric"], d["month"]) for d in fresh_dates}):
        report.corrected += _differences(metric, _nonzero(old_days[(metric, month)]["counts"]), {})
        writes.append(DeleteOne({"trial_id": trial_id, "metric": metric, "month": month}))
    if writes:
        dates.bulk_write(writes, ordered=False)
    return report


# ---------------------------------------------------------------- the summary


@dataclass(frozen=True)
class FormVersionCounts:
    """The records of one form version, by state (every state present, zero or more)."""

    form_id: str
    version: int
    by_state: dict[str, int]

    @property
    def total(self) -> int:
        """Return how many records the version has, whatever their state."""
        return sum(self.by_state.values())


@dataclass(frozen=True)
class Summary:
    """The dashboard numbers of a study, or of some of its sites, at one moment.

    Every count is an int and every breakdown by state names every state, so a
    page or an API client reads them as they are, never guessing a shape.
    ``by_site`` maps each included site to its counts by state.
    """

    trial_id: str
    at: datetime
    sites: list[str]
    records: int
    by_state: dict[str, int]
    by_site: dict[str, dict[str, int]]
    by_form_version: list[FormVersionCounts]
    by_language: dict[str, int]
    participants: int
    partially_consented: int
    reconsent_due: int
    competence_within_90_days: int
    band_change_due: int
    expired: int
    withdrawn_by_scope: dict[str, int]

    @property
    def due(self) -> list[DueCount]:
        """Return each "needs attention" count with the worklist filter that lists it."""
        counts = {
            DueFilter.RECONSENT: self.reconsent_due,
            DueFilter.COMPETENCE: self.competence_within_90_days,
            DueFilter.BAND_CHANGE: self.band_change_due,
            DueFilter.SUSPENDED: self.by_state[RecordState.SUSPENDED_AWAITING_OWN_CONSENT],
            DueFilter.DISSENT: self.by_state[RecordState.DISSENT],
        }
        return [DueCount(due=f.value, count=n) for f, n in counts.items()]


@dataclass(frozen=True)
class DueCount:
    """One count of what needs attention, and the ``due`` filter of the worklist listing it."""

    due: str
    count: int


def _status_docs(trial_id: str, site_codes: Collection[str] | None) -> list[dict[str, Any]]:
    query: dict[str, Any] = {"trial_id": trial_id}
    if site_codes is not None:
        query["site_code"] = {"$in": sorted(site_codes)}
    return list(StatusCount._get_collection().find(query, {"_id": False}))


def _stored_counts(docs: list[dict[str, Any]]) -> Counter[_Key]:
    """Return the records of the counter documents by (site, form, version, locale, state)."""
    stored: Counter[_Key] = Counter()
    for doc in docs:
        site = doc["site_code"]
        for key, n in doc.get("counts", {}).items():
            if n:
                stored[(site, *_parts(key))] += n
    return stored


def _day_entries(
    trial_id: str, metric: str, first: date, last: date
) -> Iterator[tuple[list[str], int]]:
    """Yield (key parts before the day, count) of ``metric`` for the days in [first, last]."""
    query = {
        "trial_id": trial_id,
        "metric": metric,
        "month": {"$gte": month_key(first), "$lte": month_key(last)},
    }
    low, high = first.isoformat(), last.isoformat()
    for doc in DateCount._get_collection().find(query, {"_id": False, "counts": True}):
        for key, n in doc.get("counts", {}).items():
            # The day ends every key, never escaped; ISO dates sort as text. Most keys of
            # a month are out of range, so they are skipped before being split.
            if n and low <= key[-10:] <= high:
                yield split_key(key)[:-1], int(n)


def _pending(trial_id: str, at: datetime, sites: Collection[str]) -> tuple[Counter[_Key], int]:
    """Return the awaiting records whose window still runs at ``at``, and how many are signed.

    "Signed" means partially: at least one required signer has signed.
    Whole later days come from the due-date counters (reading only the months
    from ``at`` on); the records due later on ``at``'s own day are read by
    index, which is at most one day's worth.
    """
    pending: Counter[_Key] = Counter()
    partial = 0
    today = utc_day(at)
    for parts, n in _day_entries(trial_id, "due", today + timedelta(days=1), date.max):
        site, form_id, version, locale, state, is_partial = parts
        if site in sites:
            pending[(site, form_id, int(version), locale, state)] += n
            partial += n if is_partial == "1" else 0
    midnight = datetime.combine(today + timedelta(days=1), time(), tzinfo=UTC)
    records = ConsentRecord._get_collection()
    for state in sorted(OPEN_STATES):
        # Equality on (trial, state) and one range on due_at: a shape the
        # (trial_id, state, due_at) index serves, on SecantusDB as on MongoDB.
        for doc in records.find(
            {"trial_id": trial_id, "state": state, "due_at": {"$gte": at, "$lt": midnight}},
            RECORD_COUNTER_FIELDS,
        ):
            if doc["site_code"] in sites:
                key = (doc["site_code"], doc["form_id"], doc["version"], doc["locale"], state)
                pending[key] += 1
                partial += bool(doc.get("is_partial"))
    return pending, partial


def _reconsent_keys(trial_id: str, stored: Mapping[_Key, int]) -> set[tuple[str, int, str]]:
    """Return the (form, version, language) of consented records due to consent again.

    A consented record of a version older than the form's latest major version
    is due, as :func:`consentkit.services.tasks.create_reconsent_tasks` asks
    (same rule: only where the new version exists in the record's language),
    until the family consents to the new version and the old record is
    superseded (E6(R3) 2.8.10: participants are informed of new information
    and their consent confirmed). The keys come from the counters, so the count
    and the worklist's ``due=reconsent`` rows are one set.
    """
    latest: dict[str, tuple[int, set[str]]] = {}
    live = {VersionStatus.PUBLISHED.value, VersionStatus.SUPERSEDED.value}
    for form_version in catalog(trial_id).versions:
        if form_version.change != ChangeKind.MAJOR.value or form_version.status not in live:
            continue
        known = latest.get(form_version.form_id)
        if known is None or form_version.version > known[0]:
            latest[form_version.form_id] = (form_version.version, set(form_version.content_sha256))
    keys: set[tuple[str, int, str]] = set()
    for _site, form_id, version, locale, state in stored:
        major = latest.get(form_id)
        if state != RecordState.CONSENTED or major is None or version >= major[0]:
            continue
        if locale in major[1] or locale.split("-")[0] in major[1]:
            keys.add((form_id, version, locale))
    return keys


def _reconsent_due(trial_id: str, stored: Mapping[_Key, int]) -> int:
    """Count the consented records of a version older than the form's latest major version.

    Counted from the records rather than the open re-consent tasks, which
    counting would read one by one.
    """
    keys = _reconsent_keys(trial_id, stored)
    return sum(
        n
        for (_site, form_id, version, locale, state), n in stored.items()
        if state == RecordState.CONSENTED and (form_id, version, locale) in keys
    )


def _competence_soon(trial_id: str, at: datetime, sites: Collection[str]) -> int:
    today = utc_day(at)
    first, last = today + timedelta(days=1), today + timedelta(days=COMPETENCE_WINDOW_DAYS)
    return sum(
        n for (site,), n in _day_entries(trial_id, "competence", first, last) if site in sites
    )


def _midnight(day: date) -> datetime:
    """Return the moment a stored date (MongoEngine keeps a DateField as midnight UTC) holds."""
    return datetime.combine(day, time(), tzinfo=UTC)


def _competence_participants(
    trial_id: str, at: datetime, sites: Collection[str] | None
) -> list[str]:
    """Return the ids of the participants ``competence_within_90_days`` counts.

    Those whose competence date is after ``at``'s UTC date and at most
    :data:`COMPETENCE_WINDOW_DAYS` days later, read through the (trial, site,
    competence date) index one site at a time, for the whole study too (each
    site the counters know): SecantusDB reads a (trial, date range)
    lookup, which no index leads with, by reading every participant.
    """
    today = utc_day(at)
    window = {
        "$gt": _midnight(today),
        "$lte": _midnight(today + timedelta(days=COMPETENCE_WINDOW_DAYS)),
    }
    people = Participant._get_collection()
    if sites is None:
        # The sites the counters count participants at (every enrolment moves them).
        sites = {doc["site_code"] for doc in _status_docs(trial_id, None)}
    queries = [
        {"trial_id": trial_id, "site_code": site, "competence_date": window}
        for site in sorted(sites)
    ]
    return sorted({str(doc["_id"]) for q in queries for doc in people.find(q, {"_id": True})})


def _band_change_participants(
    trial_id: str, at: datetime, sites: Collection[str] | None
) -> list[str]:
    """Return the ids of the participants with an age-group change to act on.

    An open task of a :data:`BAND_CHANGE_REASONS` reason due on or before
    :data:`COMPETENCE_WINDOW_DAYS` days after ``at``'s UTC date: coming soon, or
    overdue and still open. A participant counts once, however many such tasks.
    """
    until = _midnight(utc_day(at) + timedelta(days=COMPETENCE_WINDOW_DAYS))
    tasks = ConsentTask._get_collection()
    base: dict[str, Any] = {"trial_id": trial_id}
    queries = [base] if sites is None else [{**base, "site_code": site} for site in sorted(sites)]
    found: set[str] = set()
    for query in queries:
        # Equality on (trial, site, status) and one range on due_date: the tasks index.
        query = {**query, "status": "open", "due_date": {"$lte": until}}
        for doc in tasks.find(query, {"participant_id": True, "reason": True}):
            if doc["reason"] in BAND_CHANGE_REASONS:
                found.add(doc["participant_id"])
    return sorted(found)


def summary(
    trial_id: str,
    *,
    site_codes: Collection[str] | None = None,
    at: datetime | None = None,
) -> Summary:
    """Return the dashboard numbers of a study, or of some of its sites, at ``at`` (now).

    ``site_codes`` None is the sponsor's view of every site; otherwise only
    those sites count (site staff see their own sites only). States are those
    the records' events give, except that a record still awaiting information
    or signatures once its completion window has ended before ``at`` counts as
    ``expired``, as :func:`consentkit.services.records.record_statuses` would
    derive it. ``partially_consented`` counts records awaiting signatures (not
    expired) that someone has signed; ``competence_within_90_days`` the
    participants reaching the age of legal competence of their country on a day
    after ``at``'s UTC date and at most 90 days later; ``band_change_due`` the
    participants with an open age-band or minor-role task due by then (or
    overdue). :attr:`Summary.due` pairs each such count with the worklist filter
    that lists exactly what it counted.

    Raises:
        NotFoundError: no such study.
    """
    at = at or now_utc()
    study = catalog(trial_id).study
    if site_codes is None:
        docs = _status_docs(trial_id, None)
        sites = sorted({s.code for s in study.sites} | {d["site_code"] for d in docs})
    else:
        sites = sorted(set(site_codes))
        docs = _status_docs(trial_id, sites)
    included = set(sites)
    stored = _stored_counts(docs)
    pending, partial = _pending(trial_id, at, included)

    by_state = dict.fromkeys(_STATES, 0)
    by_site = {code: dict.fromkeys(_STATES, 0) for code in sites}
    by_form: dict[tuple[str, int], dict[str, int]] = {}
    by_language: Counter[str] = Counter()
    for (site, form_id, version, locale, state), n in stored.items():
        form = by_form.setdefault((form_id, version), dict.fromkeys(_STATES, 0))
        split = {state: n}
        if state in OPEN_STATES:
            waiting = pending[(site, form_id, version, locale, state)]
            split = {state: waiting, _EXPIRED: n - waiting}
        for shown, count in split.items():
            by_state[shown] += count
            by_site[site][shown] += count
            form[shown] += count
        by_language[locale] += n

    withdrawn = dict.fromkeys((s.value for s in WithdrawalScope), 0)
    for doc in docs:
        for key, n in doc.get("withdrawn", {}).items():
            (scope,) = split_key(key)
            withdrawn[scope] = withdrawn.get(scope, 0) + n
    return Summary(
        trial_id=trial_id,
        at=at,
        sites=sites,
        records=sum(stored.values()),
        by_state=by_state,
        by_site=by_site,
        by_form_version=[
            FormVersionCounts(form_id=form_id, version=version, by_state=states)
            for (form_id, version), states in sorted(by_form.items())
        ],
        by_language=dict(sorted(by_language.items())),
        participants=int(sum(doc.get("participants", 0) for doc in docs)),
        partially_consented=partial,
        reconsent_due=_reconsent_due(trial_id, stored),
        competence_within_90_days=_competence_soon(trial_id, at, included),
        band_change_due=len(_band_change_participants(trial_id, at, included)),
        expired=by_state[_EXPIRED],
        withdrawn_by_scope=withdrawn,
    )


def _open_in_window(
    trial_id: str, state: str, at: datetime, until: datetime | None, sites: Collection[str] | None
) -> Iterator[Mapping[str, Any]]:
    """Yield the records in ``state`` whose window runs at ``at`` (and ends by ``until``).

    Equality on (trial, state) and one range on due_at: the (trial_id, state, due_at) index.
    """
    window: dict[str, Any] = {"$gt": at}
    if until is not None:
        window["$lte"] = until
    fields = {"_id": 0, "site_code": 1, "missing_signers": 1, "is_partial": 1}
    for doc in ConsentRecord._get_collection().find(
        {"trial_id": trial_id, "state": state, "due_at": window}, fields
    ):
        if sites is None or doc["site_code"] in sites:
            yield doc


def countersign_waiting(
    trial_id: str, *, site_codes: Collection[str] | None = None, at: datetime | None = None
) -> int:
    """Count the records waiting for the investigator's countersignature at ``at`` (now).

    Awaiting signatures, window still running, someone of the family has signed
    (``is_partial``: the investigator countersigns after the family,
    :func:`consentkit.services.ceremony.write_signature`) and an investigator has not.
    """
    at = at or now_utc()
    return sum(
        1
        for doc in _open_in_window(
            trial_id, RecordState.AWAITING_SIGNATURES.value, at, None, site_codes
        )
        if doc.get("is_partial")
        and any(m.get("role") == "investigator" for m in doc.get("missing_signers") or [])
    )


def expiring_within(
    trial_id: str,
    days: int,
    *,
    site_codes: Collection[str] | None = None,
    at: datetime | None = None,
) -> int:
    """Count the open records whose completion window ends within ``days`` days of ``at``.

    Past that end they count as ``expired`` (:func:`summary`); these can still be completed.
    """
    at = at or now_utc()
    until = at + timedelta(days=days)
    return sum(
        1
        for state in sorted(OPEN_STATES)
        for _doc in _open_in_window(trial_id, state, at, until, site_codes)
    )


# ---------------------------------------------------------------- the worklist


@dataclass(frozen=True)
class WorklistRow:
    """One consent record as the worklist and its exports show it.

    ``state`` is the state at the moment asked (``expired`` once the window
    has ended); ``missing_signers`` the roles still to sign, in signing order
    (who, not their identity).
    """

    record_id: str
    participant_code: str
    site_code: str
    form_id: str
    version: int
    locale: str
    state: str
    missing_signers: list[str]
    opened_at: datetime
    due_at: datetime | None
    completed_at: datetime | None

    def as_dict(self) -> dict[str, object]:
        """Return the row's fields by name (the cells of an exported line)."""
        return asdict(self)


@dataclass(frozen=True)
class WorklistPage:
    """One page of the worklist, newest first, and the cursor of the next page.

    ``total`` is how many rows match the filters, from the dashboard counters
    (the numbers the summary shows), or for the due filters that list one row
    per participant the length of that short list; None for a code search,
    which no counter counts and counting would read every matching record.
    ``next_cursor`` is None on the last page.
    """

    items: list[WorklistRow]
    total: int | None
    next_cursor: str | None
    page_size: int


def _code_range(prefix: str) -> dict[str, str]:
    """Return the code range holding exactly the codes that start with ``prefix``.

    The bound is the prefix with its last character moved one code point on,
    skipping the UTF-16 surrogates U+D800..U+DFFF, which no stored string can
    hold (BSON refuses them): after U+D7FF comes U+E000. UTF-8 order, the
    order the database compares in, is code point order, so the range is exact.
    """
    last = ord(prefix[-1])
    if last >= 0x10FFFF:
        return {"$gte": prefix}
    following = 0xE000 if 0xD7FF <= last < 0xE000 else last + 1
    return {"$gte": prefix, "$lt": prefix[:-1] + chr(following)}


#: A code prefix at least this long is looked up on the code index (few codes share it);
#: a shorter one is checked on the newest-first walk (many do, so a page fills fast).
_CODE_INDEX_PREFIX = 5


@dataclass(frozen=True)
class _Query:
    """How to read the worklist rows matching the filters.

    ``shapes`` are equality filters, each the leading fields of a ConsentRecord
    index that ends in ``opened_at`` (a site and state filter over several sites
    is one shape per site); ``full`` is the whole filter, applied after.
    ``expected`` bounds how many records the shapes hold (from the counters),
    ``total`` is the number of matching rows when the counters know it.
    ``in_memory`` lists are short enough to read whole: the due filters that
    keep one row per participant (``per_participant``) and a long code prefix.
    """

    shapes: list[dict[str, Any]]
    full: dict[str, Any]
    expected: int | None = None
    total: int | None = None
    in_memory: bool = False
    per_participant: bool = False
    #: No matching record opened after ``newest`` or before ``oldest`` (the counters' bounds).
    newest: datetime | None = None
    oldest: datetime | None = None


#: A filter no record matches (two filters that exclude each other).
_NOTHING: dict[str, Any] = {"record_id": {"$in": []}}


def _due_filter(due: str | None) -> DueFilter | None:
    if due is None:
        return None
    try:
        return DueFilter(due)
    except ValueError:
        raise InvalidDataError(
            "Unknown worklist filter: %(due)s.", code="unknown-due-filter", params={"due": due}
        ) from None


def _filters(
    trial_id: str,
    *,
    site_codes: Collection[str] | None,
    state: str | None,
    form_id: str | None,
    search: str | None,
    at: datetime,
    due: str | None = None,
) -> _Query:
    """Return how to read the worklist rows matching the filters.

    SecantusDB walks an index only when a filter's equality fields are exactly
    an index's leading fields plus one range after them, and it reads every
    document the walk matches. So each lookup takes one of the shapes the
    ConsentRecord indexes serve with a range on ``opened_at`` (the one the
    counters say holds fewest records), and :mod:`consentkit.services.keyset`
    adds the range.
    """
    if state is not None and state not in _STATES:
        raise InvalidDataError(
            "Unknown state: %(state)s.", code="unknown-state", params={"state": state}
        )
    wanted = _due_filter(due)
    sites = sorted(set(site_codes)) if site_codes is not None else None
    full: dict[str, Any] = {"trial_id": trial_id}
    if sites is not None:
        full["site_code"] = sites[0] if len(sites) == 1 else {"$in": sites}
    if form_id is not None:
        full["form_id"] = form_id
    due_state = _DUE_STATE.get(wanted) if wanted is not None else None
    if due_state is not None:
        if state is not None and state != due_state:
            full.update(_NOTHING)
        state = due_state
    if wanted in (DueFilter.COMPETENCE, DueFilter.BAND_CHANGE):
        pick = (
            _competence_participants
            if wanted == DueFilter.COMPETENCE
            else _band_change_participants
        )
        ids = pick(trial_id, at, sites)
        full["participant_id"] = {"$in": ids}
    stored_states: list[str] | None = None
    if state == _EXPIRED:
        stored_states = sorted(OPEN_STATES)
        full["state"] = {"$in": stored_states}
        full["due_at"] = {"$lt": at}
    elif state is not None:
        stored_states = [state]
        full["state"] = state
        if state in OPEN_STATES:
            full["$or"] = [{"due_at": {"$gte": at}}, {"due_at": None}]
    status_docs = _status_docs(trial_id, None)
    stored = _stored_counts(status_docs)
    reconsent: set[tuple[str, int, str]] | None = None
    if wanted == DueFilter.RECONSENT:
        reconsent = _reconsent_keys(trial_id, stored)
        by_version: dict[tuple[str, int], list[str]] = defaultdict(list)
        for form, version, locale in sorted(reconsent):
            by_version[(form, version)].append(locale)
        due_keys = [
            {"form_id": form, "version": version, "locale": {"$in": locales}}
            for (form, version), locales in by_version.items()
        ]
        full["$or"] = due_keys or [_NOTHING]
    if "participant_id" in full:
        # A due window holds few participants: their records, by the participant index.
        shape = {"participant_id": full["participant_id"]}
        return _Query([shape], full, in_memory=True, per_participant=True)
    prefix = (search or "").strip()
    if prefix:
        full["participant_code"] = _code_range(prefix)
        if len(prefix) >= _CODE_INDEX_PREFIX:
            shape = {"trial_id": trial_id, "participant_code": full["participant_code"]}
            return _Query([shape], full, in_memory=True)

    def counted(key: _Key, *, site: bool = True, st: bool = True, form: bool = True) -> bool:
        k_site, k_form, k_version, k_locale, k_state = key
        return (
            (not site or sites is None or k_site in sites)
            and (not st or stored_states is None or k_state in stored_states)
            and (not form or form_id is None or k_form == form_id)
            and (reconsent is None or (k_form, k_version, k_locale) in reconsent)
        )

    exact = sum(n for key, n in stored.items() if counted(key))
    if stored_states is not None and set(stored_states) & OPEN_STATES:
        # Open records split into still running and expired by the due-date counters,
        # as the summary splits them.
        every_site = sites if sites is not None else sorted({key[0] for key in stored})
        pending, _partial = _pending(trial_id, at, every_site)
        running = sum(n for key, n in pending.items() if counted(key))
        exact = exact - running if state == _EXPIRED else running
    total = None if prefix else 0 if _NOTHING.items() <= full.items() else exact
    base = {"trial_id": trial_id}
    site_values = sites if sites is not None else [None]
    state_values = stored_states if stored_states is not None else [None]
    options: list[tuple[int, list[dict[str, Any]]]] = []

    def option(n: int, shapes: list[dict[str, Any]]) -> None:
        options.append((n, [{k: v for k, v in s.items() if v is not None} for s in shapes]))

    option(sum(stored.values()), [base])
    if sites is not None:
        n = sum(v for k, v in stored.items() if counted(k, st=False, form=False))
        option(n, [{**base, "site_code": s} for s in sites])
    if stored_states is not None:
        n = sum(v for k, v in stored.items() if counted(k, site=False, form=False))
        option(n, [{**base, "state": s} for s in stored_states])
        n = sum(v for k, v in stored.items() if counted(k, form=False))
        option(n, [{**base, "site_code": s, "state": t} for s in site_values for t in state_values])
    if form_id is not None:
        n = sum(v for k, v in stored.items() if counted(k, site=False, st=False))
        option(n, [{**base, "form_id": form_id}])
    if reconsent is not None:
        keys = sorted({(f, v) for f, v, _locale in reconsent})
        state_value = RecordState.CONSENTED.value
        shapes = [{**base, "form_id": f, "version": v, "state": state_value} for f, v in keys]
        option(exact, shapes)
    expected, shapes = min(options, key=lambda o: (o[0], len(o[1])))
    newest, oldest = _opening_bounds(status_docs, counted)
    if state == _EXPIRED and newest is not None and oldest is not None:
        newest = _newest_due(trial_id, at, counted, oldest)
    return _Query(shapes, full, expected=expected, total=total, newest=newest, oldest=oldest)


def _opening_bounds(
    docs: list[dict[str, Any]], counted: Callable[[_Key], bool]
) -> tuple[datetime | None, datetime | None]:
    """Return when the latest and the earliest record the filter counts can have opened.

    From the counters (:class:`StatusCount` ``newest`` per key, ``oldest_opened``
    per site), so a worklist of records that all opened long ago (the superseded
    ones, opened before the new version) starts its walk where they are, and
    every walk stops at the site's first record rather than crossing the years
    before the study. None where a counter does not know (written before it kept
    the bounds): the walk then starts now and crosses them, as it did before.
    """
    newest: datetime | None = None
    oldest: datetime | None = None
    for doc in docs:
        site = doc["site_code"]
        keys = [
            key for key, n in doc.get("counts", {}).items() if n and counted((site, *_parts(key)))
        ]
        if not keys:
            continue
        bounds = [(doc.get("newest") or {}).get(key) for key in keys]
        first = doc.get("oldest_opened")
        if first is None or any(bound is None for bound in bounds):
            return None, None
        latest = aware_utc(max(bound for bound in bounds if bound is not None))
        newest = latest if newest is None else max(newest, latest)
        oldest = aware_utc(first) if oldest is None else min(oldest, aware_utc(first))
    return newest, oldest


def _parts(key: str) -> tuple[str, int, str, str]:
    form_id, version, locale, state = split_key(key)
    return form_id, int(version), locale, state


def _newest_due(
    trial_id: str, at: datetime, counted: Callable[[_Key], bool], oldest: datetime
) -> datetime | None:
    """Return when the latest record counted as due by ``at``'s day opened (expired ones).

    From the due-date counters (``DateCount`` ``newest``), so the walk of the
    expired records skips the records opened since, whose windows still run.
    Months are read newest first, one document each, until a month ends before
    the latest opening found (a record opens before it is due) or before the
    first record. None where a counter does not know.
    """
    today = utc_day(at)
    counters = DateCount._get_collection()
    newest: datetime | None = None
    year, month = today.year, today.month
    while True:
        first_day = date(year, month, 1)
        month_end = _midnight(_next_month(first_day))
        if newest is not None and month_end <= newest:
            return newest  # every record due this month or before opened before ``newest``
        if month_end <= oldest:
            return newest
        doc = counters.find_one(
            {"trial_id": trial_id, "metric": "due", "month": month_key(first_day)},
            {"counts": True, "newest": True},
        )
        for key, n in (doc or {}).get("counts", {}).items():
            if not n or key[-10:] > today.isoformat():
                continue
            site, form_id, version, locale, state, _partial = split_key(key)[:-1]
            if not counted((site, form_id, int(version), locale, state)):
                continue
            bound = ((doc or {}).get("newest") or {}).get(key)
            if bound is None:
                return None
            newest = aware_utc(bound) if newest is None else max(newest, aware_utc(bound))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def _latest_per_participant(docs: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Keep each participant's most recently opened record.

    The competence and band-change counts count participants, so their lists
    show one row per participant: where the family stands now.
    """
    latest: dict[str, Mapping[str, Any]] = {}
    for doc in docs:
        known = latest.get(doc["participant_id"])
        if known is None or keyset.key_of(doc) > keyset.key_of(known):
            latest[doc["participant_id"]] = doc
    return list(latest.values())


_FETCH_FIELDS = {**_ROW_FIELDS, "_id": True}


def _read(query: _Query, opened: dict[str, Any] | None = None) -> list[Mapping[str, Any]]:
    """Read the records of every shape of ``query`` (within ``opened`` if given)."""
    records = ConsentRecord._get_collection()
    docs: list[Mapping[str, Any]] = []
    for shape in query.shapes:
        access = shape if opened is None else {**shape, "opened_at": opened}
        pipeline = [{"$match": access}, {"$match": query.full}, {"$project": _FETCH_FIELDS}]
        docs.extend(records.aggregate(pipeline))
    return docs


def _in_memory(query: _Query) -> list[Mapping[str, Any]]:
    if query.per_participant:
        # The participants' records by the participant index, a dozen participants a read
        # (the embedded database's cost of an ``$in`` grows with the square of its length).
        fields = {**_FETCH_FIELDS, "participant_id": True}
        ids = list(query.shapes[0]["participant_id"]["$in"])
        docs: list[Mapping[str, Any]] = []
        for chunk in db.in_chunks(ids):
            shape = {"participant_id": {"$in": chunk}}
            full = {**query.full, **shape}
            pipeline = [{"$match": shape}, {"$match": full}, {"$project": fields}]
            docs.extend(ConsentRecord._get_collection().aggregate(pipeline))
        return _latest_per_participant(docs)
    return _read(query)


def _row(doc: Mapping[str, Any], at: datetime) -> WorklistRow:
    state = doc["state"]
    due_at = doc.get("due_at")
    if state in OPEN_STATES and due_at is not None and due_at < at:
        state = _EXPIRED
    return WorklistRow(
        record_id=doc["record_id"],
        participant_code=doc["participant_code"],
        site_code=doc["site_code"],
        form_id=doc["form_id"],
        version=doc["version"],
        locale=doc["locale"],
        state=state,
        missing_signers=[s["role"] for s in doc.get("missing_signers", [])],
        opened_at=doc["opened_at"],
        due_at=due_at,
        completed_at=doc.get("completed_at"),
    )


def status_table(
    trial_id: str,
    *,
    site_codes: Collection[str] | None = None,
    state: str | None = None,
    form_id: str | None = None,
    search: str | None = None,
    due: str | None = None,
    cursor: str | None = None,
    page_size: int = 50,
    at: datetime | None = None,
) -> WorklistPage:
    """Return one page of the worklist, newest record first, and the next page's cursor.

    A row is a consent record; ``missing_signers`` lists the roles still to
    sign. Rows are in order of when their record opened, newest first (ties
    by id); ``cursor`` (from the previous page's ``next_cursor``) continues
    after that page's last row, so rows added meanwhile neither repeat nor
    skip a row (:mod:`consentkit.services.keyset`). ``search`` keeps the codes
    starting with it (codes are case-sensitive pseudonyms); ``site_codes``
    limits to those sites as in :func:`summary`; ``state`` is the state at
    ``at`` (now), so ``expired`` finds records whose window ended. ``due`` (a
    :class:`DueFilter` value) keeps what the dashboard's count of that name
    counted at ``at``; ``competence`` and ``band-change`` count participants and
    list one row each (their most recently opened record matching the other
    filters).

    Raises:
        InvalidDataError: a page size outside 1-500 (``bad-page``), an unknown
            state (``unknown-state``) or due filter (``unknown-due-filter``), a
            cursor the server did not give out (``bad-cursor``).
    """
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidDataError(
            "Pages hold 1 to %(max)s rows.", code="bad-page", params={"max": MAX_PAGE_SIZE}
        )
    after = keyset.decode_cursor(cursor) if cursor is not None else None
    at = at or now_utc()
    query = _filters(
        trial_id,
        site_codes=site_codes,
        state=state,
        form_id=form_id,
        search=search,
        at=at,
        due=due,
    )
    if query.in_memory:
        rows = _in_memory(query)
        found = keyset.page_of(rows, after=after, size=page_size)
        total = len(rows) if query.per_participant else None
    else:
        found = keyset.newest_first(
            lambda opened: _read(query, opened),
            after=after,
            size=page_size,
            expected=query.expected,
            start=at,
            newest=query.newest,
            oldest=query.oldest,
        )
        total = query.total
    return WorklistPage(
        items=[_row(doc, at) for doc in found.docs],
        total=total,
        next_cursor=found.next_cursor,
        page_size=page_size,
    )


#: Rows an export reads per page of the worklist (the largest page).
_EXPORT_PAGE = MAX_PAGE_SIZE


def export_rows(
    trial_id: str,
    *,
    site_codes: Collection[str] | None = None,
    state: str | None = None,
    form_id: str | None = None,
    search: str | None = None,
    due: str | None = None,
    at: datetime | None = None,
) -> Iterator[WorklistRow]:
    """Yield every worklist row matching the filters, newest first, for CSV or XLSX.

    Rows are read page by page through the worklist's cursor, so memory holds
    one page however large the study; the filters are those of
    :func:`status_table`.

    Raises:
        InvalidDataError: an unknown state or due filter.
    """
    at = at or now_utc()
    # The filters are checked now, not when the first row is asked for.
    _filters(
        trial_id,
        site_codes=site_codes,
        state=state,
        form_id=form_id,
        search=search,
        at=at,
        due=due,
    )

    def rows() -> Iterator[WorklistRow]:
        cursor: str | None = None
        while True:
            page = status_table(
                trial_id,
                site_codes=site_codes,
                state=state,
                form_id=form_id,
                search=search,
                due=due,
                cursor=cursor,
                page_size=_EXPORT_PAGE,
                at=at,
            )
            yield from page.items
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    return rows()


# ---------------------------------------------------------------- the export


@dataclass(frozen=True)
class Export:
    """An exported worklist, ready to hand over as a download.

    ``filename`` is safe to put in a ``Content-Disposition`` header as it is;
    ``content`` is the file as it streams: CSV text line by line, an XLSX
    workbook in chunks of bytes (built on a temporary file when first asked for);
    or the whole file, for a format that cannot be written row by row (SAS transport).
    """

    filename: str
    media_type: str
    content: Iterator[str] | Iterator[bytes] | bytes


def export_filename(trial_id: str, fmt: str, at: datetime) -> str:
    """Return the download name of a study's export: ``<trial>-status-<UTC minute>.<fmt>``.

    A trial id is whatever the sponsor typed; every character outside
    ``A-Za-z0-9._-`` becomes ``_``, so a quote, a semicolon or a line break
    can neither end the header's quoted name nor add a header, and a slash
    cannot name a folder on the monitor's machine.
    """
    return _safe_name(f"{trial_id}-status-{at.astimezone(UTC).strftime('%Y%m%d-%H%M')}.{fmt}")


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", text)


def safe_filename(text: str) -> str:
    """Return ``text`` as a download name safe in a quoted header (see :func:`export_filename`)."""
    return _safe_name(text)


def export(
    trial_id: str,
    fmt: str,
    *,
    site_codes: Collection[str] | None = None,
    state: str | None = None,
    due: str | None = None,
    at: datetime | None = None,
) -> Export:
    """Return the worklist rows matching the filters as a CSV or XLSX file.

    The filters are those of :func:`export_rows`, newest first. Both formats
    stream in constant memory (rows are read a page at a time; XLSX is written
    by openpyxl's write-only mode to a temporary file and read back in chunks).
    Columns: the worklist's, then one per consent item (what was chosen) and
    one per withdrawal scope, internal ids last. In XLSX the moments are date
    cells (UTC), the header row is frozen and has filters. Cells a spreadsheet
    would run as a formula are defused (:mod:`consentkit.rendering.tables`).

    Raises:
        InvalidDataError: an unknown format, state or due filter.
    """
    if fmt not in EXPORT_FORMATS:
        raise InvalidDataError(
            "Unknown export format: %(format)s.", code="unknown-format", params={"format": fmt}
        )
    at = at or now_utc()
    rows = export_rows(trial_id, site_codes=site_codes, state=state, due=due, at=at)
    items = _item_codes(trial_id)
    columns = [
        *EXPORT_COLUMNS[:-1],
        *(f"choice:{code}" for code in items.values()),
        *(f"withdrawn:{scope.value}" for scope in WithdrawalScope),
        EXPORT_COLUMNS[-1],
    ]
    headers = [_EXPORT_HEADERS.get(c, c) for c in columns]
    lines = _export_lines(trial_id, rows, items)
    filename = export_filename(trial_id, fmt, at)
    content: Iterator[str] | Iterator[bytes]
    if fmt == "xlsx":
        # openpyxl refuses []:*?/\ in a sheet name; the file name's rule removes them.
        content = xlsx_chunks(lines, columns, title=_safe_name(trial_id), headers=headers)
    else:
        content = csv_lines(lines, columns, headers=headers)
    return Export(filename=filename, media_type=EXPORT_FORMATS[fmt], content=content)


#: Column titles that say more than the field name (the moments are UTC).
_EXPORT_HEADERS = {
    "opened_at": "opened_at (UTC)",
    "due_at": "due_at (UTC)",
    "completed_at": "completed_at (UTC)",
}
#: Rows whose item choices and withdrawal scopes are looked up together.
_EXPORT_BATCH = 500


def _item_codes(trial_id: str) -> dict[str, str]:
    """Return the consent items of every form version of the study: id -> code, by code."""
    found: dict[str, str] = {}
    versions = FormVersion._get_collection().find({"trial_id": trial_id}, {"content": True})
    for version in versions:
        for content in version.get("content", {}).values():
            for item in content.get("items", []):
                found.setdefault(item["id"], item.get("code") or item["id"])
    return dict(sorted(found.items(), key=lambda pair: (pair[1], pair[0])))


def _choice_text(values: set[bool]) -> str:
    if values == {True}:
        return "yes"
    if values == {False}:
        return "no"
    return "yes/no"


def _export_lines(
    trial_id: str, rows: Iterator[WorklistRow], items: Mapping[str, str]
) -> Iterator[dict[str, Any]]:
    """Yield each row with its item choices and its participant's withdrawal scopes.

    A choice is what the record's signers chose (the last choice of each):
    ``yes``, ``no``, or ``yes/no`` when they differ; a withdrawal scope column
    says ``yes`` when the participant withdrew that far. Looked up a batch of
    rows at a time, so memory holds one batch.
    """
    events = AuditEvent._get_collection()
    people = Participant._get_collection()
    while batch := list(islice(rows, _EXPORT_BATCH)):
        chosen: dict[str, dict[str, dict[str, bool]]] = defaultdict(dict)
        record_ids = sorted({row.record_id for row in batch})
        pipeline = [
            {"$match": {"record_id": {"$in": record_ids}}},
            # The choices as signed, then each optional choice changed after signing.
            {"$match": {"type": {"$in": ["items.chosen", "items.changed"]}}},
            {"$sort": {"seq": 1}},
            {"$project": {"record_id": True, "payload": True}},
        ]
        for event in events.aggregate(pipeline):
            payload = event["payload"]
            if "changes" in payload:
                mine = chosen[event["record_id"]].get(payload["signer_id"], {})
                chosen[event["record_id"]][payload["signer_id"]] = {**mine, **payload["changes"]}
            else:
                chosen[event["record_id"]][payload["signer_id"]] = payload["choices"]
        codes = sorted({row.participant_code for row in batch})
        scopes = {
            doc["code"]: set(doc.get("withdrawn_scopes") or [])
            for doc in people.find(
                {"trial_id": trial_id, "code": {"$in": codes}},
                {"code": True, "withdrawn_scopes": True},
            )
        }
        for row in batch:
            line = row.as_dict()
            by_signer = chosen.get(row.record_id, {})
            for item_id, code in items.items():
                values = {c[item_id] for c in by_signer.values() if item_id in c}
                line[f"choice:{code}"] = _choice_text(values) if values else None
            withdrawn = scopes.get(row.participant_code, set())
            for scope in WithdrawalScope:
                line[f"withdrawn:{scope.value}"] = "yes" if scope.value in withdrawn else None
            yield line
