"""The staff digest end to end: the worker's scan, the real outbox and a local SMTP server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from consentkit import i18n
from consentkit.channels.email import EmailChannel
from consentkit.models.outbox import FAILED, OutboxMessage
from consentkit.models.staff import StaffMember
from consentkit.models.study import Study
from consentkit.policy.roles import Grant, StaffRole
from consentkit.services import audit, digest, records
from consentkit.services import staff as staff_service
from consentkit.worker import Worker
from tests.consentkit.records_helpers import STAFF, T0, make_family, prepare, sign
from tests.consentkit.smtp_helpers import Inbox, is_about, running_inbox

SUBJECT = "Your daily summary for %(date)s"
#: 08:30 in Paris (the FR-01 site) on 4 March 2026, after the digest hour.
MORNING = datetime(2026, 3, 4, 7, 30, tzinfo=UTC)


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch, free_port: int) -> Iterator[Inbox]:
    with running_inbox(monkeypatch, free_port) as inbox:
        yield inbox


def _member(email: str, role: StaffRole, site: str, locale: str = "en") -> StaffMember:
    member, _link = staff_service.create_staff(
        email=email, name=email, grants=[Grant("DEMO-NBL-1", role, (site,))], locale=locale, now=T0
    )
    return member


def _drain(at: datetime) -> None:
    worker = Worker({"email": EmailChannel()}, clock=lambda: at)
    while worker.run_once():
        pass


def _digests(inbox: Inbox, to: str) -> list[Any]:
    return [m for m in inbox.messages if m["To"] == to and is_about(m, SUBJECT)]


def _text(mail: Any) -> str:
    part = next(p for p in mail.walk() if p.get_content_type() == "text/plain")
    return str(part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8"))


def _line(mail: Any, singular: str, plural: str, n: int, **params: Any) -> str:
    """The count line ``n`` as the mail's language writes it."""
    catalog = i18n.translations(mail["Content-Language"])
    return catalog.ngettext(singular, plural, n) % {"num": n, **params}


@pytest.fixture
def site_work(demo_study: Any) -> None:
    """At FR-01: a consent waiting for the investigator, a question two days old, a record
    whose window ends in 4 days, and a message to a family that failed yesterday."""
    countersign = make_family("P-SIGN")
    record = records.open_record(
        countersign.participant, form_id="parental-consent", actor=STAFF, now=T0
    )
    for guardian in countersign.guardians:
        prepare(countersign, record, guardian, at=T0)
    for guardian in countersign.guardians:
        sign(countersign, record, guardian, at=T0 + timedelta(hours=25))

    asking = make_family("P-ASK")
    audit.append(
        asking.participant,
        lambda _e: audit.Draft(
            type="question.asked",
            actor={"kind": "signer", "id": str(asking.guardians[0].id), "role": "guardian"},
            payload={"text": "Can we talk to the nurse?"},
        ),
        now=T0,
    )
    OutboxMessage(
        dedupe_key="failed-yesterday",
        kind="guardian-turn",
        trial_id="DEMO-NBL-1",
        participant_id=str(asking.participant.id),
        recipient={"signer_id": str(asking.guardians[0].id)},
        status=FAILED,
        due_at=MORNING - timedelta(hours=20),
        created_at=MORNING - timedelta(hours=20),
        finished_at=MORNING - timedelta(hours=20),
    ).save()

    early = T0 - timedelta(days=24)  # the 30-day window ends on 6 March
    expiring = make_family("P-LATE", at=early)
    records.open_record(expiring.participant, form_id="parental-consent", actor=STAFF, now=early)


def test_digest_lists_what_waits_at_the_members_sites_in_their_language(
    site_work: None, smtp: Inbox
) -> None:
    _member("inv@example.org", StaffRole.INVESTIGATOR, "FR-01", locale="fr")

    _drain(MORNING)

    [mail] = _digests(smtp, "inv@example.org")
    assert mail["Content-Language"] == "fr"
    assert "2026-03-04" in str(mail["Subject"])
    text = _text(mail)
    assert "DEMO-NBL-1" in text
    for line in (
        _line(
            mail,
            "%(num)s consent waits for your countersignature",
            "%(num)s consents wait for your countersignature",
            1,
        ),
        _line(
            mail,
            "%(num)s question from a family unanswered for over a day",
            "%(num)s questions from families unanswered for over a day",
            1,
        ),
        _line(
            mail,
            "%(num)s consent to complete within %(days)s days before it expires",
            "%(num)s consents to complete within %(days)s days before they expire",
            1,
            days=7,
        ),
        _line(
            mail,
            "%(num)s message to a family could not be delivered",
            "%(num)s messages to families could not be delivered",
            1,
        ),
    ):
        assert line in text, (line, text)
    # Nothing is due to consent again: that line is left out.
    assert "major version" not in text


def test_digest_is_sent_once_a_day(site_work: None, smtp: Inbox) -> None:
    _member("inv@example.org", StaffRole.INVESTIGATOR, "FR-01")

    _drain(MORNING)
    _drain(MORNING + timedelta(hours=6))
    assert len(_digests(smtp, "inv@example.org")) == 1

    _drain(MORNING + timedelta(days=1))

    assert len(_digests(smtp, "inv@example.org")) == 2
    assert OutboxMessage.objects(kind="staff-digest").distinct("dedupe_key") == sorted(
        f"staff-digest:{StaffMember.objects.get(email='inv@example.org').id}:{day}"
        for day in ("2026-03-04", "2026-03-05")
    )


def test_no_digest_before_the_morning_hour_of_the_site(site_work: None, smtp: Inbox) -> None:
    _member("inv@example.org", StaffRole.INVESTIGATOR, "FR-01")

    _drain(datetime(2026, 3, 4, 6, 30, tzinfo=UTC))  # 07:30 in Paris

    assert _digests(smtp, "inv@example.org") == []


def test_no_digest_when_there_is_nothing_to_report(site_work: None, smtp: Inbox) -> None:
    # Everything waiting is at FR-01; this member works at DE-01 only.
    _member("de@example.org", StaffRole.SITE_STAFF, "DE-01")

    report = digest.queue_digests(now=MORNING)
    _drain(MORNING)

    assert (report.queued, report.empty) == ([], 1)
    assert _digests(smtp, "de@example.org") == []


def test_no_digest_to_a_member_who_switched_it_off(site_work: None, smtp: Inbox) -> None:
    member = _member("inv@example.org", StaffRole.INVESTIGATOR, "FR-01")
    digest.set_digest(member, enabled=False)

    _drain(MORNING)

    assert _digests(smtp, "inv@example.org") == []


def test_no_digest_to_a_monitor(site_work: None, smtp: Inbox) -> None:
    _member("monitor@example.org", StaffRole.MONITOR, "FR-01")

    _drain(MORNING)

    assert _digests(smtp, "monitor@example.org") == []


def test_a_study_that_switched_the_digest_off_is_left_out(site_work: None, smtp: Inbox) -> None:
    study = Study.objects.get(trial_id="DEMO-NBL-1")
    messages = {**study.settings["messages"], "staff-digest": {"enabled": False}}
    Study.objects(id=study.id).update_one(set__settings={**study.settings, "messages": messages})
    _member("inv@example.org", StaffRole.INVESTIGATOR, "FR-01")

    _drain(MORNING)

    assert _digests(smtp, "inv@example.org") == []


def test_a_digest_that_failed_to_count_is_tried_again_at_the_next_pass(
    site_work: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    _member("inv@example.org", StaffRole.INVESTIGATOR, "FR-01")

    def unreachable(*_args: Any, **_kwargs: Any) -> Any:
        raise ConnectionError("database gone")

    with monkeypatch.context() as patched:
        patched.setattr(digest, "study_digest", unreachable)
        with pytest.raises(ConnectionError):
            digest.queue_digests(now=MORNING)

    again = digest.queue_digests(now=MORNING + timedelta(minutes=5))

    assert len(again.queued) == 1
