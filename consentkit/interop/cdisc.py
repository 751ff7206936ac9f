"""CDISC SDTM-style datasets of consent milestones: DS rows and the informed-consent date (RFICDTC).

Pure: plain facts in (a participant's records as derived from the audit trail,
its withdrawal events, the roles of who expressed them), rows out, each a dict
of the columns defined in docs/cdisc.md. The service
(:mod:`consentkit.services.cdisc`) reads the trail and writes CSV or SAS
transport (XPT) files.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from consentkit.enums import FormKind, SignerRole

#: DS columns: (name, label, SAS type ``str`` or ``int``). Names are at most 8 characters and
#: labels at most 40, as SAS transport version 5 requires.
DS_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("STUDYID", "Study Identifier", "str"),
    ("DOMAIN", "Domain Abbreviation", "str"),
    ("USUBJID", "Unique Subject Identifier", "str"),
    ("DSSEQ", "Sequence Number", "int"),
    ("DSTERM", "Reported Term for the Disposition Event", "str"),
    ("DSDECOD", "Standardized Disposition Term", "str"),
    ("DSCAT", "Category for Disposition Event", "str"),
    ("DSSTDTC", "Start Date/Time of Disposition Event", "str"),
    ("SITEID", "Study Site Identifier", "str"),
    ("FORMID", "Consent Form Identifier", "str"),
    ("FORMVER", "Consent Form Version", "str"),
    ("WDSCOPE", "Withdrawal Scope", "str"),
)
#: The subject-level dataset: one row per participant with the informed-consent date.
DM_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("STUDYID", "Study Identifier", "str"),
    ("DOMAIN", "Domain Abbreviation", "str"),
    ("USUBJID", "Unique Subject Identifier", "str"),
    ("SUBJID", "Subject Identifier for the Study", "str"),
    ("SITEID", "Study Site Identifier", "str"),
    ("RFICDTC", "Date/Time of Informed Consent", "str"),
)

CONSENT_OBTAINED = "INFORMED CONSENT OBTAINED"
ASSENT_OBTAINED = "INFORMED ASSENT OBTAINED"
BY_SUBJECT = "WITHDRAWAL BY SUBJECT"
BY_GUARDIAN = "WITHDRAWAL BY PARENT/GUARDIAN"
#: A withdrawal whose event does not say which family member expressed it: not guessed.
BY_UNKNOWN = "OTHER"
MILESTONE = "PROTOCOL MILESTONE"
DISPOSITION = "DISPOSITION EVENT"
OTHER_EVENT = "OTHER EVENT"
#: Scopes that end the participant's part in the study (a disposition event); the others
#: (samples, data, contact) change it and are ``OTHER EVENT``.
ENDS_PARTICIPATION = frozenset({"full", "stop-study-procedures"})


@dataclass(frozen=True)
class Milestone:
    """One completed consent or assent of a participant."""

    form_id: str
    form_kind: str
    version: int
    on: date


@dataclass(frozen=True)
class Withdrawal:
    """One withdrawal event: when, in which scopes, and the role of who expressed it."""

    on: date
    scopes: Sequence[str]
    expressed_by_role: str | None


@dataclass(frozen=True)
class Subject:
    """What the datasets need of one participant."""

    trial_id: str
    code: str
    site_code: str
    milestones: Sequence[Milestone]
    withdrawals: Sequence[Withdrawal]

    @property
    def usubjid(self) -> str:
        """Return the unique subject identifier: the study and the pseudonymous code."""
        return f"{self.trial_id}-{self.code}"


def is_assent(form_kind: str) -> bool:
    """Whether a form is a child's assent (not a consent: it gives no RFICDTC)."""
    return form_kind == FormKind.CHILD_ASSENT


def withdrawal_decod(role: str | None) -> str:
    """Return DSDECOD for a withdrawal expressed by someone of ``role``."""
    if role == SignerRole.PARTICIPANT:
        return BY_SUBJECT
    if role == SignerRole.GUARDIAN:
        return BY_GUARDIAN
    return BY_UNKNOWN


def ds_rows(subject: Subject) -> list[dict[str, Any]]:
    """Return the subject's DS rows in date order: consents, assents, withdrawals."""
    dated: list[tuple[date, int, dict[str, Any]]] = []
    for m in subject.milestones:
        decod = ASSENT_OBTAINED if is_assent(m.form_kind) else CONSENT_OBTAINED
        row = {
            "DSTERM": decod,
            "DSDECOD": decod,
            "DSCAT": MILESTONE,
            "DSSTDTC": m.on.isoformat(),
            "FORMID": m.form_id,
            "FORMVER": str(m.version),
            "WDSCOPE": "",
        }
        dated.append((m.on, 0, row))
    for w in subject.withdrawals:
        decod = withdrawal_decod(w.expressed_by_role)
        scopes = ", ".join(sorted(w.scopes))
        row = {
            "DSTERM": f"WITHDRAWAL: {scopes}".upper(),
            "DSDECOD": decod,
            "DSCAT": DISPOSITION if ENDS_PARTICIPATION & set(w.scopes) else OTHER_EVENT,
            "DSSTDTC": w.on.isoformat(),
            "FORMID": "",
            "FORMVER": "",
            "WDSCOPE": scopes,
        }
        dated.append((w.on, 1, row))
    dated.sort(key=lambda item: (item[0], item[1]))
    return [
        {
            "STUDYID": subject.trial_id,
            "DOMAIN": "DS",
            "USUBJID": subject.usubjid,
            "DSSEQ": seq,
            "SITEID": subject.site_code,
            **row,
        }
        for seq, (_on, _order, row) in enumerate(dated, start=1)
    ]


def rficdtc(milestones: Iterable[Milestone]) -> str:
    """Return the date of the first informed consent (assent does not count), or ``""``."""
    dates = [m.on for m in milestones if not is_assent(m.form_kind)]
    return min(dates).isoformat() if dates else ""


def dm_row(subject: Subject) -> dict[str, Any]:
    """Return the subject's row: identifiers and RFICDTC."""
    return {
        "STUDYID": subject.trial_id,
        "DOMAIN": "DM",
        "USUBJID": subject.usubjid,
        "SUBJID": subject.code,
        "SITEID": subject.site_code,
        "RFICDTC": rficdtc(subject.milestones),
    }
