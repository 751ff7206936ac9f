"""Updated information: a family told of a minor version reads its new text (issue 13).

``GET /me/information/{form_id}/{version}`` answers only the signers of a record that
was informed of that version; the family page ``/family/information/...`` reads it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from consentkit.clock import now_utc
from consentkit.services import publishing
from consentkit.services.importing import import_study
from tests.backend.signer_access_world import API, sign_in
from tests.consentkit.records_helpers import Family, consented_family

TRIAL = "DEMO-NBL-1"


@pytest.fixture(autouse=True)
def _console_codes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONSENTKIT_OTP_SENDER", "console")


@pytest.fixture
def informed(clean_db: Any, study_folder: Path) -> Family:
    """A family consented on parental-consent v1, then told of v2 published as minor."""
    path = study_folder / "forms" / "parental-consent" / "form.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["versions"][1].update(
        status="draft", ethics_reference=None, approved_date=None, effective_from=None
    )
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    import_study(study_folder)
    family, _ = consented_family("FR-INFO")
    publishing.approve_version(TRIAL, "parental-consent", 2, ethics_reference="EC-2", by="admin")
    published = publishing.publish_version(
        TRIAL, "parental-consent", 2, change="minor", effective_from=now_utc().date(), by="admin"
    )
    assert published.informed == 1
    return family


def test_information_shows_an_informed_guardian_the_new_version(
    client: Any, informed: Family
) -> None:
    phone = sign_in(client, informed, informed.guardians[0])

    shown = client.get(f"{API}/me/information/parental-consent/2", headers=phone.headers)

    assert shown.status_code == 200, shown.get_json()
    body = shown.get_json()
    assert (body["form_id"], body["version"], body["locale"]) == ("parental-consent", 2, "fr")
    assert body["sections"] and body["title"]


@pytest.mark.parametrize("version", [1, 3])
def test_information_of_a_version_not_told_is_not_found(
    client: Any, informed: Family, version: int
) -> None:
    phone = sign_in(client, informed, informed.guardians[0])

    missing = client.get(f"{API}/me/information/parental-consent/{version}", headers=phone.headers)

    assert (missing.status_code, missing.get_json()["error"]) == (404, "information-not-found")


def test_information_is_not_shown_to_a_family_member_who_does_not_sign_that_form(
    client: Any, informed: Family
) -> None:
    child = sign_in(client, informed, informed.child)

    hidden = client.get(f"{API}/me/information/parental-consent/2", headers=child.headers)

    assert (hidden.status_code, hidden.get_json()["error"]) == (404, "information-not-found")


def test_family_tasks_link_updated_information_to_its_page(client: Any, informed: Family) -> None:
    phone = sign_in(client, informed, informed.guardians[0])
    [update] = [
        t
        for t in client.get(f"{API}/me/tasks", headers=phone.headers).get_json()
        if t["phase"] == "informed"
    ]

    page = client.get("/family/information/parental-consent/2")

    assert update["information"]["form_id"] == "parental-consent"
    assert update["information"]["version"] == 2
    assert page.status_code == 200
    assert '"information": {"form_id": "parental-consent", "version": 2}' in page.get_data(
        as_text=True
    )
