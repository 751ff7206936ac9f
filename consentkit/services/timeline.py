"""A participant's events told in one line each, for inspectors and staff.

Every face shows the same timeline: the staff page, the API
(``/participants/<code>/timeline``) and ``consentkit history`` label each event
with :func:`consentkit.labels.event_label` and summarise it with :func:`summary`,
both in the reader's language.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from consentkit.i18n import gettext
from consentkit.labels import event_label, label
from consentkit.models.participant import Participant
from consentkit.services import records
from consentkit.services.transitions import Why


@dataclass(frozen=True)
class TimelineEntry:
    """One audit event as the timeline shows it: what it did (``label``) and a summary."""

    seq: int
    type: str
    label: str
    summary: str
    at: datetime
    actor: Mapping[str, object]
    record_id: str | None
    state_before: str | None
    state_after: str | None
    hash: str
    prev_hash: str


def entries(events: Iterable[Mapping[str, Any]], locale: str | None) -> list[TimelineEntry]:
    """Return audit events (:func:`consentkit.services.audit.chain_dicts`) as timeline entries.

    ``label`` and ``summary`` are in ``locale`` (English when None); the
    summary keeps the recorded facts (form ids, hashes, names) as recorded.
    """
    return [
        TimelineEntry(
            seq=event["seq"],
            type=event["type"],
            label=event_label(event["type"], locale),
            summary=summary(event, locale),
            at=event["at"],
            actor=event.get("actor") or {},
            record_id=event.get("record_id"),
            state_before=event.get("state_before"),
            state_after=event.get("state_after"),
            hash=event["hash"],
            prev_hash=event["prev_hash"],
        )
        for event in events
    ]


def participant_timeline(participant: Participant, *, locale: str | None) -> list[TimelineEntry]:
    """Return a participant's whole audit trail as timeline entries, oldest first."""
    return entries(records.history(participant), locale)


def _roles(signers: Iterable[Mapping[str, Any]], locale: str | None) -> str:
    return ", ".join(label("signer_role", str(s["role"]), locale) for s in signers)


def summary(event: Mapping[str, Any], locale: str | None = None) -> str:
    """Return one line saying what an event did, in ``locale`` (English when None).

    The words are gettext msgids and the vocabularies (roles, scopes, channels,
    what a task was for) their labels, as :func:`consentkit.labels.event_label`;
    the recorded facts themselves (form ids, versions, hashes, names, reasons
    as written) are shown as recorded. An event without its own wording shows
    its payload as JSON.
    """
    data = event["payload"]
    kind = event["type"]

    def _(message: str, **params: object) -> str:
        return gettext(locale, message, **params)

    def signed() -> str:
        said = _(
            "%(role)s '%(name)s' signed %(form)s v%(version)s (%(language)s, text %(sha)s); "
            "meaning: %(meaning)s",
            role=label("signer_role", data["role"], locale),
            name=data["printed_name"],
            form=data["form_id"],
            version=data["version"],
            language=data["locale"],
            sha=data["content_sha256"][:12],
            meaning=data["meaning"],
        )
        if data.get("auth"):
            said += "; " + _("confirmed by %(method)s", method=data["auth"]["method"])
        if data.get("signature_method"):
            said += "; " + _(
                "how: %(method)s",
                method=label("signature_method", data["signature_method"], locale),
            )
        if data.get("early_signing_justification"):
            said += "; " + _(
                "signed before the reflection time ended, because: %(reason)s",
                reason=data["early_signing_justification"],
            )
        return said

    def withdrawn() -> str:
        reason = (
            _("declined to say") if data["reason_declined"] else (data["reason"] or _("none given"))
        )
        return _(
            "Scopes: %(scopes)s; reason: %(reason)s",
            scopes="; ".join(label("withdrawal_scope", s, locale) for s in data["scopes"]),
            reason=reason,
        )

    def task_opened() -> str:
        why = Why(
            data["reason"],
            age=data.get("age"),
            version=data.get("target_version"),
            form_kind=data.get("form_kind"),
        )
        return _(
            "%(form)s v%(version)s opened for: %(purpose)s (due %(date)s)",
            form=data["form_id"],
            version=data["version"],
            purpose=why.purpose(locale),
            date=data["due_date"],
        )

    details: dict[str, Callable[[], str]] = {
        "information.viewed": lambda: _(
            "Sections read: %(count)s, in %(language)s",
            count=len(data["sections"]),
            language=data["locale"],
        ),
        "comprehension.answered": lambda: (
            _("Score %(score)s, passed", score=data["score"])
            if data["passed"]
            else _("Score %(score)s, not passed", score=data["score"])
        ),
        "items.chosen": lambda: ", ".join(
            f"{k}: {_('Yes') if v else _('No')}" for k, v in data["choices"].items()
        ),
        "items.changed": lambda: ", ".join(
            f"{k}: {_('Yes') if v else _('No')}" for k, v in data["changes"].items()
        ),
        "signature.added": signed,
        "record.opened": lambda: _(
            "%(form)s v%(version)s, to be signed by %(roles)s",
            form=data["form_id"],
            version=data["version"],
            roles=_roles(data["required_signers"], locale),
        ),
        "withdrawal.recorded": withdrawn,
        "assent.dissent": lambda: _(
            "The child said no (%(channel)s)",
            channel=label("channel", data["channel"], locale),
        ),
        "participant.competence-reached": lambda: _(
            "Age %(age)s on %(date)s (%(country)s, rules %(rules)s): %(count)s record(s) "
            "suspended until their own consent",
            age=data["competence_age"],
            date=data["competence_date"],
            country=data["country"],
            rules=data["rule_pack_version"],
            count=len(data["suspended_record_ids"]),
        ),
        "task.opened": task_opened,
        "version.informed": lambda: _(
            "Told about %(form)s v%(version)s (a minor change; consented on v%(previous)s): "
            "%(summary)s",
            form=data["form_id"],
            version=data["version"],
            previous=data["previous_version"],
            summary=data["change_summary"],
        ),
        "contact.sent": lambda: _(
            "%(kind)s by %(channel)s", kind=data["kind"], channel=data["channel"] or "-"
        ),
        "contact.skipped": lambda: _(
            "%(kind)s not sent: %(reason)s", kind=data["kind"], reason=data["reason"] or "-"
        ),
        "contact.failed": lambda: _(
            "%(kind)s could not be delivered by %(channel)s",
            kind=data["kind"],
            channel=data["channel"] or "-",
        ),
        "dissent.reviewed": lambda: _(
            "Decision: %(decision)s; reason: %(reason)s",
            decision=data["decision"],
            reason=data["reason"],
        ),
    }
    return details.get(kind, lambda: json.dumps(data, ensure_ascii=False, default=str))()
