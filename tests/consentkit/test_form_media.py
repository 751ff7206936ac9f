"""Pictures of a form: found in the study folder, refused when unsafe, shown inline (issue 14)."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from consentkit.authoring.media import svg_problems
from consentkit.cli import main
from consentkit.errors import InvalidDataError
from consentkit.models.study import FormMedia, FormVersion, Study
from consentkit.services.forms import form_version_content
from consentkit.services.importing import DEMO_STUDY_DIR, import_study

PICTURES = DEMO_STUDY_DIR / "media" / "assent-6-9"
DOCTOR = "media/assent-6-9/doctor-and-child.svg"


def test_demo_pictures_only_draw() -> None:
    pictures = sorted(PICTURES.glob("*.svg"))

    assert len(pictures) == 6
    for picture in pictures:
        assert svg_problems(picture.read_bytes()) == [], picture.name


def test_import_refuses_a_missing_picture_naming_the_file(
    clean_db: Any, study_folder: Path
) -> None:
    (study_folder / DOCTOR).unlink()

    with pytest.raises(InvalidDataError) as refused:
        import_study(study_folder)

    assert refused.value.code == "media-missing"
    errors = refused.value.details["errors"]
    assert any(
        e.startswith("forms/assent-6-9/v1/fr.yaml:") and DOCTOR in e and "missing" in e
        for e in errors
    ), errors
    assert Study.objects.count() == 0
    assert FormMedia.objects.count() == 0


def test_cli_import_names_the_missing_picture_and_the_code(study_folder: Path) -> None:
    (study_folder / DOCTOR).unlink()

    result = CliRunner().invoke(main, ["import", "--check", str(study_folder)])

    assert result.exit_code != 0
    assert DOCTOR in result.output
    assert "media-missing" in result.output


@pytest.mark.parametrize(
    ("svg", "why"),
    [
        ('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "<script>"),
        ('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "onload"),
        (
            '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">'
            '<image xlink:href="https://tracker.example/pixel.png"/></svg>',
            "tracker.example",
        ),
        (
            '<svg xmlns="http://www.w3.org/2000/svg"><rect style="fill:url(http://x.example/a)"/>'
            "</svg>",
            "x.example",
        ),
        (
            '<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            '<svg xmlns="http://www.w3.org/2000/svg"><text>&x;</text></svg>',
            "DTD",
        ),
    ],
    ids=["script", "event-attribute", "external-href", "external-style-url", "entity"],
)
def test_import_refuses_an_svg_that_could_do_more_than_draw(
    clean_db: Any, study_folder: Path, svg: str, why: str
) -> None:
    (study_folder / DOCTOR).write_text(svg, encoding="utf-8")

    with pytest.raises(InvalidDataError) as refused:
        import_study(study_folder)

    assert refused.value.code == "media-unsafe"
    errors = refused.value.details["errors"]
    assert any(DOCTOR in e and why in e for e in errors), errors
    assert FormVersion.objects.count() == 0


def test_import_refuses_a_picture_outside_the_folder(clean_db: Any, study_folder: Path) -> None:
    for path in (study_folder / "forms" / "assent-6-9").glob("v*/*.yaml"):
        path.write_text(
            path.read_text(encoding="utf-8").replace(DOCTOR, "../outside.svg"), encoding="utf-8"
        )

    with pytest.raises(InvalidDataError) as refused:
        import_study(study_folder)

    assert refused.value.code == "media-unsafe"
    assert any("../outside.svg" in e for e in refused.value.details["errors"])


def test_import_stores_each_picture_once(demo_study: Any) -> None:
    stored = {m.ref: m for m in FormMedia.objects(trial_id="DEMO-NBL-1")}

    again = import_study(DEMO_STUDY_DIR)

    assert sorted(stored) == sorted(f"media/assent-6-9/{p.name}" for p in PICTURES.glob("*.svg"))
    assert stored[DOCTOR].content_type == "image/svg+xml"
    assert stored[DOCTOR].data == (DEMO_STUDY_DIR / DOCTOR).read_bytes()
    assert not again.changed
    assert FormMedia.objects.count() == 6


def test_signed_text_fingerprint_covers_the_picture(demo_study: Any) -> None:
    version = FormVersion.objects(form_id="assent-6-9", version=2).get()
    media = version.content["fr"]["sections"][0]["media"]

    assert media["ref"] == DOCTOR
    assert media["sha256"] == FormMedia.objects(ref=DOCTOR).get().sha256


def test_reader_gets_each_picture_inline_with_alt_text_in_their_language(
    demo_study: Any,
) -> None:
    view = form_version_content("DEMO-NBL-1", "assent-6-9", 2, requested="fr")

    pictures = [s["media"] for s in view["sections"]]
    assert all(p is not None and p["src"] for p in pictures)
    first = pictures[0]
    assert first is not None
    assert first["alt"].startswith("Une médecin est assise")
    prefix = "data:image/svg+xml;base64,"
    assert first["src"].startswith(prefix)
    assert base64.b64decode(first["src"][len(prefix) :]) == (DEMO_STUDY_DIR / DOCTOR).read_bytes()


def test_form_view_says_the_bands_reading_style(demo_study: Any) -> None:
    assent = form_version_content("DEMO-NBL-1", "assent-6-9", 2, requested="fr")
    older = form_version_content("DEMO-NBL-1", "assent-10-13", 1, requested="fr")

    assert assent["age_band_style"] == "pictorial"
    assert older["age_band_style"] is None
