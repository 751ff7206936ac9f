"""The outbox: every message to send is a document, leased by one worker at a time."""

from __future__ import annotations

from typing import Any, ClassVar

from mongoengine import BooleanField, DateTimeField, DictField, IntField, StringField

from consentkit.models.base import BaseDocument

#: Message states. ``queued`` and ``leased`` are live; the others are final.
QUEUED = "queued"
LEASED = "leased"
SENT = "sent"
FAILED = "failed"
SKIPPED = "skipped"
STATUSES = (QUEUED, LEASED, SENT, FAILED, SKIPPED)


class OutboxMessage(BaseDocument):
    """One message to one recipient, sent at most once in effect (``dedupe_key`` is unique).

    Leasing reads through two partial indexes that hold only live messages
    (``queued`` by due time, ``leased`` by lease expiry), so the cost of finding
    the next message does not grow with the number already sent.
    """

    meta: ClassVar[dict[str, Any]] = {
        "collection": "outbox_messages",
        "indexes": [
            {"fields": ["dedupe_key"], "unique": True},
            {
                "fields": ["due_at"],
                "name": "queued_due",
                "partialFilterExpression": {"status": QUEUED},
            },
            {
                "fields": ["lease_until"],
                "name": "leased_expiry",
                "partialFilterExpression": {"status": LEASED},
            },
            # The staff digest's failed deliveries of a study since yesterday: failed only.
            {
                "fields": ["trial_id", "finished_at"],
                "name": "failed_finished",
                "partialFilterExpression": {"status": FAILED},
            },
            {"fields": ["participant_id", "created_at"]},
            # Webhook deliveries: a subscription's log, and the order per participant.
            {"fields": ["recipient.subscription_id", "created_at"], "sparse": True},
            {
                "fields": ["recipient.subscription_id", "params.participant_id", "params.seq"],
                "sparse": True,
            },
        ],
    }

    #: Enqueueing twice with the same key is one message; the key travels to the gateway.
    dedupe_key = StringField(required=True)
    kind = StringField(required=True)
    #: Essential messages (required by law, e.g. a withdrawal confirmation) pass
    #: ``no-contact`` and unsubscribe; non-essential ones do not.
    is_essential = BooleanField(default=False)
    trial_id = StringField(null=True)
    participant_id = StringField(null=True)
    #: ``{"signer_id": ...}`` (contact read at send time, never copied here),
    #: ``{"email"|"phone"|"push"|"app": ...}`` for a staff member or a test sink, or
    #: ``{"subscription_id": ...}`` for a webhook delivery (channel ``webhook-subscription``).
    recipient = DictField(required=True)
    #: None: the signer's preferred channel, chosen at send time.
    channel = StringField(null=True)
    locale = StringField(null=True)
    params = DictField()
    status = StringField(required=True, default=QUEUED)
    due_at = DateTimeField(required=True)
    attempts = IntField(default=0)
    max_attempts = IntField(default=8)
    lease_owner = StringField(null=True)
    lease_until = DateTimeField(null=True)
    last_error = StringField(null=True)
    #: Why it was skipped or deferred (``no-contact``, ``unsubscribed``, ``quiet-hours``...).
    reason = StringField(null=True)
    #: Where it went, masked (``j***@example.org``), and by which channel.
    destination = StringField(null=True)
    sent_channel = StringField(null=True)
    created_at = DateTimeField(required=True)
    finished_at = DateTimeField(null=True)


class ContactPreference(BaseDocument):
    """How a signer wants to be reached, set by the family (signer API, unsubscribe link)."""

    meta: ClassVar[dict[str, Any]] = {
        "collection": "contact_preferences",
        "indexes": [{"fields": ["signer_id"], "unique": True}],
    }

    signer_id = StringField(required=True)
    preferred_channel = StringField(null=True)
    #: Non-essential messages switched off (one tap); essential ones still go out.
    is_unsubscribed = BooleanField(default=False)
    #: A Web Push subscription as the browser gives it: ``{endpoint, keys: {p256dh, auth}}``.
    push_subscription = DictField(null=True)
    #: The native app's device token, for the app push gateway webhook.
    app_token = StringField(null=True)
    updated_at = DateTimeField(required=True)
