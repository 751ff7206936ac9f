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


def _edit(path: Path, change: Any) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def _draft_v2(folder: Path) -> None:
    _edit(
        folder / "forms" / FORM / "form.yaml",
        lambda d: d["versions"][1].update(
            status="draft", ethics_reference=None, approved_date=None, effective_from=None
        ),
    )


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
    assert (row.participant_code, row.form_id, row.version) == ("P-REC", FORM, 2)
    assert row.due_date == date(2026, 6, 1)
    assert row.site_code == "FR-01"
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


def test_import_upload_imports_a_draft_from_a_zip_with_a_top_folder(draft_v2: Path) -> None:
    en = draft_v2 / "forms" / FORM / "v2" / "en.yaml"
    _edit(en, lambda d: d.update(title="A corrected title"))

    report = publishing.import_upload(_zip(draft_v2, prefix="demo-nbl-1/"), trial_id=TRIAL)

    assert report.trial_id == TRIAL and report.updated == [f"{FORM} v2"]
    stored = FormVersion.objects.get(form_id=FORM, version=2)
    assert (stored.status, stored.content["en"]["title"]) == ("draft", "A corrected title")
    assert not publishing.import_upload(_zip(draft_v2), trial_id=TRIAL).changed  # idempotent


def test_import_upload_repeating_what_consentkit_published_changes_nothing(
    demo_study: Any,
) -> None:
    report = publishing.import_upload(_zip(DEMO_STUDY_DIR), trial_id=TRIAL)

    assert not report.changed


def test_import_upload_refuses_published_versions_consentkit_does_not_hold(
    clean_db: Any,
) -> None:
    with pytest.raises(InvalidDataError) as refused:
        publishing.import_upload(_zip(DEMO_STUDY_DIR), trial_id=TRIAL)

    assert refused.value.code == "drafts-only"
    assert any(
        e.startswith("forms/parental-consent/form.yaml: version 1 is marked published")
        for e in refused.value.details["errors"]
    )
    assert (Study.objects.count(), FormVersion.objects.count()) == (0, 0)


def test_import_upload_refuses_another_studys_folder_before_writing(
    draft_v2: Path,
) -> None:
    _edit(draft_v2 / "study.yaml", lambda d: d.update(title="Rewritten by another study"))

    with pytest.raises(InvalidDataError) as refused:
        publishing.import_upload(_zip(draft_v2), trial_id="DEMO-A-1")

    assert refused.value.code == "wrong-study"
    assert Study.objects.get(trial_id=TRIAL).title != "Rewritten by another study"


def test_import_upload_refuses_to_retire_a_published_version(draft_v2: Path) -> None:
    _edit(
        draft_v2 / "forms" / FORM / "form.yaml", lambda d: d["versions"][0].update(status="retired")
    )

    with pytest.raises(InvalidDataError) as refused:
        publishing.import_upload(_zip(draft_v2), trial_id=TRIAL)

    assert refused.value.code == "drafts-only"
    assert FormVersion.objects.get(form_id=FORM, version=1).status == "published"


def test_re_importing_the_folder_after_approving_in_consentkit_keeps_the_approval(
    draft_v2: Path,
) -> None:
    publishing.approve_version(TRIAL, FORM, 2, ethics_reference="EC-2", by="admin-1")

    report = import_study(draft_v2)  # the folder still says draft, with the same text

    assert not report.changed
    stored = FormVersion.objects.get(form_id=FORM, version=2)
    assert (stored.status, stored.ethics_reference, stored.approved_by) == (
        "approved",
        "EC-2",
        "admin-1",
    )


def test_import_of_new_text_for_an_approved_version_makes_it_a_draft_again(
    draft_v2: Path,
) -> None:
    publishing.approve_version(TRIAL, FORM, 2, ethics_reference="EC-2", by="admin-1")
    _edit(draft_v2 / "forms" / FORM / "v2" / "en.yaml", lambda d: d.update(title="New title"))

    publishing.import_upload(_zip(draft_v2), trial_id=TRIAL)

    stored = FormVersion.objects.get(form_id=FORM, version=2)
    assert (stored.status, stored.approved_by, stored.approved_at) == ("draft", None, None)


@pytest.mark.parametrize(
    "name", ["../study.yaml", "/etc/study.yaml", "forms/../../x.yaml", "C:/study.yaml"]
)
def test_import_upload_refuses_names_outside_the_folder(clean_db: Any, name: str) -> None:
    with pytest.raises(InvalidDataError) as refused:
        publishing.import_upload(_zip_with(name), trial_id=TRIAL)
    assert "outside the study folder" in refused.value.details["errors"][0]


def test_import_upload_refuses_symbolic_links(clean_db: Any) -> None:
    with pytest.raises(InvalidDataError) as refused:
        publishing.import_upload(_zip_with("study.yaml", b"/etc/passwd", link=True), trial_id=TRIAL)
    assert "symbolic links" in refused.value.details["errors"][0]


def test_import_upload_refuses_a_zip_bomb(clean_db: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(publishing, "MAX_UNPACKED_BYTES", 1000)
    with pytest.raises(InvalidDataError):
        publishing.import_upload(_zip_with("study.yaml", b"0" * 5000), trial_id=TRIAL)
    assert Study.objects.count() == 0


def test_import_upload_refuses_what_is_not_a_zip(clean_db: Any) -> None:
    with pytest.raises(InvalidDataError):
        publishing.import_upload(b"not a zip", trial_id=TRIAL)


def test_import_upload_reports_folder_problems_with_file_and_line(
    clean_db: Any, study_folder: Path
) -> None:
    (study_folder / "study.yaml").write_text("trial_id: [unclosed\n", encoding="utf-8")

    with pytest.raises(InvalidDataError) as refused:
        publishing.import_upload(_zip(study_folder), trial_id=TRIAL)
    assert any(str(e).startswith("study.yaml") for e in refused.value.details["errors"])
