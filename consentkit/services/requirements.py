"""Requirements: what the rules ask of a participant, adjusted by their study.

The jurisdiction rules (:func:`consentkit.policy.jurisdiction.decide_requirements`)
decide from age, country and trial type which forms are needed and who signs;
a study may narrow them with its own age bands and documented rule overrides.
This module is the one place that combines the two (:func:`study_requirements`),
for a participant already enrolled (:func:`requirements_for`) as for one being
enrolled (:func:`participant_forms`), and decides who signs a form of each kind
(:func:`participant_signs`, :func:`default_signers`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from consentkit.enums import FormKind, MinorRole, SignerRole, VersionStatus
from consentkit.errors import EligibilityError
from consentkit.models.participant import Participant, Signer
from consentkit.models.study import Study
from consentkit.policy.age import local_date
from consentkit.policy.jurisdiction import AgeBand, Requirements, RuleOverride, decide_requirements
from consentkit.policy.records import OWN_CONSENT_KINDS
from consentkit.policy.versions import version_in_force
from consentkit.services.forms import catalog, form_view, site_of


def age_bands_for(study: Study, country: str) -> list[AgeBand] | None:
    """Return the study's assent age bands for ``country`` (or its default), if it sets any."""
    bands = study.age_bands.get(country) or study.age_bands.get("default")
    if bands is None:
        return None
    return [
        AgeBand(id=b["id"], min_age=b["min_age"], max_age=b["max_age"], style=b.get("style"))
        for b in bands
    ]


def rule_overrides(study: Study) -> list[RuleOverride]:
    """Return the study's documented overrides of the jurisdiction rules."""
    return [
        RuleOverride(
            country=o["country"],
            field=o["field"],
            value=o["value"],
            reason=o["reason"],
            reference=o["reference"],
            trial_type=o.get("trial_type"),
        )
        for o in study.rule_overrides
    ]


def study_requirements(study: Study, *, birth_date: date, country: str, on: date) -> Requirements:
    """Return the jurisdiction decision on ``on`` with the study's bands and overrides applied."""
    return decide_requirements(
        birth_date=birth_date,
        country=country,
        on=on,
        trial_type=study.trial_type,
        overrides=rule_overrides(study),
        age_bands=age_bands_for(study, country),
    )


def requirements_for(
    participant: Participant, on: date, *, birth_date: date | None = None
) -> Requirements:
    """Return the jurisdiction decision for a participant on a date, with study overrides.

    ``birth_date`` evaluates a corrected birth date before it is stored.
    """
    return study_requirements(
        catalog(participant.trial_id).study,
        birth_date=birth_date or participant.birth_date,
        country=participant.country,
        on=on,
    )


def own_consent_due(participant: Participant, at: datetime) -> bool:
    """Whether the participant has reached the age at which their own consent is needed.

    Records consented for them as a minor are then suspended until they consent
    themselves (CTR Art 32(3)).
    """
    requirements = requirements_for(participant, local_date(at, participant.timezone))
    return requirements.minor_role.value == "own-consent" and bool(
        requirements.reconsent_at_competence
    )


def participant_signs(kind: str, minor_role: MinorRole | str) -> bool:
    """Whether a form of ``kind`` needs the participant's own signature.

    The investigator's declaration and the parental consent do not. An informed
    child (CTR Art 32(1)(b): information adapted to age, no assent sought) is
    given the band's child document, but their signature is not required, so an
    infant needs no signer entry, and no contact, of their own.
    """
    if kind == FormKind.CHILD_ASSENT:
        return MinorRole(minor_role) is not MinorRole.INFORMED
    return kind in OWN_CONSENT_KINDS


def required_roles(kind: str, requirements: Requirements) -> dict[SignerRole, int]:
    """Return who must sign a form of ``kind``: each role with how many signers.

    A parental consent needs the guardians the rules require (at least one); the
    participant signs when :func:`participant_signs`; the investigator who
    conducts the interview always signs too (CTR Art 29(1)).
    """
    roles: dict[SignerRole, int] = {}
    if kind == FormKind.PARENTAL_CONSENT:
        roles[SignerRole.GUARDIAN] = max(requirements.guardians_required, 1)
    if participant_signs(kind, requirements.minor_role):
        roles[SignerRole.PARTICIPANT] = 1
    roles[SignerRole.INVESTIGATOR] = 1
    return roles


def default_signers(
    kind: str, signers: Sequence[Signer], requirements: Requirements
) -> list[Signer]:
    """Choose, from the registered signers, who must sign a form of ``kind``.

    The :func:`required_roles`, each the first registered in their role; an
    informed child who was registered signs their assent too.

    Raises:
        EligibilityError: ``signers-missing``, a required signer is not registered.
    """
    by_role: dict[str, list[Signer]] = {}
    for signer in signers:
        by_role.setdefault(signer.role, []).append(signer)
    roles = required_roles(kind, requirements)
    chosen: list[Signer] = []
    if SignerRole.GUARDIAN in roles:
        guardians = by_role.get(SignerRole.GUARDIAN, [])
        needed = roles[SignerRole.GUARDIAN]
        if len(guardians) < needed:
            raise EligibilityError(
                "This consent needs %(needed)s parent(s) or guardian(s) "
                "(%(rule)s); %(registered)s registered.",
                code="signers-missing",
                params={
                    "needed": needed,
                    "rule": requirements.guardian_rule.value,
                    "registered": len(guardians),
                },
            )
        chosen.extend(guardians[:needed])
    participants = by_role.get(SignerRole.PARTICIPANT, [])
    if SignerRole.PARTICIPANT in roles:
        if not participants:
            raise EligibilityError(
                "Register the participant as a signer first.", code="signers-missing"
            )
        chosen.append(participants[0])
    elif kind == FormKind.CHILD_ASSENT and participants:
        chosen.append(participants[0])  # an informed child who was registered signs too
    investigators = by_role.get(SignerRole.INVESTIGATOR, [])
    if not investigators:
        # CTR Art 29(1): consent is signed by the person who conducted the interview too.
        raise EligibilityError(
            "Register the investigator who conducts the interview.", code="signers-missing"
        )
    chosen.append(investigators[0])
    return chosen


def participant_forms(
    trial_id: str,
    *,
    site_code: str,
    birth_date: date,
    on: date,
    requested: str | None = None,
    accept_language: str | None = None,
) -> dict[str, Any]:
    """Decide what a participant of this age at this site must read and sign, and return it.

    The jurisdiction policy gives the form kinds and age band; for each, the
    version in force on ``on`` is shown in the negotiated language.

    Raises:
        NotFoundError: no such study or site.
        InvalidDataError: the birth date is after ``on``.
    """
    cached = catalog(trial_id)
    study = cached.study
    site = site_of(study, site_code)
    requirements = study_requirements(study, birth_date=birth_date, country=site.country, on=on)
    versions = [v for v in cached.versions if v.status == VersionStatus.PUBLISHED]
    forms = cached.forms
    shown: list[dict[str, Any]] = []
    missing: list[str] = []
    band_id = requirements.age_band.id if requirements.age_band else None
    for kind in requirements.form_kinds:
        candidates = [
            f
            for f in forms.values()
            if f.kind == kind and (kind != FormKind.CHILD_ASSENT or f.age_band == band_id)
        ]
        found = False
        for form in sorted(candidates, key=lambda f: f.form_id):
            current = version_in_force([v for v in versions if v.form_id == form.form_id], on)
            if current is not None:
                shown.append(
                    form_view(
                        form,
                        current,
                        requested=requested,
                        accept_language=accept_language,
                        site_default=site.languages[0],
                    )
                )
                found = True
        if not found:
            missing.append(str(kind))
    return {
        "trial_id": trial_id,
        "site": site.code,
        "on": on,
        "requirements": requirements.to_dict(),
        "forms": shown,
        "missing_form_kinds": missing,
    }
