"""What a withdrawal means: conflicting scopes, the families' plain choices, and their summary.

Staff record any combination of :class:`~consentkit.enums.WithdrawalScope` (the
independently revocable items of docs/regulatory-basis.md#withdrawal-scopes,
research notes 6.3). Families are not asked to read that list: they choose
among a few plain choices (:data:`CHOICES`), each mapped to scopes, and are
shown back what it will mean (:func:`summary`) before they confirm. Withdrawing
must be as easy as consenting (GDPR Art 7(3)); an unreadable list of twelve
technical scopes is not.

Pure functions, no I/O. Messages are gettext msgids; callers translate them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from consentkit.enums import SCOPES_LEAST_FIRST, WithdrawalScope
from consentkit.errors import InvalidDataError
from consentkit.i18n import N_

Scope = WithdrawalScope

#: Scopes that cannot both hold: each pair asks for two things that exclude each other.
#: Anonymising stored samples and destroying them are two different irreversible
#: actions on the same samples (research notes 6.3 item 5 lists them as alternatives);
#: "data from routine care may still be collected" (6.3 item 3) contradicts "no further
#: data collection of any kind" (6.3 item 4) when asked at the same time.
CONFLICTING_SCOPES: tuple[frozenset[str], ...] = (
    frozenset({Scope.SAMPLES_ANONYMISE, Scope.SAMPLES_DESTROY}),
    frozenset({Scope.ROUTINE_DATA_ONLY, Scope.NO_NEW_DATA}),
)
#: Of those, the pairs that also conflict with an earlier withdrawal: once samples are
#: anonymised they can no longer be found to destroy, and destroyed samples cannot be
#: anonymised. (A later "no new data" after "routine data only" is not a conflict but a
#: further step, and is accepted.)
IRREVERSIBLE_CONFLICTS: tuple[frozenset[str], ...] = (
    frozenset({Scope.SAMPLES_ANONYMISE, Scope.SAMPLES_DESTROY}),
)


def conflicting_scopes(
    scopes: Iterable[str], earlier: Iterable[str] = ()
) -> tuple[str, str, bool] | None:
    """Return the first two scopes that exclude each other and whether one is earlier, or None.

    ``scopes`` are asked now; ``earlier`` were recorded before (only the
    :data:`IRREVERSIBLE_CONFLICTS` apply across withdrawals). When the conflict is
    with an earlier withdrawal, the earlier scope comes first.
    """
    asked, before = set(scopes), set(earlier)
    for pair in CONFLICTING_SCOPES:
        if pair <= asked:
            first, second = sorted(pair)
            return first, second, False
    for pair in IRREVERSIBLE_CONFLICTS:
        for old in sorted(pair & before):
            for new in sorted(pair & asked):
                if new != old:
                    return old, new, True
    return None


def check_scopes(scopes: Iterable[str], earlier: Iterable[str] = ()) -> None:
    """Refuse scopes that exclude each other, now or with an earlier withdrawal.

    Raises:
        InvalidDataError: ``conflicting-scopes``, naming the two scopes.
    """
    found = conflicting_scopes(scopes, earlier)
    if found is None:
        return
    first, second, with_earlier = found
    if with_earlier:
        raise InvalidDataError(
            "An earlier withdrawal already asked for %(earlier)s, which excludes %(asked)s.",
            code="conflicting-scopes",
            params={"earlier": first, "asked": second},
        )
    raise InvalidDataError(
        "The withdrawal scopes %(first)s and %(second)s exclude each other: choose one of them.",
        code="conflicting-scopes",
        params={"first": first, "second": second},
    )


class WithdrawalChoice(StrEnum):
    """The plain choices a family is offered instead of raw scopes."""

    STOP_TREATMENT = "stop-treatment"
    STOP_EVERYTHING_NEW = "stop-everything-new"
    DESTROY_SAMPLES = "destroy-samples"
    NO_CONTACT = "no-contact"


@dataclass(frozen=True)
class ChoiceSpec:
    """One plain choice: its label, the scopes it means, and what it cannot go with."""

    choice: WithdrawalChoice
    label: str  # gettext msgid
    scopes: tuple[WithdrawalScope, ...]
    excludes: frozenset[WithdrawalChoice] = frozenset()


#: The choices, in the order the family page lists them (least first). The mapping
#: follows the practice research notes 6.2 reports: NRG's "treatment withdrawal" (stop
#: the study treatment, keep visits and data) and "full withdrawal" with data kept
#: (CTR Art 28(3)), sample consent withdrawn separately (6.3 item 5), and no further
#: contact (6.3 item 7).
CHOICES: tuple[ChoiceSpec, ...] = (
    ChoiceSpec(
        WithdrawalChoice.STOP_TREATMENT,
        N_("Stop the study treatment, but stay in the study's follow-up"),
        # Staying on follow-up without the study treatment also means no new
        # randomisation to a treatment group (6.3 item 8).
        (Scope.STOP_IMP, Scope.RANDOMISATION_REFUSAL),
        frozenset({WithdrawalChoice.STOP_EVERYTHING_NEW}),
    ),
    ChoiceSpec(
        WithdrawalChoice.STOP_EVERYTHING_NEW,
        N_("Stop taking part: nothing new, but keep what was already collected"),
        (Scope.FULL, Scope.NO_NEW_DATA),
        frozenset({WithdrawalChoice.STOP_TREATMENT}),
    ),
    ChoiceSpec(
        WithdrawalChoice.DESTROY_SAMPLES,
        N_("Also destroy the stored samples"),
        (Scope.SAMPLES_STOP_COLLECTION, Scope.SAMPLES_DESTROY),
    ),
    ChoiceSpec(
        WithdrawalChoice.NO_CONTACT,
        N_("Do not contact us again about the study"),
        (Scope.NO_FURTHER_CONTACT,),
    ),
)
CHOICE_BY_CODE: dict[str, ChoiceSpec] = {spec.choice.value: spec for spec in CHOICES}


def scopes_for_choices(choices: Sequence[str]) -> tuple[str, ...]:
    """Return the scopes the family's choices mean, sorted, after checking they go together.

    Raises:
        InvalidDataError: ``unknown-choice`` (none, or one not in :data:`CHOICES`), or
            ``conflicting-choices`` (e.g. stay in follow-up and stop everything).
    """
    if not choices:
        raise InvalidDataError("Choose at least one option.", code="unknown-choice")
    unknown = sorted(set(choices) - set(CHOICE_BY_CODE))
    if unknown:
        raise InvalidDataError(
            "Unknown choice: %(choice)s.", code="unknown-choice", params={"choice": unknown[0]}
        )
    specs = [CHOICE_BY_CODE[c] for c in dict.fromkeys(choices)]
    for spec in specs:
        clash = next((other for other in specs if other.choice in spec.excludes), None)
        if clash is not None:
            raise InvalidDataError(
                "These choices exclude each other: %(first)s and %(second)s. Choose one of them.",
                code="conflicting-choices",
                params={"first": spec.choice.value, "second": clash.choice.value},
            )
    return tuple(sorted({scope.value for spec in specs for scope in spec.scopes}))


#: What each scope means for the family, in plain words (shown before they confirm).
SCOPE_SUMMARY: dict[str, str] = {
    Scope.NO_FURTHER_CONTACT: N_(
        "The study team will not contact you again about the study, not even about its results."
    ),
    Scope.STOP_IMP: N_("The study treatment stops. Safety check-ups go on."),
    Scope.STOP_STUDY_PROCEDURES: N_("There are no more study visits, tests or questionnaires."),
    Scope.ROUTINE_DATA_ONLY: N_(
        "The study team will not contact you; information from routine care may still be used."
    ),
    Scope.NO_NEW_DATA: N_(
        "Nothing new is collected for the study: no information, no samples, no randomisation."
    ),
    Scope.SAMPLES_STOP_COLLECTION: N_("No more samples are taken for the study."),
    Scope.SAMPLES_NO_FUTURE_USE: N_("The stored samples are not used for future research."),
    Scope.SAMPLES_ANONYMISE: N_("The stored samples are made anonymous."),
    Scope.SAMPLES_DESTROY: N_("The stored samples are destroyed."),
    Scope.NO_USE_OUTSIDE_PROTOCOL: N_("The information is not used outside this study."),
    Scope.RANDOMISATION_REFUSAL: N_(
        "There is no new randomisation (being put in a treatment group by chance)."
    ),
    Scope.FULL: N_("Your child stops taking part in the study."),
}
#: Always said last: nothing collected before is deleted (CTR Art 28(3), GDPR Art 7(3)).
KEPT = N_(
    "What was collected before your decision is kept: the law requires it, and it stays protected."
)


def summary(scopes: Iterable[str]) -> tuple[str, ...]:
    """Return what the scopes mean, one plain sentence each (msgids), and what is kept.

    Sentences follow :data:`~consentkit.enums.SCOPES_LEAST_FIRST`; the full
    withdrawal comes first, since it is the one that matters most to read.
    """
    chosen = set(scopes)
    ordered = [s for s in SCOPES_LEAST_FIRST if s in chosen]
    if Scope.FULL in chosen:
        ordered.remove(Scope.FULL)
        ordered.insert(0, Scope.FULL)
    return (*(SCOPE_SUMMARY[s] for s in ordered), KEPT)
