"""The sponsor admin's form publishing API: import, preview, approve, publish, re-consent."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from backend.resources.forms_admin import routes
from consentkit.policy.roles import StaffRole
from consentkit.services.importing import import_study
from tests.backend.staff_helpers import auth, make_member, token_for
from tests.consentkit.records_helpers import consented_family

BASE = "/api/v1/staff/studies/DEMO-NBL-1"
V2 = f"{BASE}/forms/parental-consent/versions/2"


def _zip(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())
    return buffer.getvalue()


@pytest.fixture
def draft_folder(study_folder: Path) -> Path:
    path = study_folder / "forms" / "parental-consent" / "form.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["versions"][1].update(
        status="draft", ethics_reference=None, approved_date=None, effective_from=None
    )
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return study_folder


@pytest.fixture
def admin(client: Any, clean_db: Any) -> dict[str, str]:
    member = make_member(client, "admin@example.org", StaffRole.SPONSOR_ADMIN)
    return auth(token_for(client.application, member))


@pytest.fixture
def investigator(client: Any, clean_db: Any) -> dict[str, str]:
    member = make_member(client, "inv@example.org", StaffRole.INVESTIGATOR, ("FR-01",))
    return auth(token_for(client.application, member))


def test_admin_imports_approves_and_publishes_a_major_version(
    client: Any, draft_folder: Path, admin: dict[str, str]
) -> None:
    imported = client.post(
        f"{BASE}/forms/import",
        data=_zip(draft_folder),
        content_type="application/zip",
        headers=admin,
    )
    assert imported.status_code == 200, imported.get_json()
    assert imported.get_json()["changed"] is True
    consented_family("P-API")

    approved = client.post(f"{V2}/approve", json={"ethics_reference": "EC-2"}, headers=admin)
    assert approved.status_code == 200, approved.get_json()
    assert approved.get_json()["status"] == "approved"
    published = client.post(
        f"{V2}/publish", json={"change": "major", "effective_from": "2026-06-01"}, headers=admin
    )
    assert published.status_code == 200, published.get_json()
    assert published.get_json()["reconsent_tasks"] == 1

    worklist = client.get(f"{BASE}/reconsent", headers=admin).get_json()
    assert [(r["participant_code"], r["version"]) for r in worklist] == [("P-API", 2)]
    again = client.post(
        f"{V2}/publish", json={"change": "major", "effective_from": "2026-06-01"}, headers=admin
    )
    assert again.status_code == 409
    assert again.mimetype == "application/problem+json"


def test_investigator_may_not_import_or_approve(
    client: Any, draft_folder: Path, investigator: dict[str, str]
) -> None:
    import_study(draft_folder)
    refused = client.post(
        f"{BASE}/forms/import",
        data=_zip(draft_folder),
        content_type="application/zip",
        headers=investigator,
    )
    assert refused.status_code == 403
    approve = client.post(f"{V2}/approve", json={"ethics_reference": "X"}, headers=investigator)
    assert approve.status_code == 403


def test_investigator_sees_the_reconsent_worklist_of_their_sites(
    client: Any, demo_study: Any, investigator: dict[str, str]
) -> None:
    assert client.get(f"{BASE}/reconsent", headers=investigator).status_code == 200
    assert client.get(f"{BASE}/reconsent?site=NL-01", headers=investigator).status_code == 403


@pytest.mark.parametrize(("lang", "word"), [("fr", "Pourquoi"), ("nl", "Waarom")])
def test_preview_a_draft_in_each_language(
    client: Any, draft_folder: Path, admin: dict[str, str], lang: str, word: str
) -> None:
    import_study(draft_folder)

    shown = client.get(f"{V2}/preview", query_string={"lang": lang}, headers=admin)

    assert shown.status_code == 200, shown.get_json()
    body = shown.get_json()
    assert body["locale"] == lang
    assert any(word in s["title"] for s in body["sections"])


def test_import_over_the_limit_is_413(
    client: Any, demo_study: Any, admin: dict[str, str], monkeypatch: Any
) -> None:
    monkeypatch.setattr(routes, "MAX_UPLOAD_BYTES", 100)
    too_big = client.post(
        f"{BASE}/forms/import", data=b"0" * 500, content_type="application/zip", headers=admin
    )
    assert too_big.status_code == 413
    assert too_big.get_json()["error"] == "payload-too-large"


def test_import_of_a_non_zip_is_422(client: Any, demo_study: Any, admin: dict[str, str]) -> None:
    refused = client.post(
        f"{BASE}/forms/import", data=b"hello", content_type="application/zip", headers=admin
    )
    assert refused.status_code == 422


# ---------------------------------------------------------------- the staff pages


def _signed_in_page(client: Any, email: str, role: StaffRole, sites: tuple[str, ...] = ()) -> Any:
    from backend.auth.staff import COOKIE

    member = make_member(client, email, role, sites)
    client.set_cookie(COOKIE, token_for(client.application, member), path="/staff")
    return member


def _csrf(page: Any) -> str:
    import re

    found = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
    assert found
    return found.group(1)


def test_pages_import_preview_approve_publish_and_list_reconsent(
    client: Any, draft_folder: Path, clean_db: Any
) -> None:
    _signed_in_page(client, "admin@example.org", StaffRole.SPONSOR_ADMIN)
    import_study(draft_folder)
    consented_family("P-WEB")
    page = client.get("/staff/studies/DEMO-NBL-1/forms/")
    assert page.status_code == 200
    assert 'data-status="draft"' in page.get_data(as_text=True)
    csrf = _csrf(page)

    imported = client.post(
        "/staff/studies/DEMO-NBL-1/forms/import",
        data={"csrf_token": csrf, "folder": (io.BytesIO(_zip(draft_folder)), "study.zip")},
        content_type="multipart/form-data",
    )
    assert imported.status_code == 200
    preview = client.get("/staff/studies/DEMO-NBL-1/forms/parental-consent/v2?text=nl")
    assert "Waarom vragen wij u dit?" in preview.get_data(as_text=True)

    base = "/staff/studies/DEMO-NBL-1/forms/parental-consent/v2"
    no_csrf = client.post(f"{base}/approve", data={"ethics_reference": "EC-2"})
    assert no_csrf.status_code == 400
    approved = client.post(f"{base}/approve", data={"ethics_reference": "EC-2", "csrf_token": csrf})
    assert approved.status_code == 302
    published = client.post(
        f"{base}/publish",
        data={"change": "major", "effective_from": "2026-06-01", "csrf_token": csrf},
        follow_redirects=True,
    )
    assert published.status_code == 200
    assert "Re-consent tasks created: 1" in published.get_data(as_text=True)
    worklist = client.get("/staff/studies/DEMO-NBL-1/reconsent")
    assert "P-WEB" in worklist.get_data(as_text=True)


def test_forms_page_is_refused_to_an_investigator(client: Any, demo_study: Any) -> None:
    _signed_in_page(client, "inv@example.org", StaffRole.INVESTIGATOR, ("FR-01",))

    assert client.get("/staff/studies/DEMO-NBL-1/forms/").status_code == 403
    assert client.get("/staff/studies/DEMO-NBL-1/reconsent").status_code == 200
