"""``consentkit requirements``: ask the jurisdiction rules who must consent, from a shell.

Trial staff and ethics reviewers use it to check a participant's case before a consent
visit; ``--json`` prints exactly what the API would snapshot.
"""

from __future__ import annotations

import json
from datetime import date

import click

from consentkit.clock import today_utc
from consentkit.enums import GuardianRule, MinorRole, TrialType
from consentkit.errors import ConfigurationError, InvalidDataError
from consentkit.policy.jurisdiction import Requirements, decide_requirements

__all__ = ["describe", "requirements"]

_GUARDIANS = {
    GuardianRule.BOTH: "both parents must consent",
    GuardianRule.ONE: "one parent must consent",
    GuardianRule.ONE_WITH_AGREEMENT: (
        "one parent must consent, with the other parent's agreement documented"
    ),
}
_ROLES = {
    MinorRole.INFORMED: "the child is informed and may object",
    MinorRole.ASSENT: "the child gives assent",
    MinorRole.CO_SIGN: "the child co-signs",
    MinorRole.OWN_CONSENT_WITH_GUARDIAN: "the young person must also give their own consent",
}
# Which option to blame when the policy rejects a value (InvalidDataError.details).
_PARAM_HINTS = {
    "country": "'--country'",
    "birth_date": "'--birth-date'",
    "on": "'--on'",
    "trial_type": "'--trial-type'",
}


def _iso_date(ctx: click.Context, param: click.Parameter, value: str | None) -> date | None:
    """Parse a YYYY-MM-DD option: birth dates have no time of day or zone."""
    # A callback rather than a click.ParamType subclass: ParamType is generic only from
    # click 8.2, and consentkit supports click 8.1.
    if value is None:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date in the form YYYY-MM-DD") from None


def _article(age: int) -> str:
    # "an 8-, 11-, 18-, 80-something-year-old": the spoken number starts with a vowel.
    return "An" if age in (8, 11, 18) or 80 <= age <= 89 else "A"


def describe(result: Requirements) -> str:
    """Return a sentence or two for trial staff summarising ``result``."""
    country, trial = result.country, result.trial_type.value
    parts = [f"{_article(result.age)} {result.age}-year-old in {country} ({trial} trial): "]
    if result.is_minor:
        parts.append(f"{_GUARDIANS[result.guardian_rule]}; {_ROLES[result.minor_role]}.")
        parts.append(
            f" Competence at {result.competence_age} on {result.competence_date.isoformat()}."
        )
    else:
        parts.append(f"the participant consents alone (competence age {result.competence_age}).")
    if result.age_band is not None:
        style = f" ({result.age_band.style})" if result.age_band.style else ""
        parts.append(f" Age band: {result.age_band.id}{style}.")
    if result.next_transition is not None:
        reason = result.next_transition.reason.value.replace("-", " ")
        parts.append(f" Next change: {result.next_transition.date.isoformat()} ({reason}).")
    parts.append(f" Confidence: {result.confidence.value}.")
    if result.rule_trial_type is not result.trial_type:
        parts.append(
            f" No {trial} rule for {country}: its {result.rule_trial_type.value} rule applies."
        )
    if result.defaults_applied:
        fields = ", ".join(field.replace("_", " ") for field in result.defaults_applied)
        parts.append(f" Unverified in the rule pack, conservative default used: {fields}.")
    return "".join(parts)


@click.command("requirements")
@click.option(
    "--country", required=True, help="ISO 3166-1 alpha-2 code, or GB-ENG/GB-WLS/GB-NIR/GB-SCT."
)
@click.option(
    "--birth-date",
    "birth_date",
    required=True,
    callback=_iso_date,
    help="Participant's birth date.",
)
@click.option(
    "--on", "on", callback=_iso_date, default=None, help="Date to decide for (default: today, UTC)."
)
@click.option(
    "--trial-type",
    type=click.Choice([kind.value for kind in TrialType]),
    default=TrialType.MEDICINAL_PRODUCT.value,
    show_default=True,
)
@click.option("--json", "as_json", is_flag=True, help="Print the full decision as JSON.")
def requirements(
    country: str, birth_date: date, on: date | None, trial_type: str, as_json: bool
) -> None:
    """Show who must consent for a participant, and when that changes."""
    try:
        result = decide_requirements(
            birth_date=birth_date,
            country=country,
            on=on or today_utc(),
            trial_type=TrialType(trial_type),
        )
    except InvalidDataError as exc:
        fields = list(exc.details.get("errors", {}))
        hint = _PARAM_HINTS.get(fields[0]) if fields else None
        if hint is None:
            raise click.UsageError(exc.message) from exc
        raise click.BadParameter(exc.message, param_hint=hint) from exc
    except ConfigurationError as exc:
        raise click.ClickException(exc.message) from exc
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2, sort_keys=True, ensure_ascii=False))
    else:
        click.echo(describe(result))
