"""Fewer parents than the rules ask, through the staff API and page: only recognised exceptions."""

from __future__ import annotations

from typing import Any

import pytest

from consentkit.models.participant import Participant
from consentkit.policy.roles import StaffRole
from consentkit.services import participants, records
from tests.backend.staff_helpers import (
    BASE,
    FAMILY,
    auth,
    csrf_of,
    enrol,
    make_member,
    signed_in,
    token_for,
)


@pytest.fixture
def investigator(client: Any, demo_study: Any) -> dict[str, str]:
    member = make_member(client, "visser@example.org", StaffRole.INVESTIGATOR, ("NL-01",))
    return auth(token_for(client.application, member))


SOLE = {
    "code": "sole-parental-authority",
    "evidence": "Extract from the custody register (gezagsregister), 2 March 2026",
}


def test_preview_offers_only_the_exceptions_of_the_row(
    client: Any, investigator: dict[str, str]
) -> None:
    shown = client.post(
        f"{BASE}/participants/preview",
        json={"site": "NL-01", "birth_date": "2013-01-15"},
        headers=investigator,
    ).get_json()
    assert [o["code"] for o in shown["guardian_exceptions"]] == ["sole-parental-authority"]


def test_enrol_nl_with_one_parent_and_sole_authority_is_accepted_and_audited(
    client: Any, investigator: dict[str, str]
) -> None:
    made = enrol(client, investigator, signers=FAMILY[1:], guardian_exception=SOLE)

    assert made.status_code == 201, made.get_json()
    participant = participants.get_participant("DEMO-NBL-1", "NL-0001")
    [recorded] = [
        e for e in records.history(participant) if e["type"] == "guardian.exception-recorded"
    ]
    assert recorded["payload"]["code"] == "sole-parental-authority"
    assert recorded["payload"]["evidence"] == SOLE["evidence"]
    assert recorded["payload"]["recorded_by"] == "Visser"
    parental = next(r for r in made.get_json()["records"] if r["form_kind"] == "parental-consent")
    assert [m["role"] for m in parental["missing_signers"]] == ["guardian", "investigator"]


def test_enrol_nl_with_an_exception_of_another_country_is_a_422_naming_the_valid_ones(
    client: Any, investigator: dict[str, str]
) -> None:
    refused = enrol(
        client,
        investigator,
        signers=FAMILY[1:],
        guardian_exception={"code": "fr-l1122-2-ii", "evidence": "Father abroad"},
    )

    assert refused.status_code == 422
    assert refused.get_json()["error"] == "guardian-exception-invalid"
    assert "sole-parental-authority" in refused.get_json()["message"]
    assert Participant.objects.count() == 0


def test_enrol_with_the_old_free_text_is_a_422_naming_the_valid_codes(
    client: Any, investigator: dict[str, str]
) -> None:
    refused = enrol(
        client,
        investigator,
        signers=FAMILY[1:],
        fewer_guardians_justification="Father unreachable",
    )

    assert refused.status_code == 422
    body = refused.get_json()
    assert body["error"] == "free-text-justification-refused"
    assert "sole-parental-authority" in body["message"]
    assert Participant.objects.count() == 0


def test_enrol_page_offers_the_row_exceptions_and_records_one(client: Any, demo_study: Any) -> None:
    member = make_member(client, "visser@example.org", StaffRole.INVESTIGATOR, ("NL-01",))
    page = signed_in(client.application, client, member)
    url = "/staff/studies/DEMO-NBL-1/enrol"
    form = {
        "csrf_token": csrf_of(page.get(url)),
        "code": "NL-0009",
        "site": "NL-01",
        "birth_date": "2013-01-15",
        "signers-0-role": "guardian",
        "signers-0-name": "Pieter de Vries",
        "signers-0-phone": "+31 612345678",
        "signers-1-role": "participant",
        "signers-1-name": "Sem de Vries",
        "signers-1-email": "sem@example.org",
    }
    preview = page.post(url, data={**form, "action": "preview"})
    html = preview.get_data(as_text=True)
    assert 'value="sole-parental-authority"' in html
    assert "fr-l1122-2-ii" not in html

    refused = page.post(url, data={**form, "action": "enrol"})
    assert refused.status_code == 422
    assert Participant.objects.count() == 0

    made = page.post(
        url,
        data={
            **form,
            "action": "enrol",
            "guardian_exception": "sole-parental-authority",
            "guardian_exception_evidence": SOLE["evidence"],
        },
    )
    assert made.status_code == 302, made.get_data(as_text=True)[:2000]
    participant = participants.get_participant("DEMO-NBL-1", "NL-0009")
    assert [e for e in records.history(participant) if e["type"] == "guardian.exception-recorded"]
