"""Is this PDF genuine? One answer for anyone, a detailed one for the study's staff.

Anyone holding a consent PDF may check it (a family, a hospital archive, an
ethics committee) without an account. That answer comes from the PDF alone:
the seal is present, intact, made with a certificate this installation trusts
and covers every byte. It must not reveal database facts (whether a
participant code exists, whether a child withdrew after the document, whether
a chain is intact), and it must be cheap: no database read, no chain walk.

The comparison of the attached record with the audit trail
(:func:`consentkit.services.documents.verify_pdf`) is for staff who may read
that participant's records: their study and site (consentkit.policy.roles).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from consentkit.errors import InvalidDataError, PermissionDeniedError
from consentkit.models.participant import Participant
from consentkit.policy.roles import Action, Grant, allowed, visible_sites
from consentkit.rendering import seal as sealing
from consentkit.services import access, documents


def count_check(client: str) -> None:
    """Count one verification from ``client`` (an address) and refuse when over the limit.

    Raises:
        RateLimitedError: too many checks from this address (``access.LIMITS``).

    """
    access.hit(f"pdf-verify-ip:{client}")


@dataclass(frozen=True)
class SealVerdict:
    """The answer anyone gets: genuine or not, from the seal alone."""

    genuine: bool
    seal: dict[str, Any]
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form (the ``ok`` of the detailed report means the same)."""
        return {"ok": self.genuine, "seal": self.seal, "problems": self.problems}


def verify_seal(pdf: bytes) -> SealVerdict:
    """Check only the seal of ``pdf``; read nothing from the database."""
    report = sealing.check_seal(pdf)
    return SealVerdict(
        genuine=report.ok,
        seal=report.to_dict(),
        problems=[report.problem] if report.problem else [],
    )


def _claimed_participant(pdf: bytes) -> tuple[str, str] | None:
    """Return the (trial, participant code) the attached record names, if it names one."""
    try:
        record = json.loads(documents.extract_record_json(pdf))
    except (InvalidDataError, ValueError):
        return None
    if not isinstance(record, dict):
        return None
    trial_id, code = record.get("trial_id"), record.get("participant_code")
    if isinstance(trial_id, str) and isinstance(code, str):
        return trial_id, code
    return None


def verify_for_staff(pdf: bytes, grants: Iterable[Grant]) -> documents.VerificationReport:
    """Check the seal and compare the attached record with the audit trail.

    The member must be allowed to read the participant the PDF names (their
    study and site). A participant that does not exist gets the same refusal
    unless the member reads every site of that study, so a site-scoped member
    learns nothing about other sites' participant codes.

    Raises:
        PermissionDeniedError: the PDF names a participant the member may not read.

    """
    grants = list(grants)
    claimed = _claimed_participant(pdf)
    if claimed is not None:
        trial_id, code = claimed
        participant = Participant.objects(trial_id=trial_id, code=code).only("site_code").first()
        readable = participant is not None and allowed(
            grants, Action.VIEW, trial_id, participant.site_code
        )
        every_site = visible_sites(grants, trial_id, Action.VIEW) is None
        if not readable and not (participant is None and every_site):
            raise PermissionDeniedError("You do not have access to this.")
    return documents.verify_pdf(pdf)
