"""Rules of contact (pure): no-contact, unsubscribe, quiet hours in the site's zone, the cap."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from consentkit.policy.contact import (
    DEFER,
    SEND,
    SKIP,
    QuietHours,
    Recipient,
    backoff_s,
    decide,
)

QUIET = QuietHours(time(21, 0), time(8, 0))
PARIS = Recipient(reachable_by=("email", "sms"), timezone="Europe/Paris")
NOON_PARIS = datetime(2026, 3, 2, 11, 0, tzinfo=UTC)
THREE_AM_PARIS = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def _decide(recipient: Recipient = PARIS, **kwargs: object) -> object:
    arguments: dict[str, object] = {
        "recipient": recipient,
        "is_essential": False,
        "channel": None,
        "now": NOON_PARIS,
        "quiet": QUIET,
        "sent_last_day": 0,
        "daily_cap": 3,
    }
    arguments.update(kwargs)
    return decide(**arguments)  # type: ignore[arg-type]


def test_decide_sends_by_the_first_reachable_channel_by_default() -> None:
    assert _decide() == _decide().__class__(SEND, channel="email")


def test_decide_uses_the_signers_preferred_channel() -> None:
    recipient = Recipient(reachable_by=("email", "sms"), preferred_channel="sms")
    assert _decide(recipient).channel == "sms"  # type: ignore[attr-defined]


def test_decide_preferred_channel_unreachable_falls_back() -> None:
    recipient = Recipient(reachable_by=("email",), preferred_channel="push")
    assert _decide(recipient).channel == "email"  # type: ignore[attr-defined]


def test_decide_no_contact_skips_a_reminder() -> None:
    withdrawn = Recipient(reachable_by=("email",), contact_withdrawn=True)
    decision = _decide(withdrawn)
    assert (decision.action, decision.reason) == (SKIP, "no-contact")  # type: ignore[attr-defined]


def test_decide_no_contact_still_sends_what_law_requires() -> None:
    withdrawn = Recipient(reachable_by=("email",), contact_withdrawn=True)
    assert _decide(withdrawn, is_essential=True).action == SEND  # type: ignore[attr-defined]


def test_decide_unsubscribed_skips_non_essential_only() -> None:
    off = Recipient(reachable_by=("email",), unsubscribed=True)
    assert _decide(off).reason == "unsubscribed"  # type: ignore[attr-defined]
    assert _decide(off, is_essential=True).action == SEND  # type: ignore[attr-defined]


def test_decide_no_channel_is_skipped_with_the_reason() -> None:
    decision = _decide(Recipient(reachable_by=()))
    assert (decision.action, decision.reason) == (SKIP, "no-channel")  # type: ignore[attr-defined]


def test_decide_at_3am_in_the_sites_zone_defers_to_8am_local() -> None:
    decision = _decide(now=THREE_AM_PARIS)
    assert decision.action == DEFER  # type: ignore[attr-defined]
    assert decision.reason == "quiet-hours"  # type: ignore[attr-defined]
    assert decision.until == datetime(2026, 3, 2, 7, 0, tzinfo=UTC)  # type: ignore[attr-defined]


def test_decide_quiet_hours_follow_the_site_not_utc() -> None:
    # 21:30 UTC is 22:30 in Paris (quiet) but 17:30 in New York (not quiet).
    at = datetime(2026, 3, 2, 21, 30, tzinfo=UTC)
    assert _decide(now=at).action == DEFER  # type: ignore[attr-defined]
    new_york = Recipient(reachable_by=("email",), timezone="America/New_York")
    assert _decide(new_york, now=at).action == SEND  # type: ignore[attr-defined]


def test_decide_quiet_hours_end_across_a_clock_change() -> None:
    # Paris moves to summer time on 29 March 2026 at 02:00: 08:00 local is 06:00 UTC.
    at = datetime(2026, 3, 28, 23, 0, tzinfo=UTC)
    decision = _decide(now=at)
    assert decision.until == datetime(2026, 3, 29, 6, 0, tzinfo=UTC)  # type: ignore[attr-defined]


def test_decide_essential_ignores_quiet_hours() -> None:
    assert _decide(now=THREE_AM_PARIS, is_essential=True).action == SEND  # type: ignore[attr-defined]


def test_decide_frequency_cap_defers_by_a_day() -> None:
    decision = _decide(sent_last_day=3)
    assert (decision.action, decision.reason) == (DEFER, "frequency-cap")  # type: ignore[attr-defined]


@pytest.mark.parametrize(("attempts", "low", "high"), [(1, 15, 30), (2, 30, 60), (20, 1800, 3600)])
def test_backoff_grows_exponentially_capped_and_jittered(
    attempts: int, low: float, high: float
) -> None:
    assert backoff_s(attempts, base_s=30, cap_s=3600, jitter=0.0) == low
    assert backoff_s(attempts, base_s=30, cap_s=3600, jitter=1.0) == high
