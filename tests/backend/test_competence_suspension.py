"""A participant who reaches competence with no other event is counted and listed as suspended.

The record projections (and the dashboard counters moved with them) hold the state
as of the last event; ``consentkit due`` records the suspension at competence
(``consentkit.services.competence``), so the dashboard's ``suspended`` count and
the ``due=suspended`` worklist both include them, through the staff API.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from consentkit.clock import now_utc
from consentkit.policy.roles import StaffRole
from consentkit.services import audit, competence, records
from tests.backend.staff_helpers import TRIAL, auth, colleague, token_for
from tests.consentkit.records_helpers import consented_family

API = f"/api/v1/staff/studies/{TRIAL}"


def _years_before(day: date, years: int) -> date:
    return day.replace(year=day.year - years, day=min(day.day, 28))


@pytest.fixture
def investigator(app: Any, demo_study: Any) -> dict[str, str]:
    member = colleague("martin@example.org", StaffRole.INVESTIGATOR, ("FR-01", "NL-01"))
    return auth(token_for(app, member))


def _suspended(client: Any, headers: dict[str, str]) -> tuple[int, list[str]]:
    summary = client.get(f"{API}/dashboard", headers=headers).get_json()
    entry = next(e for e in summary["due"] if e["due"] == "suspended")
    listed = client.get(entry["records_url"], headers=headers).get_json()
    assert listed["total"] == entry["count"]
    return entry["count"], [row["participant_code"] for row in listed["items"]]


def test_competence_reached_with_no_event_counts_and_lists_the_participant_as_suspended(
    client: Any, investigator: dict[str, str]
) -> None:
    # France: 18 ten days ago; consented for them as a minor, nothing happened since.
    born = _years_before(now_utc().date() - timedelta(days=10), 18)
    family, _record = consented_family("P-18", birth_date=born)
    [status] = records.record_statuses(family.participant)
    assert status.state.value == "suspended-awaiting-own-consent"  # what the chain says now
    assert _suspended(client, investigator) == (0, [])  # the projection: as of the last event

    report = competence.record_competence_reached(on=now_utc().date(), trial_id=TRIAL)

    assert [s.participant_code for s in report.suspended] == ["P-18"]
    assert _suspended(client, investigator) == (1, ["P-18"])
    [event] = [
        e
        for e in audit.chain_dicts(str(family.participant.id))
        if e["type"] == "participant.competence-reached"
    ]
    assert event["payload"]["competence_age"] == 18
    assert event["state_after"] == "suspended-awaiting-own-consent"


def test_competence_run_again_records_nothing_twice(
    client: Any, investigator: dict[str, str]
) -> None:
    born = _years_before(now_utc().date() - timedelta(days=10), 18)
    family, _record = consented_family("P-18", birth_date=born)
    competence.record_competence_reached(on=now_utc().date())
    before = len(audit.chain_dicts(str(family.participant.id)))

    again = competence.record_competence_reached(on=now_utc().date())

    assert again.suspended == []
    assert len(audit.chain_dicts(str(family.participant.id))) == before
    assert _suspended(client, investigator) == (1, ["P-18"])


def test_competence_where_the_row_asks_no_reconsent_suspends_nothing(
    client: Any, investigator: dict[str, str]
) -> None:
    # The Netherlands: competence at 16 with no re-consent (the 12-15 co-signature stands).
    born = _years_before(now_utc().date() - timedelta(days=10), 16)
    family, _record = consented_family("P-NL16", site="NL-01", birth_date=born)

    report = competence.record_competence_reached(on=now_utc().date())

    assert report.suspended == []
    assert not [
        e
        for e in audit.chain_dicts(str(family.participant.id))
        if e["type"] == "participant.competence-reached"
    ]
    assert _suspended(client, investigator) == (0, [])
