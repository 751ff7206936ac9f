"""Service results are typed: the declared shapes match what the services return (real db).

Callers (the API, the pages, the CLI, other systems) read these results by
attribute or key; a declared type that drifts from the value returned would let
mypy pass code that fails at run time.
"""

from __future__ import annotations

from datetime import timedelta
from typing import get_type_hints

from consentkit.policy.records import RecordStatus
from consentkit.services import records
from tests.consentkit.records_helpers import STAFF, T0, make_family


def test_profile_keys_are_exactly_the_declared_participation_profile(demo_study: object) -> None:
    family = make_family()
    records.open_record(family.participant, form_id="parental-consent", actor=STAFF, now=T0)

    profile = records.profile(family.participant, at=T0 + timedelta(days=1))

    assert set(profile) == set(get_type_hints(records.ParticipationProfile))
    assert set(profile["permissions"]) == set(get_type_hints(records.Permissions))


def test_record_statuses_returns_record_status_values(demo_study: object) -> None:
    family = make_family()
    opened = records.open_record(
        family.participant, form_id="parental-consent", actor=STAFF, now=T0
    )

    [status] = records.record_statuses(family.participant, at=T0)

    assert isinstance(status, RecordStatus)
    assert status.record_id == opened.record_id
