"""Who must sign follows the country's rules unless staff record why not."""

from __future__ import annotations

from typing import Any

import pytest

from consentkit.errors import EligibilityError
from consentkit.services import records
from tests.consentkit.records_helpers import STAFF, T0, make_family


def test_open_record_refuses_one_parent_in_france_without_a_reason(demo_study: Any) -> None:
    family = make_family()
    one_parent = [str(family.guardians[0].id), str(family.investigator.id)]

    with pytest.raises(EligibilityError) as refused:
        records.open_record(
            family.participant,
            form_id="parental-consent",
            actor=STAFF,
            signer_ids=one_parent,
            now=T0,
        )

    assert refused.value.code == "guardians-missing"


def test_open_record_with_one_parent_keeps_the_reason(demo_study: Any) -> None:
    family = make_family()
    reason = "Other parent unreachable; minimal-risk exception (CSP L1122-2 II)"

    record = records.open_record(
        family.participant,
        form_id="parental-consent",
        actor=STAFF,
        now=T0,
        signer_ids=[str(family.guardians[0].id), str(family.investigator.id)],
        fewer_guardians_justification=reason,
    )

    [opened] = [e for e in records.history(family.participant) if e["type"] == "record.opened"]
    assert opened["payload"]["fewer_guardians_justification"] == reason
    assert [s["role"] for s in record.missing_signers] == ["guardian", "investigator"]


def test_open_record_needs_the_investigator(demo_study: Any) -> None:
    family = make_family()

    with pytest.raises(EligibilityError) as refused:
        records.open_record(
            family.participant,
            form_id="parental-consent",
            actor=STAFF,
            now=T0,
            signer_ids=[str(g.id) for g in family.guardians],
        )

    assert refused.value.code == "investigator-missing"
