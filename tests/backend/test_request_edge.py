"""Odd but possible requests answer a 4xx problem body, never a 500.

Found by an outside acceptance run (issue 11): a form without the requested
language, deeply nested JSON, lone UTF-16 surrogates, and ids that are not ids.
"""

from __future__ import annotations

from typing import Any

import pytest

from consentkit.policy.roles import StaffRole
from consentkit.services import records
from tests.backend.signer_helpers import content
from tests.backend.staff_helpers import (
    BASE,
    auth,
    csrf_of,
    enrol,
    family,
    make_member,
    participant_url,
    signed_in,
    token_for,
)

PROBLEM = "application/problem+json"


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body: dict[str, Any] = response.get_json()
    return body


@pytest.fixture
def investigator(client: Any, demo_study: Any) -> dict[str, str]:
    member = make_member(client, "visser@example.org", StaffRole.INVESTIGATOR, ("NL-01",))
    return auth(token_for(client.application, member))


# ------------------------------------------------ a language the form does not have


@pytest.mark.parametrize("lang", ["sv", "kYd-Zl"])
def test_signer_document_without_the_requested_language_is_422_not_500(
    phone: Any,
    lang: str,
) -> None:
    url = f"/api/v1/me/records/{phone.rec.record_id}/document?lang={lang}"

    assert _problem(phone.get(url), 422)["error"] == "unknown-locale"


@pytest.mark.parametrize("step", ["views", "answers"])
def test_signer_ceremony_in_a_language_the_form_lacks_is_422_not_500(
    phone: Any,
    step: str,
) -> None:
    text = content(phone.rec, "fr")
    base = f"/api/v1/me/records/{phone.rec.record_id}"
    sections = [{"id": s["id"], "seconds": 20} for s in text["sections"]]
    if step == "answers":  # the questions come after reading, here in French
        assert (
            phone.post(f"{base}/views", json={"locale": "fr", "sections": sections}).status_code
            == 200
        )
    body = (
        {"locale": "sv", "sections": sections}
        if step == "views"
        else {"locale": "sv", "answers": {q["id"]: q["correct"] for q in text["questions"]}}
    )

    response = phone.post(f"{base}/{step}", json=body)

    assert _problem(response, 422)["error"] == "unknown-locale"


def test_error_message_with_a_locale_placeholder_is_translated(
    phone: Any,
) -> None:
    url = f"/api/v1/me/records/{phone.rec.record_id}/views"
    response = phone.get(
        url.replace("/views", "/document?lang=sv"), headers={"Accept-Language": "fr"}
    )

    body = _problem(response, response.status_code)
    assert "sv" in body["message"]


# ------------------------------------------------ JSON the parser cannot take


@pytest.mark.parametrize("path", ["/api/v1/auth/invitations/redeem", "/api/v1/staff/sessions"])
def test_deeply_nested_json_is_400_on_any_json_route(client: Any, path: str) -> None:
    nested = "[" * 100_000 + "]" * 100_000

    response = client.post(path, data=nested, content_type="application/json")

    assert _problem(response, 400)["error"] == "bad-request"


def test_json_nested_deeper_than_the_limit_is_400(client: Any) -> None:
    nested = '{"code": ' + "[" * 200 + "]" * 200 + "}"

    response = client.post(
        "/api/v1/auth/invitations/redeem", data=nested, content_type="application/json"
    )

    assert _problem(response, 400)["error"] == "bad-request"


def test_countersign_page_with_deeply_nested_strokes_is_not_a_500(
    app: Any,
    client: Any,
    nl: Any,
) -> None:
    child = family(nl, "NL-DEEP-1", "NL-01")
    signed_in(app, client, nl)
    record_id = records.profile(child)["records"][0]["record_id"]
    url = participant_url(child.code, f"/records/{record_id}/countersign")
    page = client.get(url)

    response = client.post(
        url,
        data={
            "csrf_token": csrf_of(page),
            "printed_name": "Dr Inv",
            "strokes": "[" * 100_000 + "]" * 100_000,
        },
    )

    assert response.status_code == 422, response.status_code
    assert response.mimetype == "text/html"


def test_lone_surrogate_in_a_question_is_400(phone: Any) -> None:
    response = phone.post(
        "/api/v1/me/questions",
        data='{"text": "Why \\ud800 this?"}',
        headers={"Content-Type": "application/json"},
    )

    assert _problem(response, 400)["error"] == "invalid-unicode"


def test_lone_surrogate_in_a_key_is_400(client: Any) -> None:
    response = client.post(
        "/api/v1/auth/invitations/redeem",
        data='{"\\udfff": 1, "code": "ABCDEFGHJK"}',
        content_type="application/json",
    )

    assert _problem(response, 400)["error"] == "invalid-unicode"


def test_a_surrogate_pair_is_valid_unicode(phone: Any) -> None:
    response = phone.post("/api/v1/me/questions", json={"text": "Why \U0001f600 this?"})

    assert response.status_code < 400, response.get_data(as_text=True)


def test_worklist_search_ending_just_below_the_surrogates_is_not_a_500(
    client: Any, investigator: dict[str, str]
) -> None:
    enrol(client, investigator)

    response = client.get(f"{BASE}/records?q=%ED%9F%BF", headers=investigator)

    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["items"] == []


# ------------------------------------------------ ids that are not ids


def test_revoking_an_invitation_with_a_malformed_id_is_404(
    client: Any, investigator: dict[str, str]
) -> None:
    enrol(client, investigator)
    url = f"{BASE}/participants/NL-0001/invitations/xyz"

    assert _problem(client.delete(url, headers=investigator), 404)["error"] == "not-found"
    assert _problem(client.post(f"{url}/resend", headers=investigator), 404)


def test_a_scan_with_a_malformed_document_id_is_404(
    client: Any, investigator: dict[str, str]
) -> None:
    enrol(client, investigator)

    response = client.get(f"{BASE}/participants/NL-0001/documents/xyz", headers=investigator)

    assert _problem(response, 404)["error"] == "not-found"


def test_a_challenge_with_a_malformed_id_is_a_4xx(client: Any) -> None:
    response = client.post(
        "/api/v1/auth/challenges/xyz/verify", json={"code": "123456", "device_id": "phone-0001"}
    )

    assert 400 <= response.status_code < 500
    assert response.mimetype == PROBLEM


def test_inviting_a_malformed_signer_id_is_422(client: Any, investigator: dict[str, str]) -> None:
    enrol(client, investigator)

    response = client.post(
        f"{BASE}/participants/NL-0001/invitations", json={"signer_id": "x"}, headers=investigator
    )

    body = _problem(response, 422)
    assert "signer_id" in body["errors"]["json"]
