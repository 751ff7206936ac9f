"""The sponsor admin's form publishing API: import, preview, approve, publish, re-consent."""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from consentkit.models.study import FormVersion
from consentkit.models.task import ConsentTask
from consentkit.policy.roles import StaffRole
from consentkit.services import publishing
from consentkit.services.importing import DEMO_STUDY_DIR, import_study
from tests.backend.staff_helpers import auth, make_member, token_for
from tests.consentkit.records_helpers import consented_family

BASE = "/api/v1/staff/studies/DEMO-NBL-1"
V2 = f"{BASE}/forms/parental-consent/versions/2"
#: A second study, whose sponsor admin must not be able to touch DEMO-NBL-1.
STUDY_A = "DEMO-A-1"


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


def _edit(path: Path, change: Any) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def _publish_v2_in_file(data: dict[str, Any]) -> None:
    data["versions"][1].update(
        status="published",
        ethics_reference="EC-FROM-THE-ZIP",
        approved_date="2026-01-10",
        effective_from="2026-02-01",
    )


def _approve_v2_in_file(data: dict[str, Any]) -> None:
    data["versions"][1].update(status="approved", ethics_reference="EC-FROM-THE-ZIP")
    data["versions"][1]["approved_date"] = "2026-01-10"


def _study_snapshot(db: Any, trial_id: str) -> dict[str, list[dict[str, Any]]]:
    """Every stored document of a study (study, forms, versions, tasks), as MongoDB holds it."""
    return {
        name: list(db[name].find({"trial_id": trial_id}).sort("_id", 1))
        for name in ("studies", "consent_forms", "form_versions", "consent_tasks")
    }


@pytest.fixture
def study_a(clean_db: Any, tmp_path: Path) -> str:
    """A second study DEMO-A-1 (the demo's forms under another trial id)."""
    folder = tmp_path / "study-a"
    shutil.copytree(DEMO_STUDY_DIR, folder)
    study_yaml = folder / "study.yaml"
    text = study_yaml.read_text(encoding="utf-8")
    study_yaml.write_text(text.replace("trial_id: DEMO-NBL-1", f"trial_id: {STUDY_A}"), "utf-8")
    import_study(folder)
    return STUDY_A


@pytest.fixture
def other_studys_zip(draft_folder: Path, tmp_path: Path) -> bytes:
    """DEMO-NBL-1 (v2 a draft, one consented family) and a zip that would rewrite it.

    The zip changes the study's sites, rule overrides and settings and marks v2
    published: what a sponsor admin of another study must not be able to do.
    """
    import_study(draft_folder)
    consented_family("P-B")
    evil = tmp_path / "evil"
    shutil.copytree(draft_folder, evil)

    def rewrite_study(data: dict[str, Any]) -> None:
        data["sites"][0]["name"] = "Renamed by another study"
        data["settings"]["minimum_reflection_hours"] = 0
        data["rule_overrides"] = [
            {
                "country": "FR",
                "field": "guardian_rule",
                "value": "one",
                "reason": "not true",
                "reference": "none",
            }
        ]

    _edit(evil / "study.yaml", rewrite_study)
    _edit(evil / "forms" / "parental-consent" / "form.yaml", _publish_v2_in_file)
    return _zip(evil)


@pytest.fixture
def v1_only(clean_db: Any, tmp_path: Path) -> None:
    """DEMO-NBL-1 as the operator first loaded it: parental-consent has only v1 (published)."""
    folder = tmp_path / "v1-only"
    shutil.copytree(DEMO_STUDY_DIR, folder)
    shutil.rmtree(folder / "forms" / "parental-consent" / "v2")
    _edit(folder / "forms" / "parental-consent" / "form.yaml", lambda d: d["versions"].pop())
    import_study(folder)


@pytest.fixture
def admin(client: Any, clean_db: Any) -> dict[str, str]:
    member = make_member(client, "admin@example.org", StaffRole.SPONSOR_ADMIN)
    return auth(token_for(client.application, member))


@pytest.fixture
def investigator(client: Any, clean_db: Any) -> dict[str, str]:
    member = make_member(client, "inv@example.org", StaffRole.INVESTIGATOR, ("FR-01",))
    return auth(token_for(client.application, member))


def _post_zip(client: Any, url: str, csrf: str, data: bytes, name: str) -> Any:
    """Post a zip as the page's form does, the body built in memory.

    werkzeug's test client spools a multipart body over 500 KiB to a temporary file
    it never closes (the demo folder's zip is larger): encoding it here avoids that.
    """
    boundary, body = encode_multipart(
        {"csrf_token": csrf, "folder": FileStorage(io.BytesIO(data), filename=name)}
    )
    return client.post(url, data=body, content_type=f"multipart/form-data; boundary={boundary}")


def test_admin_imports_approves_and_publishes_a_major_version(
    client: Any, v1_only: None, draft_folder: Path, admin: dict[str, str]
) -> None:
    imported = client.post(
        f"{BASE}/forms/import",
        data=_zip(draft_folder),
        content_type="application/zip",
        headers=admin,
    )
    assert imported.status_code == 200, imported.get_json()
    assert imported.get_json()["created"] == ["parental-consent v2"]
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


def test_import_of_another_studys_folder_leaves_that_study_untouched(
    client: Any, study_a: str, other_studys_zip: bytes, clean_db: Any
) -> None:
    member = make_member(client, "a-admin@example.org", StaffRole.SPONSOR_ADMIN, trial_id=study_a)
    before = _study_snapshot(clean_db, "DEMO-NBL-1")
    own_before = _study_snapshot(clean_db, study_a)

    refused = client.post(
        f"/api/v1/staff/studies/{study_a}/forms/import",
        data=other_studys_zip,
        content_type="application/zip",
        headers=auth(token_for(client.application, member)),
    )

    assert refused.status_code == 422, refused.get_json()
    assert refused.mimetype == "application/problem+json"
    assert refused.get_json()["error"] == "wrong-study"
    assert _study_snapshot(clean_db, "DEMO-NBL-1") == before
    assert _study_snapshot(clean_db, study_a) == own_before
    assert before["consent_tasks"] == []  # and the refused import created none


@pytest.mark.parametrize("in_file", [_publish_v2_in_file, _approve_v2_in_file])
def test_import_of_a_zip_marking_a_version_published_or_approved_is_refused(
    client: Any, draft_folder: Path, admin: dict[str, str], clean_db: Any, in_file: Any
) -> None:
    import_study(draft_folder)
    consented_family("P-ZIP")
    _edit(draft_folder / "forms" / "parental-consent" / "form.yaml", in_file)
    before = _study_snapshot(clean_db, "DEMO-NBL-1")

    refused = client.post(
        f"{BASE}/forms/import",
        data=_zip(draft_folder),
        content_type="application/zip",
        headers=admin,
    )

    assert refused.status_code == 422, refused.get_json()
    body = refused.get_json()
    assert body["error"] == "drafts-only"
    assert any(
        e.startswith("forms/parental-consent/form.yaml: version 2 is marked")
        for e in body["errors"]
    ), body
    assert _study_snapshot(clean_db, "DEMO-NBL-1") == before
    stored = FormVersion.objects.get(form_id="parental-consent", version=2)
    assert (stored.status, stored.published_at, stored.approved_by) == ("draft", None, None)
    assert ConsentTask.objects(reason="reconsent").count() == 0
    public = client.get("/api/v1/studies/DEMO-NBL-1/forms/parental-consent/versions/2")
    assert public.status_code == 404


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
    monkeypatch.setattr(publishing, "MAX_UPLOAD_BYTES", 100)
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


def _signed_in_page(
    client: Any,
    email: str,
    role: StaffRole,
    sites: tuple[str, ...] = (),
    trial_id: str = "DEMO-NBL-1",
) -> Any:
    from backend.auth.staff import COOKIE

    member = make_member(client, email, role, sites, trial_id=trial_id)
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

    imported = _post_zip(
        client, "/staff/studies/DEMO-NBL-1/forms/import", csrf, _zip(draft_folder), "study.zip"
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


def test_page_import_of_another_studys_folder_leaves_that_study_untouched(
    client: Any, study_a: str, other_studys_zip: bytes, clean_db: Any
) -> None:
    _signed_in_page(client, "a-admin@example.org", StaffRole.SPONSOR_ADMIN, trial_id=study_a)
    page = client.get(f"/staff/studies/{study_a}/forms/")
    assert page.status_code == 200
    before = _study_snapshot(clean_db, "DEMO-NBL-1")

    refused = _post_zip(
        client, f"/staff/studies/{study_a}/forms/import", _csrf(page), other_studys_zip, "b.zip"
    )

    assert refused.status_code == 422
    assert f"This folder is for study DEMO-NBL-1, not {study_a}." in refused.get_data(as_text=True)
    assert _study_snapshot(clean_db, "DEMO-NBL-1") == before


def test_page_import_of_a_zip_marking_a_version_published_does_not_publish(
    client: Any, draft_folder: Path, clean_db: Any
) -> None:
    _signed_in_page(client, "admin@example.org", StaffRole.SPONSOR_ADMIN)
    import_study(draft_folder)
    consented_family("P-ZIP")
    _edit(draft_folder / "forms" / "parental-consent" / "form.yaml", _publish_v2_in_file)
    page = client.get("/staff/studies/DEMO-NBL-1/forms/")
    before = _study_snapshot(clean_db, "DEMO-NBL-1")

    refused = _post_zip(
        client, "/staff/studies/DEMO-NBL-1/forms/import", _csrf(page), _zip(draft_folder), "s.zip"
    )

    assert refused.status_code == 422
    assert "drafts only" in refused.get_data(as_text=True)
    assert _study_snapshot(clean_db, "DEMO-NBL-1") == before
    assert FormVersion.objects.get(form_id="parental-consent", version=2).status == "draft"
    assert ConsentTask.objects(reason="reconsent").count() == 0


def test_forms_page_is_refused_to_an_investigator(client: Any, demo_study: Any) -> None:
    _signed_in_page(client, "inv@example.org", StaffRole.INVESTIGATOR, ("FR-01",))

    assert client.get("/staff/studies/DEMO-NBL-1/forms/").status_code == 403
    assert client.get("/staff/studies/DEMO-NBL-1/reconsent").status_code == 200
