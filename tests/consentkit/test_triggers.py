"""Triggers end to end: the worker's scan and the services' events, through a real SMTP server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from consentkit.models.access import SignerSession
from consentkit.models.audit import AuditEvent
from consentkit.models.outbox import OutboxMessage
from consentkit.policy.roles import Grant, StaffRole
from consentkit.services import access, participation, publishing, records, triggers
from consentkit.services import staff as staff_service
from consentkit.services.importing import import_study
from tests.consentkit.records_helpers import STAFF, T0, Family, prepare, sign
from tests.consentkit.smtp_helpers import (
    Inbox,
    is_about,
    recipients_of,
    running_inbox,
    subject,
)
from tests.consentkit.trigger_helpers import drain, mail_family, set_messages

#: Three days after T0 (the study's invitation-reminder days), 10:00 in Paris.
REMINDER_DAY = T0 + timedelta(days=3)
#: 23:00 in Paris on the reminder day.
REMINDER_NIGHT = datetime(2026, 3, 5, 22, 0, tzinfo=UTC)
FORM = "parental-consent"


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch, free_port: int) -> Iterator[Inbox]:
    monkeypatch.setenv("CONSENTKIT_QUIET_HOURS", "21:00-08:00")
    monkeypatch.setenv("CONSENTKIT_MESSAGES_PER_DAY", "10")
    with running_inbox(monkeypatch, free_port) as inbox:
        yield inbox


#: The subjects of the messages these tests expect (msgids: each mail is checked in its language).
REMINDER = "Your invitation to the study %(study)s is waiting"
STAFF_ALERT = "%(code)s has not used their invitation"
YOUR_TURN = "Your partner has signed: it is your turn"
COPY_READY = "Your signed consent for %(study)s is ready"
OWN_COPY = "Your signature for %(study)s is saved: your copy is ready"
RECONSENT = "New information about %(study)s: please read and decide again"
UPDATED = "Updated information about %(study)s"


# ---------------------------------------------------------------- invitation not used


def test_unused_invitation_reminds_the_signer_on_the_configured_day_in_their_language(
    demo_study: Any, smtp: Inbox
) -> None:
    family = mail_family()
    access.create_invitation(family.participant, family.guardians[0], actor=STAFF, now=T0)

    drain(REMINDER_DAY - timedelta(hours=1))
    assert smtp.messages == []

    drain(REMINDER_DAY)

    [mail] = smtp.messages
    assert mail["To"] == "elodie.P-001@example.org"
    assert mail["Content-Language"] == "fr"
    assert is_about(mail, REMINDER)
    assert mail["List-Unsubscribe"] is not None  # a reminder is not essential
    types = [e.type for e in AuditEvent.objects(participant_id=str(family.participant.id))]
    assert types[-1] == "contact.sent"


def test_unused_invitation_reminder_waits_for_the_end_of_quiet_hours(
    demo_study: Any, smtp: Inbox
) -> None:
    family = mail_family()
    access.create_invitation(family.participant, family.guardians[0], actor=STAFF, now=T0)

    drain(REMINDER_NIGHT)

    assert smtp.messages == []
    message = OutboxMessage.objects.get(kind="invitation-reminder")
    assert (message.status, message.reason) == ("queued", "quiet-hours")
    drain(datetime(2026, 3, 6, 7, 0, tzinfo=UTC))  # 08:00 in Paris
    assert len(smtp.messages) == 1


def test_used_invitation_sends_no_reminder(demo_study: Any, smtp: Inbox) -> None:
    family = mail_family()
    signer = family.guardians[0]
    access.create_invitation(family.participant, signer, actor=STAFF, now=T0)
    SignerSession(
        session_id="s1",
        signer_id=str(signer.id),
        participant_id=str(family.participant.id),
        trial_id="DEMO-NBL-1",
        device_id="d1",
        created_at=T0 + timedelta(hours=2),
        refreshed_at=T0 + timedelta(hours=2),
        expires_at=T0 + timedelta(days=30),
    ).save()

    drain(REMINDER_DAY)

    assert smtp.messages == []
    assert OutboxMessage.objects.count() == 0


def test_two_workers_scanning_queue_one_reminder(demo_study: Any) -> None:
    family = mail_family()
    access.create_invitation(family.participant, family.guardians[0], actor=STAFF, now=T0)

    first = triggers.scan(now=REMINDER_DAY)
    second = triggers.scan(now=REMINDER_DAY + timedelta(minutes=5))

    assert (len(first.queued), len(second.queued), second.existing) == (1, 0, 1)
    assert OutboxMessage.objects(kind="invitation-reminder").count() == 1


def test_a_study_that_switched_the_reminder_off_sends_none(demo_study: Any, smtp: Inbox) -> None:
    set_messages(**{"invitation-reminder": {"enabled": False, "days": 3}})
    family = mail_family()
    access.create_invitation(family.participant, family.guardians[0], actor=STAFF, now=T0)

    drain(REMINDER_DAY)

    assert smtp.messages == []


def test_unused_invitation_alerts_the_site_staff_after_their_days(
    demo_study: Any, smtp: Inbox
) -> None:
    family = mail_family()
    for email, role, sites in (
        ("inv@example.org", StaffRole.INVESTIGATOR, ("FR-01",)),
        ("other-site@example.org", StaffRole.SITE_STAFF, ("DE-01",)),
        ("monitor@example.org", StaffRole.MONITOR, ("FR-01",)),
    ):
        staff_service.create_staff(
            email=email, name=email, grants=[Grant("DEMO-NBL-1", role, sites)], now=T0
        )
    access.create_invitation(family.participant, family.guardians[0], actor=STAFF, now=T0)

    drain(T0 + timedelta(days=7))

    assert recipients_of(smtp, REMINDER) == ["elodie.P-001@example.org"]
    assert recipients_of(smtp, STAFF_ALERT) == ["inv@example.org"]
    alert = next(m for m in smtp.messages if m["To"] == "inv@example.org")
    assert "P-001" in subject(alert)
    assert alert["List-Unsubscribe"] is None  # staff have no family unsubscribe link


def test_no_contact_withdrawal_stops_invitation_reminders(demo_study: Any, smtp: Inbox) -> None:
    family = mail_family()
    access.create_invitation(family.participant, family.guardians[0], actor=STAFF, now=T0)
    participation.withdraw(
        family.participant, scopes=["no-further-contact"], actor=STAFF, now=T0 + timedelta(days=1)
    )

    drain(REMINDER_DAY)

    assert recipients_of(smtp, REMINDER) == []
    reminder = OutboxMessage.objects.get(kind="invitation-reminder")
    assert (reminder.status, reminder.reason) == ("skipped", "no-contact")


# ---------------------------------------------------------------- events


def _signed_by_first_guardian(family: Family) -> Any:
    record = records.open_record(family.participant, form_id=FORM, actor=STAFF, now=T0)
    for guardian in family.guardians:
        prepare(family, record, guardian, at=T0)
    sign(family, record, family.guardians[0], at=T0 + timedelta(hours=25))
    return record


def test_first_guardian_signing_tells_the_other_it_is_their_turn(
    demo_study: Any, smtp: Inbox
) -> None:
    family = mail_family()
    _signed_by_first_guardian(family)

    drain(T0 + timedelta(hours=26))

    assert recipients_of(smtp, YOUR_TURN) == ["marc.P-001@example.org"]


def test_a_parent_who_signed_first_is_told_their_own_copy_is_ready(
    demo_study: Any, smtp: Inbox
) -> None:
    family = mail_family()
    _signed_by_first_guardian(family)

    drain(T0 + timedelta(hours=26))

    # Only to the parent who signed; the final copy follows when everyone has signed.
    assert recipients_of(smtp, OWN_COPY) == ["elodie.P-001@example.org"]
    assert recipients_of(smtp, COPY_READY) == []
    assert {m["To"] for m in smtp.messages} == {
        "elodie.P-001@example.org",
        "marc.P-001@example.org",
    }


def test_a_retried_signature_does_not_tell_the_other_guardian_twice(demo_study: Any) -> None:
    family = mail_family()
    record = _signed_by_first_guardian(family)

    sign(family, record, family.guardians[0], at=T0 + timedelta(hours=25))

    assert OutboxMessage.objects(kind="guardian-turn").count() == 1


def test_completed_consent_tells_the_family_their_copy_is_ready(
    demo_study: Any, smtp: Inbox
) -> None:
    family = mail_family()
    record = _signed_by_first_guardian(family)
    for signer in (family.investigator, family.guardians[1]):
        sign(family, record, signer, at=T0 + timedelta(hours=26))

    drain(T0 + timedelta(hours=27))

    assert recipients_of(smtp, COPY_READY) == ["elodie.P-001@example.org", "marc.P-001@example.org"]


@pytest.fixture
def draft_v2(clean_db: Any, study_folder: Path) -> Path:
    """The demo study with parental-consent v2 still a draft (to approve and publish)."""
    path = study_folder / "forms" / FORM / "form.yaml"
    form = yaml.safe_load(path.read_text(encoding="utf-8"))
    form["versions"][1].update(
        status="draft", ethics_reference=None, approved_date=None, effective_from=None
    )
    path.write_text(yaml.safe_dump(form, allow_unicode=True, sort_keys=False), encoding="utf-8")
    import_study(study_folder)
    return study_folder


def test_publishing_a_major_version_reminds_the_families_who_consented(
    draft_v2: Path, smtp: Inbox
) -> None:
    family = mail_family("P-REC")
    record = _signed_by_first_guardian(family)
    for signer in (family.investigator, family.guardians[1]):
        sign(family, record, signer, at=T0 + timedelta(hours=26))
    untouched = mail_family("P-NEW")  # enrolled, never consented: nothing to re-consent
    assert untouched
    publishing.approve_version("DEMO-NBL-1", FORM, 2, ethics_reference="EC-2", by="admin-1")
    publishing.publish_version(
        "DEMO-NBL-1",
        FORM,
        2,
        change="major",
        effective_from=date(2026, 6, 1),
        by="admin-1",
        now=T0 + timedelta(days=2),
    )

    drain(T0 + timedelta(days=2))

    assert recipients_of(smtp, RECONSENT) == ["elodie.P-REC@example.org", "marc.P-REC@example.org"]


def test_publishing_a_minor_version_tells_families_without_asking_to_sign(
    draft_v2: Path, smtp: Inbox
) -> None:
    family = mail_family("P-MIN")
    record = _signed_by_first_guardian(family)
    for signer in (family.investigator, family.guardians[1]):
        sign(family, record, signer, at=T0 + timedelta(hours=26))
    publishing.approve_version("DEMO-NBL-1", FORM, 2, ethics_reference="EC-2", by="admin-1")
    publishing.publish_version(
        "DEMO-NBL-1",
        FORM,
        2,
        change="minor",
        effective_from=date(2026, 6, 1),
        by="admin-1",
        now=T0 + timedelta(days=2),
    )

    drain(T0 + timedelta(days=2))

    assert recipients_of(smtp, UPDATED) == [
        "elodie.P-MIN@example.org",
        "marc.P-MIN@example.org",
    ]
