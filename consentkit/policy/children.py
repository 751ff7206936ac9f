"""Who a child signs with: on a parent's device, in front of staff, or with their own invitation.

A young child gives assent (CTR Art 32(1)(b), docs/regulatory-basis.md#ctr-art-32), not a
consent: information adapted to their age, and a refusal respected. They have no phone or
e-mail of their own to receive a one-time code, so below the study's ``own_invitation_age``
(``study.yaml`` ``settings``, default 12) they sign on a parent's device within the parent's
signer session, or in front of staff, and the parent or staff member is recorded as present.
From that age they may have their own invitation.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from consentkit.enums import SignerRole
from consentkit.policy.age import age_on

__all__ = [
    "CHILD_METHODS",
    "DEFAULT_OWN_INVITATION_AGE",
    "IN_PRESENCE",
    "WITH_STAFF",
    "may_sign_for_child",
    "needs_own_contact",
    "own_invitation_age",
    "signs_with_guardian",
]

#: The age from which a child may have their own invitation, unless the study sets another.
DEFAULT_OWN_INVITATION_AGE = 12

#: The authentication method recorded for a young child's signature given with a parent
#: (or staff) present: no one-time code of their own, the present adult's session instead.
IN_PRESENCE = "in-presence"
#: ... and given in front of the study team on the staff device: the staff member's
#: recent password and authenticator code vouch for the moment, not a code of the child's.
WITH_STAFF = "child-with-staff"
#: The ways a young child signs without a code of their own; with them the child may
#: write just their first name (policy.signing.check_printed_name).
CHILD_METHODS = frozenset({IN_PRESENCE, WITH_STAFF})


def own_invitation_age(settings: Mapping[str, Any] | None) -> int:
    """Return the study's age from which a child may have their own invitation."""
    value = (settings or {}).get("own_invitation_age")
    return DEFAULT_OWN_INVITATION_AGE if value is None else int(value)


def signs_with_guardian(birth_date: date, *, on: date, settings: Mapping[str, Any] | None) -> bool:
    """Return True if a child born on ``birth_date`` signs with a parent or staff present on ``on``.

    ``on`` is the participant's local date (:func:`consentkit.policy.age.local_date`).
    """
    return age_on(birth_date, on) < own_invitation_age(settings)


def needs_own_contact(
    role: str, birth_date: date, *, on: date, settings: Mapping[str, Any] | None
) -> bool:
    """Return True if a signer of ``role`` must give an e-mail or phone at enrolment.

    Parents always do (their one-time codes); a child below the study's age does not.
    """
    if role != SignerRole.PARTICIPANT:
        return True
    return not signs_with_guardian(birth_date, on=on, settings=settings)


def may_sign_for_child(
    present_role: str,
    child_role: str,
    birth_date: date,
    *,
    on: date,
    settings: Mapping[str, Any] | None,
) -> bool:
    """Return True if a signer of ``present_role`` may hand their device to the child now.

    Only a parent or guardian, only for the participant's own signature, and only while
    the child is below the study's own-invitation age; the signature stays the child's.
    """
    return (
        present_role == SignerRole.GUARDIAN
        and child_role == SignerRole.PARTICIPANT
        and signs_with_guardian(birth_date, on=on, settings=settings)
    )
