"""A parent told of a minor version reads its new text from the task list, in the browser."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from consentkit.clock import now_utc
from consentkit.models.study import FormVersion
from consentkit.services import access, publishing
from consentkit.services.importing import import_study
from tests.browser.conftest import Outbox
from tests.browser.family_steps import LANG, sign_in
from tests.consentkit.records_helpers import STAFF, Family, consented_family

pytestmark = pytest.mark.browser

playwright_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
expect = playwright_api.expect
TRIAL = "DEMO-NBL-1"


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
    family, _ = consented_family("FR-INFO-B")
    publishing.approve_version(TRIAL, "parental-consent", 2, ethics_reference="EC-2", by="admin")
    publishing.publish_version(
        TRIAL, "parental-consent", 2, change="minor", effective_from=now_utc().date(), by="admin"
    )
    return family


def test_family_reads_what_changed_on_the_new_versions_page(
    phones: Any, outbox: Outbox, informed: Family
) -> None:
    phone = phones()
    code = access.create_invitation(informed.participant, informed.guardians[0], actor=STAFF)
    sign_in(phone, code, outbox)
    page = phone.page

    page.click("a.task-action[href*='/family/information/']")

    page.wait_for_url("**/family/information/parental-consent/2")
    v2 = FormVersion.objects.get(trial_id=TRIAL, form_id="parental-consent", version=2)
    shown = v2.content[LANG]  # the page language, as the app asks for it
    expect(page.locator("#form-title")).to_have_text(shown["title"])
    expect(page.locator("#information-sections article")).to_have_count(len(shown["sections"]))
    phone.screenshot("family-updated-information")
