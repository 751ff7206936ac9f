"""Late offline events: a phone reads without a network and sends what it saw later.

The app queues section views (with the phone's own time, ``client_at``) and item choices
while offline and posts them when it is back online, possibly long after, in several
batches, possibly twice. The server keeps its own time as the event time (``at``, which
orders the audit chain) and the phone's time in the payload.

Already covered elsewhere and not repeated here: replay and ``idempotency-mismatch`` of a
signature (tests/backend/test_signer_flow_api.py), the client time stored with a signature
(tests/consentkit/test_records_ceremony.py).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from consentkit.clock import now_utc
from consentkit.models.participant import Participant
from consentkit.models.study import FormVersion
from consentkit.services import access, audit, records
from tests.consentkit.records_helpers import STAFF, STROKES, make_family

API = "/api/v1"
PARIS_WINTER = timezone(timedelta(hours=1))


class Phone:
    """A guardian's phone, signed in, with an open parental-consent record."""

    def __init__(self, client: Any, capsys: pytest.CaptureFixture[str]) -> None:
        self.client = client
        self.capsys = capsys
        self.family = make_family()
        self.record = records.open_record(
            self.family.participant, form_id="parental-consent", actor=STAFF
        )
        version = FormVersion.objects.get(form_id=self.record.form_id, version=self.record.version)
        self.text = version.content["fr"]
        self.sha = version.content_sha256["fr"]
        self.sections = [s["id"] for s in self.text["sections"]]
        invitation = access.create_invitation(
            self.family.participant, self.family.guardians[0], actor=STAFF
        )
        sent = client.post(f"{API}/auth/invitations/redeem", json={"code": invitation})
        tokens = client.post(
            f"{API}/auth/challenges/{sent.get_json()['challenge_id']}/verify",
            json={"code": self.last_code(), "device_id": "phone-offline-01"},
        )
        assert tokens.status_code == 200, tokens.get_json()
        self.tokens = tokens.get_json()
        self.base = f"{API}/me/records/{self.record.record_id}"

    def last_code(self) -> str:
        printed = self.capsys.readouterr().out
        return re.findall(r"one-time code\] to .*: (\d{6})", printed)[-1]

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens['access_token']}"}

    def get(self, url: str) -> Any:
        return self.client.get(url, headers=self.headers)

    def post(self, url: str, body: dict[str, Any], **headers: str) -> Any:
        return self.client.post(url, json=body, headers={**self.headers, **headers})

    def views(self, sections: list[str], client_at: datetime | None = None, **headers: str) -> Any:
        body: dict[str, Any] = {
            "locale": "fr",
            "sections": [{"id": s, "seconds": 40} for s in sections],
        }
        if client_at is not None:
            body["client_at"] = client_at.isoformat()
        return self.post(f"{self.base}/views", body, **headers)

    def answers(self) -> Any:
        answers = {q["id"]: q["correct"] for q in self.text["questions"]}
        return self.post(f"{self.base}/answers", {"locale": "fr", "answers": answers})

    def choices(self) -> Any:
        return self.post(
            f"{self.base}/choices", {"choices": {i["id"]: True for i in self.text["items"]}}
        )

    def fresh_code(self) -> None:
        sent = self.client.post(f"{API}/auth/step-up", headers=self.headers)
        assert sent.status_code == 202, sent.get_json()
        verified = self.post(
            f"{API}/auth/step-up/{sent.get_json()['challenge_id']}/verify",
            {"code": self.last_code()},
        )
        assert verified.status_code == 200, verified.get_json()

    def sign(self, justification: str | None = "We discussed it at length") -> Any:
        body = {
            "locale": "fr",
            "content_sha256": self.sha,
            "printed_name": "Ελένη Παπαδοπούλου",
            "strokes": STROKES,
        }
        if justification:
            body["early_signing_justification"] = justification
        return self.post(f"{self.base}/signature", body)

    def next_step(self) -> str:
        [task] = self.get(f"{API}/me/tasks").get_json()
        step: str = task["next_step"]
        return step

    def chain(self) -> list[dict[str, Any]]:
        return audit.chain_dicts(str(self.family.participant.id))

    def viewed(self) -> list[dict[str, Any]]:
        return [e for e in self.chain() if e["type"] == "information.viewed"]


@pytest.fixture
def phone(
    client: Any,
    demo_study: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> Phone:
    monkeypatch.setenv("CONSENTKIT_OTP_SENDER", "console")
    return Phone(client, capsys)


def test_a_late_batch_keeps_the_server_time_and_the_phones_time(phone: Phone) -> None:
    seen_on_phone = datetime.now(PARIS_WINTER).replace(microsecond=0) - timedelta(hours=6)
    before = now_utc()

    response = phone.views(phone.sections[:2], client_at=seen_on_phone)

    after = now_utc()
    assert response.status_code == 200, response.get_json()
    [event] = phone.viewed()
    assert before <= event["at"] <= after  # the server's clock orders the chain
    assert datetime.fromisoformat(event["payload"]["client_at"]) == seen_on_phone
    assert event["payload"]["client_at"].endswith("+01:00")  # the phone's offset is kept
    assert response.get_json()["seq"] == event["seq"]
    assert datetime.fromisoformat(response.get_json()["at"]) == event["at"]
    assert event["actor"]["kind"] == "signer"


def test_a_phone_time_without_an_offset_is_refused(phone: Phone) -> None:
    response = phone.post(
        f"{phone.base}/views",
        {
            "locale": "fr",
            "sections": [{"id": phone.sections[0]}],
            "client_at": "2026-11-20T10:00:00",
        },
    )

    assert response.status_code == 422
    assert "client_at" in response.get_json()["errors"]["json"]
    assert phone.viewed() == []


def test_views_sent_late_in_several_batches_complete_the_reading(phone: Phone) -> None:
    yesterday = datetime.now(UTC) - timedelta(days=1)
    first, rest = phone.sections[:3], phone.sections[3:]
    assert rest, "the demo form has more than three sections"

    partial = phone.views(first, client_at=yesterday + timedelta(minutes=1))
    too_early = phone.answers()
    step_after_partial = phone.next_step()
    # The rest arrives later, in two batches whose phone times run backwards, one repeating
    # a section already sent.
    late = [
        phone.views([*rest[1:], first[0]], client_at=yesterday + timedelta(minutes=9)),
        phone.views(rest[:1], client_at=yesterday + timedelta(minutes=5)),
    ]

    assert partial.status_code == 200
    assert step_after_partial == "read"
    assert too_early.status_code == 409
    assert too_early.get_json()["error"] == "information-incomplete"
    assert [r.status_code for r in late] == [200, 200]
    assert phone.next_step() == "questions"
    assert phone.answers().get_json()["passed"] is True
    assert phone.choices().status_code == 200
    assert phone.next_step() == "sign"
    assert len(phone.viewed()) == 3


def test_signing_before_the_ceremony_is_complete_says_what_is_missing(phone: Phone) -> None:
    phone.views(phone.sections[:-1])
    phone.fresh_code()
    unread = phone.sign()
    phone.views(phone.sections[-1:])
    phone.answers()
    phone.fresh_code()
    no_choices = phone.sign()
    phone.choices()
    phone.fresh_code()
    signed = phone.sign()

    assert unread.status_code == 409
    assert unread.mimetype == "application/problem+json"
    assert unread.get_json()["error"] == "information-incomplete"
    assert no_choices.status_code == 409
    assert no_choices.get_json()["error"] == "items-required"
    assert signed.status_code == 200, signed.get_json()
    assert [e["type"] for e in phone.chain()].count("signature.added") == 1


def test_a_phone_clock_far_off_does_not_reorder_the_chain(phone: Phone) -> None:
    future = datetime(2099, 1, 1, 12, 0, tzinfo=UTC)
    past = datetime(1999, 1, 1, 12, 0, tzinfo=PARIS_WINTER)
    half = len(phone.sections) // 2

    sent = [
        phone.views(phone.sections[:half], client_at=future),
        phone.views(phone.sections[half:], client_at=past),
        phone.views(phone.sections[:1]),
    ]
    phone.answers()
    phone.choices()
    phone.fresh_code()
    # Reading "in 1999" by the phone's clock does not shorten the reflection time.
    too_soon = phone.sign(justification=None)

    assert [r.status_code for r in sent] == [200, 200, 200]
    chain = phone.chain()
    assert [e["seq"] for e in chain] == list(range(1, len(chain) + 1))
    times = [e["at"] for e in chain]
    assert times == sorted(times)
    assert [e["payload"]["client_at"] for e in phone.viewed()] == [
        future.isoformat(),
        past.isoformat(),
        None,
    ]
    assert all(e["at"] <= now_utc() for e in chain)
    assert audit.verify_participant(Participant.objects.get(id=phone.family.participant.id)).ok
    assert too_soon.status_code == 409
    assert too_soon.get_json()["error"] == "reflection-time"


def test_a_batch_sent_twice_with_its_key_is_recorded_once(phone: Phone) -> None:
    seen = datetime.now(UTC) - timedelta(hours=2)

    first = phone.views(phone.sections[:2], client_at=seen, **{"Idempotency-Key": "views-0001"})
    # Back online after the access token expired: the app refreshes, then sends its queue,
    # which still holds the batch whose answer it never received.
    refreshed = phone.client.post(
        f"{API}/auth/tokens/refresh",
        json={"refresh_token": phone.tokens["refresh_token"], "device_id": "phone-offline-01"},
    )
    phone.tokens = refreshed.get_json()
    replay = phone.views(phone.sections[:2], client_at=seen, **{"Idempotency-Key": "views-0001"})
    other = phone.views(phone.sections[2:4], client_at=seen, **{"Idempotency-Key": "views-0001"})

    assert first.status_code == 200
    assert "Idempotent-Replayed" not in first.headers
    assert refreshed.status_code == 200
    assert replay.status_code == 200
    assert replay.get_json() == first.get_json()
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert other.status_code == 422
    assert other.get_json()["error"] == "idempotency-mismatch"
    assert len(phone.viewed()) == 1
