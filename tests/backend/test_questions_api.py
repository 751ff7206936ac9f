"""The questions inbox by API: a family asks, staff answer and close, the family is told."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from consentkit.channels.email import EmailChannel
from consentkit.models.audit import AuditEvent
from consentkit.services import participants
from consentkit.worker import Worker
from tests.backend.signer_access_world import Phone, sign_in
from tests.backend.staff_helpers import auth, make_member, token_for
from tests.consentkit.records_helpers import STAFF, Family
from tests.consentkit.smtp_helpers import Inbox, is_about, running_inbox

API = "/api/v1"
BASE = f"{API}/staff/studies/DEMO-NBL-1"


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch, free_port: int) -> Iterator[Inbox]:
    monkeypatch.setenv("CONSENTKIT_QUIET_HOURS", "")  # the worker runs on the real clock here
    with running_inbox(monkeypatch, free_port) as inbox:
        yield inbox


def _family(code: str, site: str) -> Family:
    participant = participants.enrol_participant(
        trial_id="DEMO-NBL-1",
        code=code,
        site_code=site,
        birth_date=date(2017, 5, 4),
        actor=STAFF,
    )
    guardian = participants.add_signer(
        participant,
        role="guardian",
        identity={"name": "Élodie", "email": f"elodie.{code}@example.org"},
        actor=STAFF,
        preferred_language="fr",
    )
    return Family(participant, [guardian], guardian, guardian)


@pytest.fixture
def asked(client: Any, demo_study: Any) -> dict[str, Any]:
    """A family at FR-01 asked a question; an investigator there and one at NL-01."""
    family = _family("FR-Q1", "FR-01")
    phone = sign_in(client, family, family.guardians[0])
    sent = client.post(
        f"{API}/me/questions", json={"text": "Can we talk to the nurse?"}, headers=phone.headers
    )
    assert sent.status_code == 201, sent.get_json()
    here = make_member(client, "fr@example.org", "investigator", ("FR-01",))
    there = make_member(client, "nl@example.org", "investigator", ("NL-01",))
    return {
        "family": family,
        "phone": phone,
        "seq": sent.get_json()["seq"],
        "here": auth(token_for(client.application, here)),
        "there": auth(token_for(client.application, there)),
    }


def _answer(client: Any, asked: dict[str, Any], text: str = "Yes, call the ward.") -> Any:
    return client.post(
        f"{BASE}/participants/FR-Q1/questions/{asked['seq']}/answer",
        json={"text": text},
        headers=asked["here"],
    )


def test_questions_inbox_shows_an_open_question_at_the_members_sites_only(
    client: Any, asked: dict[str, Any]
) -> None:
    mine = client.get(f"{BASE}/questions", query_string={"status": "open"}, headers=asked["here"])
    theirs = client.get(f"{BASE}/questions", headers=asked["there"])

    [question] = mine.get_json()
    assert (question["participant_code"], question["text"], question["locale"]) == (
        "FR-Q1",
        "Can we talk to the nurse?",
        "fr",
    )
    assert question["status"] == "open"
    assert theirs.get_json() == []


def test_staff_answer_reaches_the_family_by_message_and_in_their_thread(
    client: Any, asked: dict[str, Any], smtp: Inbox
) -> None:
    answered = _answer(client, asked)
    assert answered.status_code == 201, answered.get_json()

    worker = Worker({"email": EmailChannel()})
    while worker.run_once():
        pass

    [mail] = smtp.messages
    assert mail["To"] == "elodie.FR-Q1@example.org"
    assert mail["Content-Language"] == "fr"
    assert is_about(mail, "The study team answered your question")
    assert "call the ward" not in mail.as_string()  # the answer stays behind the sign-in
    phone: Phone = asked["phone"]
    [thread] = client.get(f"{API}/me/questions", headers=phone.headers).get_json()
    assert thread["status"] == "answered"
    assert [(a["text"], a["locale"]) for a in thread["answers"]] == [("Yes, call the ward.", "fr")]


def test_answer_and_close_are_audit_events(client: Any, asked: dict[str, Any]) -> None:
    _answer(client, asked)
    closed = client.post(
        f"{BASE}/participants/FR-Q1/questions/{asked['seq']}/close", headers=asked["here"]
    )

    assert closed.status_code == 201
    types = [
        e.type
        for e in AuditEvent.objects(participant_id=str(asked["family"].participant.id)).order_by(
            "seq"
        )
    ]
    assert types[-3:] == ["question.asked", "question.answered", "question.closed"]


def test_a_closed_question_takes_no_answer(client: Any, asked: dict[str, Any]) -> None:
    client.post(f"{BASE}/participants/FR-Q1/questions/{asked['seq']}/close", headers=asked["here"])

    refused = _answer(client, asked)

    assert (refused.status_code, refused.get_json()["error"]) == (409, "question-closed")


def test_answering_what_is_not_a_question_is_not_found(client: Any, asked: dict[str, Any]) -> None:
    refused = client.post(
        f"{BASE}/participants/FR-Q1/questions/1/answer", json={"text": "?"}, headers=asked["here"]
    )

    assert (refused.status_code, refused.get_json()["error"]) == (404, "question-not-found")


# ---------------------------------------------------------------- the staff pages


def test_staff_page_lists_the_question_and_answers_it_in_the_family_language(
    app: Any, client: Any, demo_study: Any
) -> None:
    from consentkit.services import audit
    from consentkit.services import questions as questions_service
    from tests.backend.staff_helpers import csrf_of, family, signed_in

    member = make_member(client, "fr-page@example.org", "investigator", ("FR-01",))
    participant = family(member, "FR-P1", "FR-01")
    asked = audit.append(
        participant,
        lambda _e: audit.Draft(
            type="question.asked",
            actor={"kind": "signer", "id": "0" * 24, "role": "guardian"},
            payload={"text": "Est-ce que ça fait mal ?"},
        ),
    )
    signed_in(app, client, member)

    page = client.get("/staff/studies/DEMO-NBL-1/questions")
    assert page.status_code == 200
    assert "Est-ce que ça fait mal ?" in page.get_data(as_text=True)
    posted = client.post(
        f"/staff/studies/DEMO-NBL-1/participants/FR-P1/questions/{asked.seq}/answer",
        data={"text": "Non, très peu.", "locale": "fr", "csrf_token": csrf_of(page)},
    )

    assert posted.status_code == 302
    [question] = questions_service.thread_of(participant)
    assert [(a.text, a.locale) for a in question.answers] == [("Non, très peu.", "fr")]


def test_countersign_page_shows_the_questions_asked_before_signing(
    app: Any, client: Any, demo_study: Any
) -> None:
    from consentkit.services import audit
    from tests.backend.staff_helpers import family, signed_in

    member = make_member(client, "fr-cs@example.org", "investigator", ("FR-01",))
    participant = family(member, "FR-P2", "FR-01")
    audit.append(
        participant,
        lambda _e: audit.Draft(
            type="question.asked",
            actor={"kind": "signer", "id": "0" * 24, "role": "guardian"},
            payload={"text": "Combien de visites ?"},
        ),
    )
    record_id = next(
        e["record_id"]
        for e in audit.chain_dicts(str(participant.id))
        if e["type"] == "record.opened"
    )
    signed_in(app, client, member)

    page = client.get(
        f"/staff/studies/DEMO-NBL-1/participants/FR-P2/records/{record_id}/countersign"
    )

    assert page.status_code == 200
    assert "Combien de visites ?" in page.get_data(as_text=True)
