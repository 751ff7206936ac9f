"""Who on a trial's staff may do what, and at which sites.

Roles are granted per study and scoped to sites (a sponsor admin's scope is
every site). The table below is the whole rule: routes and pages ask
:func:`allowed` and never test role names themselves, so a change of policy is
one edit here, covered by the route x role x site matrix test.

Sources: ICH E6(R3) 2.2-2.3 and CTR Art 29(1) (the investigator, or a member
of the team they delegate to, conducts the interview and countersigns);
21 CFR 11.10(d), (g) (access limited to authorised individuals, authority
checks); 11.200/11.300 (docs/regulatory-basis.md#part-11).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

ALL_SITES = "*"


class StaffRole(StrEnum):
    """A staff member's role in one study."""

    SPONSOR_ADMIN = "sponsor-admin"
    INVESTIGATOR = "investigator"
    SITE_STAFF = "site-staff"
    MONITOR = "monitor"


class Action(StrEnum):
    """Things staff do; each route or page names exactly one."""

    VIEW = "view"  # dashboard, worklists, timelines, signed PDFs
    EXPORT = "export"  # CSV/XLSX of the status table
    ENROL = "enrol"  # participants, signers, records
    INVITE = "invite"  # issue, resend, revoke invitations
    COUNTERSIGN = "countersign"  # as the person who conducted the interview
    # Review a child's non-binding refusal (CTR-32c: an audit-trailed investigator note).
    REVIEW_DISSENT = "review-dissent"
    RECORD_WITHDRAWAL = "record-withdrawal"  # in person, phone or letter; a child's dissent
    RECORD_PAPER = "record-paper"  # a scanned paper consent (the fallback path)
    ANSWER_QUESTIONS = "answer-questions"  # answer and close the families' questions
    MANAGE_FORMS = "manage-forms"  # import, approve, publish
    MANAGE_STAFF = "manage-staff"  # accounts and role grants


_SITE_WORK = {
    Action.ENROL,
    Action.INVITE,
    Action.RECORD_WITHDRAWAL,
    Action.RECORD_PAPER,
    Action.ANSWER_QUESTIONS,
}

#: The policy. A monitor reads (source-data verification) but never changes anything;
#: site staff do the site's work except countersigning, which the investigator (or
#: the delegated interviewer, granted the investigator role) does.
PERMISSIONS: Mapping[StaffRole, frozenset[Action]] = {
    StaffRole.SPONSOR_ADMIN: frozenset(
        {Action.VIEW, Action.EXPORT, Action.MANAGE_FORMS, Action.MANAGE_STAFF}
    ),
    StaffRole.INVESTIGATOR: frozenset(
        {Action.VIEW, Action.EXPORT, Action.COUNTERSIGN, Action.REVIEW_DISSENT, *_SITE_WORK}
    ),
    StaffRole.SITE_STAFF: frozenset({Action.VIEW, Action.EXPORT, *_SITE_WORK}),
    StaffRole.MONITOR: frozenset({Action.VIEW, Action.EXPORT}),
}

#: Actions that concern a study as a whole, not one site.
STUDY_WIDE = frozenset({Action.MANAGE_FORMS, Action.MANAGE_STAFF})


@dataclass(frozen=True)
class Grant:
    """One role in one study, at some sites (``("*",)`` for all)."""

    trial_id: str
    role: StaffRole
    sites: tuple[str, ...]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Grant:
        """Read the stored form."""
        role = StaffRole(data["role"])
        sites = (ALL_SITES,) if role == StaffRole.SPONSOR_ADMIN else tuple(data.get("sites", ()))
        return cls(trial_id=data["trial_id"], role=role, sites=sites)

    def to_dict(self) -> dict[str, Any]:
        """Return the stored form."""
        return {"trial_id": self.trial_id, "role": self.role.value, "sites": list(self.sites)}

    def covers(self, site_code: str | None) -> bool:
        """Whether this grant reaches ``site_code`` (None: the study as a whole)."""
        if ALL_SITES in self.sites:
            return True
        return site_code is not None and site_code in self.sites


def allowed(grants: Iterable[Grant], action: Action, trial_id: str, site_code: str | None) -> bool:
    """Whether any grant lets its holder do ``action`` in ``trial_id`` at ``site_code``.

    ``site_code`` None asks about the study as a whole: only all-site grants
    qualify, except for reading, where a site-scoped member sees their own sites.
    """
    for grant in grants:
        if grant.trial_id != trial_id or action not in PERMISSIONS[grant.role]:
            continue
        if site_code is None and action in (Action.VIEW, Action.EXPORT):
            return True  # the study overview, filtered to the member's sites by the caller
        if grant.covers(site_code):
            return True
    return False


def visible_sites(grants: Iterable[Grant], trial_id: str, action: Action) -> set[str] | None:
    """Return the sites where ``action`` is allowed: None means every site, empty means none."""
    sites: set[str] = set()
    for grant in grants:
        if grant.trial_id != trial_id or action not in PERMISSIONS[grant.role]:
            continue
        if ALL_SITES in grant.sites:
            return None
        sites.update(grant.sites)
    return sites


def roles_in(grants: Iterable[Grant], trial_id: str) -> list[StaffRole]:
    """Return the roles held in a study (for display)."""
    return sorted({g.role for g in grants if g.trial_id == trial_id})
