"""Consent tasks on the staff pages: the participant's Tasks section, open and invite, the list.

A child at FR-01 turned 10 five days ago: ``consentkit due`` created the age-band task
(the 10-13 assent); staff open it from the participant's page, the record appears and
the child is invited, and the task reads "Opened, waiting for signatures".
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
from consentkit.services import access
from consentkit.services.tasks import create_due_tasks
from tests.backend.staff_helpers import STUDY, colleague, csrf_of, participant_url, signed_in
from tests.consentkit.records_helpers import Family, make_family


def _birthday(years_ago: int, days_ago: int) -> date:
    """A birth date whose ``years_ago``-th birthday was ``days_ago`` days ago (not 29 Feb)."""
    day = now_utc().date() - timedelta(days=days_ago)
    if (day.month, day.day) == (2, 29):
        day -= timedelta(days=1)
    return day.replace(year=day.year - years_ago)


@pytest.fixture
def banded(demo_study: Any) -> tuple[Family, ConsentTask]:
    family = make_family("FR-BAND-1", birth_date=_birthday(10, days_ago=5))
    create_due_tasks(on=now_utc().date() - timedelta(days=30))
    [task] = ConsentTask.objects(participant_code="FR-BAND-1")
    return family, task


def _text(response: Any) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))).split())


def _row(page: Any, key: str) -> str:
    found = re.search(
        rf'<tr data-task-key="{re.escape(key)}">(.*?)</tr>', page.get_data(as_text=True), re.S
    )
    assert found, page.get_data(as_text=True)[-3000:]
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", found.group(1))).split())


def test_participant_page_open_and_invite_opens_the_record_and_invites_the_child(
    app: Any, client: Any, banded: tuple[Family, ConsentTask]
) -> None:
    family, task = banded
    signed_in(app, client, colleague("inv@example.org", StaffRole.INVESTIGATOR, ("FR-01",)))
    page = client.get(participant_url("FR-BAND-1"))
    assert "Assent at 10" in _row(page, task.key) and "To open" in _row(page, task.key)
    assert 'data-form-id="assent-10-13"' not in page.get_data(as_text=True)

    opened = client.post(
        participant_url("FR-BAND-1", f"/tasks/{task.key}/open"),
        data={"csrf_token": csrf_of(page)},
    )

    assert opened.status_code == 200, _text(opened)[:500]
    shown = _text(opened)
    assert "Assent at 10" in shown and "Opened, waiting for signatures" in shown
    assert "Invitation for Child" in shown
    [invited] = access.invitations_of(family.participant)
    assert invited.signer_id == str(family.child.id)
    after = client.get(participant_url("FR-BAND-1"))
    assert 'data-form-id="assent-10-13"' in after.get_data(as_text=True)
    assert "Opened, waiting for signatures" in _row(after, task.key)
    assert "Invite again" in _row(after, task.key)


def test_open_and_invite_page_refuses_a_post_without_csrf(
    app: Any, client: Any, banded: tuple[Family, ConsentTask]
) -> None:
    family, task = banded
    signed_in(app, client, colleague("inv@example.org", StaffRole.INVESTIGATOR, ("FR-01",)))

    refused = client.post(participant_url("FR-BAND-1", f"/tasks/{task.key}/open"), data={})

    assert refused.status_code == 400
    assert access.invitations_of(family.participant) == []
    assert ConsentTask.objects.get(key=task.key).status == "open"


def test_monitor_sees_the_task_without_an_open_and_invite_button(
    app: Any, client: Any, banded: tuple[Family, ConsentTask]
) -> None:
    _, task = banded
    signed_in(app, client, colleague("mon@example.org", StaffRole.MONITOR, ("FR-01",)))

    page = client.get(participant_url("FR-BAND-1"))

    assert "Assent at 10" in _row(page, task.key)
    assert "Open and invite" not in _row(page, task.key)


def test_task_list_page_filters_by_status_and_links_to_the_participant(
    app: Any, client: Any, banded: tuple[Family, ConsentTask]
) -> None:
    _, task = banded
    signed_in(app, client, colleague("inv@example.org", StaffRole.INVESTIGATOR, ("FR-01",)))
    listed = client.get(f"{STUDY}/tasks", query_string={"site": "FR-01"})
    assert "FR-BAND-1" in _row(listed, task.key) and "To open" in _row(listed, task.key)
    page = client.get(participant_url("FR-BAND-1"))
    client.post(
        participant_url("FR-BAND-1", f"/tasks/{task.key}/open"),
        data={"csrf_token": csrf_of(page)},
    )

    still_open = client.get(f"{STUDY}/tasks", query_string={"site": "FR-01"})
    in_progress = client.get(f"{STUDY}/tasks", query_string={"status": "in-progress"})
    every = client.get(f"{STUDY}/tasks", query_string={"status": ""})

    assert f'data-task-key="{task.key}"' not in still_open.get_data(as_text=True)
    assert "Opened, waiting for signatures" in _row(in_progress, task.key)
    assert "Opened, waiting for signatures" in _row(every, task.key)
    assert participant_url("FR-BAND-1") in in_progress.get_data(as_text=True)


def test_task_list_page_refuses_another_sites_filter(
    app: Any, client: Any, banded: tuple[Family, ConsentTask]
) -> None:
    signed_in(app, client, colleague("inv@example.org", StaffRole.INVESTIGATOR, ("NL-01",)))

    other = client.get(f"{STUDY}/tasks", query_string={"site": "FR-01"})
    mine = client.get(f"{STUDY}/tasks")

    assert other.status_code == 403
    assert mine.status_code == 200 and "FR-BAND-1" not in mine.get_data(as_text=True)
