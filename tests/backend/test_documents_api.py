"""Verifying a sealed consent PDF over HTTP and from the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from consentkit.cli import main
from consentkit.services import documents
from tests.consentkit.records_helpers import consented_family


@pytest.fixture
def sealed_pdf(demo_study: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> bytes:
    monkeypatch.setenv("CONSENTKIT_DATA_DIR", str(tmp_path))
    family, record = consented_family("P-PDF")
    return documents.consent_document(family.participant, record.record_id).content


def _flip(pdf: bytes) -> bytes:
    damaged = bytearray(pdf)
    damaged[len(damaged) // 2] ^= 0x01
    return bytes(damaged)


def test_verify_endpoint_accepts_a_genuine_pdf_and_refuses_a_changed_one(
    client: Any, sealed_pdf: bytes
) -> None:
    genuine = client.post(
        "/api/v1/documents/verify", data=sealed_pdf, content_type="application/pdf"
    )
    changed = client.post(
        "/api/v1/documents/verify", data=_flip(sealed_pdf), content_type="application/pdf"
    )

    assert genuine.status_code == 200
    assert genuine.get_json()["ok"] is True
    assert genuine.get_json()["record"]["participant_code"] == "P-PDF"
    assert changed.status_code == 200
    assert changed.get_json()["ok"] is False
    assert changed.get_json()["problems"]


def test_verify_endpoint_wants_a_pdf_body(client: Any) -> None:
    response = client.post("/api/v1/documents/verify", json={"file": "x"})

    assert response.status_code == 422
    assert response.get_json()["error"] == "not-a-pdf"


def test_verify_pdf_command_exit_status(
    sealed_pdf: bytes,
    tmp_path: Path,
    connected: str,
    db_name: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CONSENTKIT_MONGODB_URI", connected)
    monkeypatch.setenv("CONSENTKIT_MONGODB_DB", db_name)
    good, bad = tmp_path / "good.pdf", tmp_path / "bad.pdf"
    good.write_bytes(sealed_pdf)
    bad.write_bytes(_flip(sealed_pdf))

    ok = CliRunner().invoke(main, ["verify-pdf", str(good)])
    refused = CliRunner().invoke(main, ["verify-pdf", str(bad)])

    assert ok.exit_code == 0, ok.output
    assert "GENUINE" in ok.output
    assert refused.exit_code == 1
    assert "NOT VERIFIED" in refused.output
