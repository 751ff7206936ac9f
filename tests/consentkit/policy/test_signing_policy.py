"""How a signature may be made and whose name it carries (consentkit.policy.signing)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from consentkit.errors import InvalidDataError
from consentkit.policy.signing import (
    allowed_methods,
    check_act,
    check_method,
    check_printed_name,
    names_match,
    reflection_applies,
    reflection_until,
)


def test_allowed_methods_default_to_drawn_and_typed() -> None:
    assert allowed_methods(None, None) == ("drawn", "typed")
    assert allowed_methods([], []) == ("drawn", "typed")


def test_allowed_methods_the_form_wins_over_the_study() -> None:
    assert allowed_methods(["attested", "typed"], ["drawn"]) == ("typed", "attested")
    assert allowed_methods(None, ["drawn", "attested"]) == ("drawn", "attested")


def test_check_method_refuses_a_method_the_form_does_not_allow() -> None:
    with pytest.raises(InvalidDataError) as refused:
        check_method("drawn", ("typed",))

    assert refused.value.code == "signature-method-not-allowed"
    check_method("typed", ("typed",))


@pytest.mark.parametrize(
    ("printed", "registered"),
    [
        ("anna de vries", "Anna de Vries"),
        ("  Anna   DE Vries ", "Anna de Vries"),
        ("Helene Lefevre", "Hélène Lefèvre"),
        ("ΕΛΕΝΗ ΠΑΠΑΔΟΠΟΥΛΟΥ", "Ελένη Παπαδοπούλου"),
        ("иван петров", "Иван Петров"),
        ("Jürgen Straße", "JURGEN STRASSE"),
    ],
)
def test_names_match_ignoring_case_and_accents(printed: str, registered: str) -> None:
    assert names_match(printed, registered)


@pytest.mark.parametrize(
    ("printed", "registered"),
    [
        ("Anna", "Anna de Vries"),
        ("Pieter de Vries", "Anna de Vries"),
        # Same look, other script: a Latin "A" is not a Greek capital alpha.
        ("Anna", "\u0391nna"),
    ],
)
def test_names_that_differ_are_refused_kindly(printed: str, registered: str) -> None:
    assert not names_match(printed, registered)
    with pytest.raises(InvalidDataError) as refused:
        check_printed_name(printed, registered)
    assert refused.value.code == "printed-name-mismatch"
    assert "ask them to correct it" in str(refused.value)


@pytest.mark.parametrize(
    ("printed", "matches"),
    [
        ("Léa", True),
        ("lea", True),
        ("Léa Martin", True),
        ("Martin", False),  # a later word is not the first name
        ("Lé", False),  # nor a part of a word
        ("Léo", False),
        ("", False),
    ],
)
def test_a_young_child_may_write_only_their_first_name(printed: str, matches: bool) -> None:
    assert names_match(printed, "Léa Martin", first_name=True) is matches
    # Everyone else writes the whole name.
    assert names_match(printed, "Léa Martin") is (printed in ("Léa Martin",))


def test_a_typed_signature_needs_i_sign_and_no_strokes() -> None:
    with pytest.raises(InvalidDataError) as unconfirmed:
        check_act("typed", has_strokes=False, i_sign=False)
    with pytest.raises(InvalidDataError) as with_strokes:
        check_act("typed", has_strokes=True, i_sign=True)

    assert unconfirmed.value.code == "typed-signature-not-confirmed"
    assert with_strokes.value.code == "invalid-strokes"
    check_act("typed", has_strokes=False, i_sign=True)
    check_act("attested", has_strokes=False, i_sign=False)


def test_reflection_runs_from_the_first_reading() -> None:
    read = datetime(2026, 3, 3, 14, 0, tzinfo=UTC)

    assert reflection_until(read, 24) == datetime(2026, 3, 4, 14, 0, tzinfo=UTC)
    assert reflection_until(None, 24) is None


def test_a_childs_assent_has_no_time_to_think_to_wait_for() -> None:
    # CTR Art 29(1): the time to think is the guardians'; Art 32(1)(b): the child's assent.
    assert not reflection_applies("child-assent")
    assert reflection_applies("parental-consent")
    assert reflection_applies("young-person-co-consent")
