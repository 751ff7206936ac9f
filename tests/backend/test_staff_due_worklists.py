"""Each "needs attention" count of the dashboard opens the list of exactly what it counted.

Through the staff API (``due`` with its ``records_url``) and the staff pages (each count a
link to the filtered worklist), as a site team would follow them.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from consentkit.clock import now_utc
from consentkit.policy.roles import StaffRole
from consentkit.services import dashboard, participation, tasks
from consentkit.services import records as records_service
from consentkit.services.importing import import_study
from tests.backend.staff_helpers import STUDY, TRIAL, auth, colleague, signed_in, token_for
from tests.consentkit.records_helpers import STAFF, T0, consented_family, make_family

API = f"/api/v1/staff/studies/{TRIAL}"
#: What the world below puts behind each count, by participant code.
EXPECTED = {
    "reconsent": ["P-V1"],
    "competence": ["P-COMP"],
    "band-change": ["P-BAND"],
    "suspended": ["P-ADULT"],
    "dissent": ["P-NO"],
}


def _years_before(day: date, years: int) -> date:
    return day.replace(year=day.year - years, day=min(day.day, 28))


def _publish_v2(folder: Path, status: str) -> None:
    path = folder / "forms" / "parental-consent" / "form.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["versions"][1]["status"] = status
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    import_study(folder)


@pytest.fixture
def world(app: Any, study_folder: Path) -> None:
    """One participant behind each count, at FR-01, relative to today (the pages ask now)."""
    today = now_utc().date()
    _publish_v2(study_folder, "approved")
    consented_family("P-V1")  # on v1, then v2 (major) is published
    _publish_v2(study_folder, "published")
    dissenting, _ = consented_family("P-NO")
    participation.record_dissent(
        dissenting.participant,
        actor=STAFF,
        expressed_by=str(dissenting.child.id),
        now=T0 + timedelta(days=3),
    )
    for code, born in (
        ("P-COMP", _years_before(today + timedelta(days=30), 18)),  # France: 18 in 30 days
        ("P-BAND", _years_before(today + timedelta(days=30), 10)),  # 6-9 band -> 10-13
    ):
        family = make_family(code, birth_date=born)
        records_service.open_record(
            family.participant, form_id="parental-consent", actor=STAFF, now=T0
        )
    # 18 on 2026-06-01: consented as a minor in March, suspended by the next event after.
    adult, _ = consented_family("P-ADULT", birth_date=date(2008, 6, 1))
    participation.withdraw(
        adult.participant, scopes=["no-further-contact"], actor=STAFF, now=T0 + timedelta(days=130)
    )
    tasks.create_due_tasks(on=today, trial_id=TRIAL)


@pytest.fixture
def investigator(app: Any, world: None) -> dict[str, str]:
    member = colleague("martin@example.org", StaffRole.INVESTIGATOR, ("FR-01",))
    return auth(token_for(app, member))


def test_api_dashboard_due_counts_link_to_lists_of_exactly_what_they_counted(
    client: Any, investigator: dict[str, str]
) -> None:
    summary = client.get(f"{API}/dashboard", headers=investigator).get_json()
    due = {entry["due"]: entry for entry in summary["due"]}
    assert list(due) == list(dashboard.DUE_FILTERS)
    assert summary["band_change_due"] == due["band-change"]["count"] == 1

    for name, entry in due.items():
        listed = client.get(entry["records_url"], headers=investigator)
        assert listed.status_code == 200, (name, listed.get_json())
        page = listed.get_json()
        assert page["total"] == entry["count"], name
        assert [row["participant_code"] for row in page["items"]] == EXPECTED[name], name


def test_api_records_due_follows_the_site_query(client: Any, investigator: dict[str, str]) -> None:
    summary = client.get(f"{API}/dashboard?site=FR-01", headers=investigator).get_json()
    competence = next(e for e in summary["due"] if e["due"] == "competence")

    assert "site=FR-01" in competence["records_url"]
    assert "due=competence" in competence["records_url"]


def test_api_records_refuses_an_unknown_due_filter_as_problem_json(
    client: Any, investigator: dict[str, str]
) -> None:
    refused = client.get(f"{API}/records?due=overdue", headers=investigator)

    assert refused.status_code == 422
    assert refused.mimetype == "application/problem+json"
    body = refused.get_json()
    assert body["error"] == "invalid-data"
    assert "due" in str(body["errors"])


def test_api_export_of_a_due_list_holds_its_rows(client: Any, investigator: dict[str, str]) -> None:
    exported = client.get(f"{API}/records/export?due=dissent", headers=investigator)

    lines = exported.get_data(as_text=True).strip().splitlines()
    assert exported.status_code == 200
    assert len(lines) == 2 and lines[1].startswith("P-NO,")


def _card(page: str, key: str) -> tuple[str, int]:
    found = re.search(
        rf'<a class="count-card" href="([^"]+)" data-count="{key}">\s*'
        r'<span class="count">(\d+)</span>',
        page,
    )
    assert found is not None, key
    return found.group(1).replace("&amp;", "&"), int(found.group(2))


def _total(page: str) -> int:
    found = re.search(r'<p role="status">(\d+) records? found', page)
    assert found is not None, page[:3000]
    return int(found.group(1))


def test_page_dashboard_counts_are_links_to_lists_of_exactly_what_they_counted(
    app: Any, client: Any, world: None
) -> None:
    signed_in(app, client, colleague("martin@example.org", StaffRole.INVESTIGATOR, ("FR-01",)))
    dashboard_page = client.get(f"{STUDY}/").get_data(as_text=True)

    for name, codes in EXPECTED.items():
        url, count = _card(dashboard_page, name)
        assert f"due={name}" in url
        listed = client.get(url)
        assert listed.status_code == 200, name
        page = listed.get_data(as_text=True)
        assert _total(page) == count == len(codes), name
        shown = re.findall(r'<th scope="row"><a href="[^"]+">([^<]+)</a></th>', page)
        assert shown == codes, name
        assert f'<option value="{name}" selected>' in page


def test_page_worklist_refuses_an_unknown_due_filter(app: Any, client: Any, world: None) -> None:
    signed_in(app, client, colleague("martin@example.org", StaffRole.INVESTIGATOR, ("FR-01",)))

    assert client.get(f"{STUDY}/records?due=overdue").status_code == 400
