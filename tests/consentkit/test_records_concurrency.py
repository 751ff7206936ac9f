"""Concurrent signers and withdrawals against the real database server: no lost update."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from consentkit.models.audit import AuditEvent, ConsentRecord
from consentkit.services import participation, records
from tests.consentkit.records_helpers import STAFF, T0, make_family, prepare, sign

SIGN_AT = T0 + timedelta(hours=25)


def _race(*actions: Callable[[], Any]) -> list[Any]:
    """Run the actions at the same moment in threads; return results or exceptions."""
    barrier = threading.Barrier(len(actions))
    results: list[Any] = [None] * len(actions)

    def run(index: int, action: Callable[[], Any]) -> None:
        barrier.wait()
        try:
            results[index] = action()
        except Exception as exc:
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


@pytest.mark.parametrize("round_", range(5))
def test_two_guardians_signing_at_once_both_succeed_and_consent_once(
    demo_study: Any, round_: int
) -> None:
    family = make_family(f"P-RACE-{round_}")
    record = records.open_record(
        family.participant, form_id="parental-consent", actor=STAFF, now=T0
    )
    for guardian in family.guardians:
        prepare(family, record, guardian, at=T0)
    first = sign(family, record, family.guardians[0], at=SIGN_AT)
    sign(family, record, family.investigator, at=SIGN_AT)
    # The first guardian retries its request while the second guardian signs.
    results = _race(
        lambda: sign(family, record, family.guardians[1], at=SIGN_AT),
        lambda: sign(family, record, family.guardians[0], at=SIGN_AT),
    )

    assert not [r for r in results if isinstance(r, Exception)], results
    assert results[1].seq == first.seq  # the retry returned the original signature
    events = list(AuditEvent.objects(participant_id=str(family.participant.id)).order_by("seq"))
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    signatures = [e for e in events if e.type == "signature.added"]
    assert len(signatures) == 3
    assert (
        sum(1 for e in events if e.state_after == "consented" and e.state_before != "consented")
        == 1
    )
    assert ConsentRecord.objects.get(record_id=record.record_id).state == "consented"


@pytest.mark.parametrize("round_", range(5))
def test_withdrawal_racing_a_signature_keeps_both_in_time_order(
    demo_study: Any, round_: int
) -> None:
    family = make_family(f"P-WD-{round_}")
    record = records.open_record(
        family.participant, form_id="parental-consent", actor=STAFF, now=T0
    )
    for guardian in family.guardians:
        prepare(family, record, guardian, at=T0)
    sign(family, record, family.guardians[0], at=SIGN_AT)
    sign(family, record, family.investigator, at=SIGN_AT)

    results = _race(
        lambda: sign(family, record, family.guardians[1], at=SIGN_AT),
        lambda: participation.withdraw(
            family.participant,
            scopes=["full"],
            actor=STAFF,
            expressed_by=str(family.guardians[0].id),
            now=SIGN_AT,
        ),
    )

    events = list(AuditEvent.objects(participant_id=str(family.participant.id)).order_by("seq"))
    kinds = [e.type for e in events]
    assert "withdrawal.recorded" in kinds
    signed = isinstance(results[0], AuditEvent)
    if not signed:  # the withdrawal came first: the record was closed to further signing
        assert results[0].code == "record-closed"
        assert kinds.count("signature.added") == 2
    else:
        assert kinds.count("signature.added") == 3
    assert ConsentRecord.objects.get(record_id=record.record_id).state == "withdrawn"
    profile = records.profile(family.participant, at=SIGN_AT)
    assert profile["participating"] is False
    assert "withdrawn" in profile["blocked_by"]
