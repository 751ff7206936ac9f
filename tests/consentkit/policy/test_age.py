"""Age arithmetic: properties over many dates, plus the leap-day and time-zone edge cases."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consentkit.errors import InvalidDataError
from consentkit.policy.age import age_on, birthday_in_year, date_of_age, local_date

EXAMPLES = settings(max_examples=200, deadline=None)

birth_dates = st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31))
ages = st.integers(min_value=0, max_value=120)


@st.composite
def birth_and_later(draw: st.DrawFn) -> tuple[date, date]:
    birth = draw(birth_dates)
    days = draw(st.integers(min_value=0, max_value=120 * 366))
    return birth, birth + timedelta(days=days)


@EXAMPLES
@given(birth_and_later())
def test_age_on_is_never_negative(case: tuple[date, date]) -> None:
    birth, on = case
    assert age_on(birth, on) >= 0


@EXAMPLES
@given(birth_dates, st.integers(min_value=1, max_value=120))
def test_age_on_increases_by_exactly_one_on_the_birthday(birth: date, age: int) -> None:
    birthday = date_of_age(birth, age)
    assert age_on(birth, birthday - timedelta(days=1)) == age - 1
    assert age_on(birth, birthday) == age


@EXAMPLES
@given(birth_dates, ages)
def test_date_of_age_round_trips_through_age_on(birth: date, age: int) -> None:
    assert age_on(birth, date_of_age(birth, age)) == age


@EXAMPLES
@given(birth_and_later())
def test_age_on_never_decreases_from_one_day_to_the_next(case: tuple[date, date]) -> None:
    birth, on = case
    assert age_on(birth, on + timedelta(days=1)) - age_on(birth, on) in (0, 1)


@EXAMPLES
@given(birth_dates, st.integers(min_value=1, max_value=120))
def test_date_of_age_is_the_birthday_of_that_year(birth: date, age: int) -> None:
    assert date_of_age(birth, age) == birthday_in_year(birth, birth.year + age)


def test_age_on_is_zero_on_the_day_of_birth() -> None:
    assert age_on(date(2020, 5, 17), date(2020, 5, 17)) == 0


def test_age_on_counts_the_birthday_itself() -> None:
    assert age_on(date(2010, 11, 23), date(2026, 11, 23)) == 16


def test_age_on_leap_day_birth_is_still_zero_on_28_february() -> None:
    assert age_on(date(2012, 2, 29), date(2013, 2, 28)) == 0


def test_age_on_leap_day_birth_turns_one_on_1_march() -> None:
    assert age_on(date(2012, 2, 29), date(2013, 3, 1)) == 1


def test_age_on_leap_day_birth_turns_a_year_older_on_29_february_in_leap_years() -> None:
    assert age_on(date(2012, 2, 29), date(2016, 2, 29)) == 4


def test_birthday_in_year_moves_29_february_to_1_march_in_non_leap_years() -> None:
    assert birthday_in_year(date(2012, 2, 29), 2030) == date(2030, 3, 1)


def test_birthday_in_year_keeps_29_february_in_leap_years() -> None:
    assert birthday_in_year(date(2012, 2, 29), 2028) == date(2028, 2, 29)


def test_date_of_age_for_leap_day_birth_is_1_march() -> None:
    assert date_of_age(date(2008, 2, 29), 18) == date(2026, 3, 1)


def test_age_on_rejects_a_birth_date_after_on() -> None:
    with pytest.raises(InvalidDataError) as excinfo:
        age_on(date(2027, 1, 1), date(2026, 12, 31))
    assert "birth_date" in excinfo.value.details["errors"]


def test_age_on_rejects_datetimes() -> None:
    with pytest.raises(InvalidDataError):
        age_on(datetime(2010, 1, 1, tzinfo=UTC), date(2026, 1, 1))


def test_date_of_age_rejects_a_negative_age() -> None:
    with pytest.raises(InvalidDataError):
        date_of_age(date(2010, 1, 1), -1)


def test_local_date_is_already_new_year_in_vilnius_at_2330_utc() -> None:
    moment = datetime(2025, 12, 31, 23, 30, tzinfo=UTC)
    assert local_date(moment, "Europe/Vilnius") == date(2026, 1, 1)


def test_local_date_is_still_old_year_in_lisbon_at_2330_utc() -> None:
    moment = datetime(2025, 12, 31, 23, 30, tzinfo=UTC)
    assert local_date(moment, "Europe/Lisbon") == date(2025, 12, 31)


def test_local_date_decides_the_birthday_in_the_participants_zone() -> None:
    moment = datetime(2025, 12, 31, 23, 30, tzinfo=UTC)
    birth = date(2013, 1, 1)
    assert age_on(birth, moment.date()) == 12
    assert age_on(birth, local_date(moment, "Europe/Vilnius")) == 13


def test_local_date_rejects_a_naive_datetime() -> None:
    with pytest.raises(InvalidDataError):
        local_date(datetime(2025, 12, 31, 23, 30), "Europe/Vilnius")  # noqa: DTZ001


def test_local_date_rejects_an_unknown_time_zone() -> None:
    with pytest.raises(InvalidDataError):
        local_date(datetime(2025, 12, 31, 23, 30, tzinfo=UTC), "Europe/Atlantis")
