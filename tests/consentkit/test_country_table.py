"""Acceptance table: every rule-pack row x ages 5-19, against the law as written.

EXPECTATIONS is written by hand from the jurisdiction table of the research notes (one row
per country, sources [A1]..[G2]; summarised per country in
docs/regulatory-basis.md#jurisdiction-rule-pack, e.g. #country-nl), NOT generated from the code
or the YAML. Each row lists age ranges with: guardians who sign, the minor's role, the
form kinds opened and the reason of the next change. Where the table marks a cell U the
expectation is the documented conservative default (docs/regulatory-basis.md#jurisdiction-defaults:
competence 18, both guardians, informed until 7 then assent). Ages 6-17 below competence also get
the pack's default document bands 6-9, 10-13, 14-17 (docs/regulatory-basis.md#age-bands): a new
band is a change only while it chooses the child's assent/information document.

Found disagreeing with the law when this table was written (and changed in the code): a co-signing
minor (NL 12-15, CZ 12+, CH 14+) and a minor whose own consent is required alongside the parents'
(AT 14+, DK 15+, PL 13+, PT 16+, SE 15+, NO 16+) was given the own-consent form of someone deciding
alone, now the co-consent; NL 12-15 had an "age band" change at 14 where the law has none until 16.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import NamedTuple

import pytest

from consentkit.enums import FormKind, MinorRole, TrialType
from consentkit.policy.jurisdiction import TransitionReason, decide_requirements, load_rule_pack

MP, OR = TrialType.MEDICINAL_PRODUCT, TrialType.OTHER_RESEARCH
CTR = date(2022, 1, 31)
SI_ZVOP2 = date(2023, 1, 26)

INFORMED, ASSENT, CO_SIGN = MinorRole.INFORMED, MinorRole.ASSENT, MinorRole.CO_SIGN
WITH_GUARDIAN, OWN = MinorRole.OWN_CONSENT_WITH_GUARDIAN, MinorRole.OWN_CONSENT

_P, _A = FormKind.PARENTAL_CONSENT, FormKind.CHILD_ASSENT
_C, _Y = FormKind.YOUNG_PERSON_CO_CONSENT, FormKind.YOUNG_PERSON_CONSENT
_AD, _I = FormKind.ADULT_CONSENT, FormKind.INVESTIGATOR_DECLARATION
PI = (_P, _I)  # parents only: no child document below the first band (age 5)
PAI = (_P, _A, _I)  # parents + the child's assent/information document of their band
PCI = (_P, _C, _I)  # parents + the minor's co-consent
YI = (_Y, _I)  # own consent below 18 (competence 15 or 16)
AI = (_AD, _I)  # own consent as an adult

BAND, ROLE, COMPETENCE = (
    TransitionReason.AGE_BAND,
    TransitionReason.MINOR_ROLE,
    TransitionReason.COMPETENCE_AGE,
)


class Span(NamedTuple):
    low: int
    high: int  # inclusive
    guardians: int
    role: MinorRole
    kinds: tuple[FormKind, ...]
    next_reason: TransitionReason | None


def adult_from(competence: int) -> list[Span]:
    """From competence the participant consents alone (CTR Art 32(3)); adult form from 18."""
    spans = [Span(18, 19, 0, OWN, AI, None)]
    if competence < 18:
        spans.insert(0, Span(competence, 17, 0, OWN, YI, None))
    return spans


# Every U row: competence 18, both parents, informed until 7 then assent (defaults).
ALL_DEFAULTS = [
    Span(5, 5, 2, INFORMED, PI, BAND),
    Span(6, 6, 2, INFORMED, PAI, ROLE),
    Span(7, 9, 2, ASSENT, PAI, BAND),
    Span(10, 13, 2, ASSENT, PAI, BAND),
    Span(14, 17, 2, ASSENT, PAI, COMPETENCE),
    *adult_from(18),
]
# Competence 16, guardians and roles U (IE CTR trials; UK non-CTIMP; NO non-drug research).
DEFAULTS_COMPETENCE_16 = [
    Span(5, 5, 2, INFORMED, PI, BAND),
    Span(6, 6, 2, INFORMED, PAI, ROLE),
    Span(7, 9, 2, ASSENT, PAI, BAND),
    Span(10, 13, 2, ASSENT, PAI, BAND),
    Span(14, 15, 2, ASSENT, PAI, COMPETENCE),
    *adult_from(16),
]
# Under 15 open (defaults); 15-17 the minor AND the parents consent (DK V, SE S).
OWN_WITH_PARENTS_FROM_15 = [
    Span(5, 5, 2, INFORMED, PI, BAND),
    Span(6, 6, 2, INFORMED, PAI, ROLE),
    Span(7, 9, 2, ASSENT, PAI, BAND),
    Span(10, 13, 2, ASSENT, PAI, BAND),
    Span(14, 14, 2, ASSENT, PAI, ROLE),
    Span(15, 17, 2, WITH_GUARDIAN, PCI, COMPETENCE),
    *adult_from(18),
]
# "A capable minor gives written consent too", no age fixed (DE S, FI <15 S): asked from 7.
CAPABLE_MINOR_WRITTEN_CONSENT = [
    Span(5, 5, 2, INFORMED, PI, BAND),
    Span(6, 6, 2, INFORMED, PAI, ROLE),
    Span(7, 17, 2, WITH_GUARDIAN, PCI, COMPETENCE),
    *adult_from(18),
]
# UK CTIMP (SI 2004/1031 Sch 1 Pt 4, V): 16; one person with PR; information, no fixed assent age.
UK_CTIMP = [
    Span(5, 5, 1, INFORMED, PI, BAND),
    Span(6, 9, 1, INFORMED, PAI, BAND),
    Span(10, 13, 1, INFORMED, PAI, BAND),
    Span(14, 15, 1, INFORMED, PAI, COMPETENCE),
    *adult_from(16),
]
# NL WMO art 6 (V): <12 both parents, child informed; 12-15 co-signs with both; >=16 alone.
NL_WMO = [
    Span(5, 5, 2, INFORMED, PI, BAND),
    Span(6, 9, 2, INFORMED, PAI, BAND),
    Span(10, 11, 2, INFORMED, PAI, ROLE),  # turning 12: explicit consent to continue
    Span(12, 15, 2, CO_SIGN, PCI, COMPETENCE),  # turning 16: no action (reconsent false)
    *adult_from(16),
]
# CH HRA Art 22 (V) + ECRIN (S): one parent; informed; >=14 co-signs with the parent.
CH_HRA = [
    Span(5, 5, 1, INFORMED, PI, BAND),
    Span(6, 9, 1, INFORMED, PAI, BAND),
    Span(10, 13, 1, INFORMED, PAI, ROLE),
    Span(14, 17, 1, CO_SIGN, PCI, COMPETENCE),
    *adult_from(18),
]

EXPECTATIONS: dict[tuple[str, TrialType, date], list[Span]] = {
    # AT: 18 (S); parents conflicting -> both (U); >=8 informed and asked; >=14 written consent
    # in addition to the parents [A3].
    ("AT", MP, CTR): [
        Span(5, 5, 2, INFORMED, PI, BAND),
        Span(6, 7, 2, INFORMED, PAI, ROLE),
        Span(8, 9, 2, ASSENT, PAI, BAND),
        Span(10, 13, 2, ASSENT, PAI, ROLE),
        Span(14, 17, 2, WITH_GUARDIAN, PCI, COMPETENCE),
        *adult_from(18),
    ],
    # BE: 18 (S); both at some point (S); EC bands from 4, the minor's express will respected
    # (2004 law art 7) [A2][B1].
    ("BE", MP, CTR): [
        Span(5, 13, 2, ASSENT, PAI, BAND),
        Span(14, 17, 2, ASSENT, PAI, COMPETENCE),
        *adult_from(18),
    ],
    # CZ: 18 (S); both (S); bands 7-11 ...; "12 years - own consent" (meaning U) [A2][C1].
    ("CZ", MP, CTR): [
        Span(5, 5, 2, INFORMED, PI, BAND),
        Span(6, 6, 2, INFORMED, PAI, ROLE),
        Span(7, 9, 2, ASSENT, PAI, BAND),
        Span(10, 11, 2, ASSENT, PAI, ROLE),
        Span(12, 17, 2, CO_SIGN, PCI, COMPETENCE),
        *adult_from(18),
    ],
    # DE: 18 (U); generally both (S); capable minor's written consent, no fixed age (S) [D1].
    ("DE", MP, CTR): CAPABLE_MINOR_WRITTEN_CONSENT,
    # DK: 18 (V); both with joint custody (V); 15-17 minor AND parent (V) [DK1][DK2].
    ("DK", MP, CTR): OWN_WITH_PARENTS_FROM_15,
    # ES: 18 (S); one parent + the other's documented agreement (S); <12 heard; 12-17 assent [E1].
    ("ES", MP, CTR): [
        Span(5, 5, 1, INFORMED, PI, BAND),
        Span(6, 9, 1, INFORMED, PAI, BAND),
        Span(10, 11, 1, INFORMED, PAI, ROLE),
        Span(12, 13, 1, ASSENT, PAI, BAND),
        Span(14, 17, 1, ASSENT, PAI, COMPETENCE),
        *adult_from(18),
    ],
    # FI CTR: 15 only with direct benefit, CTR applicability U -> 18; guardians U -> both; <15
    # capable: own written consent with the guardian's; 15-17 no stronger inference [F1][F2].
    ("FI", MP, CTR): CAPABLE_MINOR_WRITTEN_CONSENT,
    # FI Medical Research Act: 18 (S; 15 with direct benefit as an override); from 15 the pack's
    # own consent with the guardian's (S) [F1].
    ("FI", OR, CTR): OWN_WITH_PARENTS_FROM_15,
    # FR: 18 (S); both holders (V, L1122-2 II); no fixed assent age [FR1][FR2].
    ("FR", MP, CTR): ALL_DEFAULTS,
    # GR, HU: everything U.
    ("GR", MP, CTR): ALL_DEFAULTS,
    ("HU", MP, CTR): ALL_DEFAULTS,
    # IE: 16 for CTR trials (V, NREC); parents and assent U [IE1].
    ("IE", MP, CTR): DEFAULTS_COMPETENCE_16,
    # IE non-CT research: consent from 18 (S, HSE); the rest U.
    ("IE", OR, CTR): ALL_DEFAULTS,
    # IT: 18 (S); both parents (V pre-CTR, applicability U -> S); no fixed age [IT1][IT2].
    ("IT", MP, CTR): ALL_DEFAULTS,
    # LT: competence and number of representatives U [LT1].
    ("LT", MP, CTR): ALL_DEFAULTS,
    # NL: WMO, CTR and other research alike [NL1][NL2][NL3].
    ("NL", MP, CTR): NL_WMO,
    ("NL", OR, CTR): NL_WMO,
    # NO drug trials: parents until 18 (V); 16-17 own consent too (S); one/both U [NO1][NO3].
    ("NO", MP, CTR): [
        Span(5, 5, 2, INFORMED, PI, BAND),
        Span(6, 6, 2, INFORMED, PAI, ROLE),
        Span(7, 9, 2, ASSENT, PAI, BAND),
        Span(10, 13, 2, ASSENT, PAI, BAND),
        Span(14, 15, 2, ASSENT, PAI, ROLE),
        Span(16, 17, 2, WITH_GUARDIAN, PCI, COMPETENCE),
        *adult_from(18),
    ],
    # NO Health Research Act s17: 16 (S); the rest U [NO3].
    ("NO", OR, CTR): DEFAULTS_COMPETENCE_16,
    # PL: 18 (S); both parents (S); >=13 the minor's own written consent in addition [PL1][PL2].
    ("PL", MP, CTR): [
        Span(5, 5, 2, INFORMED, PI, BAND),
        Span(6, 6, 2, INFORMED, PAI, ROLE),
        Span(7, 9, 2, ASSENT, PAI, BAND),
        Span(10, 12, 2, ASSENT, PAI, ROLE),
        Span(13, 17, 2, WITH_GUARDIAN, PCI, COMPETENCE),
        *adult_from(18),
    ],
    # PT: 18 (S); representative, number U; <16 representative alone; >=16 minor AND
    # representative (S, Law 21/2014 art 7) [PT1].
    ("PT", MP, CTR): [
        Span(5, 5, 2, INFORMED, PI, BAND),
        Span(6, 9, 2, INFORMED, PAI, BAND),
        Span(10, 13, 2, INFORMED, PAI, BAND),
        Span(14, 15, 2, INFORMED, PAI, ROLE),
        Span(16, 17, 2, WITH_GUARDIAN, PCI, COMPETENCE),
        *adult_from(18),
    ],
    # SE CTR: 18 (S); joint custody both (S); guardian plus the minor's own IC, from 15 (S) [SE2].
    ("SE", MP, CTR): OWN_WITH_PARENTS_FROM_15,
    # SE Etikprovningslagen s18: 15-17 who understand consent alone; <15 guardians [SE1][SE3].
    ("SE", OR, CTR): [
        Span(5, 5, 2, INFORMED, PI, BAND),
        Span(6, 9, 2, INFORMED, PAI, BAND),
        Span(10, 13, 2, INFORMED, PAI, BAND),
        Span(14, 14, 2, INFORMED, PAI, COMPETENCE),
        *adult_from(15),
    ],
    # SI: 18 civil majority (S); parents and minor U, before and after ZVOP-2 [SI1][SI2].
    ("SI", MP, CTR): ALL_DEFAULTS,
    ("SI", MP, SI_ZVOP2): ALL_DEFAULTS,
    # UK CTIMP, UK-wide [UK1][UK2][UK5].
    ("GB-ENG", MP, CTR): UK_CTIMP,
    ("GB-WLS", MP, CTR): UK_CTIMP,
    ("GB-NIR", MP, CTR): UK_CTIMP,
    ("GB-SCT", MP, CTR): UK_CTIMP,
    # UK non-CTIMP: 16-17 presumed competent (S); under 16 capacity-based, no age [UK4][UK5].
    ("GB-ENG", OR, CTR): DEFAULTS_COMPETENCE_16,
    ("GB-WLS", OR, CTR): DEFAULTS_COMPETENCE_16,
    ("GB-NIR", OR, CTR): DEFAULTS_COMPETENCE_16,
    ("GB-SCT", OR, CTR): DEFAULTS_COMPETENCE_16,
    # CH: HRA applies to all human research [CH1][CH3].
    ("CH", MP, CTR): CH_HRA,
    ("CH", OR, CTR): CH_HRA,
}

AGES = range(5, 20)


def _expected(key: tuple[str, TrialType, date], age: int) -> Span:
    found = [span for span in EXPECTATIONS[key] if span.low <= age <= span.high]
    assert len(found) == 1, f"{key} age {age}: the table must cover each age exactly once"
    return found[0]


CASES = [
    pytest.param(key, age, id=f"{key[0]}-{key[1].value}-{key[2].isoformat()}-{age}")
    for key in EXPECTATIONS
    for age in AGES
]


def test_country_table_covers_every_row_of_the_pack() -> None:
    rows = {(rule.country, rule.trial_type, rule.effective_from) for rule in load_rule_pack().rules}
    assert rows == set(EXPECTATIONS)


@pytest.mark.parametrize(("key", "age"), CASES)
def test_country_table_who_signs_what_and_what_changes_next(
    key: tuple[str, TrialType, date], age: int
) -> None:
    country, trial_type, effective_from = key
    on = effective_from + timedelta(days=180)
    born = date(on.year - age, 1, 15)  # birthday in January: exactly ``age`` on ``on``
    result = decide_requirements(birth_date=born, country=country, on=on, trial_type=trial_type)
    expected = _expected(key, age)

    transition = result.next_transition
    assert (
        result.guardians_required,
        result.minor_role,
        result.form_kinds,
        None if transition is None else transition.reason,
    ) == (expected.guardians, expected.role, expected.kinds, expected.next_reason)
