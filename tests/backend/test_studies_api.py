"""The studies API: studies, their forms and versions, and what a participant must sign."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from consentkit.authoring.reader import sha256_of
from consentkit.models.study import FormVersion
from consentkit.services import publishing
from consentkit.services.importing import import_study

BASE = "/api/v1/studies"
STUDY = f"{BASE}/DEMO-NBL-1"
PARTICIPANT = f"{STUDY}/participant-forms"
PROBLEM = "application/problem+json"


def _problem(response: Any, status: int, error: str) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body: dict[str, Any] = response.get_json()
    assert body["code"] == status
    assert body["error"] == error
    assert body["message"]
    return body


def _site(body: dict[str, Any], code: str) -> dict[str, Any]:
    return next(site for site in body["sites"] if site["code"] == code)


def _form(forms: list[dict[str, Any]], form_id: str) -> dict[str, Any]:
    return next(form for form in forms if form["form_id"] == form_id)


def test_studies_list_includes_the_demo_study(client: Any, demo_study: Any) -> None:
    response = client.get(BASE)

    assert response.status_code == 200
    assert [study["trial_id"] for study in response.get_json()] == ["DEMO-NBL-1"]


def test_studies_list_is_empty_without_studies(client: Any) -> None:
    response = client.get(BASE)

    assert response.status_code == 200
    assert response.get_json() == []


@pytest.mark.parametrize(
    ("site", "languages"),
    [
        ("FR-01", [("fr", "Français"), ("en", "English")]),
        ("DE-01", [("de", "Deutsch"), ("en", "English")]),
        ("PL-01", [("pl", "Polski"), ("en", "English")]),
        ("LT-01", [("lt", "Lietuvių"), ("en", "English")]),
    ],
)
def test_study_site_languages_are_named_in_their_own_language(
    client: Any, demo_study: Any, site: str, languages: list[tuple[str, str]]
) -> None:
    response = client.get(STUDY)

    assert response.status_code == 200
    shown = _site(response.get_json(), site)["languages"]
    assert [(lang["tag"], lang["name"]) for lang in shown] == languages
    assert {lang["direction"] for lang in shown} == {"ltr"}


def test_study_shows_inactive_sites_as_inactive(client: Any, demo_study: Any) -> None:
    body = client.get(STUDY).get_json()

    assert _site(body, "DE-02")["is_active"] is False
    assert _site(body, "DE-01")["is_active"] is True


def test_study_unknown_is_404_problem(client: Any, demo_study: Any) -> None:
    _problem(client.get(f"{BASE}/NOPE"), 404, "not-found")


def test_study_forms_show_v1_superseded_and_v2_published(client: Any, demo_study: Any) -> None:
    response = client.get(f"{STUDY}/forms")

    assert response.status_code == 200
    parental = _form(response.get_json(), "parental-consent")
    assert [(v["version"], v["status"]) for v in parental["versions"]] == [
        (1, "superseded"),
        (2, "published"),
    ]
    assert parental["version_in_force"] == 2


def test_study_forms_major_change_requires_reconsent(client: Any, demo_study: Any) -> None:
    parental = _form(client.get(f"{STUDY}/forms").get_json(), "parental-consent")

    assert [(v["version"], v["requires_reconsent"]) for v in parental["versions"]] == [
        (1, False),
        (2, True),
    ]


def test_study_forms_unknown_study_is_404_problem(client: Any, demo_study: Any) -> None:
    _problem(client.get(f"{BASE}/NOPE/forms"), 404, "not-found")


def test_form_version_lang_parameter_selects_the_language(client: Any, demo_study: Any) -> None:
    response = client.get(f"{STUDY}/forms/parental-consent/versions/2?lang=pl")

    assert response.status_code == 200
    body = response.get_json()
    stored = FormVersion.objects.get(trial_id="DEMO-NBL-1", form_id="parental-consent", version=2)
    assert body["locale"] == "pl"
    assert body["language"]["name"] == "Polski"
    assert body["title"] == stored.content["pl"]["title"]
    assert body["content_sha256"] == sha256_of(stored.content["pl"])


def test_form_version_lists_its_available_languages(client: Any, demo_study: Any) -> None:
    body = client.get(f"{STUDY}/forms/parental-consent/versions/2?lang=pl").get_json()

    stored = FormVersion.objects.get(trial_id="DEMO-NBL-1", form_id="parental-consent", version=2)
    tags = [lang["tag"] for lang in body["available_languages"]]
    assert sorted(tags) == sorted(stored.content)
    assert {"fr", "de", "pl", "nl"} <= set(tags)


@pytest.mark.parametrize(
    ("header", "locale"),
    [("nl", "nl"), ("de-AT,de;q=0.9", "de"), ("ja, it;q=0.5", "it")],
)
def test_form_version_honours_accept_language(
    client: Any, demo_study: Any, header: str, locale: str
) -> None:
    response = client.get(
        f"{STUDY}/forms/parental-consent/versions/2", headers={"Accept-Language": header}
    )

    assert response.status_code == 200
    assert response.get_json()["locale"] == locale


def test_form_version_lang_parameter_beats_accept_language(client: Any, demo_study: Any) -> None:
    response = client.get(
        f"{STUDY}/forms/parental-consent/versions/2?lang=fr", headers={"Accept-Language": "de"}
    )

    assert response.get_json()["locale"] == "fr"


def test_form_version_unknown_language_falls_back_to_the_site_default(
    client: Any, demo_study: Any
) -> None:
    response = client.get(
        f"{STUDY}/forms/parental-consent/versions/2?site=NL-01",
        headers={"Accept-Language": "sv"},
    )

    assert response.get_json()["locale"] == "nl"


def test_form_version_does_not_reveal_quiz_answers(client: Any, demo_study: Any) -> None:
    response = client.get(f"{STUDY}/forms/parental-consent/versions/2?lang=en")

    questions = response.get_json()["questions"]
    assert questions
    assert all(set(q) == {"id", "text", "options"} for q in questions)
    assert '"correct"' not in response.get_data(as_text=True)
    assert '"explanation"' not in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "path",
    [
        "forms/parental-consent/versions/3",
        "forms/no-such-form/versions/1",
    ],
)
def test_form_version_missing_is_404_problem(client: Any, demo_study: Any, path: str) -> None:
    _problem(client.get(f"{STUDY}/{path}"), 404, "not-found")


@pytest.fixture
def unpublished_v2(clean_db: Any, study_folder: Path) -> Path:
    """The demo study with parental-consent v2 still a draft (v1 published and in force)."""
    path = study_folder / "forms" / "parental-consent" / "form.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["versions"][1].update(
        status="draft", ethics_reference=None, approved_date=None, effective_from=None
    )
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    import_study(study_folder)
    return study_folder


@pytest.mark.parametrize("status", ["draft", "approved"])
def test_form_version_unpublished_is_404_like_a_missing_one(
    client: Any, unpublished_v2: Path, status: str
) -> None:
    if status == "approved":
        publishing.approve_version(
            "DEMO-NBL-1", "parental-consent", 2, ethics_reference="EC-2", by="admin-1"
        )

    unpublished = client.get(f"{STUDY}/forms/parental-consent/versions/2?lang=en")
    missing = client.get(f"{STUDY}/forms/parental-consent/versions/3?lang=en")

    body = _problem(unpublished, 404, "not-found")
    assert body == {
        **_problem(missing, 404, "not-found"),
        "message": "Form parental-consent version 2 was not found in DEMO-NBL-1.",
    }
    assert "Pourquoi" not in unpublished.get_data(as_text=True)
    assert client.get(f"{STUDY}/forms/parental-consent/versions/1").status_code == 200


@pytest.mark.parametrize("status", ["draft", "approved"])
def test_study_forms_hide_unpublished_versions_from_anonymous_callers(
    client: Any, unpublished_v2: Path, status: str
) -> None:
    if status == "approved":
        publishing.approve_version(
            "DEMO-NBL-1", "parental-consent", 2, ethics_reference="EC-2", by="admin-1"
        )

    parental = _form(client.get(f"{STUDY}/forms").get_json(), "parental-consent")

    assert [(v["version"], v["status"]) for v in parental["versions"]] == [(1, "published")]
    assert parental["version_in_force"] == 1


def test_form_version_bad_lang_is_422_naming_lang(client: Any, demo_study: Any) -> None:
    response = client.get(f"{STUDY}/forms/parental-consent/versions/2?lang=<script>")

    body = _problem(response, 422, "invalid-data")
    assert "lang" in body["errors"]["query"]


def test_participant_forms_resolves_forms_for_an_eight_year_old_in_france(
    client: Any, demo_study: Any
) -> None:
    response = client.get(f"{PARTICIPANT}?site=FR-01&birth_date=2018-05-01&on=2026-11-24")

    assert response.status_code == 200
    body = response.get_json()
    assert {(f["form_id"], f["version"]) for f in body["forms"]} == {
        ("parental-consent", 2),
        ("assent-6-9", 2),  # v2: the hearing-loss update, in force since 2025-12-01
        ("investigator-declaration", 1),
    }
    assert {f["locale"] for f in body["forms"]} == {"fr"}
    assert body["missing_form_kinds"] == []


def test_participant_forms_dates_are_iso_8601(client: Any, demo_study: Any) -> None:
    body = client.get(f"{PARTICIPANT}?site=FR-01&birth_date=2018-05-01&on=2026-11-24").get_json()

    parental = _form(body["forms"], "parental-consent")
    assert body["on"] == "2026-11-24"
    assert parental["effective_from"] == "2025-10-01"


def test_participant_forms_honours_accept_language(client: Any, demo_study: Any) -> None:
    response = client.get(
        f"{PARTICIPANT}?site=FR-01&birth_date=2018-05-01&on=2026-11-24",
        headers={"Accept-Language": "de-AT,de;q=0.9"},
    )

    assert {f["locale"] for f in response.get_json()["forms"]} == {"de"}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("site=FR-01", "birth_date"),
        ("birth_date=2018-05-01", "site"),
        ("site=FR-01&birth_date=01/05/2018", "birth_date"),
        ("site=FR-01&birth_date=2018-02-30", "birth_date"),
        ("site=FR-01&birth_date=2018-05-01&on=tomorrow", "on"),
    ],
)
def test_participant_forms_bad_query_is_422_naming_the_field(
    client: Any, demo_study: Any, query: str, field: str
) -> None:
    body = _problem(client.get(f"{PARTICIPANT}?{query}"), 422, "invalid-data")

    assert field in body["errors"]["query"]


@pytest.mark.parametrize(
    "url",
    [
        f"{PARTICIPANT}?site=XX-99&birth_date=2018-05-01",
        f"{BASE}/NOPE/participant-forms?site=FR-01&birth_date=2018-05-01",
    ],
)
def test_participant_forms_unknown_site_or_study_is_404_problem(
    client: Any, demo_study: Any, url: str
) -> None:
    _problem(client.get(url), 404, "not-found")


def test_participant_forms_birth_date_after_on_is_422_problem(client: Any, demo_study: Any) -> None:
    response = client.get(f"{PARTICIPANT}?site=FR-01&birth_date=2026-12-01&on=2026-11-24")

    body = _problem(response, 422, "invalid-data")
    assert "birth_date" in body["errors"]
