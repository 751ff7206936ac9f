"""family.js follows the server: no copy of the ceremony order or of the record states (issue 12).

The order of the steps is :func:`consentkit.services.ceremony.next_step` and the open states
are :data:`consentkit.enums.OPEN_STATES`; the signer API gives each task its ``next_step`` and
``phase`` and each ceremony write its ``next_step``. A script that decides these itself drifts
from the server (it once sent a parent who had answered the questions back to them).
"""

from __future__ import annotations

import re
from pathlib import Path

from consentkit.enums import RecordPhase, RecordState

SCRIPT = Path(__file__).resolve().parents[2] / "backend" / "static" / "js" / "family.js"


def _literals(source: str) -> list[str]:
    return re.findall(r'"([^"\\\n]*)"', source)


def test_family_script_names_no_record_state() -> None:
    # "consented" is a phase the server gives as well as a state: the script may read that.
    states = {state.value for state in RecordState} - {phase.value for phase in RecordPhase}
    literals = set(_literals(SCRIPT.read_text(encoding="utf-8")))

    assert sorted(literals & states) == []


def test_family_script_opens_a_ceremony_page_only_for_the_step_the_server_names() -> None:
    # Each page of a step is named once, in the map from the server's step to its page.
    literals = _literals(SCRIPT.read_text(encoding="utf-8"))

    assert {page: literals.count(page) for page in ("quiz", "choices", "sign")} == {
        "quiz": 1,
        "choices": 1,
        "sign": 1,
    }
