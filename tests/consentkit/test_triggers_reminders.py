"""Reminders of the family's next step, end to end through the worker's scan and a real SMTP server.

Reading started and not signed, the completion window about to end, and ahead of a
new age band, role or the age of competence (to the family and the site's staff).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from consentkit.models.outbox import OutboxMessage
from consentkit.policy.roles import Grant, StaffRole
from consentkit.services import participation, records, triggers
from consentkit.services import staff as staff_service
from consentkit.services.tasks import create_due_tasks
from tests.consentkit.records_helpers import STAFF, T0, Family, prepare, sign
from tests.consentkit.smtp_helpers import Inbox, is_about, recipients_of, running_inbox
from tests.consentkit.trigger_helpers import drain, mail_family, set_messages

FORM = "parental-consent"
READING = "Your decision about %(study)s is waiting"
EXPIRY = "Your decision about %(study)s is needed by %(date)s"
BAND = "From %(date)s, new information for your child in %(study)s"
ROLE = "From %(date)s, your child takes a new part in the consent for %(study)s"
COMPETENCE = "From %(date)s, the young person decides for themselves in %(study)s"
STAFF_CHANGE = "%(code)s: a change on %(date)s"
#: The demo study's completion window is 30 days; the expiry reminder comes 3 days before.
WINDOW_END = T0 + timedelta(days=30)


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch, free_port: int) -> Iterator[Inbox]:
    monkeypatch.setenv("CONSENTKIT_QUIET_HOURS", "21:00-08:00")
    monkeypatch.setenv("CONSENTKIT_MESSAGES_PER_DAY", "10")
    with running_inbox(monkeypatch, free_port) as inbox:
        yield inbox


def _staff(email: str, role: StaffRole, site: str, locale: str = "en") -> Any:
    member, _link = staff_service.create_staff(
        email=email,
        name=email,
        grants=[Grant("DEMO-NBL-1", role, (site,))],
        locale=locale,
        now=T0,
    )
    return member


def _opened_and_read_by_elodie(family: Family) -> Any:
    record = records.open_record(family.participant, form_id=FORM, actor=STAFF, now=T0)
    prepare(family, record, family.guardians[0], at=T0)
    return record


# ---------------------------------------------------------------- reading started, not signed


def test_reading_reminder_reaches_the_signer_who_began_reading_on_the_configured_day(
    demo_study: Any, smtp: Inbox
) -> None:
    family = mail_family()
    _opened_and_read_by_elodie(family)

    drain(T0 + timedelta(days=5) - timedelta(hours=1))
    assert smtp.messages == []

    drain(T0 + timedelta(days=5))

    [mail] = smtp.messages  # Marc has not begun reading: not reminded of it
    assert mail["To"] == "elodie.P-001@example.org"
    assert mail["Content-Language"] == "fr"
    assert is_about(mail, READING)
    assert mail["List-Unsubscribe"] is not None


def test_reading_reminder_counts_from_when_that_signer_began_reading(
    demo_study: Any, smtp: Inbox
) -> None:
    family = mail_family()
    record = records.open_record(family.participant, form_id=FORM, actor=STAFF, now=T0)
    prepare(family, record, family.guardians[1], at=T0 + timedelta(days=3))

    drain(T0 + timedelta(days=7))
    assert recipients_of(smtp, READING) == []

    drain(T0 + timedelta(days=8))

    assert recipients_of(smtp, READING) == ["marc.P-001@example.org"]


def test_reading_reminder_follows_the_days_the_study_sets(demo_study: Any, smtp: Inbox) -> None:
    set_messages(**{"reading-reminder": {"enabled": True, "days": 2}})
    family = mail_family()
    _opened_and_read_by_elodie(family)

    drain(T0 + timedelta(days=2))

    assert recipients_of(smtp, READING) == ["elodie.P-001@example.org"]


def test_reading_reminder_is_sent_once(demo_study: Any, smtp: Inbox) -> None:
    family = mail_family()
    _opened_and_read_by_elodie(family)

    drain(T0 + timedelta(days=5))
    drain(T0 + timedelta(days=6))

    assert len(smtp.messages) == 1
    assert OutboxMessage.objects(kind="reading-reminder").count() == 1


def test_a_signer_who_signed_is_not_reminded_to_read(demo_study: Any, smtp: Inbox) -> None:
    family = mail_family()
    record = _opened_and_read_by_elodie(family)
    sign(family, record, family.guardians[0], at=T0 + timedelta(hours=25))

    drain(T0 + timedelta(days=5))

    assert recipients_of(smtp, READING) == []


def test_reading_reminder_waits_for_the_end_of_quiet_hours(demo_study: Any, smtp: Inbox) -> None:
    family = mail_family()
    _opened_and_read_by_elodie(family)
    night = datetime(2026, 3, 7, 22, 0, tzinfo=UTC)  # 23:00 in Paris

    drain(night)

    assert smtp.messages == []
    message = OutboxMessage.objects.get(kind="reading-reminder")
    assert (message.status, message.reason) == ("queued", "quiet-hours")
    drain(datetime(2026, 3, 8, 7, 0, tzinfo=UTC))  # 08:00 in Paris
    assert recipients_of(smtp, READING) == ["elodie.P-001@example.org"]


def test_no_contact_withdrawal_stops_the_reading_reminder(demo_study: Any, smtp: Inbox) -> None:
    family = mail_family()
    _opened_and_read_by_elodie(family)
    participation.withdraw(
        family.participant, scopes=["no-further-contact"], actor=STAFF, now=T0 + timedelta(days=1)
    )

    drain(T0 + timedelta(days=5))

    assert recipients_of(smtp, READING) == []
    reminder = OutboxMessage.objects.get(kind="reading-reminder")
    assert (reminder.status, reminder.reason) == ("skipped", "no-contact")


# ---------------------------------------------------------------- the window about to end


def test_expiry_reminder_reaches_every_signer_who_has_not_signed_days_ahead(
    demo_study: Any, smtp: Inbox
) -> None:
    set_messages(
        **{
            "reading-reminder": {"enabled": False},
            "guardian-turn": {"enabled": False},
            "own-copy-ready": {"enabled": False},
        }
    )
    family = mail_family()
    record = records.open_record(family.participant, form_id=FORM, actor=STAFF, now=T0)
    prepare(family, record, family.guardians[0], at=T0)
    sign(family, record, family.guardians[0], at=T0 + timedelta(hours=25))

    drain(WINDOW_END - timedelta(days=3, hours=1))
    assert smtp.messages == []

    drain(WINDOW_END - timedelta(days=3))

    [mail] = smtp.messages  # Élodie signed; the investigator is not a family member
    assert mail["To"] == "marc.P-001@example.org"
    assert mail["Content-Language"] == "en"
    assert is_about(mail, EXPIRY)
    assert "2026-04-01" in str(mail["Subject"])


def test_expiry_reminder_is_not_sent_after_the_window_ended(demo_study: Any, smtp: Inbox) -> None:
    family = mail_family()
    records.open_record(family.participant, form_id=FORM, actor=STAFF, now=T0)

    drain(WINDOW_END + timedelta(hours=1))

    assert OutboxMessage.objects(kind="expiry-reminder").count() == 0


def test_a_study_that_switched_the_expiry_reminder_off_sends_none(
    demo_study: Any, smtp: Inbox
) -> None:
    set_messages(**{"expiry-reminder": {"enabled": False, "days": 3}})
    family = mail_family()
    records.open_record(family.participant, form_id=FORM, actor=STAFF, now=T0)

    drain(WINDOW_END - timedelta(days=2))

    assert OutboxMessage.objects(kind="expiry-reminder").count() == 0


# ---------------------------------------------------------------- lifecycle, ahead of the date


LIFECYCLE = [
    # FR: turns 10 on 2026-04-01, from the 6-9 pictorial band to the 10-13 one; 14 days ahead.
    ("FR-01", date(2016, 4, 1), date(2026, 4, 1), 14, BAND),
    # NL: turns 12 on 2026-04-01 and starts to co-sign with the parents; 14 days ahead.
    ("NL-01", date(2014, 4, 1), date(2026, 4, 1), 14, ROLE),
    # FR: turns 18 on 2026-05-01, their own consent is needed; 30 days ahead.
    ("FR-01", date(2008, 5, 1), date(2026, 5, 1), 30, COMPETENCE),
]


@pytest.mark.parametrize(("site", "born", "when", "ahead", "msgid"), LIFECYCLE)
def test_lifecycle_reminder_reaches_the_family_and_site_staff_ahead_of_the_date(
    demo_study: Any, smtp: Inbox, site: str, born: date, when: date, ahead: int, msgid: str
) -> None:
    mail_family("P-LIFE", site=site, birth_date=born)
    _staff("inv@example.org", StaffRole.INVESTIGATOR, site, locale="fr")
    _staff("elsewhere@example.org", StaffRole.SITE_STAFF, "DE-01")
    create_due_tasks(on=T0.date(), horizon_days=90)
    fires = datetime.combine(when - timedelta(days=ahead), datetime.min.time(), UTC)

    drain(fires - timedelta(hours=2))
    assert smtp.messages == []

    drain(fires + timedelta(hours=9))  # 10:00 or 11:00 at the site, out of quiet hours

    assert recipients_of(smtp, msgid) == ["elodie.P-LIFE@example.org", "marc.P-LIFE@example.org"]
    [alert] = [m for m in smtp.messages if m["To"] == "inv@example.org"]
    assert is_about(alert, STAFF_CHANGE)
    assert alert["Content-Language"] == "fr"
    assert when.isoformat() in str(alert["Subject"])


def test_lifecycle_reminder_is_sent_once(demo_study: Any, smtp: Inbox) -> None:
    mail_family("P-BAND", birth_date=date(2016, 4, 1))
    create_due_tasks(on=T0.date(), horizon_days=90)
    fires = datetime(2026, 3, 18, 9, 0, tzinfo=UTC)

    first = triggers.scan(now=fires)
    second = triggers.scan(now=fires + timedelta(days=1))

    # Both guardians and the child (who has no contact here: skipped when sending).
    assert len(first.queued) == 3 and second.queued == [] and second.existing == 3


def test_no_lifecycle_reminder_after_a_full_withdrawal(demo_study: Any, smtp: Inbox) -> None:
    family = mail_family("P-BAND", birth_date=date(2016, 4, 1))
    _staff("inv@example.org", StaffRole.INVESTIGATOR, "FR-01")
    create_due_tasks(on=T0.date(), horizon_days=90)
    participation.withdraw(family.participant, scopes=["full"], actor=STAFF, now=T0)

    drain(datetime(2026, 3, 18, 9, 0, tzinfo=UTC))

    # Only the confirmation of the withdrawal itself, which the law requires.
    assert set(OutboxMessage.objects.distinct("kind")) == {"withdrawal-confirmed"}


def test_no_contact_withdrawal_stops_lifecycle_reminders_to_family_and_staff(
    demo_study: Any, smtp: Inbox
) -> None:
    family = mail_family("P-BAND", birth_date=date(2016, 4, 1))
    _staff("inv@example.org", StaffRole.INVESTIGATOR, "FR-01")
    create_due_tasks(on=T0.date(), horizon_days=90)
    participation.withdraw(family.participant, scopes=["no-further-contact"], actor=STAFF, now=T0)

    drain(datetime(2026, 3, 18, 9, 0, tzinfo=UTC))

    kinds = {
        (m.kind, m.status, m.reason) for m in OutboxMessage.objects(kind__ne="withdrawal-confirmed")
    }
    assert kinds == {("band-change-reminder", "skipped", "no-contact")}
    assert recipients_of(smtp, BAND) == recipients_of(smtp, STAFF_CHANGE) == []


def test_staff_lifecycle_reminder_keeps_the_quiet_hours_of_the_site(
    demo_study: Any, smtp: Inbox
) -> None:
    mail_family("P-BAND", birth_date=date(2016, 4, 1))
    _staff("inv@example.org", StaffRole.INVESTIGATOR, "FR-01")
    create_due_tasks(on=T0.date(), horizon_days=90)

    drain(datetime(2026, 3, 18, 6, 30, tzinfo=UTC))  # 07:30 in Paris: quiet
    assert recipients_of(smtp, STAFF_CHANGE) == []

    drain(datetime(2026, 3, 18, 7, 30, tzinfo=UTC))  # 08:30 in Paris, still 07:30 in UTC

    assert recipients_of(smtp, STAFF_CHANGE) == ["inv@example.org"]
