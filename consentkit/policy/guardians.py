"""Single-parent exceptions: when fewer parents may sign than the country's rule asks.

Where a country row asks for both holders of parental authority (NL, DK, FR, ...) or for
one parent with the other's documented agreement (ES), one parent alone is refused unless
an exception that row recognises (the rule pack's ``guardian_exceptions`` cell) is
recorded with its evidence: what document or statement shows it, who recorded it, and
(from the event) when (docs/regulatory-basis.md#guardian-exceptions, checklist items 8
and 9). Free text is not an exception: an inspector must be able to tell which legal
ground was used. Pure functions, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypedDict

from consentkit.enums import GuardianExceptionCode, GuardianRule, OtherParentAgreement
from consentkit.errors import EligibilityError, InvalidDataError
from consentkit.i18n import N_
from consentkit.policy.jurisdiction import Requirements

__all__ = [
    "STATEMENTS",
    "GuardianException",
    "check_exception",
    "exception_needed",
    "exception_options",
    "guardians_expected",
]

#: What staff state by choosing each exception; stored with the event and shown on the PDF,
#: so the record says the conditions, not only a code.
STATEMENTS: dict[GuardianExceptionCode, str] = {
    GuardianExceptionCode.SOLE_PARENTAL_AUTHORITY: N_(
        "The parent who signs holds parental authority alone."
    ),
    GuardianExceptionCode.OTHER_PARENT_DECEASED: N_("The other parent has died."),
    GuardianExceptionCode.OTHER_PARENT_UNREACHABLE: N_(
        "The other parent cannot be reached or is absent."
    ),
    GuardianExceptionCode.OTHER_PARENT_NOT_REGISTERED: N_(
        "The other parent is not on the birth certificate."
    ),
    GuardianExceptionCode.OTHER_PARENT_MINOR: N_("The other parent is under 18."),
    GuardianExceptionCode.FR_L1122_2_II: N_(
        "CSP L1122-2 II: the research has only minimal risks and constraints, the minor is "
        "not a healthy volunteer, and the other holder of parental authority cannot give "
        "their authorisation in a time compatible with the research."
    ),
    GuardianExceptionCode.ES_OTHER_PARENT_AGREEMENT: N_(
        "The other parent agreed, expressly or tacitly, to the parent who signs consenting "
        "(Civil Code art 156)."
    ),
}


@dataclass(frozen=True)
class GuardianException:
    """A recognised reason for fewer parents to sign, with its evidence.

    ``evidence`` names the document or statement that shows it (e.g. "court order of
    12 May 2021 granting sole custody, copy in the site file"); ``recorded_by`` is who
    recorded it (the staff member's name). ``code`` may come as the plain string
    from a request: :func:`check_exception` refuses one the row does not list.
    ``other_parent_agreement`` is how the other parent agreed, required for
    ``es-other-parent-agreement`` and only there.
    """

    code: GuardianExceptionCode | str
    evidence: str
    recorded_by: str
    other_parent_agreement: OtherParentAgreement | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form kept in the event and the record's snapshot."""
        return {
            "code": GuardianExceptionCode(self.code).value,
            "statement": STATEMENTS[GuardianExceptionCode(self.code)],
            "evidence": self.evidence,
            "recorded_by": self.recorded_by,
            "other_parent_agreement": (
                None if self.other_parent_agreement is None else self.other_parent_agreement.value
            ),
        }


def guardians_expected(requirements: Requirements) -> int:
    """Return how many parents sign when no exception is recorded.

    Two under a "both" rule, and two under "one with the other's agreement" too: the
    other parent's signature is the strongest evidence of their agreement; one, and
    the recorded agreement, is the exception (ES).
    """
    if not requirements.is_minor:
        return 0
    if requirements.guardian_rule is GuardianRule.ONE:
        return 1
    return 2


def exception_needed(requirements: Requirements, guardians_signing: int) -> bool:
    """Whether fewer parents sign than :func:`guardians_expected` asks."""
    return requirements.is_minor and guardians_signing < guardians_expected(requirements)


class ExceptionOption(TypedDict):
    """A single-parent exception staff may record for a participant's row.

    A TypedDict because it is the API's JSON (the enrolment preview and its
    staff page read these keys); ``statement`` is an English msgid.
    """

    code: str
    statement: str
    needs_agreement: bool


def exception_options(requirements: Requirements) -> list[ExceptionOption]:
    """Return the exceptions valid for this participant's row, for pages and the API.

    Each is ``{code, statement, needs_agreement}`` (``statement`` an English msgid).
    """
    return [
        {
            "code": code.value,
            "statement": STATEMENTS[code],
            "needs_agreement": code is GuardianExceptionCode.ES_OTHER_PARENT_AGREEMENT,
        }
        for code in requirements.guardian_exceptions
    ]


def _codes(requirements: Requirements) -> str:
    return ", ".join(code.value for code in requirements.guardian_exceptions) or "-"


def check_exception(
    requirements: Requirements,
    exception: GuardianException | None,
    *,
    guardians_signing: int,
) -> GuardianException | None:
    """Check an exception against the participant's row; return it when it is needed.

    Raises:
        EligibilityError: ``guardian-exception-required``, fewer parents sign and no
            exception is recorded.
        InvalidDataError: ``guardian-exception-invalid`` (not one the row recognises),
            ``guardian-exception-unneeded`` (every parent the rule asks for signs),
            ``guardian-exception-evidence-required``, ``other-parent-agreement-required``
            or ``other-parent-agreement-invalid``.
    """
    needed = exception_needed(requirements, guardians_signing)
    params = {
        "country": requirements.country,
        "rule": requirements.guardian_rule.value,
        "codes": _codes(requirements),
    }
    if exception is None:
        if needed:
            raise EligibilityError(
                "The rules of %(country)s (%(rule)s) need both parents unless a "
                "recognised exception is recorded with its evidence: %(codes)s.",
                code="guardian-exception-required",
                params=params,
                details={"valid_codes": [c.value for c in requirements.guardian_exceptions]},
            )
        return None
    if not needed:
        raise InvalidDataError(
            "Every parent the rules ask for signs; record no exception.",
            code="guardian-exception-unneeded",
            details={"errors": {"guardian_exception": ["Not needed"]}},
        )
    if exception.code not in requirements.guardian_exceptions:
        raise InvalidDataError(
            "The rules of %(country)s do not recognise this exception; valid: %(codes)s.",
            code="guardian-exception-invalid",
            params=params,
            details={
                "errors": {"guardian_exception": {"code": ["Not valid for this country"]}},
                "valid_codes": [c.value for c in requirements.guardian_exceptions],
            },
        )
    if not exception.evidence.strip() or not exception.recorded_by.strip():
        raise InvalidDataError(
            "Say which document or statement shows the exception.",
            code="guardian-exception-evidence-required",
            details={"errors": {"guardian_exception": {"evidence": ["Missing"]}}},
        )
    agreement_code = exception.code is GuardianExceptionCode.ES_OTHER_PARENT_AGREEMENT
    if agreement_code and exception.other_parent_agreement is None:
        raise InvalidDataError(
            "Say whether the other parent agreed expressly or tacitly.",
            code="other-parent-agreement-required",
            details={"errors": {"guardian_exception": {"other_parent_agreement": ["Missing"]}}},
        )
    if not agreement_code and exception.other_parent_agreement is not None:
        raise InvalidDataError(
            "How the other parent agreed belongs to their agreement only.",
            code="other-parent-agreement-invalid",
            details={"errors": {"guardian_exception": {"other_parent_agreement": ["Not here"]}}},
        )
    return GuardianException(
        code=GuardianExceptionCode(exception.code),
        evidence=exception.evidence.strip(),
        recorded_by=exception.recorded_by.strip(),
        other_parent_agreement=exception.other_parent_agreement,
    )
