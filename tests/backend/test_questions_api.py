"""The questions inbox by API: a family asks, staff answer and close, the family is told."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from email.header import decode_header, make_header
from typing import Any

import pytest

from consentkit.channels.email import EmailChannel
from consentkit.models.audit import AuditEvent
from consentkit.services import participants
from consentkit.worker import Worker
from tests.backend.signer_access_world import Phone, sign_in
from tests.backend.staff_helpers import auth, make_member, token_for
from tests.consentkit.records_helpers import STAFF, Family
from tests.consentkit.smtp_helpers import Inbox, running_inbox

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
    assert "answered your question" in str(make_header(decode_header(mail["Subject"])))
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
