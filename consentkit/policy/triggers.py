"""Which messages a study sends, and when: the per-study trigger settings. Pure, no I/O.

A study switches each trigger on or off and sets its delay in ``study.yaml``::

    settings:
      messages:
        invitation-reminder: {enabled: true, days: 3}
        invitation-staff-alert: {enabled: true, days: 7}
        guardian-turn: {enabled: false}

A trigger the study does not name keeps its default (:data:`DEFAULTS`). The kind
is also the message template (``templates/messages/<kind>.html``).
docs/notifications.md#triggers lists what each one sends and to whom.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any


@dataclass(frozen=True)
class Trigger:
    """One trigger of one study: on or off, and for a time-based one its delay in days."""

    kind: str
    enabled: bool
    days: int | None = None

    def due_after(self, since: datetime) -> datetime | None:
        """Return when a time-based trigger fires for something that began at ``since``."""
        if not self.enabled or self.days is None:
            return None
        return since + timedelta(days=self.days)


#: Every trigger and its default: time-based ones have a delay in days.
DEFAULTS: Mapping[str, Trigger] = {
    t.kind: t
    for t in (
        # The family has not used their invitation code after N days.
        Trigger("invitation-reminder", True, 3),
        # ... and after M days the site staff are told, to call them.
        Trigger("invitation-staff-alert", True, 7),
        # One guardian has signed a record; the other still has to.
        Trigger("guardian-turn", True),
        # A major version needs the family's new consent (a re-consent task).
        Trigger("reconsent-needed", True),
        # A minor version: updated information, no signature.
        Trigger("information-updated", True),
        # The sealed copy of a completed consent is ready for the family.
        Trigger("copy-ready", True),
        # Site staff answered the family's question.
        Trigger("question-answered", True),
    )
}

#: Triggers the worker's periodic scan looks for (the others follow an event).
TIME_BASED = ("invitation-reminder", "invitation-staff-alert")


def trigger(settings: Mapping[str, Any] | None, kind: str) -> Trigger:
    """Return the study's setting for ``kind`` (``settings`` is ``Study.settings``).

    Raises:
        KeyError: ``kind`` is not a trigger.
    """
    default = DEFAULTS[kind]
    given = ((settings or {}).get("messages") or {}).get(kind) or {}
    days = given.get("days", default.days)
    return Trigger(
        kind,
        bool(given.get("enabled", default.enabled)),
        None if days is None else int(days),
    )
