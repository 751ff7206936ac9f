"""What a withdrawal records about its reason: exactly what was said, never a guess.

Nobody has to give a reason to withdraw (CTR Art 28(3), GDPR Art 7(3);
docs/regulatory-basis.md#withdrawal-reason). A withdrawal event therefore keeps
one of three facts: the reason the person gave, that they declined to give one,
or (only when the person withdraws on their own device) that neither was said.
Staff who record a withdrawal told to them must say which of the first two it
was: they asked, and the trail keeps the answer rather than an empty field that
reads the same as "nobody asked".
"""

from __future__ import annotations

from dataclasses import dataclass

from consentkit.errors import InvalidDataError


@dataclass(frozen=True)
class WithdrawalReason:
    """The reason as stored on ``withdrawal.recorded``: the text, or that it was declined."""

    reason: str | None
    declined: bool


def withdrawal_reason(
    reason: str | None, reason_declined: bool, *, answer_required: bool
) -> WithdrawalReason:
    """Return what the trail stores about the reason; refuse an answer that contradicts itself.

    ``answer_required`` is true when staff record a withdrawal on the family's
    behalf (``enrolment.record_withdrawal``): they must give the reason or say
    the family declined to. A family member withdrawing in the app is never
    asked for either (``signer_flow.withdraw``).

    Raises:
        InvalidDataError: ``withdrawal-reason-conflict`` (a reason and "declined"
            both given), ``withdrawal-reason-required`` (staff gave neither).
    """
    text = (reason or "").strip() or None
    if text is not None and reason_declined:
        raise InvalidDataError(
            "Give a reason or say that it was declined, not both.",
            code="withdrawal-reason-conflict",
            details={"errors": {"reason": ["Given although the reason was declined"]}},
        )
    if answer_required and text is None and not reason_declined:
        raise InvalidDataError(
            "Type the reason, or tick that the family declined to give one.",
            code="withdrawal-reason-required",
            details={"errors": {"reason": ["Missing"]}},
        )
    return WithdrawalReason(reason=text, declined=reason_declined)
