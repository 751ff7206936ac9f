"""Which messages a study sends, and when: the per-study trigger settings. Pure, no I/O.

A study switches each trigger on or off and sets its delay in ``study.yaml``::

    settings:
      messages:
        invitation-reminder: {enabled: true, days: 3}
        invitation-staff-alert: {enabled: true, days: 7}
        guardian-turn: {enabled: false}
        reading-reminder: {enabled: true, days: 5}
        competence-reminder: {enabled: true, days: 30}

A reminder *ahead* of a date (``expiry-reminder``, the lifecycle reminders) counts
its days back from that date; the others count forward from what started it.

A trigger the study does not name keeps its default (:data:`DEFAULTS`). The kind
is also the message template (``templates/messages/<kind>.html``).
docs/notifications.md#triggers lists what each one sends and to whom.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
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

    def due_before(self, ends: datetime) -> datetime | None:
        """Return when a reminder ahead of ``ends`` fires (its days before), None when off."""
        if not self.enabled or self.days is None:
            return None
        return ends - timedelta(days=self.days)


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
        # A family member signed a record others still sign: their own copy is ready.
        Trigger("own-copy-ready", True),
        # Site staff answered the family's question.
        Trigger("question-answered", True),
        # A signer started reading a record N days ago and has not signed it.
        Trigger("reading-reminder", True, 5),
        # A record's completion window ends in N days and the signer has not signed.
        Trigger("expiry-reminder", True, 3),
        # Lifecycle, N days before the date (a consent task's due date), to the family and
        # to the site's staff: a new age band (a new assent form) ...
        Trigger("band-change-reminder", True, 14),
        # ... a new role of the child (NL 12, PL 13: the child starts to co-sign) ...
        Trigger("role-change-reminder", True, 14),
        # ... the age of legal competence (the young person's own consent, CTR Art 32(3)).
        Trigger("competence-reminder", True, 30),
        # Each morning, to each site member who has it on: what waits for them.
        Trigger("staff-digest", True),
    )
}

#: Triggers the worker's periodic scan looks for (the others follow an event).
TIME_BASED = (
    "invitation-reminder",
    "invitation-staff-alert",
    "reading-reminder",
    "expiry-reminder",
    "band-change-reminder",
    "role-change-reminder",
    "competence-reminder",
)

#: The lifecycle reminder of each consent task reason (``ConsentTask.reason``).
LIFECYCLE = {
    "age-band": "band-change-reminder",
    "minor-role": "role-change-reminder",
    "competence-age": "competence-reminder",
}


def trigger(settings: Mapping[str, Any] | None, kind: str) -> Trigger:
    """Return the study's setting for ``kind`` (``settings`` is ``Study.settings``).

    Raises:
        KeyError: ``kind`` is not a trigger.
    """
    default = DEFAULTS[kind]
    given = ((settings or {}).get("messages") or {}).get(kind) or {}
    # The authoring schema stores ``days: None`` for a trigger named without days: the default.
    days = given.get("days")
    days = default.days if days is None else days
    return Trigger(
        kind,
        bool(given.get("enabled", default.enabled)),
        None if days is None else int(days),
    )


def reminds_family(withdrawn_scopes: Collection[str]) -> bool:
    """Whether reminders about the family's next step may still be queued at all.

    Not once the participant withdrew entirely (``full``): their participation ended
    and nothing is asked of them again. A withdrawal of contact only is left to the
    rules of contact at send time (:func:`consentkit.policy.contact.decide` skips
    every message but the essential ones), so the family's timeline says why.
    """
    return "full" not in withdrawn_scopes
