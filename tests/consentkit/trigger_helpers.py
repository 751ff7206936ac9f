"""The family, worker and study settings the message trigger tests share.

A family at a French site whose two parents have e-mail addresses in two languages
(Élodie in French, Marc in English), a worker that sends everything due at a given
moment, and a switch for the demo study's per-trigger settings.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from consentkit.channels.email import EmailChannel
from consentkit.models.study import Study
from consentkit.services import participants
from consentkit.worker import Worker
from tests.consentkit.records_helpers import STAFF, T0, Family, enrolled


def mail_family(
    code: str = "P-001", *, site: str = "FR-01", birth_date: date = date(2017, 5, 4)
) -> Family:
    """Enrol a family whose parents receive e-mail: Élodie (French) and Marc (English)."""
    participant = enrolled(code, site=site, birth_date=birth_date)

    def add(role: str, name: str, email: str | None, language: str | None = None) -> Any:
        identity = {"name": name, **({"email": email} if email else {})}
        return participants.add_signer(
            participant,
            role=role,
            identity=identity,
            actor=STAFF,
            preferred_language=language,
            now=T0,
        )

    guardians = [
        add("guardian", "Élodie", f"elodie.{code}@example.org", "fr"),
        add("guardian", "Marc", f"marc.{code}@example.org", "en"),
    ]
    return Family(
        participant, guardians, add("participant", "Child", None), add("investigator", "Dr", None)
    )


def drain(at: datetime) -> Worker:
    """Send every message due at ``at`` by e-mail; return the worker."""
    worker = Worker({"email": EmailChannel()}, clock=lambda: at)
    while worker.run_once():
        pass
    return worker


def set_messages(**messages: dict[str, Any]) -> None:
    """Change some of the demo study's trigger settings (``settings.messages``)."""
    study = Study.objects.get(trial_id="DEMO-NBL-1")
    Study.objects(id=study.id).update_one(
        set__settings={**study.settings, "messages": {**study.settings["messages"], **messages}}
    )
