"""The single time seam: every "now" in consentkit comes from here.

Services take an explicit ``now``/``on`` where the answer depends on time, and
default to these functions, so tests never need to freeze the clock.
"""

from __future__ import annotations

from datetime import UTC, date, datetime


def now_utc() -> datetime:
    """Return the current time as an aware UTC datetime (millisecond precision).

    MongoDB stores milliseconds; truncating here keeps what we hash equal to
    what we read back.
    """
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def aware_utc(moment: datetime) -> datetime:
    """Return a stored time as aware UTC: a naive one is UTC (a raw driver read gives it so)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def today_utc() -> date:
    """Return today's date in UTC (policy code should prefer the participant's local date)."""
    return now_utc().date()
