"""The daily summary switch on the staff home page: shown to site members, a CSRF-checked post."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from consentkit.policy.roles import StaffRole
from tests.backend.staff_helpers import Member, colleague, csrf_of, signed_in, staff_doc


def test_a_site_member_sees_their_daily_summary_is_on(app: Any, client: Any, nl: Member) -> None:
    page = signed_in(app, client, nl).get("/staff/").get_data(as_text=True)

    assert "Your daily summary e-mail is on." in page
    assert "Switch the daily summary off" in page


def test_a_site_member_switches_the_daily_summary_off_and_on(
    app: Any, client: Any, nl: Member
) -> None:
    signed_in(app, client, nl)
    csrf = csrf_of(client.get("/staff/"))

    off = client.post("/staff/digest", data={"csrf_token": csrf, "enabled": "off"})

    assert off.status_code == 302
    assert parse_qs(urlsplit(off.location).query)["notice"] == ["digest-off"]
    assert staff_doc(nl).digest_enabled is False
    page = client.get(off.location).get_data(as_text=True)
    assert "Your daily summary e-mail is off." in page
    assert "Switch the daily summary on" in page

    client.post("/staff/digest", data={"csrf_token": csrf, "enabled": "on"})
    assert staff_doc(nl).digest_enabled is True


def test_the_switch_without_the_csrf_token_changes_nothing(
    app: Any, client: Any, nl: Member
) -> None:
    response = signed_in(app, client, nl).post("/staff/digest", data={"enabled": "off"})

    assert response.status_code == 400
    assert staff_doc(nl).digest_enabled is True


def test_a_monitor_is_not_offered_the_daily_summary(app: Any, client: Any, demo_study: Any) -> None:
    monitor = colleague("monitor@example.org", StaffRole.MONITOR, ("NL-01",))

    page = signed_in(app, client, monitor).get("/staff/").get_data(as_text=True)

    assert "daily summary" not in page
