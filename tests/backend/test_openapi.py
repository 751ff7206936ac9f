"""The published OpenAPI document is valid and documents the health route."""

from __future__ import annotations

from typing import Any

from openapi_spec_validator import validate


def test_openapi_document_is_valid_openapi_3(client: Any) -> None:
    response = client.get("/api/openapi.json")

    assert response.status_code == 200
    spec = response.get_json()
    validate(spec)
    assert spec["openapi"].startswith("3.")
    assert "/api/v1/health" in spec["paths"]


def test_interactive_docs_are_served(client: Any) -> None:
    response = client.get("/api/docs")

    assert response.status_code == 200
    assert b"swagger" in response.data.lower()
