"""Publishing forms: approve and publish transitions, re-consent tasks, safe zip uploads."""

from __future__ import annotations

import io
import stat
import zipfile
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from consentkit.errors import ConflictError, InvalidDataError
from consentkit.models.study import FormVersion, Study
from consentkit.models.task import ConsentTask
from consentkit.services import publishing
from consentkit.services.importing import DEMO_STUDY_DIR, import_study
from tests.consentkit.records_helpers import consented_family

TRIAL = "DEMO-NBL-1"
FORM = "parental-consent"


def _draft_v2(folder: Path) -> None:
    path = folder / "forms" / FORM / "form.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["versions"][1].update(
        status="draft", ethics_reference=None, approved_date=None, effective_from=None
    )
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


@pytest.fixture
def draft_v2(clean_db: Any, study_folder: Path) -> Path:
    """The demo study with parental-consent v2 still a draft."""
    _draft_v2(study_folder)
    import_study(study_folder)
    return study_folder


def _zip(folder: Path, prefix: str = "") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, prefix + path.relative_to(folder).as_posix())
    return buffer.getvalue()


def _zip_with(name: str, data: bytes = b"x", *, link: bool = False) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo(name)
        if link:
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(info, data)
    return buffer.getvalue()


def test_approve_version_records_the_ethics_reference(draft_v2: Path) -> None:
    version = publishing.approve_version(TRIAL, FORM, 2, ethics_reference=" EC-2 ", by="admin-1")

    assert version.status == "approved"
    assert version.ethics_reference == "EC-2"
    assert version.approved_by == "admin-1"
    assert version.approved_at is not None and version.approved_date is not None


def test_approve_version_needs_an_ethics_reference(draft_v2: Path) -> None:
    with pytest.raises(InvalidDataError):
        publishing.approve_version(TRIAL, FORM, 2, ethics_reference="  ", by="admin-1")
    assert FormVersion.objects.get(form_id=FORM, version=2).status == "draft"


def test_approve_version_refuses_a_version_that_is_not_a_draft(draft_v2: Path) -> None:
    with pytest.raises(ConflictError) as refused:
        publishing.approve_version(TRIAL, FORM, 1, ethics_reference="EC", by="admin-1")
    assert refused.value.code == "wrong-version-status"


def test_publish_version_refuses_a_draft(draft_v2: Path) -> None:
    with pytest.raises(ConflictError):
        publishing.publish_version(
            TRIAL, FORM, 2, change="major", effective_from=date(2026, 6, 1), by="admin-1"
        )
    assert FormVersion.objects.get(form_id=FORM, version=2).status == "draft"


def test_publish_version_major_creates_reconsent_tasks(draft_v2: Path) -> None:
    consented_family("P-REC")
    publishing.approve_version(TRIAL, FORM, 2, ethics_reference="EC-2", by="admin-1")

    result = publishing.publish_version(
        TRIAL, FORM, 2, change="major", effective_from=date(2026, 6, 1), by="admin-1"
    )

    assert result.reconsent_tasks == 1
    stored = FormVersion.objects.get(form_id=FORM, version=2)
    assert (stored.status, stored.change, stored.published_by) == ("published", "major", "admin-1")
    [row] = publishing.reconsent_worklist(TRIAL)
    assert (row["participant_code"], row["form_id"], row["version"]) == ("P-REC", FORM, 2)
    assert row["due_date"] == date(2026, 6, 1)
    assert row["site_code"] == "FR-01"
    assert publishing.reconsent_worklist(TRIAL, site_codes=["NL-01"]) == []


def test_publish_version_minor_creates_no_task(draft_v2: Path) -> None:
    consented_family("P-MIN")
    publishing.approve_version(TRIAL, FORM, 2, ethics_reference="EC-2", by="admin-1")

    result = publishing.publish_version(
        TRIAL, FORM, 2, change="minor", effective_from=date(2026, 6, 1), by="admin-1"
    )

    assert result.reconsent_tasks == 0
    assert ConsentTask.objects(reason="reconsent").count() == 0


def test_publish_version_twice_is_refused(draft_v2: Path) -> None:
    publishing.approve_version(TRIAL, FORM, 2, ethics_reference="EC-2", by="admin-1")
    publishing.publish_version(
        TRIAL, FORM, 2, change="minor", effective_from=date(2026, 6, 1), by="admin-1"
    )
    with pytest.raises(ConflictError):
        publishing.publish_version(
            TRIAL, FORM, 2, change="major", effective_from=date(2026, 6, 1), by="admin-2"
        )


def test_re_importing_the_folder_after_publishing_in_consentkit_changes_nothing(
    draft_v2: Path,
) -> None:
    publishing.approve_version(TRIAL, FORM, 2, ethics_reference="EC-2", by="admin-1")
    publishing.publish_version(
        TRIAL, FORM, 2, change="major", effective_from=date(2026, 6, 1), by="admin-1"
    )

    report = import_study(draft_v2)  # the folder still says draft

    assert any(label.startswith(f"{FORM} v2") for label in report.unchanged)
    stored = FormVersion.objects.get(form_id=FORM, version=2)
    assert (stored.status, stored.ethics_reference) == ("published", "EC-2")


def test_import_upload_imports_a_zip_of_the_demo_study(clean_db: Any) -> None:
    report = publishing.import_upload(_zip(DEMO_STUDY_DIR, prefix="demo-nbl-1/"))

    assert report.trial_id == TRIAL and report.changed
    assert Study.objects(trial_id=TRIAL).count() == 1
    assert not publishing.import_upload(_zip(DEMO_STUDY_DIR)).changed  # idempotent


@pytest.mark.parametrize(
    "name", ["../study.yaml", "/etc/study.yaml", "forms/../../x.yaml", "C:/study.yaml"]
)
def test_import_upload_refuses_names_outside_the_folder(clean_db: Any, name: str) -> None:
    with pytest.raises(InvalidDataError) as refused:
        publishing.import_upload(_zip_with(name))
    assert "outside the study folder" in refused.value.details["errors"][0]


def test_import_upload_refuses_symbolic_links(clean_db: Any) -> None:
    with pytest.raises(InvalidDataError) as refused:
        publishing.import_upload(_zip_with("study.yaml", b"/etc/passwd", link=True))
    assert "symbolic links" in refused.value.details["errors"][0]


def test_import_upload_refuses_a_zip_bomb(clean_db: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(publishing, "MAX_UNPACKED_BYTES", 1000)
    with pytest.raises(InvalidDataError):
        publishing.import_upload(_zip_with("study.yaml", b"0" * 5000))
    assert Study.objects.count() == 0


def test_import_upload_refuses_what_is_not_a_zip(clean_db: Any) -> None:
    with pytest.raises(InvalidDataError):
        publishing.import_upload(b"not a zip")


def test_import_upload_reports_folder_problems_with_file_and_line(
    clean_db: Any, study_folder: Path
) -> None:
    (study_folder / "study.yaml").write_text("trial_id: [unclosed\n", encoding="utf-8")

    with pytest.raises(InvalidDataError) as refused:
        publishing.import_upload(_zip(study_folder))
    assert any(str(e).startswith("study.yaml") for e in refused.value.details["errors"])
