"""A guardian reads, answers, chooses and signs on their phone, through the HTTP API."""

from __future__ import annotations

from typing import Any

import pytest

from consentkit.clock import now_utc
from consentkit.services import audit, ceremony, records
from tests.backend.signer_helpers import content as _content
from tests.backend.signer_helpers import read_and_prepare as _read_and_prepare
from tests.consentkit.records_helpers import (
    STAFF,
    STROKES,
    make_family,
    prepare,
    sign,
    signer_actor,
)


def test_tasks_show_the_next_step(phone: Any) -> None:
    tasks = phone.get("/api/v1/me/tasks")

    assert tasks.status_code == 200
    [task] = tasks.get_json()
    assert task["next_step"] == "read"
    assert task["form_id"] == "parental-consent"
    assert "X-Pagination" in tasks.headers


def _task_step(phone: Any) -> str:
    [task] = phone.get("/api/v1/me/tasks").get_json()
    return str(task["next_step"])


def test_each_ceremony_write_answers_with_the_signers_next_step(phone: Any) -> None:
    # An app goes where the server says after each answer; the task list agrees each time.
    text = _content(phone.rec, "fr")
    base = f"/api/v1/me/records/{phone.rec.record_id}"
    first, *rest = text["sections"]
    steps: list[tuple[str, str]] = []

    def post(path: str, body: dict[str, Any], **kw: Any) -> None:
        answer = phone.post(f"{base}/{path}", json=body, **kw)
        assert answer.status_code == 200, answer.get_json()
        steps.append((answer.get_json()["next_step"], _task_step(phone)))

    post("views", {"locale": "fr", "sections": [{"id": first["id"], "seconds": 20}]})
    post("views", {"locale": "fr", "sections": [{"id": s["id"], "seconds": 20} for s in rest]})
    questions = text["questions"]
    wrong = {
        q["id"]: next(o["id"] for o in q["options"] if o["id"] != q["correct"]) for q in questions
    }
    post("answers", {"locale": "fr", "answers": wrong})  # failed: the questions again
    post("answers", {"locale": "fr", "answers": {q["id"]: q["correct"] for q in questions}})
    post("choices", {"choices": {i["id"]: True for i in text["items"]}})
    phone.step_up()
    body = {
        "locale": "fr",
        "content_sha256": text["sha"],
        "printed_name": phone.name,
        "strokes": STROKES,
        "early_signing_justification": "Family travelled far",
    }
    post("signature", body, headers={"Idempotency-Key": "sig-next"})
    post("signature", body, headers={"Idempotency-Key": "sig-next"})  # the replayed answer

    assert [answer for answer, _ in steps] == [
        "read",
        "questions",
        "questions",
        "choices",
        "sign",
        "done",
        "done",
    ]
    assert all(answer == task for answer, task in steps)


@pytest.mark.parametrize(
    ("state", "phase"),
    [
        ("awaiting-information", "open"),
        ("awaiting-signatures", "open"),
        ("consented", "consented"),
        ("declined", "closed"),
    ],
)
def test_tasks_tell_whether_a_record_in_each_state_is_open(
    phone: Any, state: str, phase: str
) -> None:
    # The family script shows steps and the signed copy by this field, not its own state list.
    family, record = phone.fam, phone.rec
    guardians = family.guardians
    early = {"early_signing_justification": "Travelled far"}  # inside the time to think
    if state in ("awaiting-signatures", "consented"):
        for guardian in guardians:
            prepare(family, record, guardian, at=now_utc())
        sign(family, record, guardians[0], at=now_utc(), **early)
    if state == "consented":
        for signer in (*guardians[1:], family.investigator):
            sign(family, record, signer, at=now_utc(), **early)
    if state == "declined":
        ceremony.decline(
            family.participant,
            record.record_id,
            signer_id=str(guardians[1].id),
            actor=signer_actor(guardians[1]),
        )

    [task] = phone.get("/api/v1/me/tasks").get_json()

    assert (task["state"], task["phase"]) == (state, phase)


def test_form_is_cached_with_etag(phone: Any) -> None:
    url = f"/api/v1/me/records/{phone.rec.record_id}/form"
    first = phone.get(url, headers={"Accept-Language": "de"})
    again = phone.get(
        url, headers={"If-None-Match": first.headers["ETag"], "Accept-Language": "de"}
    )

    assert first.status_code == 200
    assert first.get_json()["locale"] == "de"
    assert again.status_code == 304
    assert again.data == b""


def test_signing_needs_a_fresh_step_up_code(phone: Any) -> None:
    text = _read_and_prepare(phone)
    body = {
        "locale": "fr",
        "content_sha256": text["sha"],
        "printed_name": phone.name,
        "strokes": STROKES,
        "early_signing_justification": "Family travelled far",
    }
    url = f"/api/v1/me/records/{phone.rec.record_id}/signature"

    without = phone.post(url, json=body)
    phone.step_up()
    signed = phone.post(url, json=body, headers={"Idempotency-Key": "sig-1"})
    replay = phone.post(url, json=body, headers={"Idempotency-Key": "sig-1"})
    other_body = phone.post(
        url, json={**body, "printed_name": "X"}, headers={"Idempotency-Key": "sig-1"}
    )

    assert without.status_code == 409
    assert without.get_json()["error"] == "fresh-code-required"
    assert signed.status_code == 200, signed.get_json()
    assert replay.get_json() == signed.get_json()
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert other_body.status_code == 422
    assert other_body.get_json()["error"] == "idempotency-mismatch"


def test_choices_after_signing_are_refused_with_already_signed(phone: Any) -> None:
    text = _read_and_prepare(phone)
    base = f"/api/v1/me/records/{phone.rec.record_id}"
    phone.step_up()
    signed = phone.post(
        f"{base}/signature",
        json={
            "locale": "fr",
            "content_sha256": text["sha"],
            "printed_name": phone.name,
            "strokes": STROKES,
            "early_signing_justification": "Family travelled far",
        },
    )
    assert signed.status_code == 200, signed.get_json()

    changed = phone.post(
        f"{base}/choices", json={"choices": {i["id"]: False for i in text["items"]}}
    )

    assert changed.status_code == 409
    assert changed.get_json()["error"] == "already-signed"
    chosen = [
        e
        for e in records.history(phone.fam.participant)
        if e["type"] == "items.chosen" and e["record_id"] == phone.rec.record_id
    ]
    assert [e["payload"]["choices"] for e in chosen] == [{i["id"]: True for i in text["items"]}]


def test_a_signer_cannot_reach_another_familys_record(phone: Any) -> None:
    other = make_family("P-OTHER")
    theirs = records.open_record(other.participant, form_id="parental-consent", actor=STAFF)

    form = phone.get(f"/api/v1/me/records/{theirs.record_id}/form")
    views = phone.post(
        f"/api/v1/me/records/{theirs.record_id}/views",
        json={"locale": "fr", "sections": [{"id": "why-this-study"}]},
    )

    assert form.status_code == 404
    assert views.status_code == 404
    assert form.get_json()["message"] == views.get_json()["message"]
    assert [t["participant_code"] for t in phone.get("/api/v1/me/tasks").get_json()] == ["P-001"]


def test_flow_routes_need_a_token(client: Any) -> None:
    for url in ("/api/v1/me/tasks", "/api/v1/me/documents"):
        assert client.get(url).status_code == 401


def test_oversized_signature_is_413(phone: Any) -> None:
    huge = {
        "locale": "fr",
        "content_sha256": "0" * 64,
        "printed_name": "x",
        "strokes": [[[1.0, 1.0]] * 100_000],
    }

    response = phone.post(f"/api/v1/me/records/{phone.rec.record_id}/signature", json=huge)

    assert response.status_code == 413
    assert response.get_json()["error"] == "payload-too-large"


def test_withdrawal_needs_step_up_and_is_recorded(phone: Any) -> None:
    body = {"choices": ["destroy-samples"], "reason_declined": True}

    refused = phone.post("/api/v1/me/withdrawals", json=body)
    phone.step_up()
    done = phone.post("/api/v1/me/withdrawals", json=body)

    assert refused.status_code == 409
    assert done.status_code == 201
    assert done.get_json()["type"] == "withdrawal.recorded"


def _chain_length(phone: Any) -> int:
    return len(audit.chain_dicts(str(phone.fam.participant.id)))


def test_reading_progress_is_capped_per_record_and_day(
    phone: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each batch is an audit event: a session cannot grow the trail without end."""
    monkeypatch.setenv("CONSENTKIT_SIGNER_VIEWS_PER_RECORD_PER_DAY", "3")
    text = _content(phone.rec, "fr")
    url = f"/api/v1/me/records/{phone.rec.record_id}/views"
    body = {"locale": "fr", "sections": [{"id": text["sections"][0]["id"], "seconds": 5}]}
    assert [phone.post(url, json=body).status_code for _ in range(3)] == [200, 200, 200]
    before = _chain_length(phone)

    refused = phone.post(url, json=body)

    assert refused.status_code == 429
    assert refused.mimetype == "application/problem+json"
    assert refused.get_json()["error"] == "daily-limit-reached"
    assert 0 < int(refused.headers["Retry-After"]) <= 86_400
    assert _chain_length(phone) == before


def test_questions_are_capped_per_day(phone: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONSENTKIT_SIGNER_QUESTIONS_PER_DAY", "2")
    body = {"text": "Can we talk to the nurse?"}
    assert [phone.post("/api/v1/me/questions", json=body).status_code for _ in range(2)] == [
        201,
        201,
    ]
    before = _chain_length(phone)

    refused = phone.post("/api/v1/me/questions", json=body)

    assert refused.status_code == 429
    assert refused.get_json()["error"] == "daily-limit-reached"
    assert _chain_length(phone) == before


def test_withdrawal_confirmation_is_rendered_listed_and_served(
    phone: Any, client: Any, connected: str, db_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from consentkit.cli import main
    from consentkit.services import documents
    from tests.backend.staff_helpers import auth, make_member, token_for

    phone.step_up()
    withdrawn = phone.post(
        "/api/v1/me/withdrawals", json={"choices": ["destroy-samples"], "reason_declined": True}
    ).get_json()
    monkeypatch.setenv("CONSENTKIT_MONGODB_URI", connected)
    monkeypatch.setenv("CONSENTKIT_MONGODB_DB", db_name)

    rendered = CliRunner().invoke(main, ["documents", "render-pending"])
    listed = phone.get("/api/v1/me/documents").get_json()
    mine = phone.get(f"/api/v1/me/withdrawals/{withdrawn['seq']}/document")
    not_a_withdrawal = phone.get(f"/api/v1/me/withdrawals/{withdrawn['seq'] - 1}/document")
    member = make_member(client, "inv@example.org", "investigator", ("FR-01",))
    staff = client.get(
        f"/api/v1/staff/studies/DEMO-NBL-1/participants/P-001/withdrawals/{withdrawn['seq']}"
        "/document",
        headers=auth(token_for(client.application, member)),
    )

    assert rendered.exit_code == 0, rendered.output
    assert "1 document(s) rendered" in rendered.output
    [confirmation] = [d for d in listed if d["kind"] == "withdrawal-confirmation"]
    assert confirmation["as_of_seq"] == withdrawn["seq"]
    assert (mine.status_code, mine.mimetype) == (200, "application/pdf")
    assert documents.verify_pdf(mine.data).ok
    assert not_a_withdrawal.status_code == 404
    assert staff.data == mine.data


def test_a_parent_who_signed_downloads_an_interim_copy_before_the_others_sign(
    phone: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.setenv("CONSENTKIT_DATA_DIR", str(tmp_path))  # the development seal
    document = f"/api/v1/me/records/{phone.rec.record_id}/document?lang=fr"
    [before] = phone.get("/api/v1/me/tasks").get_json()
    too_early = phone.get(document)

    text = _read_and_prepare(phone)
    phone.step_up()
    signed = phone.post(
        f"/api/v1/me/records/{phone.rec.record_id}/signature",
        json={
            "locale": "fr",
            "content_sha256": text["sha"],
            "printed_name": phone.name,
            "strokes": STROKES,
            "early_signing_justification": "Family travelled far",
        },
        headers={"Idempotency-Key": "sig-interim"},
    )
    [after] = phone.get("/api/v1/me/tasks").get_json()
    copy = phone.get(document)

    assert (before["copy"], too_early.status_code) == (None, 409)
    assert too_early.get_json()["error"] == "record-incomplete"
    assert signed.status_code == 200
    # Signed by this parent, the other parent and the investigator still awaited.
    assert after["copy"] == "interim"
    assert copy.status_code == 200
    assert copy.mimetype == "application/pdf"
    assert "-interim-" in copy.headers["Content-Disposition"]
