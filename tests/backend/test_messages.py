"""Staff see every message to a family; the family switches reminders off in one tap (real db)."""

from __future__ import annotations

from typing import Any

from consentkit.models.participant import Signer
from consentkit.policy.roles import StaffRole
from consentkit.services import outbox, participation
from consentkit.services.evidence import Actor
from tests.backend.staff_helpers import (
    BASE,
    auth,
    colleague,
    family,
    participant_url,
    signed_in,
    token_for,
)

STAFF = Actor(kind="staff", id="staff-1", role="site-investigator", channel="in-person")


def _withdrawn_family(demo_study: Any) -> tuple[Any, Any]:
    member = colleague("inv@example.org", StaffRole.INVESTIGATOR, ("NL-01",))
    found = family(member, "NL-0001", "NL-01")
    participation.withdraw(found, scopes=["no-further-contact"], actor=STAFF)
    return member, found


def test_messages_api_lists_the_withdrawal_confirmations_for_staff(
    app: Any, client: Any, demo_study: Any
) -> None:
    member, _found = _withdrawn_family(demo_study)

    response = client.get(
        f"{BASE}/participants/NL-0001/messages", headers=auth(token_for(app, member))
    )

    assert response.status_code == 200
    body = response.get_json()
    assert [m["kind"] for m in body] == ["withdrawal-confirmed"] * 3
    assert {m["status"] for m in body} == {"queued"}
    assert all(m["is_essential"] for m in body)


def test_messages_api_another_sites_participant_is_not_found(
    app: Any, client: Any, demo_study: Any
) -> None:
    _withdrawn_family(demo_study)
    other = colleague("fr@example.org", StaffRole.INVESTIGATOR, ("FR-01",))

    response = client.get(
        f"{BASE}/participants/NL-0001/messages", headers=auth(token_for(app, other))
    )

    assert response.status_code == 404


def test_participant_page_shows_the_messages_section(
    app: Any, client: Any, demo_study: Any
) -> None:
    member, _ = _withdrawn_family(demo_study)

    page = signed_in(app, client, member).get(participant_url("NL-0001"))

    html = page.get_data(as_text=True)
    assert 'id="messages"' in html
    assert html.count('data-status="queued"') == 3


def test_unsubscribe_link_get_shows_a_button_and_changes_nothing(
    client: Any, demo_study: Any
) -> None:
    _, found = _withdrawn_family(demo_study)
    signer = Signer.objects(participant_id=str(found.id)).first()

    page = client.get(f"/family/unsubscribe/{outbox.unsubscribe_token(str(signer.id))}")

    assert page.status_code == 200
    assert 'id="unsubscribe"' in page.get_data(as_text=True)
    assert outbox.preferences_of(str(signer.id)) is None


def test_unsubscribe_link_one_tap_switches_non_essential_messages_off(
    client: Any, demo_study: Any
) -> None:
    _, found = _withdrawn_family(demo_study)
    signer = Signer.objects(participant_id=str(found.id)).first()

    done = client.post(
        f"/family/unsubscribe/{outbox.unsubscribe_token(str(signer.id))}",
        data={"List-Unsubscribe": "One-Click"},
    )

    assert done.status_code == 200
    assert 'id="unsubscribe-status"' in done.get_data(as_text=True)
    preference = outbox.preferences_of(str(signer.id))
    assert preference is not None and preference.is_unsubscribed


def test_unsubscribe_link_forged_is_not_found(client: Any, demo_study: Any) -> None:
    _, found = _withdrawn_family(demo_study)
    signer = Signer.objects(participant_id=str(found.id)).first()

    response = client.post(f"/family/unsubscribe/{signer.id}.{'0' * 32}")

    assert response.status_code == 404
    assert outbox.preferences_of(str(signer.id)) is None
