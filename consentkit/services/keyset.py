"""Keyset (cursor) pagination of a newest-first list of records.

A list is ordered by ``(opened_at, _id)`` descending: newest first, ties broken
by the document id, so the order is total and a row inserted while someone
pages neither shifts a page nor repeats a row. A page hands back an opaque
cursor, the URL-safe base64 of the last row's key; the next page is the rows
strictly after it. A cursor that does not decode to such a key is
``bad-cursor`` (422), whatever was done to it.

The embedded database (SecantusDB) fetches and decodes every document an
index lookup matches before it sorts or applies a limit, so "sort, then limit"
costs the whole filtered set. A page is therefore read in time windows of
``opened_at``, newest first: each window is one lookup on an index whose
leading fields are the filter's equality fields followed by ``opened_at``
(``consentkit.models.audit.ConsentRecord``), and windows are added until the
page is full. A window that finds little grows, one that finds much does not,
and no window grows much past the span in which the expected number of matches
(from the dashboard counters) would fill one page, so a dense stretch after an
empty one costs about a page, not the whole stretch (the cap loosens after
many empty windows, so the empty years before a study began cost a few dozen
lookups). On MongoDB the same lookups are plain index range scans.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId

from consentkit.errors import InvalidDataError

__all__ = ["EARLIEST", "Key", "Page", "decode_cursor", "encode_cursor", "key_of", "newest_first"]

#: Before any record: the lower bound of the last window.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
_FIRST_WINDOW = timedelta(days=1)
_MIN_CAP = timedelta(days=1)
#: The span the cap assumes the expected matches are spread over (a two-year study).
_ASSUMED_SPAN = timedelta(days=730)
#: After this many empty windows in a row the cap loosens (by half per window), so a filter
#: the counters overestimate (nothing matches) ends in a few dozen lookups.
_EMPTY_BEFORE_LOOSENING = 16
#: Below this many expected matches (times the page size) one lookup reads them all.
_SMALL = 5
#: A window reaching further back than this reads everything older in one lookup.
_LONGEST = timedelta(days=100 * 365)


@dataclass(frozen=True, order=True)
class Key:
    """Where a row stands in a newest-first list: when its record opened, then its id."""

    opened_at: datetime
    id: ObjectId


@dataclass(frozen=True)
class Page:
    """The documents of one page and the cursor of the next (None on the last page)."""

    docs: list[Mapping[str, Any]]
    next_cursor: str | None


def key_of(doc: Mapping[str, Any]) -> Key:
    """Return the list key of a document (``opened_at`` as aware UTC and ``_id``)."""
    opened: datetime = doc["opened_at"]
    if opened.tzinfo is None:
        opened = opened.replace(tzinfo=UTC)
    return Key(opened, doc["_id"])


def encode_cursor(key: Key) -> str:
    """Return the opaque cursor of ``key`` (URL-safe base64, no padding)."""
    stamp = key.opened_at.astimezone(UTC).isoformat(timespec="microseconds")
    raw = f"{stamp}|{key.id}".encode("ascii")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str) -> Key:
    """Return the key a cursor stands for.

    Raises:
        InvalidDataError: ``bad-cursor``, for anything :func:`encode_cursor` did not make.
    """
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        stamp, _, oid = (
            base64.urlsafe_b64decode(padded.encode("ascii")).decode("ascii").partition("|")
        )
        opened = datetime.fromisoformat(stamp)
        if opened.tzinfo is None or len(cursor) > 200:
            raise ValueError(cursor)
        return Key(opened.astimezone(UTC), ObjectId(oid))
    except (ValueError, UnicodeError, binascii.Error, InvalidId, TypeError):
        raise InvalidDataError(
            "This list position is not one the server gave out; start from the first page.",
            code="bad-cursor",
        ) from None


def _sorted_after(docs: Iterable[Mapping[str, Any]], after: Key | None) -> list[Mapping[str, Any]]:
    rows = [d for d in docs if after is None or key_of(d) < after]
    rows.sort(key=key_of, reverse=True)
    return rows


def page_of(docs: Iterable[Mapping[str, Any]], *, after: Key | None, size: int) -> Page:
    """Return one newest-first page of documents already in memory (a short list)."""
    rows = _sorted_after(docs, after)
    return _page(rows, size)


def _page(rows: list[Mapping[str, Any]], size: int) -> Page:
    if len(rows) > size:
        return Page(rows[:size], encode_cursor(key_of(rows[size - 1])))
    return Page(rows, None)


def newest_first(
    fetch: Callable[[dict[str, Any]], Iterable[Mapping[str, Any]]],
    *,
    after: Key | None,
    size: int,
    expected: int | None,
    start: datetime,
    newest: datetime | None = None,
    oldest: datetime | None = None,
) -> Page:
    """Return one page of a newest-first list, read window by window.

    ``fetch(opened_range)`` returns the matching documents whose ``opened_at``
    lies in ``opened_range`` (a ``{"$gte", "$lt"/"$lte"}`` condition), each with
    ``opened_at`` and ``_id``. ``expected`` is an upper bound of how many
    documents match in all (None if unknown), ``start`` a moment at or after
    which few records open (now): the first window ends there but takes
    everything newer too. ``newest`` and ``oldest``, when known, bound the
    opening times of every matching document (from the counters): the walk
    starts at ``newest`` (empty windows before it cost a lookup each, and a
    window grown long over them may land on thousands of records) and its last
    window reaches ``oldest``.
    """
    if expected == 0:
        return Page([], None)
    wanted = size + 1
    if expected is not None and expected <= _SMALL * wanted:
        upper: dict[str, Any] = {} if after is None else {"$lte": after.opened_at}
        return _page(_sorted_after(fetch({"$gte": EARLIEST, **upper}), after), size)
    cap = _MIN_CAP
    if expected is not None:
        cap = max(cap, _ASSUMED_SPAN * wanted / expected)
    rows: list[Mapping[str, Any]] = []
    window = _FIRST_WINDOW
    top = after.opened_at if after is not None else start
    bound: dict[str, Any] = {"$lte": top} if after is not None else {}
    if newest is not None and newest < top:
        top, bound = newest, {"$lte": newest}
    reached = timedelta(0)
    empty = 0
    while len(rows) < wanted:
        low = EARLIEST if reached + window >= _LONGEST else top - window
        if oldest is not None and low <= oldest:
            low = EARLIEST  # nothing matching opened before ``oldest``: the last window
        found = _sorted_after(fetch({"$gte": low, **bound}), after)
        rows.extend(found)
        if low == EARLIEST:
            break
        reached += window
        top, bound = low, {"$lt": low}
        empty = 0 if found else empty + 1
        if empty > _EMPTY_BEFORE_LOOSENING:
            # A long empty stretch (the years before the study, or a filter the counters
            # overestimate) is crossed in ever longer steps.
            cap *= 1.5
        if len(found) * 4 < wanted:
            window = min(window * 2, cap)
    return _page(rows, size)
