"""Error messages are in the reader's language; the machine code never changes."""

from __future__ import annotations

from typing import Any

import pytest

from backend.errors import MESSAGE_BY_STATUS
from consentkit import i18n
from consentkit.services import access

REDEEM = "/api/v1/auth/invitations/redeem"


def _redeem_unknown(client: Any, accept_language: str | None) -> Any:
    headers = {"Accept-Language": accept_language} if accept_language else {}
    return client.post(REDEEM, json={"code": "ZZZZZZZZZZ"}, headers=headers)


def _translated(locale: str, english: str, **params: Any) -> str:
    """The catalog's text, checked to really be a translation (so a test can fail)."""
    text = i18n.gettext(locale, english, **params)
    assert text != i18n.gettext(i18n.SOURCE_LOCALE, english, **params), f"{locale}: untranslated"
    return text


def test_unknown_invitation_code_is_answered_in_french_with_the_same_error_code(
    client: Any,
) -> None:
    english = _redeem_unknown(client, "en")
    french = _redeem_unknown(client, "fr")

    assert english.status_code == french.status_code == 401
    assert english.get_json()["error"] == french.get_json()["error"] == "authentication-failed"
    assert english.get_json()["message"] == access.GENERIC
    assert french.get_json()["message"] == _translated("fr", access.GENERIC)
    assert english.headers["Content-Language"] == "en"
    assert french.headers["Content-Language"] == "fr"
    assert "Accept-Language" in french.headers["Vary"]


def test_swiss_german_reader_gets_german(client: Any) -> None:
    response = _redeem_unknown(client, "de-CH,de;q=0.9")

    assert response.get_json()["message"] == _translated("de", access.GENERIC)
    assert response.headers["Content-Language"] == "de"


def test_first_preference_wins_even_when_only_its_language_has_a_catalog(client: Any) -> None:
    # fr-CH has no catalog of its own but fr does: French, not the exact match "de".
    response = _redeem_unknown(client, "fr-CH, de;q=0.8")

    assert response.get_json()["message"] == _translated("fr", access.GENERIC)
    assert response.headers["Content-Language"] == "fr"


@pytest.mark.parametrize("accept_language", ["ja", None, "*"])
def test_unsupported_or_missing_language_gets_english(
    client: Any, accept_language: str | None
) -> None:
    response = _redeem_unknown(client, accept_language)

    assert response.get_json()["message"] == access.GENERIC
    assert response.get_json()["error"] == "authentication-failed"
    assert response.headers["Content-Language"] == "en"


def test_message_with_values_is_translated_around_them(client: Any) -> None:
    response = client.get("/api/v1/studies/NO-SUCH-TRIAL", headers={"Accept-Language": "it"})

    assert response.status_code == 404
    body = response.get_json()
    assert body["error"] == "not-found"
    assert body["message"] == _translated(
        "it", "Study %(trial_id)s was not found.", trial_id="NO-SUCH-TRIAL"
    )
    assert "NO-SUCH-TRIAL" in body["message"]


def test_unknown_route_is_answered_in_the_reader_language(client: Any) -> None:
    response = client.get("/api/v1/no-such-thing", headers={"Accept-Language": "pl"})

    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["error"] == "not-found"
    assert body["message"] == _translated("pl", MESSAGE_BY_STATUS[404])
    assert response.headers["Content-Language"] == "pl"


def test_wrong_method_is_answered_in_the_reader_language(client: Any) -> None:
    response = client.post("/api/v1/health", headers={"Accept-Language": "nl"})

    assert response.status_code == 405
    assert response.get_json()["error"] == "method-not-allowed"
    assert response.get_json()["message"] == _translated("nl", MESSAGE_BY_STATUS[405])


def test_invalid_body_message_is_translated_but_field_details_are_left_alone(
    client: Any,
) -> None:
    english = client.post(REDEEM, json={}, headers={"Accept-Language": "en"})
    lithuanian = client.post(REDEEM, json={}, headers={"Accept-Language": "lt"})

    assert lithuanian.status_code == 422
    assert lithuanian.get_json()["error"] == english.get_json()["error"] == "invalid-data"
    assert english.get_json()["message"] == MESSAGE_BY_STATUS[422]
    assert lithuanian.get_json()["message"] == _translated("lt", MESSAGE_BY_STATUS[422])
    assert lithuanian.get_json()["errors"] == english.get_json()["errors"]
