"""Background jobs: work a request should not wait for, queued in the outbox.

A job is an outbox message that no person receives: the worker that leases it
runs a function (:data:`consentkit.worker.JOBS`) instead of a channel, with the
same lease, retries and dedupe key as a message. So jobs, like messages, are
shared by any number of workers on any number of machines through the database,
and a job queued twice (a retried request) runs once.

One job renders the sealed PDF of a consent as soon as its last signature
lands, so the family's "download your copy" finds it ready instead of waiting
for WeasyPrint and the seal (issue 17: p95 under 5 s from the last signature).
Another messages the families told of a study's news or results: finding them
reads every participant's chain, which a request should not wait for.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from consentkit.models.participant import Participant
from consentkit.services import outbox

#: The sealed PDF of a completed consent record, in one language.
RENDER_CONSENT = "document.render"
#: Telling the families of a study about a publication (consentkit.services.news).
TELL_FAMILIES = "news.tell-families"
#: Every job kind; the worker runs these instead of sending them.
KINDS = frozenset({RENDER_CONSENT, TELL_FAMILIES})
#: The recipient a job names (the outbox asks for one): the system, not a person.
SYSTEM_RECIPIENT = {"job": "system"}


def is_job(kind: str) -> bool:
    """Whether an outbox message of ``kind`` is a job (run by the worker, sent to nobody)."""
    return kind in KINDS


def render_consent_ahead(
    participant: Participant,
    record_id: str,
    locales: Iterable[str],
    *,
    now: datetime | None = None,
) -> None:
    """Queue the sealed PDF of a record that just completed, once per language signed in.

    Each signer may download the copy in the language they signed in, so each
    language is rendered. No ``participant_id`` on the message: a PDF rendered is
    not a contact with the family, and must not appear on their timeline.
    """
    for locale in sorted(set(locales)):
        outbox.enqueue(
            RENDER_CONSENT,
            SYSTEM_RECIPIENT,
            dedupe_key=f"{RENDER_CONSENT}:{record_id}:{locale}",
            is_essential=True,
            trial_id=participant.trial_id,
            params={
                "participant_id": str(participant.id),
                "record_id": record_id,
                "locale": locale,
            },
            max_attempts=5,
            now=now,
        )


def tell_families_later(trial_id: str, publication_id: str, *, now: datetime | None = None) -> None:
    """Queue the job that messages the families told of a publication, once per publication.

    Finding them reads every participant's chain; the sponsor admin's request
    does not wait for that (consentkit.services.news.tell_families).
    """
    outbox.enqueue(
        TELL_FAMILIES,
        SYSTEM_RECIPIENT,
        dedupe_key=f"{TELL_FAMILIES}:{publication_id}",
        is_essential=True,
        trial_id=trial_id,
        params={"trial_id": trial_id, "publication_id": publication_id},
        max_attempts=5,
        now=now,
    )
