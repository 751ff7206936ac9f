"""The investigator's countersignature says how the interview took place, in its real time zone."""

from __future__ import annotations

from typing import Any

import pytest

from consentkit.clock import now_utc
from consentkit.models.staff import StaffSession
from consentkit.policy.roles import StaffRole
from consentkit.services import participants, records
from tests.backend.staff_helpers import BASE, auth, enrol, make_member, token_for
from tests.consentkit.records_helpers import STROKES


@pytest.fixture
def investigator(client: Any, demo_study: Any) -> dict[str, str]:
    member = make_member(
        client, "visser@example.org", StaffRole.INVESTIGATOR, ("NL-01",), name="Dr Visser"
    )
    return auth(token_for(client.application, member))


def _declaration_url(client: Any, headers: dict[str, str]) -> str:
    made = enrol(client, headers).get_json()
    record = next(r for r in made["records"] if r["form_id"] == "investigator-declaration")
    return f"{BASE}/participants/NL-0001/records/{record['record_id']}/countersign"


def _countersign(client: Any, headers: dict[str, str], url: str, **extra: Any) -> Any:
    text = client.get(url, headers=headers).get_json()
    StaffSession.objects.update(set__reauth_at=now_utc())
    body = {
        "locale": text["locale"],
        "content_sha256": text["content_sha256"],
        "printed_name": "Dr Visser",
        "strokes": STROKES,
        **extra,
    }
    return client.post(url, json=body, headers=headers)


def _signature(code: str = "NL-0001") -> dict[str, Any]:
    participant = participants.get_participant("DEMO-NBL-1", code)
    [signed] = [e for e in records.history(participant) if e["type"] == "signature.added"]
    return signed


def test_countersign_by_video_from_another_time_zone_is_recorded(
    client: Any, investigator: dict[str, str]
) -> None:
    url = _declaration_url(client, investigator)

    done = _countersign(
        client, investigator, url, interview_mode="video", timezone="America/Curacao"
    )

    assert done.status_code == 200, done.get_json()
    signed = _signature()
    assert signed["payload"]["interview"]["mode"] == "video"
    assert signed["payload"]["interview"]["timezone"] == "America/Curacao"
    assert signed["payload"]["client_offset_minutes"] == -240
    assert signed["actor"]["channel"] == "video"


def test_countersign_without_a_time_zone_uses_the_sites(
    client: Any, investigator: dict[str, str]
) -> None:
    url = _declaration_url(client, investigator)

    done = _countersign(client, investigator, url)

    assert done.status_code == 200, done.get_json()
    interview = _signature()["payload"]["interview"]
    assert interview["mode"] == "in-person"
    assert interview["timezone"] == "Europe/Amsterdam"
    assert interview["utc_offset_minutes"] in (60, 120)  # CET or CEST, never UTC's 0


@pytest.mark.parametrize(
    ("extra", "error"),
    [
        ({"interview_mode": "telepathy"}, "invalid-data"),
        ({"timezone": "Mars/Olympus"}, "timezone-invalid"),
    ],
)
def test_countersign_refuses_an_unknown_mode_or_zone_with_422(
    client: Any, investigator: dict[str, str], extra: dict[str, str], error: str
) -> None:
    url = _declaration_url(client, investigator)

    refused = _countersign(client, investigator, url, **extra)

    assert refused.status_code == 422
    assert refused.get_json()["error"] == error
