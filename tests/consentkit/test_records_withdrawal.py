"""Withdrawal by scope, the child's dissent, and what stays permitted (demo study, real db).

Withdrawal is an event and a state, never a delete (STYLE domain rule 2; CTR Art 28(3));
scopes follow docs/regulatory-basis.md#withdrawal-scopes and the child's refusal follows
CTR Art 32(1)(c) (docs/regulatory-basis.md#child-dissent).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from consentkit.errors import InvalidDataError
from consentkit.services import participation, records
from consentkit.services.evidence import Actor
from tests.consentkit.records_helpers import (
    STAFF,
    T0,
    Family,
    make_family,
    prepare,
    sign,
    signer_actor,
)

SIGNED = T0 + timedelta(hours=25)
LATER = T0 + timedelta(days=10)


def _consented_family(
    choices: tuple[dict[str, bool] | None, dict[str, bool] | None] = (None, None),
) -> tuple[Family, Any]:
    """Both parents and the investigator signed parental-consent v2 (all yes by default)."""
    family = make_family()
    record = records.open_record(
        family.participant, form_id="parental-consent", actor=STAFF, now=T0
    )
    for guardian, chosen in zip(family.guardians, choices, strict=True):
        prepare(family, record, guardian, choices=chosen)
    for guardian in family.guardians:
        sign(family, record, guardian, at=SIGNED)
    sign(family, record, family.investigator, at=SIGNED)
    return family, record


def _withdraw(family: Family, *scopes: str, at: datetime = LATER, **kwargs: Any) -> Any:
    guardian = family.guardians[0]
    kwargs.setdefault("actor", signer_actor(guardian))
    return participation.withdraw(
        family.participant, scopes=scopes, expressed_by=str(guardian.id), now=at, **kwargs
    )


def _state(family: Family, record: Any, *, at: datetime = LATER) -> str:
    statuses = {s.record_id: s for s in records.record_statuses(family.participant, at=at)}
    return str(statuses[record.record_id].state.value)


def _permissions(family: Family, *, at: datetime = LATER) -> dict[str, Any]:
    permissions: dict[str, Any] = records.profile(family.participant, at=at)["permissions"]
    return permissions


# ---------------------------------------------------------------- scoped withdrawal


def test_withdraw_samples_destroy_keeps_the_record_consented(demo_study: Any) -> None:
    family, record = _consented_family()

    _withdraw(family, "samples-destroy")

    assert _state(family, record) == "consented"
    assert records.profile(family.participant, at=LATER)["participating"] is True


def test_withdraw_samples_destroy_stops_sample_collection_and_keeps_treatment(
    demo_study: Any,
) -> None:
    family, _record = _consented_family()

    _withdraw(family, "samples-destroy")

    profile = records.profile(family.participant, at=LATER)
    assert profile["permissions"]["sample_collection"] is False
    assert profile["permissions"]["treatment"] is True
    assert profile["samples_action"] == "samples-destroy"


def test_withdraw_keeps_every_earlier_event_and_signature(demo_study: Any) -> None:
    family, record = _consented_family()
    before = records.history(family.participant)

    _withdraw(family, "samples-destroy")

    after = records.history(family.participant)
    signatures = [e for e in after if e["type"] == "signature.added"]
    assert len(after) == len(before) + 1
    assert after[: len(before)] == before
    assert after[-1]["type"] == "withdrawal.recorded"
    assert len(signatures) == 3
    assert all(e["record_id"] == record.record_id for e in signatures)


def test_withdraw_stop_imp_stops_treatment_but_not_study_procedures(demo_study: Any) -> None:
    family, _record = _consented_family()

    _withdraw(family, "stop-imp")

    permissions = _permissions(family)
    assert permissions["treatment"] is False
    assert permissions["study_procedures"] is True
    assert permissions["data_collection"] == "all"


def test_withdraw_routine_data_only_limits_data_collection_to_routine_care(
    demo_study: Any,
) -> None:
    family, _record = _consented_family()

    _withdraw(family, "routine-data-only")

    permissions = _permissions(family)
    assert permissions["data_collection"] == "routine-care-only"
    assert permissions["study_procedures"] is False


def test_withdraw_full_closes_the_record_as_withdrawn(demo_study: Any) -> None:
    family, record = _consented_family()

    _withdraw(family, "full")

    profile = records.profile(family.participant, at=LATER)
    assert _state(family, record) == "withdrawn"
    assert profile["participating"] is False
    assert profile["blocked_by"] == ["withdrawn"]
    assert profile["permissions"]["treatment"] is False


def test_withdraw_is_effective_only_from_its_time(demo_study: Any) -> None:
    family, record = _consented_family()

    _withdraw(family, "full")

    # The record was consented between signing and withdrawing; the history says so.
    consented = [e for e in records.history(family.participant) if e["state_after"] == "consented"]
    assert [e["at"] for e in consented] == [SIGNED]
    assert _state(family, record) == "withdrawn"


# ---------------------------------------------------------------- reason and input


def test_withdraw_without_a_reason_is_accepted(demo_study: Any) -> None:
    family, _record = _consented_family()

    event = _withdraw(family, "full")

    assert event.payload["reason"] is None
    assert event.payload["reason_declined"] is False


def test_withdraw_with_reason_declined_stores_no_reason(demo_study: Any) -> None:
    family, _record = _consented_family()

    event = _withdraw(family, "full", reason_declined=True)

    assert event.payload["reason"] is None
    assert event.payload["reason_declined"] is True


def test_withdraw_with_a_reason_and_reason_declined_is_refused(demo_study: Any) -> None:
    family, _record = _consented_family()
    before = len(records.history(family.participant))

    with pytest.raises(InvalidDataError) as refused:
        _withdraw(family, "full", reason="fatigue", reason_declined=True)

    assert refused.value.code == "withdrawal-reason-conflict"
    assert len(records.history(family.participant)) == before


def test_withdraw_stores_a_reason_that_was_given(demo_study: Any) -> None:
    family, _record = _consented_family()

    event = _withdraw(family, "stop-study-procedures", reason="Trop de trajets à l'hôpital.")

    assert event.payload["reason"] == "Trop de trajets à l'hôpital."


@pytest.mark.parametrize("scopes", [("leave-entirely",), ()], ids=["unknown", "none"])
def test_withdraw_unknown_or_missing_scope_is_invalid(
    demo_study: Any, scopes: tuple[str, ...]
) -> None:
    family, _record = _consented_family()
    before = len(records.history(family.participant))

    with pytest.raises(InvalidDataError):
        _withdraw(family, *scopes)

    assert len(records.history(family.participant)) == before


# ---------------------------------------------------------------- the child's dissent


def test_record_dissent_overrides_both_parents_consent(demo_study: Any) -> None:
    family, record = _consented_family()

    participation.record_dissent(
        family.participant,
        actor=Actor(kind="staff", id="staff-1", role="site-investigator", channel="in-person"),
        expressed_by=str(family.child.id),
        note="L'enfant dit qu'il ne veut plus venir.",
        now=LATER,
    )

    profile = records.profile(family.participant, at=LATER)
    assert _state(family, record) == "dissent"
    assert profile["participating"] is False
    assert profile["blocked_by"] == ["dissent"]


# ---------------------------------------------------------------- two parents, one "no"


def test_profile_genetic_analysis_needs_both_parents_yes(demo_study: Any) -> None:
    family, _record = _consented_family(choices=({"genetic-analysis": False}, None))

    permissions = _permissions(family, at=SIGNED)

    assert permissions["genetic_analysis"] is False
    assert permissions["sample_collection"] is True


# ---------------------------------------------------------------- on behalf of


def test_withdraw_by_staff_on_behalf_of_a_guardian_records_channel_and_principal(
    demo_study: Any,
) -> None:
    family, _record = _consented_family()
    guardian = family.guardians[0]
    by_phone = Actor(
        kind="staff",
        id="staff-1",
        role="site-investigator",
        on_behalf_of=str(guardian.id),
        channel="phone",
    )

    event = _withdraw(family, "no-further-contact", actor=by_phone)

    assert event.actor["channel"] == "phone"
    assert event.actor["on_behalf_of"] == str(guardian.id)
    assert event.actor["kind"] == "staff"
    assert event.payload["channel"] == "phone"


# ---------------------------------------------------------------- research notes 6.3, re-derived


def test_withdraw_no_new_data_stops_sample_collection_and_randomisation(demo_study: Any) -> None:
    """6.3(4): "no further data collection of any kind", so no new sample and no randomisation."""
    family, _record = _consented_family()
    before = _permissions(family)

    _withdraw(family, "no-new-data")

    after = _permissions(family)
    assert (before["sample_collection"], before["randomisation"]) == (True, True)
    assert (after["sample_collection"], after["randomisation"]) == (False, False)
    assert (after["study_procedures"], after["data_collection"]) == (False, "none")


def test_withdraw_routine_data_only_means_no_contact(demo_study: Any) -> None:
    """6.3(3): "no contact, but data from routine care ... may still be collected"."""
    family, _record = _consented_family()

    _withdraw(family, "routine-data-only")

    permissions = _permissions(family)
    assert (permissions["contact"], permissions["re_contact"]) == (False, False)
    assert permissions["data_collection"] == "routine-care-only"


def test_withdraw_conflicting_scopes_are_refused_before_any_write(demo_study: Any) -> None:
    family, _record = _consented_family()
    before = records.history(family.participant)

    with pytest.raises(InvalidDataError) as caught:
        _withdraw(family, "samples-anonymise", "samples-destroy")

    assert caught.value.code == "conflicting-scopes"
    assert records.history(family.participant) == before


def test_withdraw_destroying_samples_already_anonymised_is_refused(demo_study: Any) -> None:
    family, _record = _consented_family()
    _withdraw(family, "samples-anonymise")

    with pytest.raises(InvalidDataError) as caught:
        _withdraw(family, "samples-destroy", at=LATER + timedelta(days=1))

    assert caught.value.code == "conflicting-scopes"
    assert records.profile(family.participant, at=LATER)["samples_action"] == "samples-anonymise"


def test_withdraw_no_new_data_after_routine_data_only_is_a_further_step(demo_study: Any) -> None:
    family, _record = _consented_family()
    _withdraw(family, "routine-data-only")

    _withdraw(family, "no-new-data", at=LATER + timedelta(days=1))

    later = LATER + timedelta(days=2)
    assert _permissions(family, at=later)["data_collection"] == "none"


def test_profile_names_the_events_that_decided_it(demo_study: Any) -> None:
    family, record = _consented_family()
    withdrawal = _withdraw(family, "stop-imp")
    history = records.history(family.participant)
    last_signature = [e for e in history if e["type"] == "signature.added"][-1]

    result = records.participation(family.participant, at=LATER)

    assert [(e.seq, e.type, e.record_id) for e in result.decided_by] == [
        (last_signature["seq"], "signature.added", record.record_id),
        (withdrawal.seq, "withdrawal.recorded", None),
    ]
    assert result.decided_by[-1].scopes == ("stop-imp",)
    assert records.profile(family.participant, at=LATER)["decided_by"][-1]["seq"] == withdrawal.seq
