"""The requirements API: who must consent for a birth date and country."""

from __future__ import annotations

from typing import Any

import pytest

URL = "/api/v1/requirements"
PROBLEM = "application/problem+json"


def _problem(response: Any) -> dict[str, Any]:
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body: dict[str, Any] = response.get_json()
    assert body["code"] == 422
    assert body["error"] == "invalid-data"
    return body


def test_requirements_netherlands_thirteen_year_old_co_signs_with_both_parents(
    client: Any,
) -> None:
    response = client.get(f"{URL}?country=NL&birth_date=2013-03-01&on=2026-11-23")

    assert response.status_code == 200
    body = response.get_json()
    assert body["age"] == 13
    assert body["guardians_required"] == 2
    assert body["minor_role"] == "co-sign"


def test_requirements_cite_their_sources(client: Any) -> None:
    body = client.get(f"{URL}?country=NL&birth_date=2013-03-01&on=2026-11-23").get_json()

    assert body["sources"]
    assert all(source.startswith(("http://", "https://")) for source in body["sources"])


def test_requirements_country_code_is_case_insensitive(client: Any) -> None:
    body = client.get(f"{URL}?country=nl&birth_date=2013-03-01&on=2026-11-23").get_json()

    assert body["country"] == "NL"


@pytest.mark.parametrize("country", ["ZZ", "XX", "Netherlands"])
def test_requirements_unsupported_country_is_422_listing_the_supported_ones(
    client: Any, country: str
) -> None:
    body = _problem(client.get(f"{URL}?country={country}&birth_date=2013-03-01&on=2026-11-23"))

    assert country in body["message"]
    assert "supported" in body["message"]
    assert "NL" in body["message"]
    assert "country" in body["errors"]


@pytest.mark.parametrize("country", ["GB", "UK", "gb"])
def test_requirements_gb_is_422_asking_for_a_nation(client: Any, country: str) -> None:
    body = _problem(client.get(f"{URL}?country={country}&birth_date=2013-03-01&on=2026-11-23"))

    assert "GB-ENG" in body["message"]
    assert "GB-SCT" in body["message"]
    assert "nation" in body["message"]


def test_requirements_uk_nation_is_accepted(client: Any) -> None:
    response = client.get(f"{URL}?country=GB-SCT&birth_date=2013-03-01&on=2026-11-23")

    assert response.status_code == 200
    assert response.get_json()["country"] == "GB-SCT"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("birth_date=2013-03-01", "country"),
        ("country=NL", "birth_date"),
        ("country=NL&birth_date=1-3-2013", "birth_date"),
        ("country=NL&birth_date=2013-03-01&on=soon", "on"),
        ("country=NL&birth_date=2013-03-01&trial_type=cosmetics", "trial_type"),
    ],
)
def test_requirements_bad_query_is_422_naming_the_field(
    client: Any, query: str, field: str
) -> None:
    body = _problem(client.get(f"{URL}?{query}"))

    assert field in body["errors"]["query"]


def test_requirements_birth_date_after_on_is_422(client: Any) -> None:
    body = _problem(client.get(f"{URL}?country=NL&birth_date=2027-01-01&on=2026-11-23"))

    assert "birth_date" in body["errors"]
