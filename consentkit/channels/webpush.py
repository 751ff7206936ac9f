"""Web Push (RFC 8030, encrypted per RFC 8291, VAPID per RFC 8292) with ``pywebpush``.

The browser's subscription (``endpoint`` and its ``p256dh``/``auth`` keys) is
stored when the family pages register the service worker. The payload is JSON
``{"title", "body", "id"}`` (``id`` the dedupe key); the ``Topic`` header is a
digest of the dedupe key, so a push service holding an undelivered copy
replaces it rather than showing it twice. A 404 or 410 means the subscription
is gone (permanent); 429 and 5xx are retried.
"""

from __future__ import annotations

import base64
import hashlib
import json
from urllib.parse import urlsplit

from pywebpush import WebPushException, webpush  # type: ignore[import-untyped]

from consentkit import settings
from consentkit.channels import RETRYABLE_HTTP, ChannelError, Outgoing
from consentkit.errors import ConfigurationError

#: Seconds a push service keeps an undelivered message (a phone switched off for a day).
TTL_S = 24 * 3600


def topic(dedupe_key: str) -> str:
    """Return the ``Topic`` header for a dedupe key (32 URL-safe base64 characters)."""
    digest = hashlib.sha256(dedupe_key.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()[:32]


class WebPushChannel:
    """Pushes to the browser subscription of the signer."""

    name = "push"

    def __init__(self) -> None:
        """Read the VAPID key and subject."""
        key = settings.vapid_private_key()
        if not key:
            raise ConfigurationError("Web Push needs CONSENTKIT_VAPID_PRIVATE_KEY.")
        self.private_key = key
        self.subject = settings.vapid_subject()

    def send(self, outgoing: Outgoing) -> str:
        """Encrypt the payload for the subscription and post it to the push service."""
        subscription = outgoing.contacts.get("push")
        if not subscription:
            raise ChannelError("no push subscription", permanent=True)
        payload = json.dumps(
            {
                "title": outgoing.message.subject,
                "body": outgoing.message.text,
                "id": outgoing.dedupe_key,
            }
        )
        try:
            webpush(
                subscription_info=subscription,
                data=payload,
                vapid_private_key=self.private_key,
                vapid_claims={"sub": self.subject},
                ttl=TTL_S,
                timeout=10,
                headers={"Topic": topic(outgoing.dedupe_key), "Urgency": "normal"},
            )
        except WebPushException as exc:
            status = exc.response.status_code if exc.response is not None else None
            raise ChannelError(
                f"push service answered {status}",
                permanent=status is not None and status not in RETRYABLE_HTTP,
            ) from None
        except OSError as exc:  # requests' ConnectionError and Timeout are OSErrors
            raise ChannelError(
                f"push service unreachable: {type(exc).__name__}", permanent=False
            ) from None
        return f"push:{urlsplit(str(subscription['endpoint'])).hostname}"
