"""Count the database commands a piece of code issues (pymongo command monitoring).

A count is deterministic where a time is not: tests assert how many commands a
signature costs, so a change that adds a read or a write to the write path fails
a test instead of slowing production quietly. The listener is registered once,
before the suite's client is created (``tests/conftest.py``), and counts only
inside :func:`counting`.
"""

from __future__ import annotations

import contextlib
import threading
from collections import Counter
from collections.abc import Iterator

from pymongo import monitoring

#: Commands that are the driver's own housekeeping, not the code's work.
_HOUSEKEEPING = frozenset({"hello", "ismaster", "isMaster", "ping", "endSessions", "killCursors"})

#: Operators that, at the top of a filter, make the embedded database examine every document
#: of the collection, even beside an ``_id`` (an append's head seal took 173 ms at 20,000
#: participants that way, against 1 ms by ``_id`` alone).
_UNROUTED = frozenset({"$or", "$and", "$nor"})


def _filters(event: monitoring.CommandStartedEvent) -> list[object]:
    """Return the filters a command selects documents by (none for an insert)."""
    command = event.command
    name = event.command_name
    if name in ("find", "count", "distinct"):
        return [command.get("filter") or command.get("query")]
    if name == "update":
        return [spec.get("q") for spec in command.get("updates", ())]
    if name == "delete":
        return [spec.get("q") for spec in command.get("deletes", ())]
    if name == "findAndModify":
        return [command.get("query")]
    return []


class CommandCounter(monitoring.CommandListener):
    """Counts started commands by name and collection (``find audit_events``).

    Only while a :func:`counting` block is open; from every thread (a request's
    work is counted whole). A command whose filter has a top-level ``$or``,
    ``$and`` or ``$nor`` is also counted as ``unrouted <name> <collection>``: it
    costs a read of the whole collection on the embedded database, so an exact
    count in a test fails on it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active: list[Counter[str]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name in _HOUSEKEEPING:
            return
        target = event.command.get(event.command_name)
        name = f"{event.command_name} {target}" if isinstance(target, str) else event.command_name
        unrouted = sum(
            1
            for query in _filters(event)
            if isinstance(query, dict) and _UNROUTED.intersection(query)
        )
        with self._lock:
            for counts in self._active:
                counts[name] += 1
                if unrouted:
                    counts[f"unrouted {name}"] += unrouted

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        return None

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        return None

    @contextlib.contextmanager
    def counting(self) -> Iterator[Counter[str]]:
        """Yield a Counter of the commands issued until the block ends."""
        counts: Counter[str] = Counter()
        with self._lock:
            self._active.append(counts)
        try:
            yield counts
        finally:
            with self._lock:
                self._active.remove(counts)


COUNTER = CommandCounter()
counting = COUNTER.counting
