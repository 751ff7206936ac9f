"""The outbox: queue a message once, lease it to one worker, record what became of it.

Other services call :func:`enqueue`; ``consentkit worker`` (:mod:`consentkit.worker`)
calls :func:`lease` and one of :func:`mark_sent`, :func:`mark_failed`,
:func:`mark_skipped` or :func:`defer`. Every one of those is a conditional update
on the message's status and lease owner, so a worker whose lease was taken over
(it stalled past ``CONSENTKIT_OUTBOX_LEASE_S``) cannot overwrite the new owner's
outcome. Why a small outbox of our own rather than a queue library: docs/notifications.md.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from bson import ObjectId
from mongoengine import NotUniqueError
from pymongo.errors import BulkWriteError

from consentkit import crypto, db, settings
from consentkit.clock import now_utc
from consentkit.enums import SignerRole
from consentkit.errors import ConfigurationError, InvalidDataError, NotFoundError
from consentkit.labels import label
from consentkit.models.outbox import (
    FAILED,
    LEASED,
    QUEUED,
    SENT,
    SKIPPED,
    ContactPreference,
    OutboxMessage,
)
from consentkit.models.participant import Participant, Signer
from consentkit.policy import contact as contact_policy
from consentkit.policy.records import STOPPED_BY
from consentkit.services import audit
from consentkit.services.evidence import SYSTEM
from consentkit.services.participants import signer_identity

#: Channels a message may name.
CHANNELS = ("email", "sms", "push", "app")
#: Retries: 30 s, 1 min, 2 min ... capped at one hour, jittered.
BACKOFF_BASE_S = 30.0
BACKOFF_CAP_S = 3600.0
#: The server's code for a unique index refusing a second document (E11000).
DUPLICATE_KEY = 11000


def enqueue(kind: str, recipient: Mapping[str, str], **fields: Any) -> OutboxMessage:
    """Queue one message; the same ``dedupe_key`` twice is the same message (returned again).

    ``fields`` are :func:`build_message`'s (``dedupe_key`` is required);
    :func:`queue` queues several built messages in one write.

    Raises:
        InvalidDataError: ``unknown-channel``, or an empty ``dedupe_key`` or recipient.
    """
    return queue([build_message(kind, recipient, **fields)])[0]


def queue(messages: Sequence[OutboxMessage]) -> list[OutboxMessage]:
    """Queue built messages (:func:`build_message`) in one insert; return each as queued.

    A message whose ``dedupe_key`` is already queued is that message (returned
    in its place), as with :func:`enqueue`. One write for the several messages a
    signature queues (the copy ready, to each member of the family), rather than
    one durable write each.
    """
    queued = list(messages)
    if not queued:
        return []
    if len(queued) == 1:
        try:
            queued[0].save(force_insert=True)
        except NotUniqueError:
            queued[0] = OutboxMessage.objects.get(dedupe_key=queued[0].dedupe_key)
        return queued
    for each in queued:
        each.validate()
    documents = [each.to_mongo().to_dict() for each in queued]
    try:
        OutboxMessage._get_collection().insert_many(documents, ordered=False)
        duplicates: set[int] = set()
    except BulkWriteError as failed:
        errors = failed.details.get("writeErrors", [])
        if any(error.get("code") != DUPLICATE_KEY for error in errors):
            raise
        duplicates = {int(error["index"]) for error in errors}
    for index, each in enumerate(queued):
        if index in duplicates:
            queued[index] = OutboxMessage.objects.get(dedupe_key=each.dedupe_key)
        else:
            each.id = documents[index]["_id"]
    return queued


def build_message(
    kind: str,
    recipient: Mapping[str, str],
    *,
    dedupe_key: str,
    is_essential: bool = False,
    trial_id: str | None = None,
    participant_id: str | None = None,
    channel: str | None = None,
    locale: str | None = None,
    params: Mapping[str, Any] | None = None,
    due_at: datetime | None = None,
    max_attempts: int = 8,
    now: datetime | None = None,
) -> OutboxMessage:
    """Build one message to queue (:func:`queue`); nothing is written yet.

    ``kind`` names the templates ``templates/messages/<kind>.{subject,txt,html}``.
    ``recipient`` is ``{"signer_id": ...}`` for a family member (the contact is
    read when sending, under the rules of contact then in force) or
    ``{"email"|"phone": ...}`` for a staff member (with ``"timezone"``, their quiet hours
    are kept in that zone rather than UTC). Choose a ``dedupe_key`` that
    names the reason for the message (``withdrawal-confirmed:<participant>:<seq>:<signer>``):
    a retried trigger then never sends twice, and the gateway receives it too.

    Raises:
        InvalidDataError: ``unknown-channel``, or an empty ``dedupe_key`` or recipient.
    """
    if channel is not None and channel not in CHANNELS:
        raise InvalidDataError(
            "Unknown channel %(channel)s.", code="unknown-channel", params={"channel": channel}
        )
    if not dedupe_key or not recipient:
        raise InvalidDataError("A message needs a dedupe key and a recipient.")
    now = now or now_utc()
    return OutboxMessage(
        dedupe_key=dedupe_key,
        kind=kind,
        is_essential=is_essential,
        trial_id=trial_id,
        participant_id=participant_id,
        recipient=dict(recipient),
        channel=channel,
        locale=locale,
        params=dict(params or {}),
        status=QUEUED,
        due_at=due_at or now,
        max_attempts=max_attempts,
        created_at=now,
    )


def _take(
    query: dict[str, Any], sort_field: str, owner: str, now: datetime
) -> OutboxMessage | None:
    found = db.update_one_and_read(
        OutboxMessage._get_collection(),
        query,
        {
            "$set": {
                "status": LEASED,
                "lease_owner": owner,
                "lease_until": now + timedelta(seconds=settings.outbox_lease_s()),
            },
            "$inc": {"attempts": 1},
        },
        sort=[(sort_field, 1)],
    )
    if found is None or found.get("lease_owner") != owner:
        return None  # taken over since (only after this lease expired): not ours to send
    taken: OutboxMessage = OutboxMessage._from_son(found)
    return taken


#: How many due messages a worker reads at once to claim one by one (see :func:`due_candidates`).
CANDIDATES = 256


def due_candidates(*, now: datetime | None = None, limit: int = CANDIDATES) -> list[Any]:
    """Return the ids of up to ``limit`` of the oldest due messages, shuffled, to :func:`claim`.

    One read for many sends: a database that examines every due message for a
    ``limit 1`` (the embedded SecantusDB does) then pays that once per ``limit``
    messages, not per message. Shuffled so that two workers reading the same
    batch seldom try the same message first. Reads the ``queued_due`` partial index
    only: finished messages are never examined.
    """
    now = now or now_utc()
    found = (
        OutboxMessage._get_collection()
        .find({"status": QUEUED, "due_at": {"$lte": now}}, {"_id": 1})
        .sort("due_at", 1)
        .limit(limit)
    )
    ids = [document["_id"] for document in found]
    secrets.SystemRandom().shuffle(ids)
    return ids


def claim(owner: str, message_id: Any, *, now: datetime | None = None) -> OutboxMessage | None:
    """Lease one message by id if it is still queued and due (else another worker has it)."""
    now = now or now_utc()
    return _take({"_id": message_id, "status": QUEUED, "due_at": {"$lte": now}}, "_id", owner, now)


def lease_expired(owner: str, *, now: datetime | None = None) -> OutboxMessage | None:
    """Take over the oldest message whose worker's lease expired (it died mid-send), or None."""
    now = now or now_utc()
    return _take({"status": LEASED, "lease_until": {"$lt": now}}, "lease_until", owner, now)


def lease(owner: str, *, now: datetime | None = None) -> OutboxMessage | None:
    """Take the next due message for ``owner`` (a worker's random id), or None.

    Two conditional updates, each on a partial index that holds only live
    messages: the oldest due ``queued`` message, else a ``leased`` one whose
    lease expired (its worker died mid-send: it is sent again, once, and the
    gateway receives the same dedupe key). Two workers never hold one message.
    """
    now = now or now_utc()
    return _take({"status": QUEUED, "due_at": {"$lte": now}}, "due_at", owner, now) or _take(
        {"status": LEASED, "lease_until": {"$lt": now}}, "lease_until", owner, now
    )


def _finish(message: OutboxMessage, owner: str, **fields: Any) -> bool:
    """Set ``fields`` if ``owner`` still holds the lease; return whether it did."""
    updated = OutboxMessage.objects(id=message.id, status=LEASED, lease_owner=owner).update_one(
        **{f"set__{k}": v for k, v in fields.items()}, unset__lease_owner=True
    )
    for key, value in fields.items():
        setattr(message, key, value)
    return bool(updated)


def _record_contact(message: OutboxMessage, event_type: str, now: datetime) -> None:
    """Put the outcome on the participant's timeline (an audit event), for family messages."""
    if not message.participant_id:
        return
    participant = Participant.objects(id=message.participant_id).first()
    if participant is None:
        return
    payload = {
        "message_id": str(message.id),
        "kind": message.kind,
        "channel": message.sent_channel or message.channel,
        "signer_id": message.recipient.get("signer_id"),
        "reason": message.reason,
    }
    audit.append(
        participant,
        lambda _e: audit.Draft(type=event_type, actor=SYSTEM.to_dict(), payload=payload),
        now=now,
    )


def mark_sent(
    message: OutboxMessage,
    owner: str,
    *,
    channel: str,
    destination: str,
    now: datetime | None = None,
) -> bool:
    """Record the message as sent (by ``channel``, to the masked ``destination``)."""
    now = now or now_utc()
    done = _finish(
        message, owner, status=SENT, sent_channel=channel, destination=destination, finished_at=now
    )
    if done:
        _record_contact(message, "contact.sent", now)
    return done


def mark_skipped(
    message: OutboxMessage, owner: str, *, reason: str, now: datetime | None = None
) -> bool:
    """Record that the rules of contact stopped the message, and why (``no-contact``...)."""
    now = now or now_utc()
    done = _finish(message, owner, status=SKIPPED, reason=reason, finished_at=now)
    if done:
        _record_contact(message, "contact.skipped", now)
    return done


def defer(
    message: OutboxMessage, owner: str, *, until: datetime, reason: str, now: datetime | None = None
) -> bool:
    """Put the message back in the queue until ``until`` (quiet hours, frequency cap)."""
    # Not an attempt: it was never handed to a gateway.
    return _finish(
        message, owner, status=QUEUED, due_at=until, reason=reason, attempts=message.attempts - 1
    )


def mark_failed(
    message: OutboxMessage,
    owner: str,
    *,
    error: str,
    permanent: bool,
    jitter: float | None = None,
    now: datetime | None = None,
) -> bool:
    """Record a failed attempt: retried later with backoff, or failed for good.

    Permanent when the gateway refused the message itself (no such address,
    a 4xx) or after ``max_attempts`` attempts.
    """
    now = now or now_utc()
    if permanent or message.attempts >= message.max_attempts:
        done = _finish(message, owner, status=FAILED, last_error=error, finished_at=now)
        if done:
            _record_contact(message, "contact.failed", now)
        return done
    wait = contact_policy.backoff_s(
        message.attempts,
        base_s=BACKOFF_BASE_S,
        cap_s=BACKOFF_CAP_S,
        jitter=secrets.SystemRandom().random() if jitter is None else jitter,
    )
    return _finish(
        message, owner, status=QUEUED, last_error=error, due_at=now + timedelta(seconds=wait)
    )


def family_recipients(participant: Participant) -> list[Signer]:
    """Return the signers a message to "the family" goes to (not investigators or witnesses)."""
    return [
        s
        for s in Signer.objects(participant_id=str(participant.id)).order_by("created_at", "id")
        if s.role in (SignerRole.GUARDIAN, SignerRole.PARTICIPANT)
    ]


def confirm_withdrawal(
    participant: Participant, *, seq: int, scopes: list[str], at: datetime
) -> list[OutboxMessage]:
    """Queue the confirmation of the withdrawal at event ``seq`` to every family signer.

    Essential: the law requires it, so it is sent even when the withdrawal was of
    further contact (docs/notifications.md#essential-messages). Once per signer
    and withdrawal, however often this is called.
    """
    queued = []
    for signer in family_recipients(participant):
        locale = signer.preferred_language or participant.preferred_language
        queued.append(
            enqueue(
                "withdrawal-confirmed",
                {"signer_id": str(signer.id)},
                dedupe_key=f"withdrawal-confirmed:{participant.id}:{seq}:{signer.id}",
                is_essential=True,
                trial_id=participant.trial_id,
                participant_id=str(participant.id),
                locale=locale,
                params={
                    "study": participant.trial_id,
                    "date": at.date().isoformat(),
                    "scopes": ", ".join(label("withdrawal_scope", s, locale) for s in scopes),
                    "link": f"{settings.public_url()}/family/",
                },
                now=at,
            )
        )
    return queued


# ---------------------------------------------------------------- rules of contact at send time


@dataclass(frozen=True)
class Addressed:
    """Where a message can go: the facts the rules need and the contacts per channel."""

    recipient: contact_policy.Recipient
    contacts: dict[str, Any]
    locale: str | None


def preferences_of(signer_id: str) -> ContactPreference | None:
    """Return the signer's contact settings, None when they never set any."""
    return _preference(signer_id)


def _preference(signer_id: str) -> ContactPreference | None:
    found: ContactPreference | None = ContactPreference.objects(signer_id=signer_id).first()
    return found


def address(message: OutboxMessage, *, now: datetime | None = None) -> Addressed:
    """Read the recipient's contacts, preferences and the family's withdrawals, now."""
    now = now or now_utc()
    signer_id = message.recipient.get("signer_id")
    if not signer_id:
        given = {k: v for k, v in message.recipient.items() if k in (*CHANNELS, "phone")}
        reachable = tuple(
            c for c in CHANNELS if given.get(c) or (c == "sms" and given.get("phone"))
        )
        # A staff member's quiet hours are those of their site, when the message names it.
        zone = message.recipient.get("timezone") or "UTC"
        recipient = contact_policy.Recipient(reachable_by=reachable, timezone=zone)
        return Addressed(recipient, given, message.locale)
    signer = Signer.objects(id=signer_id).first()
    if signer is None:
        return Addressed(contact_policy.Recipient(reachable_by=()), {}, message.locale)
    participant = Participant.objects(id=signer.participant_id).get()
    identity = signer_identity(signer)
    preference = _preference(signer_id)
    contacts: dict[str, Any] = {"email": identity.get("email"), "phone": identity.get("phone")}
    if preference is not None:
        contacts["push"] = preference.push_subscription
        contacts["app"] = preference.app_token
    reachable = tuple(
        c
        for c, present in (
            ("push", contacts.get("push")),
            ("email", contacts.get("email")),
            ("sms", contacts.get("phone")),
            ("app", contacts.get("app")),
        )
        if present
    )
    # The projection of the chain's withdrawals (kept by every withdrawal before it returns).
    withdrawn = bool(set(participant.withdrawn_scopes or []) & STOPPED_BY["contact"])
    recipient = contact_policy.Recipient(
        reachable_by=reachable,
        preferred_channel=preference.preferred_channel if preference else None,
        contact_withdrawn=withdrawn,
        unsubscribed=bool(preference and preference.is_unsubscribed),
        timezone=participant.timezone,
    )
    locale = message.locale or signer.preferred_language or participant.preferred_language
    return Addressed(recipient, contacts, locale)


def sent_last_day(message: OutboxMessage, now: datetime) -> int:
    """Count the non-essential messages sent to this message's signer in the last 24 hours."""
    signer_id = message.recipient.get("signer_id")
    if not signer_id:
        return 0
    count: int = OutboxMessage.objects(
        participant_id=message.participant_id,
        recipient__signer_id=signer_id,
        status=SENT,
        is_essential=False,
        finished_at__gte=now - timedelta(days=1),
    ).count()
    return count


def parse_quiet_hours(text: str) -> contact_policy.QuietHours | None:
    """Parse ``HH:MM-HH:MM`` (``CONSENTKIT_QUIET_HOURS``); empty means none."""
    if not text.strip():
        return None
    try:
        start, end = (time.fromisoformat(part.strip()) for part in text.split("-"))
    except ValueError as exc:
        raise ConfigurationError("CONSENTKIT_QUIET_HOURS must look like 21:00-08:00.") from exc
    return contact_policy.QuietHours(start, end)


def decide(message: OutboxMessage, addressed: Addressed, now: datetime) -> contact_policy.Decision:
    """Apply the rules of contact (:func:`consentkit.policy.contact.decide`) to one message."""
    return contact_policy.decide(
        recipient=addressed.recipient,
        is_essential=message.is_essential,
        channel=message.channel,
        now=now,
        quiet=parse_quiet_hours(settings.quiet_hours()),
        sent_last_day=sent_last_day(message, now),
        daily_cap=settings.messages_per_day(),
    )


# ---------------------------------------------------------------- the family's settings


def _token_text(signer_id: str) -> str:
    return f"unsubscribe:{signer_id}"


def unsubscribe_token(signer_id: str) -> str:
    """Return the signed token of the one-tap unsubscribe link (``/family/unsubscribe/<token>``)."""
    return f"{signer_id}.{crypto.seal(_token_text(signer_id))[:32]}"


def _push_endpoint_allowed(endpoint: str) -> bool:
    """Push services are https; a loopback one (tests, development) only outside production."""
    if endpoint.startswith("https://"):
        return True
    loopback = endpoint.startswith(("http://127.0.0.1:", "http://localhost:"))
    return loopback and settings.environment() != "production"


def set_preferences(
    signer_id: str,
    *,
    preferred_channel: str | None = None,
    is_unsubscribed: bool | None = None,
    push_subscription: Mapping[str, Any] | None = None,
    app_token: str | None = None,
    now: datetime | None = None,
) -> ContactPreference:
    """Change how a signer is reached; fields left None stay as they were.

    Raises:
        InvalidDataError: ``unknown-channel``, or a push subscription without endpoint and keys.
    """
    if preferred_channel is not None and preferred_channel not in CHANNELS:
        raise InvalidDataError(
            "Unknown channel %(channel)s.",
            code="unknown-channel",
            params={"channel": preferred_channel},
        )
    if push_subscription is not None and not (
        _push_endpoint_allowed(str(push_subscription.get("endpoint", "")))
        and {"p256dh", "auth"} <= set(push_subscription.get("keys") or {})
    ):
        raise InvalidDataError(
            "A push subscription needs an https endpoint and its p256dh and auth keys.",
            code="invalid-push-subscription",
        )
    changes: dict[str, Any] = {"updated_at": now or now_utc()}
    if preferred_channel is not None:
        changes["preferred_channel"] = preferred_channel
    if is_unsubscribed is not None:
        changes["is_unsubscribed"] = is_unsubscribed
    if push_subscription is not None:
        changes["push_subscription"] = dict(push_subscription)
    if app_token is not None:
        changes["app_token"] = app_token
    # An upsert then a read by the unique signer id: both index-routed, where a
    # findAndModify would examine every signer's preferences on the embedded database.
    ContactPreference.objects(signer_id=signer_id).update_one(
        upsert=True, **{f"set__{k}": v for k, v in changes.items()}
    )
    found: ContactPreference = ContactPreference.objects.get(signer_id=signer_id)
    return found


def unsubscribe(token: str, *, now: datetime | None = None) -> ContactPreference:
    """Switch off non-essential messages for the signer the link was made for (one tap).

    Raises:
        NotFoundError: ``unsubscribe-link-invalid``, the token is not one we signed.
    """
    signer_id, _, mac = token.partition(".")
    expected = crypto.seal(_token_text(signer_id))[:32]
    if (
        not hmac.compare_digest(expected, mac)
        or not ObjectId.is_valid(signer_id)
        or Signer.objects(id=signer_id).first() is None
    ):
        raise NotFoundError("This link is not valid.", code="unsubscribe-link-invalid")
    return set_preferences(signer_id, is_unsubscribed=True, now=now)


def messages_of(participant: Participant) -> list[dict[str, Any]]:
    """Return every message to the participant's family, newest first, for staff."""
    found = OutboxMessage.objects(participant_id=str(participant.id)).order_by("-created_at")
    return [
        {
            "message_id": str(m.id),
            "kind": m.kind,
            "signer_id": m.recipient.get("signer_id"),
            "status": m.status,
            "channel": m.sent_channel or m.channel,
            "destination": m.destination,
            "reason": m.reason,
            "last_error": m.last_error,
            "attempts": m.attempts,
            "is_essential": m.is_essential,
            "due_at": m.due_at,
            "created_at": m.created_at,
            "finished_at": m.finished_at,
        }
        for m in found
    ]
