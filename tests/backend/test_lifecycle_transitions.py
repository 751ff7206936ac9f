"""Transitions that can be completed, end to end through the API (issue 13).

The API runs on the real clock, so the past is written through consentkit with an
explicit ``now`` (enrolment at 11, the parents' consent), ``consentkit due`` runs on
a chosen day, and what the families and staff do next goes through HTTP. A future
birthday (PL at 18) is reached by passing ``now`` to the same services.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from consentkit.clock import now_utc
from consentkit.enums import RecordState
from consentkit.models.task import ConsentTask
from consentkit.policy.roles import StaffRole
from consentkit.services import audit, publishing, records, transitions
from consentkit.services.importing import import_study
from consentkit.services.tasks import create_due_tasks, inform_of_minor_version
from tests.backend.signer_access_world import API, Phone, sign_in
from tests.backend.staff_helpers import auth, make_member, token_for
from tests.consentkit.records_helpers import STAFF, Family, content, make_family, prepare, sign

TRIAL = "DEMO-NBL-1"
STAFF_API = f"{API}/staff/studies/{TRIAL}"


@pytest.fixture(autouse=True)
def _console_codes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONSENTKIT_OTP_SENDER", "console")


def _birthday(years_ago: int, days_ago: int) -> date:
    """A birth date whose ``years_ago``-th birthday was ``days_ago`` days ago (not 29 Feb)."""
    day = now_utc().date() - timedelta(days=days_ago)
    if (day.month, day.day) == (2, 29):
        day -= timedelta(days=1)
    return day.replace(year=day.year - years_ago)


def _at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 10, 0, tzinfo=UTC)


def _consent(family: Family, form_id: str, signers: list[Any], *, at: datetime, locale: str) -> Any:
    """Open ``form_id`` at ``at`` and have ``signers`` (and the investigator) sign it."""
    record = records.open_record(family.participant, form_id=form_id, actor=STAFF, now=at)
    for signer in signers:
        prepare(family, record, signer, at=at, locale=locale)
    for signer in [*signers, family.investigator]:
        sign(family, record, signer, at=at + timedelta(hours=25), locale=locale)
    return record


def _sign_via_api(phone: Phone, record_id: str, locale: str) -> None:
    """Read, answer, choose and sign one record through /me, as the family app does."""
    record = records.ConsentRecord.objects(record_id=record_id).get()
    text = content(record, locale)
    base = f"{API}/me/records/{record_id}"
    post = phone.client.post
    views = {
        "locale": locale,
        "sections": [{"id": s["id"], "seconds": 20} for s in text["sections"]],
    }
    assert post(f"{base}/views", json=views, headers=phone.headers).status_code == 200
    if text["questions"]:
        answers = {q["id"]: q["correct"] for q in text["questions"]}
        done = post(
            f"{base}/answers", json={"locale": locale, "answers": answers}, headers=phone.headers
        )
        assert done.get_json()["passed"] is True
    if text["items"]:
        chosen = {"choices": {i["id"]: True for i in text["items"]}}
        assert post(f"{base}/choices", json=chosen, headers=phone.headers).status_code == 200
    phone.fresh_code()
    signed = post(
        f"{base}/signature",
        json={
            "locale": locale,
            "content_sha256": text["sha"],
            "printed_name": phone.name,
            "strokes": [[[1.0, 1.0], [30.0, 20.0], [60.0, 5.0]]],
            "early_signing_justification": "Talked it through at the visit",
        },
        headers={**phone.headers, "Idempotency-Key": f"sign-{record_id}-{phone.signer.id}"},
    )
    assert signed.status_code == 200, signed.get_json()


def _countersign(family: Family, record_id: str, locale: str) -> None:
    record = records.ConsentRecord.objects(record_id=record_id).get()
    sign(
        family,
        record,
        family.investigator,
        at=now_utc(),
        locale=locale,
        early_signing_justification="Interview held at the visit",
    )


def _state(family: Family, record_id: str, at: datetime | None = None) -> RecordState:
    found = {s.record_id: s.state for s in records.record_statuses(family.participant, at=at)}
    return found[record_id]


def _staff(app: Any, client: Any, site: str) -> dict[str, str]:
    member = make_member(client, f"inv.{site.lower()}@example.org", StaffRole.INVESTIGATOR, (site,))
    return auth(token_for(app, member))


def test_nl_child_enrolled_at_11_co_consents_at_12_and_needs_nothing_at_16(
    app: Any, client: Any, demo_study: Any
) -> None:
    born = _birthday(12, days_ago=20)  # turned 12 twenty days ago
    enrolled = _at(born.replace(year=born.year + 11) + timedelta(days=200))  # aged 11
    family = make_family("NL-T12", site="NL-01", birth_date=born)
    parents = _consent(family, "parental-consent", family.guardians, at=enrolled, locale="nl")
    later = enrolled + timedelta(days=2)
    assent = _consent(family, "assent-10-13", [family.child], at=later, locale="nl")
    headers = _staff(app, client, "NL-01")

    # consentkit due, run a month before the birthday, creates the role change once.
    report = create_due_tasks(on=born.replace(year=born.year + 12) - timedelta(days=30))
    [task] = ConsentTask.objects(participant_code="NL-T12")
    assert report.created == [task.key]
    assert (task.reason, task.form_kind) == ("minor-role", "young-person-co-consent")

    listed = client.get(f"{STAFF_API}/tasks?site=NL-01", headers=headers).get_json()
    assert [(t["key"], t["status"], t["why"]["label"]) for t in listed] == [
        (task.key, "open", "You are now 12")
    ]
    child = sign_in(client, family, family.child)
    [to_open] = [
        t
        for t in child.client.get(f"{API}/me/tasks", headers=child.headers).get_json()
        if t["record_id"] is None
    ]
    assert (to_open["phase"], to_open["next_step"], to_open["task_key"]) == (
        "to-open",
        "open",
        task.key,
    )

    opened = client.post(f"{STAFF_API}/participants/NL-T12/tasks/{task.key}/open", headers=headers)
    again = client.post(f"{STAFF_API}/participants/NL-T12/tasks/{task.key}/open", headers=headers)
    assert opened.status_code == 201, opened.get_json()
    body = opened.get_json()
    assert body["form_id"] == "young-person-co-consent" and body["opened"] is True
    assert [i["role"] for i in body["invitations"]] == ["participant"]
    assert (
        again.get_json()["record_id"] == body["record_id"] and again.get_json()["opened"] is False
    )

    mine = child.client.get(f"{API}/me/tasks", headers=child.headers).get_json()
    [co] = [t for t in mine if t["record_id"] == body["record_id"]]
    assert co["why"] == {
        "reason": "minor-role",
        "age": 12,
        "version": None,
        "label": "You are now 12",
    }
    assert not [t for t in mine if t["phase"] == "to-open"]

    _sign_via_api(child, body["record_id"], "nl")
    _countersign(family, body["record_id"], "nl")

    assert _state(family, body["record_id"]) == RecordState.CONSENTED
    assert ConsentTask.objects.get(key=task.key).status == "done"
    done = client.get(f"{STAFF_API}/participants/NL-T12/tasks", headers=headers).get_json()
    assert [(t["status"], t["record_id"]) for t in done] == [("done", body["record_id"])]
    assert _state(family, parents.record_id) == RecordState.CONSENTED
    assert _state(family, assent.record_id) == RecordState.CONSENTED
    timeline = client.get(f"{STAFF_API}/participants/NL-T12/timeline", headers=headers).get_json()
    assert "Form opened for a task" in [e["label"] for e in timeline]

    # Turning 16 in the Netherlands: the co-signature stands (reconsent_at_competence false).
    sixteen = born.replace(year=born.year + 16)
    assert create_due_tasks(on=sixteen - timedelta(days=30)).created == []
    at_16 = _at(sixteen + timedelta(days=1))
    assert records.participation(family.participant, at=at_16).participating is True
    assert _state(family, parents.record_id, at=at_16) == RecordState.CONSENTED


def test_pl_child_co_consents_at_13_and_is_suspended_at_18_until_own_consent(
    app: Any, client: Any, demo_study: Any
) -> None:
    born = _birthday(13, days_ago=10)
    family = make_family("PL-T13", site="PL-01", birth_date=born)
    at_12 = _at(born.replace(year=born.year + 12) + timedelta(days=100))
    parents = _consent(family, "parental-consent", family.guardians, at=at_12, locale="pl")
    headers = _staff(app, client, "PL-01")

    create_due_tasks(on=born.replace(year=born.year + 13) - timedelta(days=10))
    [task13] = ConsentTask.objects(participant_code="PL-T13")
    assert (task13.reason, task13.form_kind) == ("minor-role", "young-person-co-consent")
    child = sign_in(client, family, family.child)
    # The family opens it themselves: the young person signs this form.
    opened = child.client.post(f"{API}/me/tasks/{task13.key}/open", headers=child.headers)
    assert opened.status_code == 200, opened.get_json()
    record13 = opened.get_json()["record_id"]
    assert opened.get_json()["why"]["label"] == "You are now 13"
    parent = sign_in(client, family, family.guardians[0])
    refused = parent.client.post(f"{API}/me/tasks/{task13.key}/open", headers=parent.headers)
    assert (refused.status_code, refused.get_json()["error"]) == (403, "not-a-signer-of-task")
    _sign_via_api(child, record13, "pl")
    _countersign(family, record13, "pl")
    assert ConsentTask.objects.get(key=task13.key).status == "done"

    # 18: the age of legal competence in Poland, where the row asks for re-consent.
    eighteen = born.replace(year=born.year + 18)
    create_due_tasks(on=eighteen - timedelta(days=30), now=_at(eighteen - timedelta(days=30)))
    [task18] = ConsentTask.objects(participant_code="PL-T13", reason="competence-age")
    listed = client.get(f"{STAFF_API}/participants/PL-T13/tasks", headers=headers).get_json()
    assert [(t["reason"], t["status"], t["why"]["label"]) for t in listed] == [
        ("minor-role", "done", "You are now 13"),
        ("competence-age", "open", "You are now an adult in this study"),
    ]
    at_18 = _at(eighteen + timedelta(days=2))
    assert _state(family, parents.record_id, at=at_18) == RecordState.SUSPENDED_AWAITING_OWN_CONSENT
    with pytest.raises(transitions.ConflictError) as early:
        transitions.open_for_task(
            family.participant, task18.key, actor=STAFF, now=_at(eighteen - timedelta(days=1))
        )
    assert early.value.code == "task-not-due"

    own = transitions.open_for_task(family.participant, task18.key, actor=STAFF, now=at_18)
    assert own.record.form_id == "adult-consent"  # own consent at 18: the adult form
    record = own.record
    prepare(family, record, family.child, at=at_18, locale="pl")
    sign(family, record, family.child, at=at_18 + timedelta(hours=25), locale="pl")
    sign(family, record, family.investigator, at=at_18 + timedelta(hours=26), locale="pl")

    after = at_18 + timedelta(hours=27)
    assert _state(family, record.record_id, at=after) == RecordState.CONSENTED
    assert _state(family, parents.record_id, at=after) == RecordState.CONSENTED
    assert ConsentTask.objects.get(key=task18.key).status == "done"
    assert records.participation(family.participant, at=after).participating is True


def _edit_form(folder: Path, form: str, index: int, **changes: Any) -> None:
    path = folder / "forms" / form / "form.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["versions"][index].update(changes)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


@pytest.fixture
def draft_v2(clean_db: Any, study_folder: Path) -> Path:
    """The demo study with parental-consent v2 still a draft."""
    _edit_form(
        study_folder,
        "parental-consent",
        1,
        status="draft",
        ethics_reference=None,
        approved_date=None,
        effective_from=None,
    )
    import_study(study_folder)
    return study_folder


def test_major_v2_re_consent_opens_signs_and_supersedes_v1(
    app: Any, client: Any, draft_v2: Path
) -> None:
    past = _at(now_utc().date() - timedelta(days=60))
    done = make_family("FR-DONE", birth_date=date(2017, 5, 4))
    v1 = _consent(done, "parental-consent", done.guardians, at=past, locale="fr")
    midway = make_family("FR-MID", birth_date=date(2017, 5, 4))
    open_v1 = records.open_record(
        midway.participant, form_id="parental-consent", actor=STAFF, now=now_utc()
    )
    headers = _staff(app, client, "FR-01")

    publishing.approve_version(TRIAL, "parental-consent", 2, ethics_reference="EC-2", by="admin")
    published = publishing.publish_version(
        TRIAL, "parental-consent", 2, change="major", effective_from=now_utc().date(), by="admin"
    )

    assert published.reconsent_tasks == 1
    [task] = ConsentTask.objects(reason="reconsent")
    assert task.participant_code == "FR-DONE"
    opened = client.post(
        f"{STAFF_API}/participants/FR-DONE/tasks/{task.key}/open", headers=headers
    ).get_json()
    assert (opened["form_id"], opened["version"]) == ("parental-consent", 2)
    assert opened["task"]["why"]["purpose"] == "Re-consent to version 2"
    assert sorted(i["role"] for i in opened["invitations"]) == ["guardian", "guardian"]
    for guardian in done.guardians:
        phone = sign_in(client, done, guardian)
        [entry] = [
            t
            for t in client.get(f"{API}/me/tasks", headers=phone.headers).get_json()
            if t["record_id"] == opened["record_id"]
        ]
        assert entry["why"]["label"] == "A new version of the information"
        _sign_via_api(phone, opened["record_id"], "fr")
    _countersign(done, opened["record_id"], "fr")

    assert _state(done, opened["record_id"]) == RecordState.CONSENTED
    assert _state(done, v1.record_id) == RecordState.SUPERSEDED
    assert ConsentTask.objects.get(key=task.key).status == "done"
    # The family mid-way on v1 was asked nothing new: its v1 record is still open (whether
    # it may still be signed is the participation gate's version re-check).
    assert ConsentTask.objects(participant_code="FR-MID").count() == 0
    assert _state(midway, open_v1.record_id) == RecordState.AWAITING_INFORMATION


def test_minor_version_informs_consented_families_without_asking_to_sign(
    app: Any, client: Any, draft_v2: Path
) -> None:
    past = _at(now_utc().date() - timedelta(days=60))
    family = make_family("FR-MINOR", birth_date=date(2017, 5, 4))
    v1 = _consent(family, "parental-consent", family.guardians, at=past, locale="fr")
    publishing.approve_version(TRIAL, "parental-consent", 2, ethics_reference="EC-2", by="admin")

    published = publishing.publish_version(
        TRIAL, "parental-consent", 2, change="minor", effective_from=now_utc().date(), by="admin"
    )
    again = inform_of_minor_version(TRIAL, "parental-consent", 2)

    assert (published.reconsent_tasks, published.informed) == (0, 1)
    assert again.created == [] and again.existing == 1
    informed = [
        e for e in audit.chain_dicts(str(family.participant.id)) if e["type"] == "version.informed"
    ]
    assert [(e["record_id"], e["payload"]["version"]) for e in informed] == [(v1.record_id, 2)]
    phone = sign_in(client, family, family.guardians[0])
    listed = client.get(f"{API}/me/tasks", headers=phone.headers).get_json()
    [update] = [t for t in listed if t["phase"] == "informed"]
    assert update["why"]["label"] == "Updated information"
    assert update["next_step"] == "read-update"
    assert update["information"]["version"] == 2 and update["information"]["change_summary"]
    assert ConsentTask.objects.count() == 0
    assert _state(family, v1.record_id) == RecordState.CONSENTED


def test_open_for_task_refuses_an_unknown_task_and_a_done_one(demo_study: Any) -> None:
    family = make_family("FR-REF", birth_date=date(2017, 5, 4))
    with pytest.raises(transitions.NotFoundError) as missing:
        transitions.open_for_task(family.participant, "no-such-task", actor=STAFF)
    assert missing.value.code == "task-not-found"
