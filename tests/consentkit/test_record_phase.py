"""The phase the signer API gives each record: open, consented or closed (RecordPhase.of)."""

from __future__ import annotations

import pytest

from consentkit.enums import ENDED_WITHOUT_CONSENT, OPEN_STATES, RecordPhase, RecordState


@pytest.mark.parametrize("state", list(RecordState))
def test_record_phase_is_open_exactly_for_the_open_states(state: RecordState) -> None:
    phase = RecordPhase.of(state)

    assert (phase is RecordPhase.OPEN) == (state in OPEN_STATES)
    assert (phase is RecordPhase.CONSENTED) == (state == RecordState.CONSENTED)
    if state in ENDED_WITHOUT_CONSENT:
        assert phase is RecordPhase.CLOSED
