"""Per-study trigger settings of the reminders ahead of a date (pure, no database)."""

from __future__ import annotations

from datetime import UTC, datetime

from consentkit.policy.triggers import LIFECYCLE, reminds_family, trigger

DATE = datetime(2026, 4, 1, tzinfo=UTC)


def test_trigger_ahead_of_a_date_fires_its_days_before() -> None:
    assert trigger({}, "competence-reminder").due_before(DATE) == datetime(2026, 3, 2, tzinfo=UTC)


def test_trigger_ahead_of_a_date_follows_the_study_days() -> None:
    settings = {"messages": {"band-change-reminder": {"days": 7}}}

    assert trigger(settings, "band-change-reminder").due_before(DATE) == datetime(
        2026, 3, 25, tzinfo=UTC
    )


def test_trigger_switched_off_never_fires() -> None:
    settings = {"messages": {"expiry-reminder": {"enabled": False}}}

    assert trigger(settings, "expiry-reminder").due_before(DATE) is None


def test_every_lifecycle_task_reason_has_a_reminder_on_by_default() -> None:
    assert {reason: trigger({}, kind).enabled for reason, kind in LIFECYCLE.items()} == {
        "age-band": True,
        "minor-role": True,
        "competence-age": True,
    }


def test_reminders_stop_once_participation_ended_not_for_a_withdrawal_of_contact() -> None:
    assert reminds_family(["no-further-contact"]) is True  # the rules of contact skip it
    assert reminds_family(["full"]) is False


def test_trigger_named_without_days_keeps_its_default_days() -> None:
    # What the authoring schema stores for `reading-reminder: {enabled: true}`.
    settings = {"messages": {"reading-reminder": {"enabled": True, "days": None}}}

    assert trigger(settings, "reading-reminder").days == 5
