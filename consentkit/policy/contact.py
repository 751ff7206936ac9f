"""Rules of contact: whether, when and how a message may reach a family. Pure, no I/O.

Decided at send time (not when the message is queued), so a family who withdrew
contact or unsubscribed yesterday is not reached by a message queued last week.

- ``no-contact``: a withdrawal of contact (``no-further-contact``, ``routine-data-only``)
  stops every message except the essential ones the law requires, such as the
  confirmation of that very withdrawal (GDPR Art 7(3), CTR Art 28(3); docs/notifications.md).
- unsubscribed: the family switched off non-essential messages in one tap.
- quiet hours in the site's time zone: the message is deferred to their end, never dropped.
- a frequency cap on non-essential messages per recipient per rolling day: deferred.
- channel: the one the message names, else the signer's preferred one, else the first
  the signer can be reached by.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

#: Channels in the order tried when the signer expressed no preference.
CHANNEL_ORDER = ("push", "email", "sms", "app")

SEND = "send"
DEFER = "defer"
SKIP = "skip"


@dataclass(frozen=True)
class QuietHours:
    """Local hours when no message goes out; ``start > end`` spans midnight (21:00-08:00)."""

    start: time
    end: time

    def contains(self, local: time) -> bool:
        """Return True when ``local`` falls within the quiet hours."""
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end


@dataclass(frozen=True)
class Recipient:
    """What the rules need to know about the recipient at send time."""

    reachable_by: tuple[str, ...]
    preferred_channel: str | None = None
    contact_withdrawn: bool = False
    unsubscribed: bool = False
    timezone: str = "UTC"


@dataclass(frozen=True)
class Decision:
    """``send`` by ``channel``, ``defer`` until ``until``, or ``skip``; ``reason`` says why."""

    action: str
    channel: str | None = None
    until: datetime | None = None
    reason: str | None = None


def _quiet_end(now: datetime, zone: ZoneInfo, quiet: QuietHours) -> datetime:
    local = now.astimezone(zone)
    end = local.replace(hour=quiet.end.hour, minute=quiet.end.minute, second=0, microsecond=0)
    if end <= local:
        end += timedelta(days=1)
    # Re-attach the zone so a change of clocks in between is taken into account.
    return end.replace(tzinfo=zone).astimezone(now.tzinfo)


def decide(
    *,
    recipient: Recipient,
    is_essential: bool,
    channel: str | None,
    now: datetime,
    quiet: QuietHours | None,
    sent_last_day: int,
    daily_cap: int,
) -> Decision:
    """Return what to do with one message now.

    ``sent_last_day`` counts the non-essential messages sent to this recipient
    in the 24 hours before ``now``. Essential messages ignore quiet hours and
    the cap as well: a confirmation the law requires is sent at once.
    """
    if recipient.contact_withdrawn and not is_essential:
        return Decision(SKIP, reason="no-contact")
    if recipient.unsubscribed and not is_essential:
        return Decision(SKIP, reason="unsubscribed")
    chosen = _channel(recipient, channel)
    if chosen is None:
        return Decision(SKIP, reason="no-channel")
    if not is_essential:
        if quiet is not None:
            zone = ZoneInfo(recipient.timezone)
            if quiet.contains(now.astimezone(zone).time()):
                return Decision(
                    DEFER, channel=chosen, until=_quiet_end(now, zone, quiet), reason="quiet-hours"
                )
        if sent_last_day >= daily_cap:
            return Decision(
                DEFER, channel=chosen, until=now + timedelta(hours=24), reason="frequency-cap"
            )
    return Decision(SEND, channel=chosen)


def _channel(recipient: Recipient, named: str | None) -> str | None:
    if named is not None:
        return named if named in recipient.reachable_by else None
    if recipient.preferred_channel in recipient.reachable_by:
        return recipient.preferred_channel
    for candidate in CHANNEL_ORDER:
        if candidate in recipient.reachable_by:
            return candidate
    return None


def backoff_s(attempts: int, *, base_s: float, cap_s: float, jitter: float) -> float:
    """Return the wait before retry number ``attempts`` (1-based): exponential, capped, jittered.

    ``jitter`` in [0, 1) is drawn by the caller (pure function): the wait is
    between half and all of ``base_s * 2**(attempts-1)`` ("equal jitter"), so
    workers retrying a gateway that came back do not all hit it at once.
    """
    full = float(min(cap_s, base_s * 2.0 ** max(attempts - 1, 0)))
    return full / 2 + full / 2 * jitter
