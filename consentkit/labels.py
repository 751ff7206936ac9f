"""Human labels of the library's vocabularies, marked for translation.

Look them up with :func:`label`, which returns the label in the reader's
language; the keys are the stable values clients switch on.
"""

from __future__ import annotations

from consentkit.enums import FormKind, GuardianRule, MinorRole, SignerRole, VersionStatus
from consentkit.i18n import N_, gettext

LABELS: dict[str, dict[str, str]] = {
    "form_kind": {
        FormKind.PARENTAL_CONSENT: N_("Consent of parents or guardians"),
        FormKind.ADULT_CONSENT: N_("Consent of an adult participant"),
        FormKind.CHILD_ASSENT: N_("Assent of the child"),
        FormKind.YOUNG_PERSON_CONSENT: N_("Young person's own consent"),
        FormKind.WITNESS_ATTESTATION: N_("Attestation of an impartial witness"),
        FormKind.INVESTIGATOR_DECLARATION: N_("Declaration of the investigator"),
    },
    "signer_role": {
        SignerRole.GUARDIAN: N_("Parent or guardian"),
        SignerRole.PARTICIPANT: N_("Participant"),
        SignerRole.WITNESS: N_("Impartial witness"),
        SignerRole.INVESTIGATOR: N_("Investigator"),
    },
    "minor_role": {
        MinorRole.INFORMED: N_("The child is informed"),
        MinorRole.ASSENT: N_("The child gives assent"),
        MinorRole.CO_SIGN: N_("The child co-signs with the parents"),
        MinorRole.OWN_CONSENT_WITH_GUARDIAN: N_(
            "The young person consents, together with the parents"
        ),
        MinorRole.OWN_CONSENT: N_("The participant consents alone"),
    },
    "guardian_rule": {
        GuardianRule.ONE: N_("One parent or guardian must consent"),
        GuardianRule.BOTH: N_("Both parents or guardians must consent"),
        GuardianRule.ONE_WITH_AGREEMENT: N_(
            "One parent consents, with the documented agreement of the other"
        ),
    },
    "version_status": {
        VersionStatus.DRAFT: N_("Draft"),
        VersionStatus.APPROVED: N_("Approved"),
        "scheduled": N_("Approved, not yet in force"),
        VersionStatus.PUBLISHED: N_("In force"),
        VersionStatus.SUPERSEDED: N_("Superseded"),
        VersionStatus.RETIRED: N_("Retired"),
    },
    "transition": {
        "age-band": N_("New age group"),
        "minor-role": N_("New role in the consent"),
        "competence-age": N_("Reaches the age to consent alone"),
    },
    "item": {
        "required": N_("Required"),
        "optional": N_("Optional"),
    },
}


def label(vocabulary: str, key: str, locale: str | None) -> str:
    """Return the label of ``key`` in ``vocabulary``, in ``locale`` (the key if unknown)."""
    source = LABELS.get(vocabulary, {}).get(key)
    return gettext(locale, source) if source else key
