"""The newest-first windows of consentkit.services.keyset, over documents in memory.

The windows are what make a page cheap on the embedded database; whatever the
spread of the rows (clusters, years without any, ties), paging by cursor must
return every row once, in order. The database-backed paging is tested in
test_dashboard.py.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from bson import ObjectId

from consentkit.errors import InvalidDataError
from consentkit.services import keyset

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def _docs(seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    docs = []
    # A dense year long ago, a quiet stretch, a burst of ties, a trickle up to now.
    for _ in range(600):
        docs.append(NOW - timedelta(days=400 + rng.uniform(0, 365)))
    for _ in range(40):
        docs.append(NOW - timedelta(days=60))
    for _ in range(30):
        docs.append(NOW - timedelta(days=rng.uniform(0, 20)))
    return [{"_id": ObjectId(), "opened_at": at} for at in docs]


def _in(doc: Mapping[str, Any], opened: Mapping[str, datetime]) -> bool:
    at = doc["opened_at"]
    return (
        at >= opened["$gte"]
        and ("$lt" not in opened or at < opened["$lt"])
        and ("$lte" not in opened or at <= opened["$lte"])
    )


@pytest.mark.parametrize("size", [1, 7, 50, 500])
@pytest.mark.parametrize("expected", [None, 670, 100_000])
def test_newest_first_walks_every_row_once_in_order(size: int, expected: int | None) -> None:
    docs = _docs(size)
    reads: list[int] = []

    def fetch(opened: dict[str, Any]) -> list[dict[str, Any]]:
        found = [d for d in docs if _in(d, opened)]
        reads.append(len(found))
        return found

    walked: list[Any] = []
    cursor = None
    while True:
        after = keyset.decode_cursor(cursor) if cursor else None
        page = keyset.newest_first(fetch, after=after, size=size, expected=expected, start=NOW)
        assert len(page.docs) <= size
        walked += [d["_id"] for d in page.docs]
        cursor = page.next_cursor
        if cursor is None:
            break

    ordered = sorted(docs, key=keyset.key_of, reverse=True)
    assert walked == [d["_id"] for d in ordered]


def test_newest_first_reads_about_a_page_after_a_long_empty_stretch() -> None:
    docs = _docs(3)
    reads: list[int] = []

    def fetch(opened: dict[str, Any]) -> list[dict[str, Any]]:
        found = [d for d in docs if _in(d, opened)]
        reads.append(len(found))
        return found

    recent = keyset.newest_first(fetch, after=None, size=70, expected=670, start=NOW)
    # The page past the ties reaches the dense year after 340 empty days.
    reads.clear()
    keyset.newest_first(
        fetch, after=keyset.key_of(recent.docs[-1]), size=50, expected=670, start=NOW
    )
    assert sum(reads) < 4 * 51, reads


def test_newest_first_with_the_counters_bounds_gives_the_same_pages_in_few_reads() -> None:
    # A list whose records all opened long ago (the superseded ones: before the new version):
    # the counters say when the latest of them opened, and when the first record did.
    docs = [d for d in _docs(5) if d["opened_at"] < NOW - timedelta(days=399)]
    newest = max(d["opened_at"] for d in docs)
    oldest = min(d["opened_at"] for d in docs)
    calls: list[int] = []

    def fetch(opened: dict[str, Any]) -> list[dict[str, Any]]:
        found = [d for d in docs if _in(d, opened)]
        calls.append(len(found))
        return found

    def walk(**bounds: Any) -> tuple[list[Any], int]:
        calls.clear()
        walked: list[Any] = []
        after = None
        while True:
            page = keyset.newest_first(
                fetch, after=after, size=50, expected=len(docs), start=NOW, **bounds
            )
            walked += [d["_id"] for d in page.docs]
            if page.next_cursor is None:
                return walked, len(calls)
            after = keyset.decode_cursor(page.next_cursor)

    unbounded, reads_unbounded = walk()
    bounded, reads_bounded = walk(newest=newest, oldest=oldest)
    calls.clear()
    keyset.newest_first(
        fetch, after=None, size=50, expected=len(docs), start=NOW, newest=newest, oldest=oldest
    )

    assert bounded == unbounded == [d["_id"] for d in sorted(docs, key=keyset.key_of)][::-1]
    # The first page starts where the records are: no empty windows over the 400 days since.
    assert 0 not in calls, calls
    assert reads_bounded < reads_unbounded


def test_cursor_round_trips_and_garbage_is_refused() -> None:
    key = keyset.Key(NOW, ObjectId())

    assert keyset.decode_cursor(keyset.encode_cursor(key)) == key
    for bad in ("x", "%%%", keyset.encode_cursor(key)[:-3], "A" * 300):
        with pytest.raises(InvalidDataError) as refused:
            keyset.decode_cursor(bad)
        assert refused.value.code == "bad-cursor"
