"""Queue one webhook delivery per subscription for each audit event other systems hear about.

Called by :func:`consentkit.services.audit.append_to_chain` for every event it
writes (and every event an idempotent retry finds written), so no service has
to remember to: a withdrawal, a dissent, a completed consent, a re-consent task
and a competence suspension reach the outbox wherever they were recorded. One
:class:`~consentkit.models.outbox.OutboxMessage` per (event, subscription), its
dedupe key the pair, so a retried request queues nothing twice. The message
holds only references (participant, event seq); the worker builds the payload
from the chain when it first sends (:func:`consentkit.services.webhooks.deliver`).

This module reads and writes Documents only: the audit trail sits below every
other service, so it may import none of them (no import cycle).
"""

from __future__ import annotations

from datetime import datetime

from mongoengine import NotUniqueError

from consentkit.models.audit import AuditEvent
from consentkit.models.outbox import QUEUED, OutboxMessage
from consentkit.models.participant import Participant
from consentkit.models.webhook import WebhookSubscription
from consentkit.policy.webhooks import covers, webhook_event_type

#: The outbox channel of webhook deliveries (the worker sends them without rules of contact).
CHANNEL = "webhook-subscription"
KIND = "webhook"
#: Attempts before a delivery fails for good (backoff 30 s doubling, capped at an hour: ~1 day).
MAX_ATTEMPTS = 30


def dedupe_key(event_id: str, subscription_id: str) -> str:
    """Return the outbox key of one event to one subscription (also the ``webhook-id``)."""
    return f"wh_{event_id}_{subscription_id}"


def queue_event(participant: Participant, event: AuditEvent, *, now: datetime) -> int:
    """Queue the event for every active subscription of the study that asked for it.

    Returns how many deliveries were queued (0 for events no one hears about:
    those cost no read).
    """
    kind = webhook_event_type(
        event.type,
        state_before=event.state_before,
        state_after=event.state_after,
        payload=event.payload or {},
    )
    if kind is None:
        return 0
    queued = 0
    subscriptions = WebhookSubscription.objects(
        trial_id=participant.trial_id, is_active=True, event_types=kind
    ).only("id", "sites")
    for subscription in subscriptions:
        if not covers(subscription.sites, participant.site_code):
            continue
        message = OutboxMessage(
            dedupe_key=dedupe_key(str(event.id), str(subscription.id)),
            kind=KIND,
            is_essential=True,
            trial_id=participant.trial_id,
            recipient={"subscription_id": str(subscription.id)},
            channel=CHANNEL,
            params={
                "event_type": kind,
                "participant_id": str(participant.id),
                "seq": event.seq,
                "audit_event_id": str(event.id),
            },
            status=QUEUED,
            due_at=now,
            max_attempts=MAX_ATTEMPTS,
            created_at=now,
        )
        try:
            message.save(force_insert=True)
        except NotUniqueError:
            continue
        queued += 1
    return queued
