"""What a participant must read and sign, in which version and language (demo study, real db)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from consentkit.authoring.reader import sha256_of
from consentkit.errors import InvalidDataError, NotFoundError
from consentkit.models.study import FormVersion
from consentkit.services.forms import form_version_content
from consentkit.services.importing import import_study
from consentkit.services.requirements import participant_forms

TRIAL = "DEMO-NBL-1"
TODAY = date(2026, 11, 24)
BEFORE_V2 = date(2025, 6, 1)  # parental-consent v2 takes effect on 2025-10-01


def _forms(**kwargs: Any) -> dict[str, Any]:
    args = {"site_code": "FR-01", "birth_date": date(2018, 5, 1), "on": TODAY, **kwargs}
    return participant_forms(TRIAL, **args)


def _by_id(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {form["form_id"]: form for form in result["forms"]}


def _stored(form_id: str, version: int) -> FormVersion:
    found: FormVersion = FormVersion.objects.get(trial_id=TRIAL, form_id=form_id, version=version)
    return found


def test_participant_forms_eight_year_old_in_france_gets_parental_assent_and_declaration(
    demo_study: Any,
) -> None:
    forms = _by_id(_forms())

    assert sorted(forms) == ["assent-6-9", "investigator-declaration", "parental-consent"]


def test_participant_forms_shows_the_version_in_force_after_a_major_change(
    demo_study: Any,
) -> None:
    parental = _by_id(_forms())["parental-consent"]

    assert (parental["version"], parental["change"]) == (2, "major")


def test_participant_forms_shows_the_earlier_version_before_the_change_took_effect(
    demo_study: Any,
) -> None:
    forms = _by_id(_forms(birth_date=date(2017, 1, 1), on=BEFORE_V2))

    assert forms["parental-consent"]["version"] == 1
    assert "assent-6-9" in forms


@pytest.mark.parametrize(
    ("site_code", "birth_date", "assent_form"),
    [
        ("FR-01", date(2015, 5, 1), "assent-10-13"),
        ("IT-01", date(2011, 5, 1), "assent-14-17"),
        ("ES-01", date(2019, 5, 1), "assent-6-9"),
        ("LT-01", date(2012, 1, 1), "assent-14-17"),
    ],
)
def test_participant_forms_child_gets_the_assent_form_of_their_age_band(
    demo_study: Any, site_code: str, birth_date: date, assent_form: str
) -> None:
    result = _forms(site_code=site_code, birth_date=birth_date)

    assent = [f["form_id"] for f in result["forms"] if f["kind"] == "child-assent"]
    assert assent == [assent_form]


@pytest.mark.parametrize(
    ("site_code", "birth_date"),
    [
        ("FR-01", date(2018, 5, 1)),
        ("NL-01", date(2013, 3, 1)),
        ("NL-01", date(2010, 5, 1)),
        ("GB-ENG-01", date(2017, 1, 1)),
    ],
)
def test_participant_forms_demo_study_has_a_form_for_every_required_kind(
    demo_study: Any, site_code: str, birth_date: date
) -> None:
    result = _forms(site_code=site_code, birth_date=birth_date)

    assert result["missing_form_kinds"] == []
    assert {f["kind"] for f in result["forms"]} == set(result["requirements"]["form_kinds"])


def test_participant_forms_defaults_to_the_site_language(demo_study: Any) -> None:
    forms = _forms()["forms"]

    assert {form["locale"] for form in forms} == {"fr"}


def test_participant_forms_honours_a_regional_accept_language(demo_study: Any) -> None:
    parental = _by_id(_forms(accept_language="de-AT,de;q=0.9"))["parental-consent"]

    assert parental["locale"] == "de"
    assert parental["title"] == _stored("parental-consent", 2).content["de"]["title"]


def test_participant_forms_language_the_form_lacks_falls_back_to_the_site_default(
    demo_study: Any,
) -> None:
    parental = _by_id(_forms(accept_language="sv-SE,sv;q=0.9"))["parental-consent"]

    assert parental["locale"] == "fr"
    assert parental["title"] == _stored("parental-consent", 2).content["fr"]["title"]


def test_participant_forms_explicit_language_beats_accept_language(demo_study: Any) -> None:
    forms = _forms(requested="nl", accept_language="de")["forms"]

    assert {form["locale"] for form in forms} == {"nl"}


def test_participant_forms_sixteen_year_old_in_netherlands_consents_without_parents(
    demo_study: Any,
) -> None:
    result = participant_forms(TRIAL, site_code="NL-01", birth_date=date(2010, 5, 1), on=TODAY)

    forms = _by_id(result)
    assert "young-person-consent" in forms
    assert "parental-consent" not in forms
    assert result["requirements"]["guardians_required"] == 0


@pytest.mark.parametrize("locale", ["fr", "de", "nl"])
def test_participant_forms_hash_is_of_exactly_the_stored_text(demo_study: Any, locale: str) -> None:
    parental = _by_id(_forms(requested=locale))["parental-consent"]

    stored = _stored("parental-consent", 2)
    assert parental["locale"] == locale
    assert parental["content_sha256"] == sha256_of(stored.content[locale])


def test_participant_forms_hash_differs_between_languages(demo_study: Any) -> None:
    fr = _by_id(_forms(requested="fr"))["parental-consent"]
    de = _by_id(_forms(requested="de"))["parental-consent"]

    assert fr["content_sha256"] != de["content_sha256"]


def test_participant_forms_questions_do_not_reveal_the_answers(demo_study: Any) -> None:
    forms = _forms()["forms"]

    questions = [q for form in forms for q in form["questions"]]
    assert questions, "the demo parental consent has a comprehension quiz"
    for question in questions:
        assert set(question) == {"id", "text", "options"}
        for option in question["options"]:
            assert set(option) == {"id", "text"}


def test_participant_forms_questions_keep_their_options(demo_study: Any) -> None:
    parental = _by_id(_forms())["parental-consent"]

    stored = _stored("parental-consent", 2).content["fr"]["questions"]
    shown = [(q["id"], [o["id"] for o in q["options"]]) for q in parental["questions"]]
    assert shown == [(q["id"], [o["id"] for o in q["options"]]) for q in stored]


@pytest.mark.parametrize(
    ("trial_id", "site_code"),
    [("NOPE", "FR-01"), (TRIAL, "XX-99"), (TRIAL, "fr-01")],
)
def test_participant_forms_unknown_study_or_site_is_not_found(
    demo_study: Any, trial_id: str, site_code: str
) -> None:
    with pytest.raises(NotFoundError):
        participant_forms(trial_id, site_code=site_code, birth_date=date(2018, 5, 1), on=TODAY)


def test_participant_forms_birth_date_after_the_decision_date_is_invalid(
    demo_study: Any,
) -> None:
    with pytest.raises(InvalidDataError):
        _forms(birth_date=date(2027, 1, 1))


def test_form_version_content_missing_version_is_not_found(demo_study: Any) -> None:
    with pytest.raises(NotFoundError):
        form_version_content(TRIAL, "parental-consent", 3)


def test_form_version_content_unknown_site_is_not_found(demo_study: Any) -> None:
    with pytest.raises(NotFoundError):
        form_version_content(TRIAL, "parental-consent", 1, site_code="XX-99")


def _write_body(path: Path, section_index: int, body: str) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["sections"][section_index]["body"] = body
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


@pytest.mark.parametrize(
    ("payload", "forbidden"),
    [
        ("<script>alert(1)</script>", "<script"),
        ('Hello <img src="x" onerror="alert(1)">', "<img"),
        ('<a href="javascript:alert(1)">tap</a>', "<a "),
        ("[tap](javascript:alert(1))", "href"),
        ("![x](file:///etc/passwd)", "<img"),
    ],
)
def test_form_version_content_section_html_never_carries_active_markup(
    clean_db: Any, study_folder: Path, payload: str, forbidden: str
) -> None:
    _write_body(study_folder / "forms" / "assent-6-9" / "v1" / "en.yaml", 0, payload)
    import_study(study_folder)

    shown = form_version_content(TRIAL, "assent-6-9", 1, requested="en")

    html = shown["sections"][0]["html"]
    assert shown["locale"] == "en"
    assert forbidden not in html.lower()


def test_form_version_content_escapes_a_script_tag_as_text(
    clean_db: Any, study_folder: Path
) -> None:
    _write_body(
        study_folder / "forms" / "assent-6-9" / "v1" / "en.yaml", 0, "<script>alert(1)</script>"
    )
    import_study(study_folder)

    html = form_version_content(TRIAL, "assent-6-9", 1, requested="en")["sections"][0]["html"]

    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
