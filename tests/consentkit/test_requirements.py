"""Who signs which form kind: one rule, :func:`consentkit.services.requirements.required_roles`.

No database: the requirements come from the jurisdiction policy alone.
"""

from __future__ import annotations

from datetime import date

from consentkit.enums import FormKind, SignerRole
from consentkit.policy.jurisdiction import decide_requirements
from consentkit.services.requirements import required_roles

ON = date(2026, 3, 2)


def test_required_roles_parental_consent_in_france_needs_both_parents_and_the_investigator() -> (
    None
):
    requirements = decide_requirements(birth_date=date(2017, 5, 4), country="FR", on=ON)

    roles = required_roles(FormKind.PARENTAL_CONSENT, requirements)

    assert roles == {SignerRole.GUARDIAN: 2, SignerRole.INVESTIGATOR: 1}


def test_required_roles_an_infants_information_sheet_needs_no_signature_of_the_child() -> None:
    requirements = decide_requirements(birth_date=date(2025, 5, 4), country="FR", on=ON)

    roles = required_roles(FormKind.CHILD_ASSENT, requirements)

    assert SignerRole.PARTICIPANT not in roles


def test_required_roles_a_young_persons_own_consent_is_signed_by_them() -> None:
    requirements = decide_requirements(birth_date=date(2010, 5, 4), country="NL", on=ON)

    roles = required_roles(FormKind.YOUNG_PERSON_CONSENT, requirements)

    assert roles == {SignerRole.PARTICIPANT: 1, SignerRole.INVESTIGATOR: 1}
