"""Importing a study folder: validated, idempotent, and never rewriting published text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from consentkit.errors import ConflictError, InvalidDataError
from consentkit.models.study import ConsentForm, FormVersion, Study
from consentkit.services.importing import import_study


def _edit(path: Path, change: Any) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def _counts() -> tuple[int, int, int]:
    return Study.objects.count(), ConsentForm.objects.count(), FormVersion.objects.count()


def test_import_demo_study_twice_creates_nothing_new(demo_study: Any) -> None:
    before = _counts()

    again = import_study(Path(__file__).parents[2] / "consentkit" / "data" / "demo-nbl-1")

    assert demo_study.changed
    assert not again.changed
    assert "already up to date" in again.summary()
    assert _counts() == before
    assert before == (1, 9, 14)


def test_import_refuses_translation_missing_an_item(clean_db: Any, study_folder: Path) -> None:
    fr = study_folder / "forms" / "parental-consent" / "v1" / "fr.yaml"
    _edit(fr, lambda d: d.update(items=[i for i in d["items"] if i["id"] != "genetic-analysis"]))

    with pytest.raises(InvalidDataError) as refused:
        import_study(study_folder)

    errors = refused.value.details["errors"]
    assert any(
        "forms/parental-consent/v1/fr.yaml" in e and "'genetic-analysis' is missing" in e
        for e in errors
    ), errors
    assert _counts() == (0, 0, 0)


def test_import_error_names_file_line_and_field(clean_db: Any, study_folder: Path) -> None:
    en = study_folder / "forms" / "assent-6-9" / "v1" / "en.yaml"
    text = en.read_text(encoding="utf-8")
    line = next(n for n, row in enumerate(text.splitlines(), 1) if "required: true" in row)
    en.write_text(text.replace("required: true", "required: perhaps", 1), encoding="utf-8")

    with pytest.raises(InvalidDataError) as refused:
        import_study(study_folder)

    assert (
        f"forms/assent-6-9/v1/en.yaml:{line}: items.0.required: Not a valid boolean."
        in (refused.value.details["errors"])
    )


def test_import_refuses_publishing_without_a_site_language(
    clean_db: Any, study_folder: Path
) -> None:
    (study_folder / "forms" / "assent-10-13" / "v1" / "lt.yaml").unlink()

    with pytest.raises(InvalidDataError) as refused:
        import_study(study_folder)

    assert any(
        "assent-10-13/v1" in e and "no text in lt" in e for e in refused.value.details["errors"]
    )


def test_import_refuses_changed_text_of_a_published_version(
    clean_db: Any, study_folder: Path
) -> None:
    import_study(study_folder)
    stored = FormVersion.objects.get(form_id="parental-consent", version=1).content_sha256
    de = study_folder / "forms" / "parental-consent" / "v1" / "de.yaml"
    _edit(de, lambda d: d.update(title=d["title"] + " (korrigiert)"))

    with pytest.raises(ConflictError) as refused:
        import_study(study_folder)

    message = refused.value.message
    assert "parental-consent/v1" in message
    assert "text in de" in message
    assert "new version v2" in message
    assert FormVersion.objects.get(form_id="parental-consent", version=1).content_sha256 == stored


def test_refused_import_writes_nothing_else(clean_db: Any, study_folder: Path) -> None:
    import_study(study_folder)
    _edit(study_folder / "study.yaml", lambda d: d.update(sponsor="Renamed sponsor"))
    de = study_folder / "forms" / "parental-consent" / "v2" / "de.yaml"
    _edit(de, lambda d: d.update(title="Geändert"))

    with pytest.raises(ConflictError):
        import_study(study_folder)

    assert Study.objects.get().sponsor != "Renamed sponsor"


def test_import_draft_version_can_change_then_be_published(
    clean_db: Any, study_folder: Path
) -> None:
    import_study(study_folder)
    form_dir = study_folder / "forms" / "investigator-declaration"  # one version only
    (form_dir / "v2").mkdir()
    for path in (form_dir / "v1").glob("*.yaml"):
        (form_dir / "v2" / path.name).write_text(path.read_text(encoding="utf-8"), "utf-8")
    draft = {"version": 2, "status": "draft", "change": "minor", "change_summary": "Typos."}
    _edit(form_dir / "form.yaml", lambda d: d["versions"].append(dict(draft)))
    assert "investigator-declaration v2" in import_study(study_folder).created

    _edit(form_dir / "v2" / "en.yaml", lambda d: d.update(title="A corrected title"))
    assert "investigator-declaration v2" in import_study(study_folder).updated

    def publish(d: dict[str, Any]) -> None:
        d["versions"][-1].update(
            status="published",
            ethics_reference="EC-1",
            approved_date="2026-01-05",
            effective_from="2026-02-01",
        )

    _edit(form_dir / "form.yaml", publish)
    import_study(study_folder)
    stored = FormVersion.objects.get(form_id="investigator-declaration", version=2)
    assert stored.status == "published"
    assert stored.content["en"]["title"] == "A corrected title"
    assert stored.published_at is not None


def test_import_requires_major_or_minor_for_later_versions(
    clean_db: Any, study_folder: Path
) -> None:
    form = study_folder / "forms" / "parental-consent" / "form.yaml"
    _edit(form, lambda d: d["versions"][1].update(change="initial"))

    with pytest.raises(InvalidDataError) as refused:
        import_study(study_folder)

    assert any(
        "major" in e and "parental-consent/form.yaml" in e for e in refused.value.details["errors"]
    )


def test_import_reports_bad_yaml_with_its_line(clean_db: Any, study_folder: Path) -> None:
    en = study_folder / "forms" / "investigator-declaration" / "v1" / "en.yaml"
    en.write_text("title: [unclosed\n", encoding="utf-8")

    with pytest.raises(InvalidDataError) as refused:
        import_study(study_folder)

    assert any(
        e.startswith("forms/investigator-declaration/v1/en.yaml") and "YAML" in e
        for e in refused.value.details["errors"]
    )
