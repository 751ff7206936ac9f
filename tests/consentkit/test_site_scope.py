"""Rules every face asks in one place: a read's sites, the day at a site, an invitation's state."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from consentkit.errors import NotFoundError, PermissionDeniedError
from consentkit.models.staff import StaffSession
from consentkit.policy.roles import Action, Grant, StaffRole
from consentkit.services import forms
from consentkit.services import staff as staff_service
from consentkit.services.access import InvitationState, invitation_state

TRIAL = "DEMO-NBL-1"
NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def _signed(*grants: Grant) -> staff_service.Signed:
    staff, _token = staff_service.create_staff(
        email=f"m{len(grants)}@example.org", name="Member", grants=list(grants)
    )
    return staff_service.Signed(session=StaffSession(), staff=staff)


def test_site_filter_is_every_site_for_a_study_wide_grant(clean_db: Any) -> None:
    sponsor = _signed(Grant(TRIAL, StaffRole.SPONSOR_ADMIN, ("*",)))

    assert staff_service.site_filter(sponsor, Action.VIEW, TRIAL) is None
    assert staff_service.site_filter(sponsor, Action.EXPORT, TRIAL, "DE-01") == ["DE-01"]


def test_site_filter_is_the_members_own_sites_sorted(clean_db: Any) -> None:
    member = _signed(Grant(TRIAL, StaffRole.SITE_STAFF, ("NL-01", "FR-02", "FR-01")))

    assert staff_service.site_filter(member, Action.VIEW, TRIAL) == ["FR-01", "FR-02", "NL-01"]
    assert staff_service.site_filter(member, Action.VIEW, TRIAL, "FR-02") == ["FR-02"]


def test_site_filter_refuses_another_site_or_a_study_without_a_grant(clean_db: Any) -> None:
    member = _signed(Grant(TRIAL, StaffRole.SITE_STAFF, ("NL-01",)))

    with pytest.raises(PermissionDeniedError):
        staff_service.site_filter(member, Action.VIEW, TRIAL, "FR-01")
    with pytest.raises(PermissionDeniedError):
        staff_service.site_filter(member, Action.VIEW, "OTHER-TRIAL")


def test_site_today_is_the_date_in_the_sites_time_zone(demo_study: Any) -> None:
    late_evening_utc = datetime(2024, 3, 9, 23, 30, tzinfo=UTC)  # already 10 March in Amsterdam

    assert forms.site_today(TRIAL, "NL-01", now=late_evening_utc) == date(2024, 3, 10)
    assert forms.site_today(TRIAL, "GB-ENG-01", now=late_evening_utc) == date(2024, 3, 9)


def test_site_today_refuses_a_site_the_study_does_not_have(demo_study: Any) -> None:
    with pytest.raises(NotFoundError):
        forms.site_today(TRIAL, "XX-99")


@pytest.mark.parametrize(
    ("revoked", "expires_in", "state"),
    [
        (None, timedelta(seconds=1), InvitationState.ACTIVE),
        (None, timedelta(0), InvitationState.ACTIVE),  # redeemable to the last second
        (None, -timedelta(seconds=1), InvitationState.EXPIRED),
        (NOW, timedelta(days=1), InvitationState.REVOKED),
        (NOW, -timedelta(days=1), InvitationState.REVOKED),  # revoked wins over expired
    ],
)
def test_invitation_state_decides_revoked_then_expired(
    revoked: datetime | None, expires_in: timedelta, state: InvitationState
) -> None:
    assert invitation_state(revoked, NOW + expires_in, NOW) is state
