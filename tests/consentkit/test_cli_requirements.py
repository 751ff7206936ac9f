"""``consentkit requirements``: JSON output, the readable sentence and usage errors (exit 2)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from consentkit.cli.requirements import requirements

NL_13 = ["--country", "NL", "--birth-date", "2013-03-01", "--on", "2026-11-23"]


def test_requirements_json_has_the_documented_keys() -> None:
    result = CliRunner().invoke(requirements, [*NL_13, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert {
        "country", "trial_type", "age", "competence_age", "guardians_required", "guardian_rule",
        "minor_role", "form_kinds", "age_band", "next_transition", "sources", "confidence",
        "rule_pack_version", "overrides_applied", "minor_refusal_binding",
        "reconsent_at_competence",
    } <= set(data)  # fmt: skip


def test_requirements_json_decides_for_a_13_year_old_in_nl() -> None:
    result = CliRunner().invoke(requirements, [*NL_13, "--json"])
    data = json.loads(result.output)
    assert (data["age"], data["guardians_required"], data["minor_role"]) == (13, 2, "co-sign")


def test_requirements_json_is_sorted_and_indented() -> None:
    result = CliRunner().invoke(requirements, [*NL_13, "--json"])
    data = json.loads(result.output)
    assert result.output.rstrip("\n") == json.dumps(
        data, indent=2, sort_keys=True, ensure_ascii=False
    )


def test_requirements_prints_a_readable_sentence() -> None:
    result = CliRunner().invoke(requirements, NL_13)
    assert result.exit_code == 0, result.output
    assert result.output.startswith(
        "A 13-year-old in NL (medicinal-product trial): both parents must consent; "
        "the child co-signs. Competence at 16 on 2029-03-01."
    )
    assert "Next change: 2029-03-01 (competence age)." in result.output
    assert result.output.rstrip().endswith("Confidence: V.")


def test_requirements_sentence_for_an_adult_says_they_consent_alone() -> None:
    result = CliRunner().invoke(
        requirements, ["--country", "nl", "--birth-date", "2008-03-01", "--on", "2026-11-23"]
    )
    assert "An 18-year-old in NL" in result.output
    assert "consents alone" in result.output


def test_requirements_sentence_flags_conservative_defaults() -> None:
    result = CliRunner().invoke(
        requirements, ["--country", "GR", "--birth-date", "2016-01-01", "--on", "2026-06-01"]
    )
    assert "conservative default used" in result.output
    assert "Confidence: U." in result.output


def test_requirements_accepts_the_trial_type() -> None:
    result = CliRunner().invoke(
        requirements,
        ["--country", "SE", "--birth-date", "2010-01-01", "--on", "2026-06-01",
         "--trial-type", "other-research", "--json"],
    )  # fmt: skip
    assert json.loads(result.output)["minor_role"] == "own-consent"


def test_requirements_on_defaults_to_today() -> None:
    result = CliRunner().invoke(
        requirements, ["--country", "NL", "--birth-date", "2000-01-01", "--json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["age"] >= 26


@pytest.mark.parametrize("country", ["XX", "GB", "UK"])
def test_requirements_bad_country_exits_2(country: str) -> None:
    result = CliRunner().invoke(
        requirements, ["--country", country, "--birth-date", "2013-03-01", "--on", "2026-11-23"]
    )
    assert result.exit_code == 2
    assert "--country" in result.output


def test_requirements_gb_error_names_the_nations() -> None:
    result = CliRunner().invoke(
        requirements, ["--country", "GB", "--birth-date", "2013-03-01", "--on", "2026-11-23"]
    )
    assert "GB-ENG" in result.output


@pytest.mark.parametrize("option", ["--birth-date", "--on"])
def test_requirements_bad_date_exits_2(option: str) -> None:
    args = {"--country": "NL", "--birth-date": "2013-03-01", "--on": "2026-11-23"}
    args[option] = "23/11/2026"
    result = CliRunner().invoke(requirements, [item for pair in args.items() for item in pair])
    assert result.exit_code == 2
    assert option in result.output


def test_requirements_future_birth_date_exits_2() -> None:
    result = CliRunner().invoke(
        requirements, ["--country", "NL", "--birth-date", "2027-01-01", "--on", "2026-11-23"]
    )
    assert result.exit_code == 2
    assert "--birth-date" in result.output


def test_requirements_unknown_trial_type_exits_2() -> None:
    result = CliRunner().invoke(requirements, [*NL_13, "--trial-type", "diet"])
    assert result.exit_code == 2
