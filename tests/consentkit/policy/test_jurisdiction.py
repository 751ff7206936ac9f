"""Jurisdiction rules: one expectation per rule-pack row, transitions, fallbacks, overrides.

The expectations in ROW_EXPECTATIONS are written by hand from the jurisdiction table (one
section per country in docs/regulatory-basis.md#jurisdiction-rule-pack), NOT generated from the
YAML: if a row of the pack drifts from the table, these tests say which. Where the table marks
a cell U the expectation is the conservative default (competence 18, both guardians, assent
from 7) with confidence U.
"""

from __future__ import annotations

import copy
import json
from datetime import date, timedelta
from typing import Any, NamedTuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consentkit.enums import Confidence, FormKind, GuardianRule, MinorRole, TrialType
from consentkit.errors import InvalidDataError
from consentkit.policy.jurisdiction import (
    AgeBand,
    RuleOverride,
    TransitionReason,
    decide_requirements,
    load_rule_pack,
    parse_rule_pack,
    supported_countries,
)

ON = date(2026, 6, 1)
MP = TrialType.MEDICINAL_PRODUCT
OR = TrialType.OTHER_RESEARCH
V, S, U = Confidence.VERIFIED, Confidence.SECONDARY, Confidence.UNKNOWN
INFORMED, ASSENT, CO_SIGN = MinorRole.INFORMED, MinorRole.ASSENT, MinorRole.CO_SIGN
OWN_WITH_GUARDIAN, OWN = MinorRole.OWN_CONSENT_WITH_GUARDIAN, MinorRole.OWN_CONSENT


def born_aged(age: int, on: date = ON) -> date:
    """A birth date making the participant exactly ``age`` on ``on`` (birthday in January)."""
    return date(on.year - age, 1, 15)


class Expect(NamedTuple):
    country: str
    trial_type: TrialType
    effective_from: date
    age: int
    competence_age: int
    guardians_required: int
    minor_role: MinorRole
    confidence: Confidence
    why: str  # the table cell the expectation comes from


CTR = date(2022, 1, 31)
SI_ZVOP2 = date(2023, 1, 26)

# fmt: off
ROW_EXPECTATIONS = [
    Expect("AT", MP, CTR, 15, 18, 2, OWN_WITH_GUARDIAN, U,
           "18 (S); parents conflicting one/both -> both (U); >=14 written consent with parents"),
    Expect("BE", MP, CTR, 10, 18, 2, ASSENT, S,
           "18 (S); both parents at some point (S); EC bands from 4, minor's will respected (S)"),
    Expect("CZ", MP, CTR, 13, 18, 2, CO_SIGN, U,
           "18 (S); both parents (S); '12 years - own consent', meaning U: co-sign read as U"),
    Expect("DE", MP, CTR, 15, 18, 2, OWN_WITH_GUARDIAN, U,
           "CT competence U -> 18; both (S); capable minor's written consent (S, no age)"),
    Expect("DK", MP, CTR, 16, 18, 2, OWN_WITH_GUARDIAN, V,
           "18 (V); both with joint custody (V); 15-17 minor AND parent consent (V)"),
    Expect("ES", MP, CTR, 13, 18, 1, ASSENT, S,
           "18 (S); one parent with the other's documented agreement; 12-17 assent signed"),
    Expect("FI", MP, CTR, 15, 18, 2, OWN_WITH_GUARDIAN, U,
           "CTR applicability of 15 U -> 18; number of guardians U -> both"),
    Expect("FI", OR, CTR, 16, 18, 2, OWN_WITH_GUARDIAN, U,
           "Medical Research Act: 15 only with direct benefit, else 18; guardians U"),
    Expect("FR", MP, CTR, 10, 18, 2, ASSENT, U,
           "18 (S); both holders of parental authority (V); no fixed assent age"),
    Expect("GR", MP, CTR, 10, 18, 2, ASSENT, U, "everything U"),
    Expect("HU", MP, CTR, 10, 18, 2, ASSENT, U, "everything U"),
    Expect("IE", MP, CTR, 16, 16, 0, OWN, V, "16 for CTR trials (V, NREC)"),
    Expect("IE", OR, CTR, 16, 18, 2, ASSENT, U, "non-CT research: consent from 18 (S, HSE)"),
    Expect("IT", MP, CTR, 12, 18, 2, ASSENT, U,
           "18 (S); both parents (pre-CTR); no fixed assent age"),
    Expect("LT", MP, CTR, 10, 18, 2, ASSENT, U, "competence U; number of representatives U"),
    Expect("NL", MP, CTR, 13, 16, 2, CO_SIGN, V, "16 (V); both parents (V); 12-15 co-sign (V)"),
    Expect("NL", OR, CTR, 12, 16, 2, CO_SIGN, V, "WMO applies to all research: same split"),
    Expect("NO", MP, CTR, 17, 18, 2, OWN_WITH_GUARDIAN, U,
           "drug trials: parents until 18 (V); 16-17 own consent too (S); one/both U"),
    Expect("NO", OR, CTR, 16, 16, 0, OWN, S, "Health Research Act s17: 16 (S)"),
    Expect("PL", MP, CTR, 14, 18, 2, OWN_WITH_GUARDIAN, S,
           "18 (S); both parents (S); >=13 double consent (S)"),
    Expect("PT", MP, CTR, 16, 18, 2, OWN_WITH_GUARDIAN, U,
           ">=16 minor AND representative (S); number of representatives U"),
    Expect("SE", MP, CTR, 15, 18, 2, OWN_WITH_GUARDIAN, S,
           "18 (S); joint custody both (S); guardian plus minor's own IC from 15 (S)"),
    Expect("SE", OR, CTR, 15, 15, 0, OWN, S, "Etikprovningslagen s18: 15-17 consent alone"),
    Expect("SI", MP, CTR, 10, 18, 2, ASSENT, U, "18 civil majority (S); parents/minor U"),
    Expect("SI", MP, SI_ZVOP2, 10, 18, 2, ASSENT, U, "same, after ZVOP-2"),
    Expect("GB-ENG", MP, CTR, 16, 16, 0, OWN, V, "CTIMP 16 (V)"),
    Expect("GB-WLS", MP, CTR, 12, 16, 1, INFORMED, U,
           "CTIMP: one parent (V); information, no fixed assent age (V); re-consent not stated"),
    Expect("GB-NIR", MP, CTR, 15, 16, 1, INFORMED, U,
           "CTIMP: one parent (V); information, no fixed assent age (V); re-consent not stated"),
    Expect("GB-SCT", MP, CTR, 10, 16, 1, INFORMED, U, "CTIMP: same UK-wide regs (V)"),
    Expect("GB-ENG", OR, CTR, 16, 16, 0, OWN, S, "non-CTIMP: 16-17 presumed competent (S)"),
    Expect("GB-WLS", OR, CTR, 17, 16, 0, OWN, S, "non-CTIMP: 16-17 presumed competent (S)"),
    Expect("GB-NIR", OR, CTR, 10, 16, 2, ASSENT, U, "non-CTIMP under 16: Gillick, no fixed age"),
    Expect("GB-SCT", OR, CTR, 16, 16, 0, OWN, S, "Age of Legal Capacity (Scotland) Act (S)"),
    Expect("CH", MP, CTR, 15, 18, 1, CO_SIGN, U,
           "18 (S); one parent (S); >=14 co-signs (S); re-consent at 18 not stated"),
    Expect("CH", OR, CTR, 10, 18, 1, INFORMED, U, "HRA: oral/written information below 14"),
]
# fmt: on


def expectation_id(expect: Expect) -> str:
    return f"{expect.country}-{expect.trial_type.value}-{expect.effective_from.isoformat()}"


def decide_for(expect: Expect) -> Any:
    on = expect.effective_from + timedelta(days=180)
    return decide_requirements(
        birth_date=born_aged(expect.age, on),
        country=expect.country,
        on=on,
        trial_type=expect.trial_type,
    )


# --------------------------------------------------------------------------- the table


def test_rule_pack_every_row_has_an_expectation() -> None:
    rows = {(rule.country, rule.trial_type, rule.effective_from) for rule in load_rule_pack().rules}
    expected = {(e.country, e.trial_type, e.effective_from) for e in ROW_EXPECTATIONS}
    assert rows == expected


@pytest.mark.parametrize("expect", ROW_EXPECTATIONS, ids=expectation_id)
def test_decide_requirements_competence_age_matches_table(expect: Expect) -> None:
    assert decide_for(expect).competence_age == expect.competence_age, expect.why


@pytest.mark.parametrize("expect", ROW_EXPECTATIONS, ids=expectation_id)
def test_decide_requirements_guardians_required_matches_table(expect: Expect) -> None:
    assert decide_for(expect).guardians_required == expect.guardians_required, expect.why


@pytest.mark.parametrize("expect", ROW_EXPECTATIONS, ids=expectation_id)
def test_decide_requirements_minor_role_matches_table(expect: Expect) -> None:
    assert decide_for(expect).minor_role is expect.minor_role, expect.why


@pytest.mark.parametrize("expect", ROW_EXPECTATIONS, ids=expectation_id)
def test_decide_requirements_confidence_matches_table(expect: Expect) -> None:
    assert decide_for(expect).confidence is expect.confidence, expect.why


def test_rule_pack_every_row_has_sources() -> None:
    for rule in load_rule_pack().rules:
        cells = [rule.cell(name) for name in ("competence_age", "guardian_rule", "minor_roles")]
        cells += [rule.minor_refusal_binding, rule.reconsent_at_competence, rule.gdpr_age]
        assert any(cell.source for cell in cells), rule.label
        for cell in cells:
            if cell.confidence is not U:
                assert cell.source, rule.label


def test_rule_pack_unknown_cells_are_null_and_only_they() -> None:
    for rule in load_rule_pack().rules:
        for name in ("competence_age", "guardian_rule", "minor_roles", "gdpr_age"):
            cell = rule.cell(name)
            assert (cell.value is None) == (cell.confidence is U), f"{rule.label} {name}"


def test_rule_pack_sources_are_urls() -> None:
    for rule in load_rule_pack().rules:
        for name in ("competence_age", "guardian_rule", "minor_roles", "gdpr_age"):
            assert all(url.startswith(("http://", "https://")) for url in rule.cell(name).source)


def test_load_rule_pack_is_loaded_once() -> None:
    assert load_rule_pack() is load_rule_pack()


def test_load_rule_pack_has_version_and_review_date() -> None:
    pack = load_rule_pack()
    assert pack.version
    assert isinstance(pack.last_reviewed, date)


def test_supported_countries_lists_uk_nations_not_gb() -> None:
    countries = supported_countries()
    assert {"GB-ENG", "GB-WLS", "GB-NIR", "GB-SCT"} <= set(countries)
    assert "GB" not in countries
    assert "UK" not in countries


def test_supported_countries_covers_every_table_row() -> None:
    table = {"AT", "BE", "CZ", "DE", "DK", "ES", "FI", "FR", "GR", "HU", "IE", "IT", "LT", "NL"}
    table |= {"NO", "PL", "PT", "SE", "SI", "GB-ENG", "GB-WLS", "GB-NIR", "GB-SCT", "CH"}
    assert set(supported_countries()) == table


# --------------------------------------------------------------------------- NL transitions

NL_BIRTH = date(2010, 6, 15)


def nl(on: date, **kwargs: Any) -> Any:
    return decide_requirements(birth_date=NL_BIRTH, country="NL", on=on, **kwargs)


def test_decide_requirements_nl_11_year_old_is_informed() -> None:
    assert nl(date(2022, 6, 14)).minor_role is INFORMED


def test_decide_requirements_nl_11_year_old_next_change_is_co_sign_at_12() -> None:
    transition = nl(date(2022, 6, 14)).next_transition
    assert transition is not None
    assert (transition.date, transition.reason) == (date(2022, 6, 15), TransitionReason.MINOR_ROLE)


def test_decide_requirements_nl_12_year_old_co_signs() -> None:
    assert nl(date(2022, 6, 15)).minor_role is CO_SIGN


def test_decide_requirements_nl_12_year_old_next_change_is_competence_not_a_band_at_14() -> None:
    # CCMO: 12-15 co-sign with both parents; no assent document changes at 14.
    transition = nl(date(2022, 6, 15)).next_transition
    assert transition is not None
    assert (transition.date, transition.reason) == (
        date(2026, 6, 15),
        TransitionReason.COMPETENCE_AGE,
    )


def test_decide_requirements_nl_without_bands_next_change_is_competence_at_16() -> None:
    transition = nl(date(2022, 6, 15), age_bands=[]).next_transition
    assert transition is not None
    assert transition.date == date(2026, 6, 15)
    assert transition.reason is TransitionReason.COMPETENCE_AGE


def test_decide_requirements_nl_15_year_old_next_change_is_competence() -> None:
    transition = nl(date(2026, 6, 14)).next_transition
    assert transition is not None
    assert (transition.date, transition.reason) == (
        date(2026, 6, 15),
        TransitionReason.COMPETENCE_AGE,
    )


def test_decide_requirements_nl_16_year_old_consents_alone() -> None:
    result = nl(date(2026, 6, 15))
    assert (result.minor_role, result.guardians_required) == (OWN, 0)


def test_decide_requirements_nl_16_year_old_has_no_next_transition() -> None:
    assert nl(date(2026, 6, 15)).next_transition is None


def test_decide_requirements_nl_does_not_require_reconsent_at_16() -> None:
    assert nl(date(2026, 6, 14)).reconsent_at_competence is False


def test_decide_requirements_nl_competence_date_is_16th_birthday() -> None:
    assert nl(date(2022, 6, 1)).competence_date == date(2026, 6, 15)


def test_decide_requirements_leap_day_birth_reaches_competence_on_1_march() -> None:
    result = decide_requirements(birth_date=date(2008, 2, 29), country="CH", on=date(2026, 2, 28))
    assert result.competence_date == date(2026, 3, 1)
    assert result.minor_role is CO_SIGN


def test_decide_requirements_leap_day_birth_consents_alone_on_1_march() -> None:
    result = decide_requirements(birth_date=date(2008, 2, 29), country="CH", on=date(2026, 3, 1))
    assert result.minor_role is OWN


# --------------------------------------------------------------------------- form kinds


def test_decide_requirements_8_year_old_needs_parental_consent_and_child_assent() -> None:
    result = decide_requirements(birth_date=born_aged(8), country="GR", on=ON)
    assert result.form_kinds == (
        FormKind.PARENTAL_CONSENT,
        FormKind.CHILD_ASSENT,
        FormKind.INVESTIGATOR_DECLARATION,
    )


def test_decide_requirements_co_signing_minor_needs_parental_and_co_consent_forms() -> None:
    result = decide_requirements(birth_date=born_aged(13), country="NL", on=ON)
    assert result.form_kinds == (
        FormKind.PARENTAL_CONSENT,
        FormKind.YOUNG_PERSON_CO_CONSENT,
        FormKind.INVESTIGATOR_DECLARATION,
    )


def test_decide_requirements_own_consent_below_18_uses_young_person_form() -> None:
    result = decide_requirements(birth_date=born_aged(17), country="NL", on=ON)
    assert result.form_kinds == (
        FormKind.YOUNG_PERSON_CONSENT,
        FormKind.INVESTIGATOR_DECLARATION,
    )


def test_decide_requirements_adult_uses_adult_form() -> None:
    result = decide_requirements(birth_date=born_aged(18), country="NL", on=ON)
    assert result.form_kinds == (FormKind.ADULT_CONSENT, FormKind.INVESTIGATOR_DECLARATION)


def test_decide_requirements_informed_toddler_gets_no_child_document() -> None:
    result = decide_requirements(birth_date=born_aged(3), country="GB-ENG", on=ON)
    assert result.form_kinds == (FormKind.PARENTAL_CONSENT, FormKind.INVESTIGATOR_DECLARATION)


def test_decide_requirements_spain_needs_the_other_parents_documented_agreement() -> None:
    result = decide_requirements(birth_date=born_aged(9), country="ES", on=ON)
    assert result.guardian_rule is GuardianRule.ONE_WITH_AGREEMENT
    assert result.guardians_required == 1
    assert result.other_guardian_agreement_required is True


# --------------------------------------------------------------------------- fallbacks


def test_decide_requirements_unknown_cells_fall_back_to_both_guardians() -> None:
    result = decide_requirements(birth_date=born_aged(5), country="HU", on=ON)
    assert result.guardian_rule is GuardianRule.BOTH


def test_decide_requirements_unknown_cells_fall_back_to_competence_18() -> None:
    result = decide_requirements(birth_date=born_aged(17), country="GR", on=ON)
    assert (result.competence_age, result.minor_role) == (18, ASSENT)


def test_decide_requirements_unknown_cells_fall_back_to_assent_from_7() -> None:
    roles = [
        decide_requirements(birth_date=born_aged(age), country="LT", on=ON).minor_role
        for age in (6, 7)
    ]
    assert roles == [INFORMED, ASSENT]


def test_decide_requirements_reports_which_defaults_were_applied() -> None:
    result = decide_requirements(birth_date=born_aged(10), country="GR", on=ON)
    assert set(result.defaults_applied) == {"competence_age", "guardian_rule", "minor_roles"}


def test_decide_requirements_open_age_range_is_unknown_below_a_verified_step() -> None:
    child = decide_requirements(birth_date=born_aged(10), country="DK", on=ON)
    teen = decide_requirements(birth_date=born_aged(16), country="DK", on=ON)
    assert (child.minor_role, child.confidence) == (ASSENT, U)
    assert (teen.minor_role, teen.confidence) == (OWN_WITH_GUARDIAN, V)


def test_decide_requirements_trial_type_without_row_borrows_medicinal_product() -> None:
    result = decide_requirements(
        birth_date=born_aged(16), country="DK", on=ON, trial_type=TrialType.MEDICAL_DEVICE
    )
    assert result.rule_trial_type is MP
    assert result.minor_role is OWN_WITH_GUARDIAN


def test_decide_requirements_borrowed_row_is_at_most_secondary() -> None:
    result = decide_requirements(
        birth_date=born_aged(16), country="DK", on=ON, trial_type=TrialType.MEDICAL_DEVICE
    )
    assert result.confidence is S


def test_decide_requirements_picks_the_row_in_force_on_the_date() -> None:
    before = decide_requirements(birth_date=born_aged(10), country="SI", on=date(2023, 1, 25))
    after = decide_requirements(birth_date=born_aged(10), country="SI", on=date(2023, 1, 26))
    assert (before.gdpr_age, after.gdpr_age) == (None, 15)
    assert after.rule_effective_from == date(2023, 1, 26)


# --------------------------------------------------------------------------- age bands


def test_decide_requirements_default_band_for_a_7_year_old_is_pictorial() -> None:
    band = decide_requirements(birth_date=born_aged(7), country="NL", on=ON).age_band
    assert band is not None
    assert (band.id, band.style) == ("assent-6-9", "pictorial")


def test_decide_requirements_band_does_not_apply_from_competence() -> None:
    assert decide_requirements(birth_date=born_aged(16), country="NL", on=ON).age_band is None


def test_decide_requirements_uses_study_bands_when_given() -> None:
    bands = [AgeBand("nl-12-15", 12, 15, style="comic"), AgeBand("nl-7-11", 7, 11)]
    band = decide_requirements(
        birth_date=born_aged(12), country="NL", on=ON, age_bands=bands
    ).age_band
    assert band == bands[0]


def test_decide_requirements_rejects_overlapping_bands() -> None:
    bands = [AgeBand("a", 6, 10), AgeBand("b", 10, 13)]
    with pytest.raises(InvalidDataError, match="overlap"):
        decide_requirements(birth_date=born_aged(8), country="NL", on=ON, age_bands=bands)


def test_age_band_rejects_min_above_max() -> None:
    with pytest.raises(InvalidDataError):
        AgeBand("upside-down", 12, 7)


# --------------------------------------------------------------------------- overrides


def ch_minimal_risk(**kwargs: Any) -> RuleOverride:
    return RuleOverride(
        country="ch",
        field="competence_age",
        value=14,
        reason="minimal-risk study (HRA)",
        reference="swissethics BASEC 2026-00123",
        **kwargs,
    )


def test_decide_requirements_override_replaces_the_cell() -> None:
    result = decide_requirements(
        birth_date=born_aged(15), country="CH", on=ON, overrides=[ch_minimal_risk()]
    )
    assert (result.competence_age, result.minor_role, result.guardians_required) == (14, OWN, 0)


def test_decide_requirements_override_is_verified_with_the_reference_as_source() -> None:
    result = decide_requirements(
        birth_date=born_aged(15), country="CH", on=ON, overrides=[ch_minimal_risk()]
    )
    assert result.confidence is V
    assert result.sources == ("swissethics BASEC 2026-00123",)


def test_decide_requirements_lists_applied_overrides() -> None:
    override = ch_minimal_risk()
    result = decide_requirements(
        birth_date=born_aged(15), country="CH", on=ON, overrides=[override]
    )
    assert result.overrides_applied == (override,)


def test_decide_requirements_ignores_overrides_for_other_countries() -> None:
    result = decide_requirements(
        birth_date=born_aged(15), country="NL", on=ON, overrides=[ch_minimal_risk()]
    )
    assert result.overrides_applied == ()


def test_decide_requirements_ignores_overrides_for_other_trial_types() -> None:
    override = ch_minimal_risk(trial_type=OR)
    result = decide_requirements(
        birth_date=born_aged(15), country="CH", on=ON, overrides=[override]
    )
    assert result.competence_age == 18


def test_decide_requirements_override_of_minor_roles_sets_assent_age() -> None:
    override = RuleOverride(
        country="GB-ENG",
        field="minor_roles",
        value=[{"from_age": 0, "role": "informed"}, {"from_age": 7, "role": "assent"}],
        reason="REC requires written assent from 7",
        reference="REC 26/LO/0001",
    )
    result = decide_requirements(
        birth_date=born_aged(7), country="GB-ENG", on=ON, overrides=[override]
    )
    assert result.minor_role is ASSENT


def test_decide_requirements_rejects_two_overrides_of_the_same_field() -> None:
    with pytest.raises(InvalidDataError, match="two overrides"):
        decide_requirements(
            birth_date=born_aged(15),
            country="CH",
            on=ON,
            overrides=[ch_minimal_risk(), ch_minimal_risk()],
        )


def test_rule_override_rejects_an_unknown_field() -> None:
    with pytest.raises(InvalidDataError, match="unknown field"):
        RuleOverride("NL", "parents", 1, reason="x", reference="METC 2026-1")


def test_rule_override_rejects_a_bad_value() -> None:
    with pytest.raises(InvalidDataError):
        RuleOverride("NL", "guardian_rule", "three", reason="x", reference="METC 2026-1")


def test_rule_override_requires_a_reference() -> None:
    with pytest.raises(InvalidDataError, match="reference"):
        RuleOverride("NL", "competence_age", 16, reason="x", reference=" ")


def test_rule_override_to_dict_is_json() -> None:
    data = ch_minimal_risk().to_dict()
    assert json.loads(json.dumps(data))["value"] == 14


# --------------------------------------------------------------------------- bad inputs


@pytest.mark.parametrize("code", ["GB", "uk", " Gb "])
def test_decide_requirements_rejects_gb_without_a_nation(code: str) -> None:
    with pytest.raises(InvalidDataError, match="GB-ENG"):
        decide_requirements(birth_date=born_aged(10), country=code, on=ON)


def test_decide_requirements_rejects_an_unknown_country_listing_supported_codes() -> None:
    with pytest.raises(InvalidDataError, match="supported: AT, BE") as excinfo:
        decide_requirements(birth_date=born_aged(10), country="XX", on=ON)
    assert "country" in excinfo.value.details["errors"]


def test_decide_requirements_accepts_lower_case_country_codes() -> None:
    assert decide_requirements(birth_date=born_aged(10), country="gb-sct", on=ON).country == (
        "GB-SCT"
    )


def test_decide_requirements_rejects_a_future_birth_date() -> None:
    with pytest.raises(InvalidDataError, match="after"):
        decide_requirements(birth_date=ON + timedelta(days=1), country="NL", on=ON)


def test_decide_requirements_rejects_an_unknown_trial_type() -> None:
    with pytest.raises(InvalidDataError, match="trial type"):
        decide_requirements(birth_date=born_aged(10), country="NL", on=ON, trial_type="diet")


def test_decide_requirements_rejects_a_date_before_the_pack_coverage() -> None:
    with pytest.raises(InvalidDataError, match="in force"):
        decide_requirements(birth_date=date(2010, 1, 1), country="NL", on=date(2020, 1, 1))


# --------------------------------------------------------------------------- to_dict


def test_requirements_to_dict_has_the_documented_keys() -> None:
    data = decide_requirements(birth_date=date(2013, 3, 1), country="NL", on=date(2026, 11, 23))
    keys = {
        "country", "trial_type", "age", "competence_age", "guardians_required", "guardian_rule",
        "minor_role", "form_kinds", "age_band", "next_transition", "sources", "confidence",
        "rule_pack_version", "overrides_applied", "minor_refusal_binding",
        "reconsent_at_competence",
    }  # fmt: skip
    assert keys <= set(data.to_dict())


def test_requirements_to_dict_round_trips_through_json() -> None:
    data = decide_requirements(birth_date=date(2013, 3, 1), country="NL", on=date(2026, 11, 23))
    assert json.loads(json.dumps(data.to_dict())) == data.to_dict()


def test_requirements_sources_are_deduplicated() -> None:
    sources = decide_requirements(birth_date=born_aged(13), country="NL", on=ON).sources
    assert len(sources) == len(set(sources))


# --------------------------------------------------------------------------- malformed packs

URL = "https://example.org/law"


def cell(value: Any, confidence: str = "V") -> dict[str, Any]:
    return {"value": value, "confidence": confidence, "source": [URL] if value is not None else []}


def minimal_pack() -> dict[str, Any]:
    return {
        "pack_version": "test-1",
        "last_reviewed": "2026-01-01",
        "sources": {"X": URL},
        "default_age_bands": [],
        "rules": [
            {
                "country": "NL",
                "trial_type": "medicinal-product",
                "effective_from": "2022-01-31",
                "competence_age": cell(16),
                "guardian_rule": cell("both"),
                "guardian_exceptions": cell(["sole-parental-authority"]),
                "minor_roles": cell(
                    [{"from_age": 0, "role": "informed"}, {"from_age": 12, "role": "co-sign"}]
                ),
                "minor_refusal_binding": cell(True),
                "reconsent_at_competence": cell(False),
                "gdpr_age": cell(16),
            }
        ],
    }


def test_parse_rule_pack_accepts_a_minimal_pack() -> None:
    assert parse_rule_pack(minimal_pack()).version == "test-1"


def _confidence_x(row: dict[str, Any]) -> None:
    row["competence_age"]["confidence"] = "X"


def _null_but_verified(row: dict[str, Any]) -> None:
    row["guardian_rule"]["value"] = None


def _extra_key(row: dict[str, Any]) -> None:
    row["parents"] = 2


def _step_at_competence(row: dict[str, Any]) -> None:
    row["minor_roles"]["value"].append({"from_age": 16, "role": "assent"})


def _unknown_url(row: dict[str, Any]) -> None:
    row["gdpr_age"]["source"] = ["https://elsewhere.example/"]


def _missing_cell(row: dict[str, Any]) -> None:
    del row["gdpr_age"]


def _bool_age(row: dict[str, Any]) -> None:
    row["competence_age"]["value"] = True


def _gb_alone(row: dict[str, Any]) -> None:
    row["country"] = "GB"


def _bare_no(row: dict[str, Any]) -> None:
    row["country"] = False  # what yaml.safe_load makes of an unquoted NO


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (_confidence_x, "competence_age.confidence"),
        (_null_but_verified, "null value must have confidence U"),
        (_extra_key, "unknown keys"),
        (_step_at_competence, "not below the competence age"),
        (_unknown_url, "not in the sources catalogue"),
        (_missing_cell, "missing gdpr_age"),
        (_bool_age, "expected an integer"),
        (_gb_alone, "country must be"),
        (_bare_no, "quote the country code"),
    ],
)
def test_parse_rule_pack_names_the_malformed_row(mutate: Any, fragment: str) -> None:
    pack = minimal_pack()
    mutate(pack["rules"][0])
    with pytest.raises(InvalidDataError) as excinfo:
        parse_rule_pack(pack, origin="test.yaml")
    assert "test.yaml: rules[0] (" in excinfo.value.message
    assert fragment in excinfo.value.message


def test_parse_rule_pack_rejects_overlapping_rows() -> None:
    pack = minimal_pack()
    pack["rules"].append(copy.deepcopy(pack["rules"][0]))
    with pytest.raises(InvalidDataError, match="overlap"):
        parse_rule_pack(pack)


def test_parse_rule_pack_accepts_consecutive_rows() -> None:
    pack = minimal_pack()
    later = copy.deepcopy(pack["rules"][0])
    pack["rules"][0]["effective_to"] = "2024-12-31"
    later["effective_from"] = "2025-01-01"
    later["competence_age"] = cell(15)
    pack["rules"].append(later)
    parsed = parse_rule_pack(pack)
    result = decide_requirements(birth_date=born_aged(15), country="NL", on=ON, rule_pack=parsed)
    assert result.competence_age == 15


# --------------------------------------------------------------------------- property


@settings(max_examples=100, deadline=None)
@given(
    country=st.sampled_from(sorted({rule.country for rule in load_rule_pack().rules})),
    birth=st.dates(min_value=date(2004, 1, 1), max_value=date(2026, 6, 1)),
)
def test_decide_requirements_next_transition_is_the_first_change(country: str, birth: date) -> None:
    today = decide_requirements(birth_date=birth, country=country, on=ON)
    if today.next_transition is None:
        assert not today.is_minor
        return
    change = today.next_transition.date
    assert change > ON

    def summary(on: date) -> tuple[Any, ...]:
        result = decide_requirements(birth_date=birth, country=country, on=on)
        # The band is a change only while it chooses the child's document (informed or
        # assenting); a co-signing minor signs the co-consent whatever the band.
        band = result.age_band if result.minor_role in (INFORMED, ASSENT) else None
        return (result.is_minor, result.minor_role, band)

    assert summary(change - timedelta(days=1)) == summary(ON)
    assert summary(change) != summary(ON)


# --------------------------------------------------------------------------- guardian exceptions


def test_parse_rule_pack_rejects_an_unknown_guardian_exception() -> None:
    pack = minimal_pack()
    pack["rules"][0]["guardian_exceptions"]["value"] = ["other-parent-busy"]
    with pytest.raises(InvalidDataError, match="guardian_exceptions"):
        parse_rule_pack(pack)


def test_parse_rule_pack_needs_a_guardian_exceptions_cell_in_every_row() -> None:
    pack = minimal_pack()
    del pack["rules"][0]["guardian_exceptions"]
    with pytest.raises(InvalidDataError, match="missing guardian_exceptions"):
        parse_rule_pack(pack)


@pytest.mark.parametrize(
    ("country", "codes"),
    [
        ("NL", ["sole-parental-authority"]),
        ("DK", ["sole-parental-authority"]),
        ("FR", ["sole-parental-authority", "fr-l1122-2-ii"]),
        ("ES", ["es-other-parent-agreement", "sole-parental-authority", "other-parent-deceased"]),
        ("GB-ENG", []),  # one parent suffices: nothing to except
        ("AT", ["sole-parental-authority", "other-parent-deceased"]),  # U: the default
    ],
)
def test_decide_requirements_lists_the_guardian_exceptions_of_the_row(
    country: str, codes: list[str]
) -> None:
    data = decide_requirements(birth_date=date(2016, 3, 1), country=country, on=date(2026, 11, 23))
    assert data.to_dict()["guardian_exceptions"] == codes


def test_decide_requirements_lists_no_guardian_exception_for_an_adult() -> None:
    data = decide_requirements(birth_date=date(2000, 3, 1), country="NL", on=date(2026, 11, 23))
    assert data.guardian_exceptions == ()
