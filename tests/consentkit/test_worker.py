"""The worker end to end: a family, the rules of contact, a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime
from email.header import decode_header, make_header
from typing import Any

import pytest

from consentkit.channels.email import EmailChannel
from consentkit.models.audit import AuditEvent
from consentkit.models.outbox import OutboxMessage
from consentkit.models.participant import Participant, Signer
from consentkit.services import outbox, participants, participation
from consentkit.services.evidence import Actor
from consentkit.worker import Worker
from tests.consentkit.smtp_helpers import Inbox, running_inbox

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
#: 11:00 in Paris (the demo site FR-01), outside quiet hours.
DAYTIME = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)
#: 03:00 in Paris.
NIGHT = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)
STAFF = Actor(kind="staff", id="staff-1", role="site-investigator", channel="in-person")


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch, free_port: int) -> Iterator[Inbox]:
    monkeypatch.setenv("CONSENTKIT_QUIET_HOURS", "21:00-08:00")
    with running_inbox(monkeypatch, free_port) as inbox:
        yield inbox


def _family(demo_study: Any) -> tuple[Participant, list[Signer]]:
    participant = participants.enrol_participant(
        trial_id="DEMO-NBL-1",
        code="P-001",
        site_code="FR-01",
        birth_date=date(2017, 5, 4),
        actor=STAFF,
        now=T0,
    )
    guardians = [
        participants.add_signer(
            participant,
            role="guardian",
            identity={"name": name, "email": email},
            actor=STAFF,
            now=T0,
        )
        for name, email in (("Élodie", "elodie@example.org"), ("Marc", "marc@example.org"))
    ]
    return participant, guardians


def _drain(at: datetime) -> Worker:
    worker = Worker({"email": EmailChannel()}, clock=lambda: at)
    while worker.run_once():
        pass
    return worker


def _reminder(participant: Participant, signer: Signer, key: str = "r1") -> OutboxMessage:
    return outbox.enqueue(
        "notice",
        {"signer_id": str(signer.id)},
        dedupe_key=key,
        participant_id=str(participant.id),
        trial_id=participant.trial_id,
        params={"subject": "Your turn", "text": "Your partner has signed; it is your turn."},
        now=T0,
    )


def _types(participant: Participant) -> list[str]:
    return [e.type for e in AuditEvent.objects(participant_id=str(participant.id)).order_by("seq")]


def test_worker_sends_a_reminder_by_email_and_records_it_on_the_timeline(
    demo_study: Any, smtp: Inbox
) -> None:
    participant, guardians = _family(demo_study)
    _reminder(participant, guardians[1])

    _drain(DAYTIME)

    [mail] = smtp.messages
    assert mail["To"] == "marc@example.org"
    assert mail["List-Unsubscribe"].startswith("<http")
    assert OutboxMessage.objects.get().status == "sent"
    assert _types(participant)[-1] == "contact.sent"


def test_withdrawal_confirmation_reaches_every_guardian_even_under_no_contact(
    demo_study: Any, smtp: Inbox
) -> None:
    participant, guardians = _family(demo_study)
    participation.withdraw(
        participant,
        scopes=["no-further-contact"],
        actor=STAFF,
        expressed_by=str(guardians[0].id),
        now=DAYTIME,
    )

    _drain(DAYTIME)

    assert sorted(m["To"] for m in smtp.messages) == ["elodie@example.org", "marc@example.org"]
    subject = str(make_header(decode_header(smtp.messages[0]["Subject"])))
    assert "withdrawal" in subject.lower()
    assert all(m["List-Unsubscribe"] is None for m in smtp.messages)


def test_withdrawal_confirmation_retried_is_queued_once(demo_study: Any, smtp: Inbox) -> None:
    participant, _guardians = _family(demo_study)
    event = participation.withdraw(
        participant, scopes=["no-further-contact"], actor=STAFF, now=DAYTIME
    )
    outbox.confirm_withdrawal(participant, seq=event.seq, scopes=["no-further-contact"], at=DAYTIME)

    assert OutboxMessage.objects.count() == 2


def test_no_contact_withdrawal_stops_reminders_with_the_reason(
    demo_study: Any, smtp: Inbox
) -> None:
    participant, guardians = _family(demo_study)
    _reminder(participant, guardians[1])
    participation.withdraw(participant, scopes=["no-further-contact"], actor=STAFF, now=DAYTIME)

    _drain(DAYTIME)

    assert [m["Subject"] for m in smtp.messages if "turn" in str(m["Subject"])] == []
    skipped = OutboxMessage.objects.get(dedupe_key="r1")
    assert (skipped.status, skipped.reason) == ("skipped", "no-contact")
    assert "contact.skipped" in _types(participant)


def test_quiet_hours_defer_a_reminder_to_the_morning_at_the_site(
    demo_study: Any, smtp: Inbox
) -> None:
    participant, guardians = _family(demo_study)
    _reminder(participant, guardians[1])

    _drain(NIGHT)

    assert smtp.messages == []
    deferred = OutboxMessage.objects.get()
    assert (deferred.status, deferred.reason) == ("queued", "quiet-hours")
    assert deferred.due_at.replace(tzinfo=UTC) == datetime(2026, 3, 10, 7, 0, tzinfo=UTC)
    _drain(datetime(2026, 3, 10, 7, 0, tzinfo=UTC))
    assert len(smtp.messages) == 1


def test_unsubscribe_link_stops_non_essential_messages_only(demo_study: Any, smtp: Inbox) -> None:
    participant, guardians = _family(demo_study)
    outbox.unsubscribe(outbox.unsubscribe_token(str(guardians[1].id)))
    _reminder(participant, guardians[1])
    participation.withdraw(participant, scopes=["stop-imp"], actor=STAFF, now=DAYTIME)

    _drain(DAYTIME)

    assert OutboxMessage.objects.get(dedupe_key="r1").reason == "unsubscribed"
    assert "marc@example.org" in [m["To"] for m in smtp.messages]  # the confirmation


def test_unsubscribe_refuses_a_token_we_did_not_sign(demo_study: Any) -> None:
    from consentkit.errors import NotFoundError

    _, guardians = _family(demo_study)
    with pytest.raises(NotFoundError):
        outbox.unsubscribe(f"{guardians[0].id}.{'0' * 32}")


def test_frequency_cap_defers_the_fourth_reminder_of_the_day(demo_study: Any, smtp: Inbox) -> None:
    participant, guardians = _family(demo_study)
    for i in range(4):
        _reminder(participant, guardians[1], key=f"r{i}")

    _drain(DAYTIME)

    assert len(smtp.messages) == 3
    assert OutboxMessage.objects(status="queued").get().reason == "frequency-cap"


def test_a_message_without_a_reachable_channel_is_skipped_and_shown_to_staff(
    demo_study: Any, smtp: Inbox
) -> None:
    participant, _guardians = _family(demo_study)
    no_email = participants.add_signer(
        participant, role="guardian", identity={"name": "Sam"}, actor=STAFF, now=T0
    )
    _reminder(participant, no_email)

    _drain(DAYTIME)

    [shown] = outbox.messages_of(participant)
    assert (shown["status"], shown["reason"]) == ("skipped", "no-channel")


def test_worker_command_stops_cleanly_on_sigterm(
    connected: str, db_name: str, tmp_path: Any
) -> None:
    env = {
        **os.environ,
        "CONSENTKIT_MONGODB_URI": connected,
        "CONSENTKIT_MONGODB_DB": db_name,
        "CONSENTKIT_MESSAGE_CHANNELS": "",
    }
    child = subprocess.Popen(
        [sys.executable, "-m", "consentkit", "worker", "--poll", "0.1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        line = child.stdout.readline() if child.stdout else ""  # the "sending by" log line
        assert "worker" in line
        child.send_signal(signal.SIGTERM)
        output, _ = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 0
    assert "worker stopped" in output


def test_worker_pushes_to_the_signers_browser_when_they_prefer_push(
    demo_study: Any, smtp: Inbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    import http_ece

    from consentkit.channels.webpush import WebPushChannel
    from tests.consentkit.message_helpers import http_gateway, new_browser, vapid_keys

    monkeypatch.setenv("CONSENTKIT_VAPID_PRIVATE_KEY", vapid_keys()[0])
    participant, guardians = _family(demo_study)
    browser = new_browser()
    with http_gateway() as push_service:
        outbox.set_preferences(
            str(guardians[1].id),
            preferred_channel="push",
            push_subscription=browser.subscription(push_service.url + "/push/marc"),
        )
        _reminder(participant, guardians[1])
        worker = Worker({"email": EmailChannel(), "push": WebPushChannel()}, clock=lambda: DAYTIME)
        while worker.run_once():
            pass

    assert smtp.messages == []
    [call] = push_service.received
    payload = json.loads(
        http_ece.decrypt(
            call.body,
            private_key=browser.private_key,
            auth_secret=browser.auth,
            version="aes128gcm",
        )
    )
    assert payload["title"] == "Your turn"
    assert OutboxMessage.objects.get().sent_channel == "push"
