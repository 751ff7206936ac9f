"""The worklist export from both faces: the same file, under the same safe name."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import pytest

from backend.auth.staff import COOKIE
from consentkit.policy.roles import Grant, StaffRole
from consentkit.services import staff as staff_service
from tests.backend.staff_helpers import Member, auth, token_for

#: A trial id as a sponsor might type it, or an attacker craft it: quotes end the header's
#: quoted name, CR LF would start a new header, and []:*? are refused in a sheet name.
HOSTILE = 'T"; filename=evil.exe\r\nX-Injected: 1 [a]:*?'
SAFE_NAME = re.compile(r'^attachment; filename="[A-Za-z0-9._-]+\.(csv|xlsx)"$')


@pytest.fixture
def sponsor(clean_db: Any) -> Member:
    staff, _token = staff_service.create_staff(
        email="sponsor@example.org",
        name="Sponsor",
        grants=[Grant(HOSTILE, StaffRole.SPONSOR_ADMIN, ("*",))],
    )
    return Member("sponsor@example.org", "", [], str(staff.id))


def _api(app: Any, client: Any, member: Member, fmt: str) -> Any:
    return client.get(
        f"/api/v1/staff/studies/{quote(HOSTILE, safe='')}/records/export",
        query_string={"format": fmt},
        headers=auth(token_for(app, member)),
    )


def _page(app: Any, client: Any, member: Member, fmt: str) -> Any:
    client.set_cookie(COOKIE, token_for(app, member), path="/staff")
    return client.get(f"/staff/studies/{quote(HOSTILE, safe='')}/records/export.{fmt}")


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize("face", [_api, _page], ids=["api", "page"])
def test_export_names_the_file_safely_for_a_hostile_trial_id(
    app: Any, client: Any, sponsor: Member, face: Any, fmt: str
) -> None:
    response = face(app, client, sponsor, fmt)

    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    disposition = response.headers["Content-Disposition"]
    assert SAFE_NAME.match(disposition), disposition
    assert "X-Injected" not in response.headers
    assert disposition.startswith(
        'attachment; filename="T___filename_evil.exe__X-Injected__1__a____-status-'
    )


def test_export_gives_the_same_file_from_the_api_and_the_page(
    app: Any, client: Any, sponsor: Member
) -> None:
    shown = []
    for face in (_api, _page):
        response = face(app, client, sponsor, "csv")
        # The minute stamp may tick between the two downloads.
        name = re.sub(r"\d{8}-\d{4}", "<stamp>", response.headers["Content-Disposition"])
        shown.append((name, response.get_data(as_text=True)))  # streamed: read it now

    assert shown[0] == shown[1]
