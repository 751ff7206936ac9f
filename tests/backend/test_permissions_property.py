"""Property: the permission API's answers are the participation profile's, for any history.

Hypothesis draws event histories (a complete consent or none, scoped withdrawals,
a child's dissent and its review) and a moment to ask about; the API's permit or
deny per activity, single and batch, must equal what
:func:`consentkit.services.records.participation` says at that moment. The table
below is written from docs/permissions.md#activities, not from the code.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consentkit.enums import WithdrawalScope
from consentkit.errors import ConflictError, InvalidDataError
from consentkit.policy.records import ParticipationProfile
from consentkit.services import participation, records
from tests.backend.permission_helpers import bearer
from tests.consentkit.records_helpers import STAFF, T0, consented_family, make_family

EXPECTED: dict[str, Callable[[ParticipationProfile], bool]] = {
    "treatment": lambda p: p.permissions.treatment,
    "study-procedures": lambda p: p.permissions.study_procedures,
    "routine-data": lambda p: p.permissions.data_collection in ("all", "routine-care-only"),
    "new-data": lambda p: p.permissions.data_collection == "all",
    "sample-storage": lambda p: p.permissions.sample_collection,
    "sample-genetic-analysis": lambda p: p.permissions.genetic_analysis,
    "sample-sharing": lambda p: p.permissions.use_outside_protocol,
    "future-use": lambda p: p.permissions.sample_future_use,
    "contact": lambda p: p.permissions.contact,
    "re-contact": lambda p: p.permissions.re_contact,
}

SCOPES = [s.value for s in WithdrawalScope]
OPERATIONS = st.one_of(
    st.tuples(st.just("withdraw"), st.lists(st.sampled_from(SCOPES), min_size=1, max_size=3)),
    st.tuples(st.just("dissent"), st.just([])),
    st.tuples(st.just("review"), st.sampled_from([["continue"], ["uphold"]])),
)
_codes = itertools.count(1)


def _apply(participant: Any, operation: str, args: list[str]) -> None:
    try:
        if operation == "withdraw":
            participation.withdraw(participant, scopes=args, actor=STAFF)
        elif operation == "dissent":
            participation.record_dissent(participant, actor=STAFF)
        else:
            participation.review_dissent(
                participant, actor=STAFF, reason="heard again", decision=args[0]
            )
    except (InvalidDataError, ConflictError):
        pass  # refused before any write: the history simply does not contain it


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    # Mostly consented families asked about after the consent, where withdrawals matter.
    consented=st.sampled_from([True, True, True, False]),
    history=st.lists(OPERATIONS, max_size=4),
    days=st.sampled_from([-1, 2, 30, 400, 3000]),
)
def test_permission_answers_equal_the_participation_profile(
    client: Any,
    demo_study: Any,
    consented: bool,
    history: list[tuple[str, list[str]]],
    days: int,
) -> None:
    code = f"PB-{next(_codes):04d}"
    family = consented_family(code)[0] if consented else make_family(code)
    for operation, args in history:
        _apply(family.participant, operation, args)
    at = T0 + timedelta(days=days)
    profile = records.participation(family.participant, at=at)
    expected = {a: ("permit" if rule(profile) else "deny") for a, rule in EXPECTED.items()}

    headers = bearer(client)
    single = client.get(
        "/api/v1/permissions",
        query_string={"trial_id": "DEMO-NBL-1", "participant": code, "on": at.isoformat()},
        headers=headers,
    )
    assert single.status_code == 200, single.get_json()
    answers = single.get_json()["answers"]
    assert {a["activity"]: a["decision"] for a in answers} == expected
    # A deny always says why; a permit never carries a reason.
    assert all((a["decision"] == "deny") == (a["reason"] is not None) for a in answers)
    batch = client.post(
        "/api/v1/permissions",
        json={"trial_id": "DEMO-NBL-1", "participants": [code], "on": at.isoformat()},
        headers=headers,
    )
    assert batch.get_json()["results"][0]["answers"] == answers
