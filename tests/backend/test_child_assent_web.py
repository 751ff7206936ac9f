"""A young child's assent in front of the study team, on the staff page (issue 14).

The participant page offers it for a child below the study's own-invitation age; the
page shows the child's text and points, asks the member to confirm it happened in
front of them, and saves the child's reading, choices and signature with the member
named as present. Without a recent password and code the member is sent to give them.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from consentkit.clock import now_utc
from consentkit.models.staff import StaffSession
from consentkit.services import records
from tests.backend.staff_helpers import Member, csrf_of, family, participant_url, signed_in

STROKES_FIELD = "[[[1, 2], [30, 40], [60, 10]]]"


def _young_family(member: Member, code: str) -> Any:
    return family(
        member,
        code,
        "FR-01",
        names=("Marie Dubois", "Luc Dubois", "Léa Dubois"),
        birth_date=now_utc().date() - timedelta(days=8 * 365 + 40),
    )


def _assent(child: Any) -> str:
    return next(
        r["record_id"]
        for r in records.profile(child)["records"]
        if r["form_kind"] == "child-assent"
    )


def test_staff_record_a_young_childs_assent_given_in_front_of_them(
    app: Any, client: Any, fr: Member
) -> None:
    child = _young_family(fr, "FR-CHILD-1")
    record_id = _assent(child)
    signed_in(app, client, fr)
    StaffSession.objects.update(set__reauth_at=now_utc())
    participant_page = client.get(participant_url(child.code)).get_data(as_text=True)
    url = participant_url(child.code, f"/records/{record_id}/child")
    page = client.get(url)
    text = page.get_data(as_text=True)
    items = re.findall(r'name="item-([^"]+)" value="yes"', text)
    form = {
        "csrf_token": csrf_of(page),
        "shown_at": re.search(r'name="shown_at" value="([^"]+)"', text).group(1),
        "method": "drawn",
        "strokes": STROKES_FIELD,
        "printed_name": "Léa",
        **{f"item-{item}": "yes" for item in items},
    }

    unconfirmed = client.post(url, data=form)
    saved = client.post(url, data={**form, "attest": "1"})

    assert url in participant_page
    assert page.status_code == 200 and items
    assert "Léa Dubois" in text
    assert unconfirmed.status_code == 422
    assert saved.status_code == 302, saved.get_data(as_text=True)
    [signature] = [
        e
        for e in records.history(child)
        if e["type"] == "signature.added" and e["record_id"] == record_id
    ]
    assert signature["payload"]["present"]["staff_name"] == "Inv.Fr"
    assert signature["payload"]["auth"]["method"] == "child-with-staff"
    # Done: the page no longer offers it.
    assert url not in client.get(participant_url(child.code)).get_data(as_text=True)


def test_the_childs_page_needs_a_recent_password_and_code(
    app: Any, client: Any, fr: Member
) -> None:
    child = _young_family(fr, "FR-CHILD-2")
    signed_in(app, client, fr)
    StaffSession.objects.update(set__reauth_at=now_utc() - timedelta(hours=2))

    page = client.get(participant_url(child.code, f"/records/{_assent(child)}/child"))

    assert page.status_code == 302
    assert "reauth" in page.headers["Location"]
