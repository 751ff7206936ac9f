"""Requirements: what the rules ask of a participant, adjusted by their study.

The jurisdiction rules (:func:`consentkit.policy.jurisdiction.decide_requirements`)
decide from age, country and trial type which forms are needed and who signs;
a study may narrow them with its own age bands and documented rule overrides.
This module is the one place that combines the two (:func:`study_requirements`),
for a participant already enrolled (:func:`requirements_for`) as for one being
enrolled, chooses the one form of each required kind (:func:`forms_for`: the
enrolment preview, :func:`participant_forms` and enrolment itself all ask it,
so what staff are shown is what is opened), and decides who signs a form of
each kind (:func:`participant_signs`, :func:`default_signers`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypedDict

from consentkit.enums import FormKind, MinorRole, SignerRole, VersionStatus
from consentkit.errors import EligibilityError
from consentkit.models.participant import Participant, Signer
from consentkit.models.study import ConsentForm, FormVersion, Site, Study
from consentkit.policy.age import local_date
from consentkit.policy.jurisdiction import AgeBand, Requirements, RuleOverride, decide_requirements
from consentkit.policy.versions import version_in_force
from consentkit.services.forms import FormView, catalog, form_view, site_of


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


#: Forms the participant signs themselves: their own consent (adult, or young person at
#: competence) and the co-consent a minor signs with the parents.
_PARTICIPANT_KINDS = frozenset(
    {FormKind.ADULT_CONSENT, FormKind.YOUNG_PERSON_CONSENT, FormKind.YOUNG_PERSON_CO_CONSENT}
)


def participant_signs(kind: str, minor_role: MinorRole | str) -> bool:
    """Whether a form of ``kind`` needs the participant's own signature.

    The investigator's declaration and the parental consent do not. The young
    person signs their own consent and their co-consent (next to the parents'
    consent, e.g. NL 12-15). An informed child (CTR Art 32(1)(b): information
    adapted to age, no assent sought) is given the band's child document, but
    their signature is not required, so an infant needs no signer entry, and no
    contact, of their own.
    """
    if kind == FormKind.CHILD_ASSENT:
        return MinorRole(minor_role) is not MinorRole.INFORMED
    return kind in _PARTICIPANT_KINDS


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
        if requirements.other_guardian_agreement_required:
            # ES: both parents signing is the strongest evidence of the other's agreement;
            # one alone needs it recorded (consentkit.policy.guardians).
            needed = max(needed, min(len(guardians), 2))
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


@dataclass(frozen=True)
class FormChoice:
    """The form chosen for one required kind, with the version in force on the day."""

    kind: FormKind
    form: ConsentForm
    version: FormVersion

    @property
    def form_id(self) -> str:
        """Return the chosen form's id."""
        return str(self.form.form_id)


@dataclass(frozen=True)
class FormsDecision:
    """Which forms a participant of this age at this site reads and signs on ``on``.

    ``chosen`` has one form per required kind that the study can serve, in the
    order of ``requirements.form_kinds``; ``missing_kinds`` the required kinds it
    has no form (or no version in force) for.
    """

    study: Study
    site: Site
    on: date
    requirements: Requirements
    chosen: tuple[FormChoice, ...]
    missing_kinds: tuple[FormKind, ...]

    @property
    def form_ids(self) -> list[str]:
        """Return the ids of the chosen forms, in order."""
        return [choice.form_id for choice in self.chosen]

    @property
    def signers_needed(self) -> dict[str, int]:
        """Return how many family signers of each role the rules need.

        From the required kinds, not the forms found: a study lacking the
        co-consent form does not make the young person's signature optional.
        """
        requirements = self.requirements
        needs = {SignerRole.GUARDIAN.value: requirements.guardians_required}
        if any(
            participant_signs(kind, requirements.minor_role) for kind in requirements.form_kinds
        ):
            needs[SignerRole.PARTICIPANT.value] = 1
        return needs


def _choose_form(
    kind: FormKind,
    forms: Sequence[ConsentForm],
    versions: Sequence[FormVersion],
    *,
    band_id: str | None,
    on: date,
) -> FormChoice | None:
    """Return the form of ``kind`` for this band with a version in force, if the study has one.

    An assent form is always for one band (its ``age_band``). Any other form may
    name a band too, e.g. a co-consent written for 12-15-year-olds: it is then
    only for that band, and preferred there to an unbanded form of its kind.
    Several equal candidates: the first by form id, so the choice is stable.
    """
    ranked: list[tuple[int, str, ConsentForm]] = []
    for form in forms:
        if form.kind != kind:
            continue
        if kind == FormKind.CHILD_ASSENT or form.age_band is not None:
            if form.age_band != band_id:
                continue
            rank = 0
        else:
            rank = 1
        ranked.append((rank, form.form_id, form))
    for _, form_id, form in sorted(ranked, key=lambda item: item[:2]):
        current = version_in_force([v for v in versions if v.form_id == form_id], on)
        if current is not None:
            return FormChoice(kind=kind, form=form, version=current)
    return None


def forms_for(trial_id: str, *, site_code: str, birth_date: date, on: date) -> FormsDecision:
    """Choose the forms a participant born on ``birth_date`` needs at a site on ``on``.

    The jurisdiction decision (with the study's bands and overrides) gives the
    form kinds and the age band; for each kind this picks one form
    (:func:`_choose_form`) and the version in force on ``on``. The enrolment
    preview, :func:`participant_forms` and enrolment all call this, so the
    forms staff are shown before saving are the forms enrolment opens.

    Raises:
        NotFoundError: no such study or site.
        InvalidDataError: the birth date is after ``on``.
    """
    cached = catalog(trial_id)
    study = cached.study
    site = site_of(study, site_code)
    requirements = study_requirements(study, birth_date=birth_date, country=site.country, on=on)
    versions = [v for v in cached.versions if v.status == VersionStatus.PUBLISHED]
    band_id = requirements.age_band.id if requirements.age_band else None
    chosen: list[FormChoice] = []
    missing: list[FormKind] = []
    for kind in requirements.form_kinds:
        choice = _choose_form(kind, list(cached.forms.values()), versions, band_id=band_id, on=on)
        if choice is None:
            missing.append(kind)
        else:
            chosen.append(choice)
    return FormsDecision(
        study=study,
        site=site,
        on=on,
        requirements=requirements,
        chosen=tuple(chosen),
        missing_kinds=tuple(missing),
    )


class ParticipantForms(TypedDict):
    """What a participant must read and sign (``GET /studies/<id>/participant-forms``).

    A TypedDict because this JSON is the point: the app reads it as it is.
    """

    trial_id: str
    site: str
    on: date
    requirements: dict[str, Any]
    forms: list[FormView]
    missing_form_kinds: list[str]


def participant_forms(
    trial_id: str,
    *,
    site_code: str,
    birth_date: date,
    on: date,
    requested: str | None = None,
    accept_language: str | None = None,
) -> ParticipantForms:
    """Decide what a participant of this age at this site must read and sign, and return it.

    The forms are those of :func:`forms_for`, each in the version in force on
    ``on``, shown in the negotiated language.

    Raises:
        NotFoundError: no such study or site.
        InvalidDataError: the birth date is after ``on``.
    """
    decision = forms_for(trial_id, site_code=site_code, birth_date=birth_date, on=on)
    site = decision.site
    return {
        "trial_id": trial_id,
        "site": site.code,
        "on": on,
        "requirements": decision.requirements.to_dict(),
        "forms": [
            form_view(
                choice.form,
                choice.version,
                requested=requested,
                accept_language=accept_language,
                site_default=site.languages[0],
            )
            for choice in decision.chosen
        ],
        "missing_form_kinds": [kind.value for kind in decision.missing_kinds],
    }
