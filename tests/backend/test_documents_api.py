"""Verifying a sealed consent PDF over HTTP and from the command line.

Anyone gets genuine or not from the seal alone; staff who may read the
participant also get the comparison with the audit trail (issue 11, item 5).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from consentkit.cli import main
from consentkit.models.participant import Participant
from consentkit.policy.roles import StaffRole
from consentkit.services import documents
from tests.backend.staff_helpers import auth, make_member, token_for
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


VERIFY = "/api/v1/documents/verify"


def _verify(client: Any, pdf: bytes, headers: dict[str, str] | None = None, **kw: Any) -> Any:
    return client.post(
        VERIFY, data=pdf, content_type="application/pdf", headers=headers or {}, **kw
    )


@pytest.fixture
def staff_of(client: Any) -> Any:
    """Bearer headers for a new staff member with one role at some sites of the demo study."""

    def make(role: StaffRole, sites: tuple[str, ...], trial_id: str = "DEMO-NBL-1") -> Any:
        member = make_member(client, f"{role}-{len(sites)}@example.org", role, sites, trial_id)
        return auth(token_for(client.application, member))

    return make


def test_verify_endpoint_accepts_a_genuine_pdf_and_refuses_a_changed_one(
    client: Any, sealed_pdf: bytes
) -> None:
    genuine = _verify(client, sealed_pdf)
    changed = _verify(client, _flip(sealed_pdf))

    assert genuine.status_code == 200
    assert genuine.get_json()["ok"] is True
    assert changed.status_code == 200
    assert changed.get_json()["ok"] is False
    assert changed.get_json()["problems"]


def test_verify_anonymous_answer_reveals_nothing_from_the_database(
    client: Any, sealed_pdf: bytes
) -> None:
    before = _verify(client, sealed_pdf).get_json()
    Participant.objects(code="P-PDF").delete()
    after = _verify(client, sealed_pdf).get_json()

    assert before == after  # the same answer whether the participant exists or not
    assert before["ok"] is True
    assert set(before) == {"ok", "seal", "problems"}


def test_verify_staff_get_the_comparison_with_the_audit_trail(
    client: Any, sealed_pdf: bytes, staff_of: Any
) -> None:
    investigator = staff_of(StaffRole.INVESTIGATOR, ("FR-01",))

    body = _verify(client, sealed_pdf, investigator).get_json()
    Participant.objects(code="P-PDF").delete()
    gone = _verify(client, sealed_pdf, staff_of(StaffRole.SPONSOR_ADMIN, ("*",))).get_json()

    assert body["ok"] is True
    assert body["record_matches"] is True
    assert body["record"]["participant_code"] == "P-PDF"
    assert gone["ok"] is False
    assert gone["problems"] == ["the participant in this document is not in this database"]


@pytest.mark.parametrize(
    ("role", "sites", "trial_id"),
    [
        (StaffRole.INVESTIGATOR, ("NL-01",), "DEMO-NBL-1"),  # another site
        (StaffRole.SPONSOR_ADMIN, ("*",), "OTHER-TRIAL"),  # another study
    ],
)
def test_verify_staff_of_another_site_or_study_get_no_detail(
    client: Any,
    sealed_pdf: bytes,
    staff_of: Any,
    role: StaffRole,
    sites: tuple[str, ...],
    trial_id: str,
) -> None:
    response = _verify(client, sealed_pdf, staff_of(role, sites, trial_id))

    assert response.status_code == 403
    assert "P-PDF" not in response.get_data(as_text=True)


def test_verify_site_staff_learn_nothing_about_codes_of_other_sites(
    client: Any, sealed_pdf: bytes, staff_of: Any
) -> None:
    elsewhere = staff_of(StaffRole.SITE_STAFF, ("NL-01",))
    exists = _verify(client, sealed_pdf, elsewhere)
    Participant.objects(code="P-PDF").delete()
    missing = _verify(client, sealed_pdf, elsewhere)

    assert exists.status_code == missing.status_code == 403
    assert exists.get_json() == missing.get_json()


def test_verify_with_a_bad_token_is_401_not_the_anonymous_answer(
    client: Any, sealed_pdf: bytes
) -> None:
    response = _verify(client, sealed_pdf, {"Authorization": "Bearer nonsense"})

    assert response.status_code == 401


def test_verify_is_rate_limited_per_client_address(client: Any, clean_db: Any) -> None:
    junk = b"%PDF-1.7\nnot really\n"
    for _ in range(30):
        assert _verify(client, junk).status_code == 200

    refused = _verify(client, junk)
    other = _verify(client, junk, environ_base={"REMOTE_ADDR": "198.51.100.9"})

    assert refused.status_code == 429
    assert refused.mimetype == "application/problem+json"
    assert int(refused.headers["Retry-After"]) > 0
    assert other.status_code == 200


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
