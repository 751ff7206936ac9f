"""The staff JSON API end to end: preview, enrol, invite, dashboard, worklist, export, timeline."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from typing import Any

import pytest
from openpyxl import load_workbook

from consentkit.clock import now_utc
from consentkit.models.participant import Participant
from consentkit.models.staff import StaffSession
from consentkit.policy.roles import StaffRole
from consentkit.services import records
from tests.backend.staff_helpers import BASE, FAMILY, auth, enrol, make_member, token_for
from tests.consentkit.records_helpers import STROKES


@pytest.fixture
def investigator(client: Any, demo_study: Any) -> dict[str, str]:
    member = make_member(client, "visser@example.org", StaffRole.INVESTIGATOR, ("NL-01",))
    return auth(token_for(client.application, member))


def test_preview_then_enrol_a_13_year_old_in_the_netherlands(
    client: Any, investigator: dict[str, str]
) -> None:
    preview = client.post(
        f"{BASE}/participants/preview",
        json={"site": "NL-01", "birth_date": "2013-01-15"},
        headers=investigator,
    )
    assert preview.status_code == 200
    assert preview.get_json()["signers_needed"] == {"guardian": 2, "participant": 1}
    assert Participant.objects.count() == 0  # a preview saves nothing

    made = enrol(client, investigator, preferred_language="nl")
    assert made.status_code == 201, made.get_json()
    body = made.get_json()
    assert body["country"] == "NL"
    assert sorted(s["role"] for s in body["signers"]) == [
        "guardian",
        "guardian",
        "investigator",
        "participant",
    ]
    forms = {r["form_id"] for r in body["records"]}
    assert {"parental-consent", "young-person-co-consent"} <= forms

    again = enrol(client, investigator)
    assert again.status_code == 409


def test_a_family_short_of_a_parent_is_refused_with_an_actionable_code(
    client: Any, investigator: dict[str, str]
) -> None:
    body = {"code": "NL-0002", "site": "NL-01", "birth_date": "2013-01-15", "signers": FAMILY[1:]}
    refused = client.post(f"{BASE}/participants", json=body, headers=investigator)
    assert refused.status_code == 409
    assert refused.get_json()["error"] == "guardian-exception-required"
    assert "sole-parental-authority" in refused.get_json()["message"]
    assert client.get(f"{BASE}/participants/NL-0002", headers=investigator).status_code == 404


@pytest.fixture
def site_staff(client: Any, demo_study: Any) -> dict[str, str]:
    member = make_member(client, "nurse@example.org", StaffRole.SITE_STAFF, ("NL-01",))
    return auth(token_for(client.application, member))


def test_enrol_by_site_staff_without_an_investigator_is_refused(
    client: Any, site_staff: dict[str, str]
) -> None:
    make_member(client, "visser@example.org", StaffRole.INVESTIGATOR, ("NL-01",))

    refused = enrol(client, site_staff)

    assert refused.status_code == 422
    assert refused.get_json()["error"] == "investigator-required"
    assert Participant.objects.count() == 0


def test_enrol_by_site_staff_names_the_sites_investigator_as_signer(
    client: Any, site_staff: dict[str, str]
) -> None:
    doctor = make_member(client, "visser@example.org", StaffRole.INVESTIGATOR, ("NL-01",))
    preview = client.post(
        f"{BASE}/participants/preview",
        json={"site": "NL-01", "birth_date": "2013-01-15"},
        headers=site_staff,
    ).get_json()
    assert preview["investigators"] == [{"staff_id": doctor.staff_id, "name": "Visser"}]

    made = enrol(client, site_staff, investigator_id=doctor.staff_id)

    assert made.status_code == 201, made.get_json()
    [signer] = [s for s in made.get_json()["signers"] if s["role"] == "investigator"]
    assert signer["staff_id"] == doctor.staff_id
    record = next(r for r in made.get_json()["records"] if r["form_id"] == "parental-consent")
    # The named investigator can countersign it; site staff cannot.
    countersign = client.post(
        f"{BASE}/participants/NL-0001/records/{record['record_id']}/countersign",
        json={"locale": "nl", "content_sha256": "0" * 64, "printed_name": "X", "strokes": STROKES},
        headers=site_staff,
    )
    assert countersign.status_code == 403


@pytest.mark.parametrize("who", ["site-staff", "other-site-investigator", "not-an-id"])
def test_enrol_naming_someone_who_cannot_countersign_there_is_refused(
    client: Any, site_staff: dict[str, str], who: str
) -> None:
    named = {
        "site-staff": lambda: (
            make_member(client, "other@example.org", StaffRole.SITE_STAFF, ("NL-01",)).staff_id
        ),
        "other-site-investigator": lambda: (
            make_member(client, "dupont@example.org", StaffRole.INVESTIGATOR, ("FR-01",)).staff_id
        ),
        "not-an-id": lambda: "xyz",
    }[who]()

    refused = enrol(client, site_staff, investigator_id=named)

    assert refused.status_code == 422
    assert refused.get_json()["error"] == "investigator-invalid"
    assert Participant.objects.count() == 0


def test_enrol_by_an_investigator_makes_them_the_signer(
    client: Any, investigator: dict[str, str]
) -> None:
    made = enrol(client, investigator)

    [signer] = [s for s in made.get_json()["signers"] if s["role"] == "investigator"]
    assert signer["name"] == "Visser"


def test_an_infant_is_enrolled_with_the_guardians_alone(client: Any, demo_study: Any) -> None:
    # PL-01: a 1-year-old is "informed"; the investigator's declaration is no child form.
    doctor = make_member(client, "nowak@example.org", StaffRole.INVESTIGATOR, ("PL-01",))
    headers = auth(token_for(client.application, doctor))
    born = (now_utc().date() - timedelta(days=400)).isoformat()

    preview = client.post(
        f"{BASE}/participants/preview", json={"site": "PL-01", "birth_date": born}, headers=headers
    ).get_json()
    made = client.post(
        f"{BASE}/participants",
        json={"code": "PL-0001", "site": "PL-01", "birth_date": born, "signers": FAMILY[:2]},
        headers=headers,
    )

    assert preview["requirements"]["minor_role"] == "informed"
    assert preview["signers_needed"] == {"guardian": 2}
    assert made.status_code == 201, made.get_json()
    assert sorted(s["role"] for s in made.get_json()["signers"]) == [
        "guardian",
        "guardian",
        "investigator",
    ]
    assert {r["form_id"] for r in made.get_json()["records"]} == {
        "parental-consent",
        "investigator-declaration",
    }


def test_invite_and_the_dashboard_and_worklist_follow(
    client: Any, investigator: dict[str, str]
) -> None:
    made = enrol(client, investigator).get_json()
    guardian = next(s for s in made["signers"] if s["role"] == "guardian")
    invited = client.post(
        f"{BASE}/participants/NL-0001/invitations",
        json={"signer_id": guardian["signer_id"]},
        headers=investigator,
    )
    assert invited.status_code == 201
    assert invited.get_json()["code"] in invited.get_json()["link"]

    summary = client.get(f"{BASE}/dashboard", headers=investigator).get_json()
    assert summary["by_state"]["awaiting-information"] == len(made["records"])
    assert summary["sites"] == ["NL-01"]

    page = client.get(
        f"{BASE}/records", query_string={"q": "NL-00", "page_size": 2}, headers=investigator
    ).get_json()
    listed = page["items"]
    while page["next_url"]:
        page = client.get(page["next_url"], headers=investigator).get_json()
        listed += page["items"]
    assert len(listed) == len(made["records"])
    assert all(item["participant_code"] == "NL-0001" for item in listed)
    everything = client.get(f"{BASE}/records", headers=investigator).get_json()
    assert everything["total"] == len(made["records"])
    nothing = client.get(f"{BASE}/records", query_string={"q": "FR"}, headers=investigator)
    assert nothing.get_json()["items"] == []

    timeline = client.get(f"{BASE}/participants/NL-0001/timeline", headers=investigator)
    kinds = [e["type"] for e in timeline.get_json()]
    assert kinds[0] == "participant.enrolled"
    assert "invitation.created" in kinds and "record.opened" in kinds
    assert all(e["summary"] for e in timeline.get_json())


def test_exports_as_csv_and_xlsx(client: Any, investigator: dict[str, str]) -> None:
    made = enrol(client, investigator).get_json()
    as_csv = client.get(f"{BASE}/records/export", headers=investigator)
    assert as_csv.status_code == 200
    assert as_csv.mimetype == "text/csv"
    assert "attachment" in as_csv.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(as_csv.get_data(as_text=True))))
    assert len(rows) == len(made["records"])
    assert {r["participant_code"] for r in rows} == {"NL-0001"}
    assert {r["state"] for r in rows} == {"awaiting-information"}

    as_xlsx = client.get(
        f"{BASE}/records/export", query_string={"format": "xlsx"}, headers=investigator
    )
    sheet = load_workbook(io.BytesIO(as_xlsx.get_data())).active
    values = list(sheet.values)
    assert values[0][0] == "participant_code"
    assert len(values) == len(made["records"]) + 1


def test_countersigning_needs_a_recent_sign_in(client: Any, investigator: dict[str, str]) -> None:
    made = enrol(client, investigator).get_json()
    record = next(r for r in made["records"] if r["form_id"] == "investigator-declaration")
    StaffSession.objects.update(set__reauth_at=now_utc() - timedelta(minutes=10))
    url = f"{BASE}/participants/NL-0001/records/{record['record_id']}/countersign"
    body = {
        "locale": "nl",
        "content_sha256": "0" * 64,
        "printed_name": "Dr Visser",
        "strokes": STROKES,
    }
    stale = client.post(url, json=body, headers=investigator)
    assert stale.status_code == 401
    assert stale.get_json()["error"] == "reauthentication-required"
    StaffSession.objects.update(set__reauth_at=now_utc())
    mismatch = client.post(url, json=body, headers=investigator)
    assert mismatch.status_code == 409
    assert mismatch.get_json()["error"] == "content-mismatch"


def test_revoke_and_resend_invitations(client: Any, investigator: dict[str, str]) -> None:
    made = enrol(client, investigator).get_json()
    guardian = next(s for s in made["signers"] if s["role"] == "guardian")
    url = f"{BASE}/participants/NL-0001/invitations"
    first = client.post(url, json={"signer_id": guardian["signer_id"]}, headers=investigator)
    listed = client.get(url, headers=investigator).get_json()
    assert [i["revoked_at"] for i in listed] == [None]
    assert "code" not in listed[0]  # codes are shown once, never listed

    resent = client.post(f"{url}/{listed[0]['invitation_id']}/resend", headers=investigator)
    assert resent.status_code == 201
    new_code = resent.get_json()["code"]
    assert new_code != first.get_json()["code"]

    def redeem(code: str) -> int:
        return client.post("/api/v1/auth/invitations/redeem", json={"code": code}).status_code

    assert redeem(first.get_json()["code"]) == 401  # the old letter no longer works
    assert redeem(new_code) == 202

    newest = client.get(url, headers=investigator).get_json()[-1]["invitation_id"]
    assert client.delete(f"{url}/{newest}", headers=investigator).status_code == 204
    assert redeem(new_code) == 401
    kinds = [
        e["type"]
        for e in client.get(
            f"{BASE}/participants/NL-0001/timeline", headers=investigator
        ).get_json()
    ]
    assert kinds.count("invitation.revoked") == 2


@pytest.mark.parametrize("suffix", ["", "/timeline", "/invitations"])
def test_another_sites_participant_answers_like_a_code_that_does_not_exist(
    client: Any, investigator: dict[str, str], suffix: str
) -> None:
    french = make_member(client, "dupont@example.org", StaffRole.INVESTIGATOR, ("FR-01",))
    body = {"code": "FR-0001", "site": "FR-01", "birth_date": "2013-01-15", "signers": FAMILY}
    fr_headers = auth(token_for(client.application, french))
    assert client.post(f"{BASE}/participants", json=body, headers=fr_headers).status_code == 201

    other_site = client.get(f"{BASE}/participants/FR-0001{suffix}", headers=investigator)
    unknown = client.get(f"{BASE}/participants/FR-0404{suffix}", headers=investigator)

    assert other_site.status_code == unknown.status_code == 404
    assert other_site.get_data(as_text=True).replace("FR-0001", "<code>") == unknown.get_data(
        as_text=True
    ).replace("FR-0404", "<code>")
    assert other_site.headers.get("Content-Language") == unknown.headers.get("Content-Language")


def _timeline_types(client: Any, headers: dict[str, str], code: str = "NL-0001") -> list[str]:
    timeline = client.get(f"{BASE}/participants/{code}/timeline", headers=headers).get_json()
    return [e["type"] for e in timeline]


def test_staff_dissent_needs_a_recent_reauthentication(
    client: Any, investigator: dict[str, str]
) -> None:
    enrol(client, investigator)
    StaffSession.objects.update(set__reauth_at=now_utc() - timedelta(minutes=10))

    stale = client.post(f"{BASE}/participants/NL-0001/dissent", json={}, headers=investigator)

    assert stale.status_code == 401
    assert stale.get_json()["error"] == "reauthentication-required"
    assert "assent.dissent" not in _timeline_types(client, investigator)


@pytest.mark.parametrize("route", ["dissent", "withdrawals"])
def test_staff_expressed_by_must_be_a_family_member_of_the_participant(
    client: Any, investigator: dict[str, str], route: str
) -> None:
    signers = enrol(client, investigator).get_json()["signers"]
    child = next(s["signer_id"] for s in signers if s["role"] == "participant")
    doctor = next(s["signer_id"] for s in signers if s["role"] == "investigator")
    url = f"{BASE}/participants/NL-0001/{route}"
    body = (
        {"scopes": ["stop-imp"], "channel": "phone", "reason_declined": True}
        if route == "withdrawals"
        else {}
    )

    answers = [
        client.post(url, json={**body, "expressed_by": who}, headers=investigator)
        for who in ("x" * 5000, "not-an-id", "0" * 24, doctor)
    ]
    done = client.post(url, json={**body, "expressed_by": child}, headers=investigator)

    assert [a.status_code for a in answers] == [422, 422, 422, 422]
    assert [a.get_json()["error"] for a in answers[1:]] == ["expressed-by-invalid"] * 3
    assert done.status_code == 201, done.get_json()
    history = records.history(Participant.objects.get(code="NL-0001"))
    recorded = [e for e in history if e["type"] in ("assent.dissent", "withdrawal.recorded")]
    assert [e["payload"]["expressed_by"] for e in recorded] == [child]


def test_invitations_list_says_whether_each_code_still_works_like_the_page(
    client: Any, investigator: dict[str, str]
) -> None:
    made = enrol(client, investigator).get_json()
    guardian = next(s for s in made["signers"] if s["role"] == "guardian")
    url = f"{BASE}/participants/NL-0001/invitations"
    client.post(url, json={"signer_id": guardian["signer_id"]}, headers=investigator)
    first = client.get(url, headers=investigator).get_json()[0]["invitation_id"]
    client.post(f"{url}/{first}/resend", headers=investigator)

    listed = client.get(url, headers={**investigator, "Accept-Language": "fr"}).get_json()

    assert [(i["status"], i["label"]) for i in listed] == [
        ("revoked", "Révoquée"),
        ("active", "Active"),
    ]


def test_timeline_labels_each_event_in_the_requested_language(
    client: Any, investigator: dict[str, str]
) -> None:
    enrol(client, investigator)
    url = f"{BASE}/participants/NL-0001/timeline"

    english = client.get(url, headers=investigator).get_json()
    french = client.get(url, headers={**investigator, "Accept-Language": "fr"}).get_json()

    assert (english[0]["type"], english[0]["label"]) == ("participant.enrolled", "Enrolled")
    assert french[0]["label"] == "Inclus"
    opened = next(e for e in french if e["type"] == "record.opened")
    assert opened["label"] == "Formulaire de consentement ouvert"


@pytest.mark.parametrize("cursor", ["garbage", "MjAyNnw", "x" * 200])
def test_worklist_refuses_a_forged_cursor_with_a_problem(
    client: Any, investigator: dict[str, str], cursor: str
) -> None:
    enrol(client, investigator)

    response = client.get(f"{BASE}/records", query_string={"cursor": cursor}, headers=investigator)

    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["error"] == "bad-cursor"


def test_worklist_xlsx_export_streams_a_sheet_a_coordinator_can_filter(
    client: Any, investigator: dict[str, str]
) -> None:
    made = enrol(client, investigator).get_json()

    response = client.get(
        f"{BASE}/records/export", query_string={"format": "xlsx"}, headers=investigator
    )

    assert response.status_code == 200
    assert response.is_streamed
    sheet = load_workbook(io.BytesIO(response.get_data())).active
    rows = list(sheet.iter_rows(values_only=True))
    header = rows[0]
    assert header[0] == "participant_code" and header[-1] == "record_id"
    assert "opened_at (UTC)" in header
    assert any(str(h).startswith("withdrawn:") for h in header)
    assert len(rows) == 1 + len(made["records"])
    opened = rows[1][header.index("opened_at (UTC)")]
    assert isinstance(opened, datetime)
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:{sheet.cell(1, len(header)).column_letter}{len(rows)}"
