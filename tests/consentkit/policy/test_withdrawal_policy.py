"""The families' plain withdrawal choices, conflicting scopes and the plain summary (no database).

Expectations are written from the research notes 6.2-6.3
(docs/regulatory-basis.md#withdrawal-scopes): NRG's treatment withdrawal and full withdrawal
with data kept, sample consent withdrawn on its own, no further contact; and CTR Art 28(3) /
GDPR Art 7(3): what was collected before is kept.
"""

from __future__ import annotations

import pytest

from consentkit.enums import WithdrawalScope
from consentkit.errors import InvalidDataError
from consentkit.policy.withdrawal import (
    CHOICES,
    KEPT,
    SCOPE_SUMMARY,
    check_scopes,
    scopes_for_choices,
    summary,
)


@pytest.mark.parametrize(
    ("choices", "scopes"),
    [
        # Stop the study treatment, stay in follow-up: no new randomisation either (6.3(1), (8)).
        (["stop-treatment"], ["randomisation-refusal", "stop-imp"]),
        # Stop everything new but keep what was collected (6.3(4); CTR Art 28(3)).
        (["stop-everything-new"], ["full", "no-new-data"]),
        (["destroy-samples"], ["samples-destroy", "samples-stop-collection"]),
        (["no-contact"], ["no-further-contact"]),
        (
            ["stop-everything-new", "destroy-samples", "no-contact"],
            [
                "full",
                "no-further-contact",
                "no-new-data",
                "samples-destroy",
                "samples-stop-collection",
            ],
        ),
        (
            ["stop-treatment", "no-contact"],
            ["no-further-contact", "randomisation-refusal", "stop-imp"],
        ),
    ],
)
def test_scopes_for_choices_maps_plain_choices_to_scopes(
    choices: list[str], scopes: list[str]
) -> None:
    assert list(scopes_for_choices(choices)) == scopes


def test_scopes_for_choices_refuses_staying_in_follow_up_and_stopping_everything() -> None:
    with pytest.raises(InvalidDataError) as caught:
        scopes_for_choices(["stop-treatment", "stop-everything-new"])

    assert caught.value.code == "conflicting-choices"


@pytest.mark.parametrize("choices", [[], ["full"], ["samples-destroy"]])
def test_scopes_for_choices_refuses_raw_scopes_and_nothing(choices: list[str]) -> None:
    with pytest.raises(InvalidDataError) as caught:
        scopes_for_choices(choices)

    assert caught.value.code == "unknown-choice"


def test_choices_each_map_to_scopes_that_go_together() -> None:
    for spec in CHOICES:
        check_scopes([s.value for s in spec.scopes])


@pytest.mark.parametrize(
    "scopes",
    [
        # 6.3(5): anonymising and destroying the same samples are alternatives.
        ["samples-anonymise", "samples-destroy"],
        # 6.3(3) allows routine-care data; 6.3(4) forbids data of any kind.
        ["no-new-data", "routine-data-only"],
    ],
)
def test_check_scopes_refuses_scopes_that_exclude_each_other(scopes: list[str]) -> None:
    with pytest.raises(InvalidDataError) as caught:
        check_scopes(scopes)

    assert caught.value.code == "conflicting-scopes"
    assert set(scopes) <= set(caught.value.params.values())


def test_check_scopes_refuses_destroying_samples_already_anonymised() -> None:
    with pytest.raises(InvalidDataError) as caught:
        check_scopes(["samples-destroy"], earlier=["samples-anonymise"])

    assert caught.value.code == "conflicting-scopes"
    assert caught.value.params == {"earlier": "samples-anonymise", "asked": "samples-destroy"}


def test_check_scopes_accepts_a_further_step_after_an_earlier_withdrawal() -> None:
    check_scopes(["no-new-data"], earlier=["routine-data-only"])
    check_scopes(["samples-destroy"], earlier=["samples-destroy", "stop-imp"])


def test_summary_says_what_every_scope_means_and_always_what_is_kept() -> None:
    assert set(SCOPE_SUMMARY) == set(WithdrawalScope)
    for scope in WithdrawalScope:
        assert summary([scope]) == (SCOPE_SUMMARY[scope], KEPT)


def test_summary_puts_stopping_altogether_first() -> None:
    lines = summary(["no-new-data", "full", "no-further-contact"])

    assert lines == (
        SCOPE_SUMMARY[WithdrawalScope.FULL],
        SCOPE_SUMMARY[WithdrawalScope.NO_FURTHER_CONTACT],
        SCOPE_SUMMARY[WithdrawalScope.NO_NEW_DATA],
        KEPT,
    )
