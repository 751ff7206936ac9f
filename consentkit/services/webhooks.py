"""Webhook subscriptions of a study: manage them, deliver to them, show and redo deliveries.

A sponsor admin (staff API and page) or a service account with
``webhooks:manage`` (for its own sites) subscribes a URL to event types; the
server makes the ``whsec_`` signing secret and shows it once. Every audit event
of one of those types queues one delivery per subscription
(:mod:`consentkit.services.webhook_fanout`); ``consentkit worker`` sends it
through :func:`deliver`: signed per Standard Webhooks, retried with the outbox's
backoff, a later event of a participant never before an earlier one to the same
subscription, the subscription switched off after
``CONSENTKIT_WEBHOOK_DISABLE_AFTER`` failures in a row (docs/webhooks.md).
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from bson import ObjectId

from consentkit import crypto, settings
from consentkit.channels import ChannelError
from consentkit.channels.webhook import check_target, send_signed
from consentkit.clock import aware_utc, now_utc
from consentkit.errors import ConflictError, InvalidDataError, NotFoundError, PermissionDeniedError
from consentkit.models.outbox import FAILED, LEASED, QUEUED, SENT, SKIPPED, OutboxMessage
from consentkit.models.participant import Participant
from consentkit.models.webhook import (
    WebhookSubscription as WebhookSubscription,  # the type callers hold
)
from consentkit.policy.records import participant_records
from consentkit.policy.webhooks import EVENT_TYPES
from consentkit.services import audit, outbox, permissions
from consentkit.services.webhook_fanout import CHANNEL as CHANNEL  # the worker's switch

ALL_SITES = "*"
#: Deliveries shown in a subscription's log, newest first.
LOG_LIMIT = 200
#: How long a delivery waits before looking again for an earlier one of its participant.
ORDER_WAIT = timedelta(seconds=5)
#: How long a replaced secret still signs after a rotation (receivers switch meanwhile).
ROTATION_OVERLAP = timedelta(hours=24)


@dataclass(frozen=True)
class Delivery:
    """One event on its way to one subscription, as staff see it in the delivery log."""

    delivery_id: str
    webhook_id: str
    event_type: str
    event_seq: int
    status: str
    attempts: int
    last_error: str | None
    reason: str | None
    created_at: datetime
    due_at: datetime
    finished_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form."""
        return dict(self.__dict__)


def _new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def secret_of(subscription: WebhookSubscription) -> str:
    """Return the subscription's signing secret (decrypted; never shown after creation)."""
    return str(crypto.decrypt_identity(subscription.secret_encrypted)["secret"])


def signing_secrets(subscription: WebhookSubscription, at: datetime) -> list[str]:
    """Return the secrets a delivery at ``at`` is signed with: the current one first.

    For :data:`ROTATION_OVERLAP` after a rotation the replaced secret signs too
    (Standard Webhooks carries several signatures, space-separated), so a
    receiver still holding it verifies until it has switched.
    """
    found = [secret_of(subscription)]
    until = subscription.previous_secret_until
    if subscription.previous_secret_encrypted and until is not None and at < aware_utc(until):
        found.append(str(crypto.decrypt_identity(subscription.previous_secret_encrypted)["secret"]))
    return found


def rotate_secret(
    subscription: WebhookSubscription, *, by: str, now: datetime | None = None
) -> tuple[str, datetime]:
    """Give the subscription a new secret (shown this once); return it and the old one's end.

    The old secret keeps signing beside the new one for :data:`ROTATION_OVERLAP`
    (one rotation at a time: rotating again ends the overlap of the one before).
    """
    now = now or now_utc()
    secret = _new_secret()
    until = now + ROTATION_OVERLAP
    WebhookSubscription.objects(id=subscription.id).update_one(
        set__secret_encrypted=crypto.encrypt_identity({"secret": secret}),
        set__previous_secret_encrypted=subscription.secret_encrypted,
        set__previous_secret_until=until,
        push__history=_history("secret-rotated", by, now, previous_valid_until=until),
    )
    subscription.reload()
    return secret, until


def _check_url(url: str) -> str:
    url = (url or "").strip()
    refusal = check_target(url)
    if refusal is not None:
        raise InvalidDataError(
            "This address cannot receive webhooks (%(reason)s).",
            code=refusal,
            params={"reason": refusal},
        )
    return url


def _check_event_types(event_types: Sequence[str]) -> list[str]:
    unknown = sorted(set(event_types) - set(EVENT_TYPES))
    if unknown or not event_types:
        raise InvalidDataError(
            "Unknown webhook event type: %(type)s.",
            code="unknown-webhook-event",
            params={"type": ", ".join(unknown) or "-"},
        )
    return sorted(set(event_types))


def _within(sites: Sequence[str], allowed: frozenset[str] | None) -> bool:
    """Whether a subscription for ``sites`` is inside what a caller may see (None: all)."""
    return allowed is None or (ALL_SITES not in sites and set(sites) <= allowed)


def _history(kind: str, by: str, now: datetime, **detail: Any) -> dict[str, Any]:
    return {"type": kind, "by": by, "at": now, **detail}


def create_subscription(
    trial_id: str,
    *,
    url: str,
    event_types: Sequence[str],
    created_by: str,
    sites: Sequence[str] | None = None,
    allowed_sites: frozenset[str] | None = None,
    description: str | None = None,
    now: datetime | None = None,
) -> tuple[WebhookSubscription, str]:
    """Subscribe ``url`` to ``event_types``; return it and its secret (shown this once).

    ``allowed_sites`` are the sites the caller may see (None: all): a caller
    limited to some sites subscribes for those only (the default).

    Raises:
        InvalidDataError: ``unknown-webhook-event``; ``webhook-url-not-https``,
            ``webhook-url-private-address`` or ``webhook-url-invalid``.
        PermissionDeniedError: sites beyond what the caller may see.
    """
    now = now or now_utc()
    chosen_types = _check_event_types(event_types)
    if sites:
        chosen_sites = sorted(set(sites))
    else:
        chosen_sites = [ALL_SITES] if allowed_sites is None else sorted(allowed_sites)
    if not _within(chosen_sites, allowed_sites):
        raise PermissionDeniedError("You do not have access to this.")
    checked = _check_url(url)
    secret = _new_secret()
    subscription = WebhookSubscription(
        trial_id=trial_id,
        url=checked,
        event_types=chosen_types,
        sites=chosen_sites,
        secret_encrypted=crypto.encrypt_identity({"secret": secret}),
        description=(description or "").strip() or None,
        is_active=True,
        consecutive_failures=0,
        created_by=created_by,
        created_at=now,
        history=[_history("created", created_by, now)],
    )
    subscription.save(force_insert=True)
    return subscription, secret


def list_subscriptions(
    trial_id: str, *, allowed_sites: frozenset[str] | None = None
) -> list[WebhookSubscription]:
    """Return the study's subscriptions the caller may see, oldest first."""
    found = WebhookSubscription.objects(trial_id=trial_id).order_by("created_at")
    return [s for s in found if _within(s.sites, allowed_sites)]


def get_subscription(
    trial_id: str, subscription_id: str, *, allowed_sites: frozenset[str] | None = None
) -> WebhookSubscription:
    """Return one subscription of the study.

    Raises:
        NotFoundError: ``webhook-not-found``.
        PermissionDeniedError: it covers sites the caller may not see.
    """
    found = None
    if ObjectId.is_valid(subscription_id):
        found = WebhookSubscription.objects(id=subscription_id, trial_id=trial_id).first()
    if found is None:
        raise NotFoundError("No such webhook subscription.", code="webhook-not-found")
    if not _within(found.sites, allowed_sites):
        raise PermissionDeniedError("You do not have access to this.")
    subscription: WebhookSubscription = found
    return subscription


def update_subscription(
    subscription: WebhookSubscription,
    *,
    by: str,
    url: str | None = None,
    event_types: Sequence[str] | None = None,
    is_active: bool | None = None,
    now: datetime | None = None,
) -> WebhookSubscription:
    """Change the URL or event types, or switch the subscription off or on again.

    Switching on again starts the count of failures afresh; deliveries skipped
    while it was off can be sent again one by one (:func:`redeliver`).

    Raises:
        InvalidDataError: as :func:`create_subscription`.
    """
    now = now or now_utc()
    changes: dict[str, Any] = {}
    if url is not None:
        changes["url"] = _check_url(url)
    if event_types is not None:
        changes["event_types"] = _check_event_types(event_types)
    if is_active is not None and is_active != subscription.is_active:
        changes["is_active"] = is_active
        if is_active:
            changes.update(consecutive_failures=0, disabled_reason=None, disabled_at=None)
        else:
            changes.update(disabled_reason="staff", disabled_at=now)
    if not changes:
        return subscription
    switched = changes.get("is_active")
    kind = "changed" if switched is None else ("enabled" if switched else "disabled")
    WebhookSubscription.objects(id=subscription.id).update_one(
        **{f"set__{k}": v for k, v in changes.items()},
        push__history=_history(kind, by, now, fields=sorted(changes)),
    )
    subscription.reload()
    return subscription


def deliveries(subscription: WebhookSubscription, *, limit: int = LOG_LIMIT) -> list[Delivery]:
    """Return the subscription's delivery log, newest first: attempts, status, last error."""
    found = (
        OutboxMessage.objects(recipient__subscription_id=str(subscription.id))
        .order_by("-created_at", "-id")
        .limit(limit)
    )
    return [_delivery(m) for m in found]


def _delivery(message: OutboxMessage) -> Delivery:
    return Delivery(
        delivery_id=str(message.id),
        webhook_id=message.dedupe_key,
        event_type=message.params.get("event_type", ""),
        event_seq=int(message.params.get("seq") or 0),
        status=message.status,
        attempts=message.attempts,
        last_error=message.last_error,
        reason=message.reason,
        created_at=message.created_at,
        due_at=message.due_at,
        finished_at=message.finished_at,
    )


def redeliver(
    subscription: WebhookSubscription, delivery_id: str, *, by: str, now: datetime | None = None
) -> Delivery:
    """Queue a finished delivery again, now, with the same ``webhook-id`` and body.

    Raises:
        NotFoundError: ``webhook-delivery-not-found``.
        ConflictError: ``webhook-delivery-pending``, it is still queued or being sent.
    """
    now = now or now_utc()
    found = None
    if ObjectId.is_valid(delivery_id):
        found = OutboxMessage.objects(
            id=delivery_id, recipient__subscription_id=str(subscription.id)
        ).first()
    if found is None:
        raise NotFoundError("No such delivery.", code="webhook-delivery-not-found")
    updated = OutboxMessage.objects(id=found.id, status__in=[SENT, FAILED, SKIPPED]).update_one(
        set__status=QUEUED,
        set__due_at=now,
        set__attempts=0,
        unset__finished_at=True,
        unset__reason=True,
    )
    if not updated:
        raise ConflictError(
            "This delivery is still queued or being sent.", code="webhook-delivery-pending"
        )
    WebhookSubscription.objects(id=subscription.id).update_one(
        push__history=_history("redelivered", by, now, delivery_id=str(found.id))
    )
    found.reload()
    return _delivery(found)


# ---------------------------------------------------------------- delivery (the worker)


def _json_default(value: Any) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


def build_payload(message: OutboxMessage) -> str:
    """Return the JSON body of a delivery, from the participant's chain up to its event.

    Pseudonymous: the participant's code, site and study, never a name or a
    contact. ``permissions`` are the permission API's answers just after the
    event (:func:`consentkit.services.permissions.answers_after`).
    """
    participant = Participant.objects(id=message.params["participant_id"]).get()
    seq = int(message.params["seq"])
    chain = [e for e in audit.chain_dicts(str(participant.id)) if e["seq"] <= seq]
    event = chain[-1]
    data: dict[str, Any] = {
        "trial_id": participant.trial_id,
        "participant": participant.code,
        "site": participant.site_code,
        "event_seq": seq,
        "record_id": event["record_id"],
        "form_id": None,
        "version": None,
    }
    records = {r.record_id: r for r in participant_records(chain, at=event["at"])}
    if event["record_id"] in records:
        record = records[event["record_id"]]
        data.update(form_id=record.form_id, form_kind=record.form_kind, version=record.version)
    payload = event["payload"]
    if event["type"] == "withdrawal.recorded":
        data["scopes"] = list(payload.get("scopes") or [])
    if event["type"] == "items.changed":
        data["changes"] = dict(payload.get("changes") or {})
    if event["type"] == "participant.competence-reached":
        data["suspended_record_ids"] = list(payload.get("suspended_record_ids") or [])
    if event["type"] == "task.created":
        data.update(form_kind=payload.get("form_kind"), due_date=payload.get("due_date"))
    data["permissions"] = permissions.answers_after(participant, chain, at=event["at"])
    body = {"type": message.params["event_type"], "timestamp": event["at"], "data": data}
    return json.dumps(body, default=_json_default, separators=(",", ":"), sort_keys=True)


def _earlier_pending(message: OutboxMessage) -> OutboxMessage | None:
    earlier: OutboxMessage | None = (
        OutboxMessage.objects(
            recipient__subscription_id=message.recipient["subscription_id"],
            params__participant_id=message.params["participant_id"],
            params__seq__lt=message.params["seq"],
            status__in=[QUEUED, LEASED],
        )
        .order_by("params__seq")
        .first()
    )
    return earlier


def _failed(subscription: WebhookSubscription, error: str, now: datetime) -> None:
    """Count a failed attempt; at the limit, switch the subscription off for staff to see."""
    counted = WebhookSubscription.objects(id=subscription.id).modify(
        inc__consecutive_failures=1, new=True
    )
    if counted is None or counted.consecutive_failures < settings.webhook_disable_after():
        return
    WebhookSubscription.objects(id=subscription.id, is_active=True).update_one(
        set__is_active=False,
        set__disabled_reason="failures",
        set__disabled_at=now,
        push__history=_history(
            "disabled",
            "system",
            now,
            reason="failures",
            failures=counted.consecutive_failures,
            last_error=error,
        ),
    )


def _masked(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}"


def deliver(message: OutboxMessage, owner: str, *, now: datetime | None = None) -> str:
    """Send one leased webhook delivery (the worker's path for :data:`CHANNEL`); return its status.

    Skipped when the subscription is switched off; put back while an earlier
    event of the same participant to the same subscription is still on its way.
    """
    now = now or now_utc()
    subscription = WebhookSubscription.objects(id=message.recipient["subscription_id"]).first()
    if subscription is None or not subscription.is_active:
        outbox.mark_skipped(message, owner, reason="subscription-disabled", now=now)
        return "skipped"
    earlier = _earlier_pending(message)
    if earlier is not None:
        until = max(now + ORDER_WAIT, earlier.due_at or now)
        outbox.defer(message, owner, until=until, reason="waiting-for-earlier-event", now=now)
        return "queued"
    body = message.params.get("body")
    if not body:
        body = build_payload(message)
        # Kept, so every retry and redelivery sends the same bytes under the same webhook-id.
        OutboxMessage.objects(id=message.id, status=LEASED, lease_owner=owner).update_one(
            set__params__body=body
        )
    try:
        sent_at = now_utc()  # the receiver checks it against its own clock
        send_signed(
            subscription.url,
            signing_secrets(subscription, now),
            message_id=message.dedupe_key,
            payload=body,
            at=sent_at,
        )
    except ChannelError as exc:
        outbox.mark_failed(message, owner, error=exc.reason, permanent=exc.permanent, now=now)
        _failed(subscription, exc.reason, now)
        return "failed" if exc.permanent else "queued"
    outbox.mark_sent(
        message, owner, channel=CHANNEL, destination=_masked(subscription.url), now=now
    )
    if subscription.consecutive_failures:
        WebhookSubscription.objects(id=subscription.id).update_one(set__consecutive_failures=0)
    return "sent"
