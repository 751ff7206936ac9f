"""Which version of a form is in force on a date, and which state a reviewer sees for each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest

from consentkit.policy.versions import display_status, version_in_force


@dataclass(frozen=True)
class Version:
    version: int
    status: str
    effective_from: date | None


V1 = Version(1, "published", date(2025, 3, 1))
V2 = Version(2, "published", date(2025, 10, 1))
V3_FUTURE = Version(3, "published", date(2027, 1, 1))


@pytest.mark.parametrize(
    ("on", "expected"),
    [
        (date(2025, 3, 1), V1),
        (date(2025, 9, 30), V1),
        (date(2025, 10, 1), V2),
        (date(2026, 11, 24), V2),
    ],
)
def test_version_in_force_is_the_latest_effective_published(on: date, expected: Version) -> None:
    assert version_in_force([V1, V2], on) == expected


def test_version_in_force_does_not_depend_on_list_order() -> None:
    assert version_in_force([V2, V1], date(2026, 1, 1)) == V2


def test_version_in_force_is_none_before_the_first_takes_effect() -> None:
    assert version_in_force([V1, V2], date(2025, 2, 28)) is None


def test_version_in_force_future_version_leaves_the_previous_one_in_force() -> None:
    assert version_in_force([V1, V2, V3_FUTURE], date(2026, 12, 31)) == V2


def test_version_in_force_future_version_takes_over_on_its_effective_date() -> None:
    assert version_in_force([V1, V2, V3_FUTURE], date(2027, 1, 1)) == V3_FUTURE


@pytest.mark.parametrize("status", ["draft", "approved", "retired"])
def test_version_in_force_never_picks_an_unpublished_or_retired_version(status: str) -> None:
    newer = Version(3, status, date(2026, 1, 1))

    assert version_in_force([V1, V2, newer], date(2026, 6, 1)) == V2


def test_version_in_force_is_none_when_every_version_is_retired_or_draft() -> None:
    versions = [Version(1, "retired", date(2025, 3, 1)), Version(2, "draft", date(2025, 10, 1))]

    assert version_in_force(versions, date(2026, 6, 1)) is None


def test_version_in_force_ignores_a_published_version_without_effective_date() -> None:
    undated = Version(3, "published", None)

    assert version_in_force([V1, V2, undated], date(2026, 6, 1)) == V2


def test_display_status_future_effective_version_is_scheduled() -> None:
    assert display_status(V3_FUTURE, [V1, V2, V3_FUTURE], date(2026, 12, 31)) == "scheduled"


def test_display_status_version_in_force_is_published_while_a_successor_is_scheduled() -> None:
    assert display_status(V2, [V1, V2, V3_FUTURE], date(2026, 12, 31)) == "published"


@pytest.mark.parametrize(
    ("version", "on", "expected"),
    [
        (V1, date(2025, 9, 30), "published"),
        (V1, date(2025, 10, 1), "superseded"),
        (V2, date(2025, 9, 30), "scheduled"),
        (V2, date(2025, 10, 1), "published"),
    ],
)
def test_display_status_superseded_is_derived_from_the_date(
    version: Version, on: date, expected: str
) -> None:
    assert display_status(version, [V1, V2], on) == expected


def test_display_status_stays_published_when_the_successor_is_retired() -> None:
    retired = Version(2, "retired", date(2025, 10, 1))

    assert display_status(V1, [V1, retired], date(2026, 6, 1)) == "published"


@pytest.mark.parametrize("status", ["draft", "approved", "retired"])
def test_display_status_shows_unpublished_states_as_stored(status: str) -> None:
    version = Version(3, status, date(2025, 1, 1))

    assert display_status(version, [V1, V2, version], date(2026, 6, 1)) == status
