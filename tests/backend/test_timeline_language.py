"""The timeline's summaries are in the reader's language, like its labels.

A family at FR-01 withdrew ("no further contact") and the child said no, in person.
Read in German, through the staff API and on the participant page, the summaries
name the scope and the channel in German (their labels), not the English words or
the raw codes.
"""

from __future__ import annotations

from typing import Any

import pytest

from consentkit.policy.roles import StaffRole
from consentkit.services import participation
from tests.backend.staff_helpers import BASE, auth, colleague, participant_url, signed_in, token_for
from tests.consentkit.records_helpers import STAFF, Family, make_family

CODE = "FR-TIME-1"


@pytest.fixture
def told(demo_study: Any) -> Family:
    family = make_family(CODE)
    participation.withdraw(
        family.participant, scopes=["no-further-contact"], actor=STAFF, reason_declined=True
    )
    participation.record_dissent(family.participant, actor=STAFF)
    return family


def _summaries(entries: list[dict[str, Any]]) -> dict[str, str]:
    return {e["type"]: e["summary"] for e in entries}


def test_staff_api_timeline_summaries_are_in_the_request_language(
    app: Any, client: Any, told: Family
) -> None:
    headers = auth(token_for(app, colleague("inv@example.org", StaffRole.INVESTIGATOR, ("FR-01",))))

    german = client.get(
        f"{BASE}/participants/{CODE}/timeline", headers={**headers, "Accept-Language": "de"}
    )
    english = client.get(f"{BASE}/participants/{CODE}/timeline", headers=headers)

    said = _summaries(german.get_json())
    assert "Keine erneute Kontaktaufnahme" in said["withdrawal.recorded"]
    assert "no-further-contact" not in said["withdrawal.recorded"]
    assert "Persönlich" in said["assent.dissent"]
    assert "No further contact" in _summaries(english.get_json())["withdrawal.recorded"]


def test_participant_page_timeline_summaries_are_in_the_page_language(
    app: Any, client: Any, told: Family
) -> None:
    signed_in(app, client, colleague("inv@example.org", StaffRole.INVESTIGATOR, ("FR-01",)))

    page = client.get(participant_url(CODE), query_string={"lang": "de"})

    timeline = page.get_data(as_text=True).split('id="timeline-title"', 1)[1]
    assert "Keine erneute Kontaktaufnahme" in timeline
    assert "Persönlich" in timeline
    assert "no-further-contact" not in timeline
