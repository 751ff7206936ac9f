"""Exact age arithmetic on calendar dates.

Ages decide who signs (CTR Art 32 and the national competence ages in
docs/regulatory-basis.md#jurisdiction-rule-pack), so they are computed on whole calendar
dates, never by dividing day counts by 365.25, and on the participant's *local* date: a child in
Vilnius turns 12 at local midnight, which may still be the previous day in UTC.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from consentkit.errors import InvalidDataError

__all__ = ["age_on", "birthday_in_year", "date_of_age", "local_date"]


def _invalid(field: str, message: str) -> InvalidDataError:
    return InvalidDataError(message, details={"errors": {field: [message]}})


def birthday_in_year(birth_date: date, year: int) -> date:
    """Return the date on which someone born on ``birth_date`` has their birthday in ``year``.

    People born on 29 February have their birthday on 1 March in non-leap years.
    Of the two candidates (28 Feb or 1 Mar) 1 March is the later one, so a
    leap-day child gains legal competence, and with it the right to consent
    alone, one day later rather than one day too early: the conservative choice,
    since CTR Art 32(3) (docs/regulatory-basis.md#ctr-art-32) lets the participant's own
    consent replace the guardians' only once competence is reached. STYLE.md
    names Sage BridgeServer2's 29-February age edge case as the anchor for
    deciding this explicitly and testing it: "add N years" helpers disagree
    (java.time's ``LocalDate.plusYears`` clamps 29 Feb to 28 Feb, the early date).

    Raises:
        InvalidDataError: if ``year`` is outside the range :class:`datetime.date` supports.

    """
    if not 1 <= year <= 9999:
        raise _invalid("year", f"year {year} is outside the supported range 1-9999")
    if birth_date.month == 2 and birth_date.day == 29 and not calendar.isleap(year):
        return date(year, 3, 1)
    return birth_date.replace(year=year)


def age_on(birth_date: date, on: date) -> int:
    """Return the age in completed years of someone born on ``birth_date``, on the date ``on``.

    Pass the participant's local date (see :func:`local_date`), not a UTC date.

    Raises:
        InvalidDataError: if ``birth_date`` is after ``on`` (a future birth date is
            a data-entry error, never an age of zero).

    """
    if isinstance(birth_date, datetime) or isinstance(on, datetime):
        # datetime is a subclass of date; comparing it with a date raises TypeError
        # deep in the arithmetic, and a time of day has no place in an age.
        raise _invalid("birth_date", "birth_date and on must be dates, not datetimes")
    if birth_date > on:
        raise _invalid(
            "birth_date",
            f"birth date {birth_date.isoformat()} is after {on.isoformat()}",
        )
    years = on.year - birth_date.year
    if on < birthday_in_year(birth_date, on.year):
        years -= 1
    return years


def date_of_age(birth_date: date, age: int) -> date:
    """Return the first date on which someone born on ``birth_date`` is ``age`` years old.

    The competence-age scheduler (docs/regulatory-basis.md#checklist-14) uses this
    to know the day own consent becomes due.

    Raises:
        InvalidDataError: if ``age`` is negative or the date would be past year 9999.

    """
    if isinstance(age, bool) or age < 0:
        raise _invalid("age", f"age must be a non-negative integer, got {age!r}")
    return birthday_in_year(birth_date, birth_date.year + age)


def local_date(moment: datetime, tz: str) -> date:
    """Return the calendar date of ``moment`` in the IANA time zone ``tz``.

    Ages are computed on the participant's local date, because national law
    counts birthdays in local time.

    Raises:
        InvalidDataError: if ``moment`` is naive (its instant is unknown) or ``tz``
            is not a known IANA time-zone name.

    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise _invalid("moment", "moment must be timezone-aware (consentkit uses aware UTC)")
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise _invalid("tz", f"unknown time zone {tz!r}") from exc
    return moment.astimezone(zone).date()
