"""A family who withdrew contact is not invited again: not by the API, not by the page.

A child at FR-01 turned 10 five days ago (``consentkit due`` created the age-band task)
and had an invitation; then the family withdrew with "no further contact" (research
notes 6.3 item 7). Inviting, a new code and "open and invite" are refused by consentkit
(``409 contact-withdrawn``) before anything is written, and the participant page says
why instead of offering the buttons.
"""

from __future__ import annotations

import html
import re
from datetime import date, timedelta
from typing import Any

import pytest

from consentkit.clock import now_utc
from consentkit.models.task import ConsentTask
from consentkit.policy.roles import StaffRole
from consentkit.services import access, participation
from consentkit.services.tasks import create_due_tasks
from tests.backend.staff_helpers import (
    BASE,
    auth,
    colleague,
    csrf_of,
    events_of,
    participant_url,
    signed_in,
    token_for,
)
from tests.consentkit.records_helpers import STAFF, Family, make_family

CODE = "FR-QUIET-1"
API = f"{BASE}/participants/{CODE}"


def _birthday(years_ago: int, days_ago: int) -> date:
    """A birth date whose ``years_ago``-th birthday was ``days_ago`` days ago (not 29 Feb)."""
    day = now_utc().date() - timedelta(days=days_ago)
    if (day.month, day.day) == (2, 29):
        day -= timedelta(days=1)
    return day.replace(year=day.year - years_ago)


def _text(response: Any) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))).split())


@pytest.fixture
def quiet(demo_study: Any) -> tuple[Family, ConsentTask, str]:
    """The family, their open task and an active invitation, then "no further contact"."""
    family = make_family(CODE, birth_date=_birthday(10, days_ago=5))
    create_due_tasks(on=now_utc().date() - timedelta(days=30))
    [task] = ConsentTask.objects(participant_code=CODE)
    access.create_invitation(family.participant, family.guardians[0], actor=STAFF)
    [invitation] = access.invitations_of(family.participant)
    participation.withdraw(
        family.participant, scopes=["no-further-contact"], actor=STAFF, reason_declined=True
    )
    return family, task, invitation.invitation_id


def _investigator(app: Any) -> dict[str, str]:
    return auth(token_for(app, colleague("inv@example.org", StaffRole.INVESTIGATOR, ("FR-01",))))


def test_staff_api_invite_after_no_contact_withdrawal_is_409_contact_withdrawn(
    app: Any, client: Any, quiet: tuple[Family, ConsentTask, str]
) -> None:
    family, _, _ = quiet
    before = events_of(family.participant)

    refused = client.post(
        f"{API}/invitations",
        json={"signer_id": str(family.guardians[1].id)},
        headers=_investigator(app),
    )

    assert refused.status_code == 409, refused.get_json()
    assert refused.get_json()["error"] == "contact-withdrawn"
    assert len(access.invitations_of(family.participant)) == 1
    assert events_of(family.participant) == before


def test_staff_api_new_code_after_no_contact_withdrawal_keeps_the_old_one(
    app: Any, client: Any, quiet: tuple[Family, ConsentTask, str]
) -> None:
    family, _, invitation_id = quiet

    refused = client.post(f"{API}/invitations/{invitation_id}/resend", headers=_investigator(app))

    assert refused.status_code == 409
    assert refused.get_json()["error"] == "contact-withdrawn"
    [still] = access.invitations_of(family.participant)
    assert still.invitation_id == invitation_id and still.is_active


def test_staff_api_open_and_invite_after_no_contact_withdrawal_opens_nothing(
    app: Any, client: Any, quiet: tuple[Family, ConsentTask, str]
) -> None:
    family, task, _ = quiet
    before = events_of(family.participant)

    refused = client.post(f"{API}/tasks/{task.key}/open", headers=_investigator(app))

    assert refused.status_code == 409
    assert refused.get_json()["error"] == "contact-withdrawn"
    assert events_of(family.participant) == before  # no record.opened, no task.opened
    assert ConsentTask.objects.get(key=task.key).status == "open"


def test_participant_page_says_contact_was_withdrawn_and_offers_no_invitation(
    app: Any, client: Any, quiet: tuple[Family, ConsentTask, str]
) -> None:
    signed_in(app, client, colleague("inv@example.org", StaffRole.INVESTIGATOR, ("FR-01",)))

    page = client.get(participant_url(CODE))

    body = page.get_data(as_text=True)
    assert 'id="contact-withdrawn"' in body
    assert "asked not to be contacted again" in _text(page)
    assert ">Invite<" not in body and "Open and invite" not in body and "New code" not in body
    assert "Revoke" in body  # stopping a code is not contact


def test_participant_page_invite_post_after_no_contact_withdrawal_is_refused(
    app: Any, client: Any, quiet: tuple[Family, ConsentTask, str]
) -> None:
    family, _, _ = quiet
    signed_in(app, client, colleague("inv@example.org", StaffRole.INVESTIGATOR, ("FR-01",)))
    page = client.get(participant_url(CODE))

    refused = client.post(
        participant_url(CODE, "/invite"),
        data={"csrf_token": csrf_of(page), "signer_id": str(family.guardians[1].id)},
    )

    assert refused.status_code == 409
    assert len(access.invitations_of(family.participant)) == 1


def test_withdrawal_that_allows_contact_still_lets_staff_invite(
    app: Any, client: Any, demo_study: Any
) -> None:
    family = make_family(CODE, birth_date=_birthday(10, days_ago=5))
    participation.withdraw(
        family.participant, scopes=["stop-imp"], actor=STAFF, reason_declined=True
    )

    made = client.post(
        f"{API}/invitations",
        json={"signer_id": str(family.guardians[0].id)},
        headers=_investigator(app),
    )

    assert made.status_code == 201, made.get_json()
