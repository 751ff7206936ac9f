"""The "may I?" activities: each one is a field of the participation profile, never a rule.

No database: profiles are built directly. The activity table is written from
docs/permissions.md#activities (which cites research notes 6.3 and
docs/regulatory-basis.md#withdrawal-scopes), not from the code.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

from hypothesis import given
from hypothesis import strategies as st

from consentkit.enums import WithdrawalScope
from consentkit.policy.activities import ACTIVITIES, answer
from consentkit.policy.records import DecidingEvent, ParticipationProfile, Permissions

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

TABLE: dict[str, Callable[[Permissions], bool]] = {
    "treatment": lambda p: p.treatment,
    "study-procedures": lambda p: p.study_procedures,
    "routine-data": lambda p: p.data_collection in ("all", "routine-care-only"),
    "new-data": lambda p: p.data_collection == "all",
    "sample-storage": lambda p: p.sample_collection,
    "sample-genetic-analysis": lambda p: p.genetic_analysis,
    "sample-sharing": lambda p: p.use_outside_protocol,
    "future-use": lambda p: p.sample_future_use,
    "contact": lambda p: p.contact,
    "re-contact": lambda p: p.re_contact,
}

PERMISSIONS = st.builds(
    Permissions,
    treatment=st.booleans(),
    randomisation=st.booleans(),
    study_procedures=st.booleans(),
    data_collection=st.sampled_from(["all", "routine-care-only", "none"]),
    sample_collection=st.booleans(),
    sample_future_use=st.booleans(),
    genetic_analysis=st.booleans(),
    use_outside_protocol=st.booleans(),
    contact=st.booleans(),
    re_contact=st.booleans(),
)
SCOPES = st.lists(st.sampled_from([s.value for s in WithdrawalScope]), max_size=3, unique=True)
BLOCKED = st.lists(
    st.sampled_from(["dissent", "withdrawn", "no-consent", "missing:parental-consent"]),
    max_size=2,
    unique=True,
)


def profile(
    permissions: Permissions, scopes: list[str], blocked: list[str]
) -> ParticipationProfile:
    withdrawal = DecidingEvent(3, "withdrawal.recorded", T0, scopes=tuple(scopes))
    return ParticipationProfile(
        participating=not blocked,
        blocked_by=tuple(blocked),
        withdrawn_scopes=tuple(scopes),
        permissions=permissions,
        samples_action=None,
        records=(),
        decided_by=(withdrawal,) if scopes else (),
    )


def test_activities_are_the_documented_ten() -> None:
    assert set(ACTIVITIES) == set(TABLE)


@given(permissions=PERMISSIONS, scopes=SCOPES, blocked=BLOCKED)
def test_activity_answer_is_the_profile_field(
    permissions: Permissions, scopes: list[str], blocked: list[str]
) -> None:
    built = profile(permissions, scopes, blocked)
    for activity, field in TABLE.items():
        said = answer(built, activity, until=date(2027, 1, 1))
        assert said.decision == ("permit" if field(permissions) else "deny"), activity
        assert (said.reason is None) == (said.decision == "permit"), activity


def test_activity_deny_names_the_withdrawal_scope_that_stopped_it() -> None:
    stopped = Permissions(
        treatment=False,
        randomisation=True,
        study_procedures=True,
        data_collection="all",
        sample_collection=True,
        sample_future_use=True,
        genetic_analysis=True,
        use_outside_protocol=True,
        contact=True,
        re_contact=True,
    )
    said = answer(profile(stopped, ["stop-imp"], []), "treatment")
    assert said.reason == "withdrawn:stop-imp"
    assert [e["seq"] for e in said.basis["events"]] == [3]


def test_activity_unknown_is_denied_by_default() -> None:
    allowed = Permissions(True, True, True, "all", True, True, True, True, True, True)
    said = answer(profile(allowed, [], []), "cloning")
    assert (said.decision, said.reason) == ("deny", "unknown-activity")


def test_activity_deny_without_participation_names_the_block() -> None:
    nothing = Permissions(False, False, False, "none", False, False, False, False, True, False)
    said = answer(profile(nothing, [], ["missing:parental-consent"]), "new-data")
    assert said.reason == "missing:parental-consent"
    # Contact does not need participation: a family may still be reached (6.3 item 7 aside).
    assert answer(profile(nothing, [], ["missing:parental-consent"]), "contact").decision == (
        "permit"
    )
