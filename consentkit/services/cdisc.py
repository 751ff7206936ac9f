"""CDISC export of a study: SDTM DS-style consent milestones and RFICDTC, as CSV or SAS XPT.

Reads each participant's audit trail (in batches) and the roles of who
expressed each withdrawal; the columns and their values are
:mod:`consentkit.interop.cdisc` (docs/cdisc.md). XPT is SAS transport version
5, written by ``pyreadstat.write_xport`` (what regulators' submission tools read).
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyreadstat

from consentkit.clock import now_utc
from consentkit.errors import InvalidDataError
from consentkit.interop.cdisc import (
    DM_COLUMNS,
    DS_COLUMNS,
    Milestone,
    Subject,
    Withdrawal,
    dm_row,
    ds_rows,
)
from consentkit.models.participant import Participant, Signer
from consentkit.policy.age import local_date
from consentkit.policy.records import participant_records
from consentkit.services import audit
from consentkit.services.dashboard import Export, safe_filename

DATASETS: dict[str, tuple[tuple[str, str, str], ...]] = {"ds": DS_COLUMNS, "dm": DM_COLUMNS}
FORMATS = ("csv", "xpt")
#: Participants whose chains one read brings.
BATCH = 25


def _subject(
    participant: Participant, events: list[audit.ChainEvent], roles: dict[str, str], at: datetime
) -> Subject:
    milestones = [
        Milestone(
            r.form_id, r.form_kind, r.version, local_date(r.completed_at, participant.timezone)
        )
        for r in participant_records(events, at=at)
        if r.completed_at is not None
    ]
    withdrawals = []
    for event in events:
        if event["type"] != "withdrawal.recorded":
            continue
        actor = event["actor"] or {}
        role = roles.get(str(event["payload"].get("expressed_by")))
        if role is None and actor.get("kind") == "signer":
            role = actor.get("role")
        withdrawals.append(
            Withdrawal(
                local_date(event["at"], participant.timezone),
                list(event["payload"].get("scopes") or []),
                role,
            )
        )
    return Subject(
        participant.trial_id, participant.code, participant.site_code, milestones, withdrawals
    )


def subjects(
    trial_id: str, *, sites: frozenset[str] | None = None, at: datetime | None = None
) -> Iterator[Subject]:
    """Yield every participant of the study (at ``sites``; None: all) as a :class:`Subject`."""
    at = at or now_utc()
    query = Participant.objects(trial_id=trial_id)
    if sites is not None:
        query = query(site_code__in=sorted(sites))
    batch: list[Participant] = []
    for participant in query.order_by("code").no_cache():
        batch.append(participant)
        if len(batch) >= BATCH:
            yield from _batch(batch, at)
            batch = []
    yield from _batch(batch, at)


def _batch(batch: list[Participant], at: datetime) -> Iterator[Subject]:
    if not batch:
        return
    ids = [str(p.id) for p in batch]
    chains = audit.chains_dicts(ids)
    roles = {str(s.id): s.role for s in Signer.objects(participant_id__in=ids).only("id", "role")}
    for participant in batch:
        yield _subject(participant, chains[str(participant.id)], roles, at)


def rows(
    trial_id: str, dataset: str, *, sites: frozenset[str] | None = None, at: datetime | None = None
) -> list[dict[str, Any]]:
    """Return the rows of ``ds`` (milestones) or ``dm`` (RFICDTC per subject).

    Raises:
        InvalidDataError: ``unknown-cdisc-dataset``.
    """
    _columns(dataset)
    found: list[dict[str, Any]] = []
    for subject in subjects(trial_id, sites=sites, at=at):
        if dataset == "ds":
            found.extend(ds_rows(subject))
        else:
            found.append(dm_row(subject))
    return found


def _columns(dataset: str) -> tuple[tuple[str, str, str], ...]:
    if dataset not in DATASETS:
        raise InvalidDataError(
            "Unknown dataset %(dataset)s.",
            code="unknown-cdisc-dataset",
            params={"dataset": dataset},
        )
    return DATASETS[dataset]


def to_csv(dataset: str, found: Sequence[dict[str, Any]]) -> bytes:
    """Return the rows as CSV (UTF-8, a header of the variable names)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=[c[0] for c in _columns(dataset)], lineterminator="\n")
    writer.writeheader()
    writer.writerows(found)
    return out.getvalue().encode("utf-8")


def to_xpt(dataset: str, found: Sequence[dict[str, Any]]) -> bytes:
    """Return the rows as a SAS transport (XPT version 5) file with the variable labels."""
    columns = _columns(dataset)
    frame = pd.DataFrame(
        {
            name: pd.Series(
                [row[name] for row in found], dtype="int64" if kind == "int" else "object"
            )
            for name, _label, kind in columns
        }
    )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{dataset}.xpt"
        pyreadstat.write_xport(
            frame,
            str(path),
            file_label=f"{dataset.upper()} consent milestones",
            column_labels=[label for _name, label, _kind in columns],
            table_name=dataset.upper(),
            file_format_version=5,
        )
        return path.read_bytes()


MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "xpt": "application/x-sas-xport"}


def export(
    trial_id: str,
    dataset: str,
    fmt: str,
    *,
    sites: frozenset[str] | None = None,
    at: datetime | None = None,
) -> Export:
    """Return ``dataset`` (``ds`` or ``dm``) of the study as a ``csv`` or ``xpt`` download.

    Raises:
        InvalidDataError: ``unknown-cdisc-dataset`` or ``unknown-export-format``.
    """
    if fmt not in FORMATS:
        raise InvalidDataError(
            "Unknown format %(format)s.", code="unknown-export-format", params={"format": fmt}
        )
    at = at or now_utc()
    found = rows(trial_id, dataset, sites=sites, at=at)
    content = to_csv(dataset, found) if fmt == "csv" else to_xpt(dataset, found)
    stamp = at.astimezone(UTC).strftime("%Y%m%d-%H%M")
    return Export(safe_filename(f"{trial_id}-{dataset}-{stamp}.{fmt}"), MEDIA_TYPES[fmt], content)
