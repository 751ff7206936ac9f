"""Webhook subscriptions: POST a JSON event signed per Standard Webhooks to a subscriber's URL.

Signed with the ``standardwebhooks`` library (``webhook-id`` = the delivery's
dedupe key, the same on every retry so the receiver can drop a duplicate;
``webhook-timestamp``; ``webhook-signature`` HMAC-SHA256 under the
subscription's ``whsec_`` secret). The target is checked when the subscription
is saved and again before every delivery, against the addresses its host
resolves to then (:func:`check_target`): https only, no private, loopback or
link-local address, unless ``CONSENTKIT_WEBHOOK_ALLOW_HTTP`` /
``CONSENTKIT_WEBHOOK_ALLOW_PRIVATE`` say otherwise (tests, development). A
redirect is never followed (:class:`consentkit.notify.RefuseRedirects`): the 3xx
is a failed delivery.
"""

from __future__ import annotations

import json
import socket
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from consentkit import settings
from consentkit.channels import ChannelError, post_json
from consentkit.policy.webhooks import URL_INVALID, address_refusal, url_refusal

#: Why a delivery waits when the signing library is absent from this install.
MISSING_LIBRARY = "standardwebhooks is not installed: pip install 'consentkit[interop]'"

#: Seconds to wait for the subscriber.
TIMEOUT_S = 10.0


def signer(secret: str) -> Any:
    """Return a Standard Webhooks signer for ``secret``.

    Imported here, not at the top, because ``standardwebhooks`` is in the
    ``interop`` extra: the core install (and its worker) must import without it.
    A worker missing it keeps the delivery queued (a transient failure, retried)
    and says what to install, rather than dropping the event.

    Raises:
        ChannelError: the library is not installed (transient).
    """
    try:
        from standardwebhooks import Webhook
    except ImportError:
        raise ChannelError(MISSING_LIBRARY, permanent=False) from None
    return Webhook(secret)


def resolve(host: str, port: int) -> list[str]:
    """Return the addresses ``host`` resolves to now (empty when it does not resolve)."""
    try:
        found = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return []
    return sorted({str(info[4][0]) for info in found})


def check_target(url: str) -> str | None:
    """Return why ``url`` may not receive webhooks now (a refusal code), or None when it may."""
    refusal = url_refusal(url, allow_http=settings.webhook_allow_http())
    if refusal is not None:
        return refusal
    parts = urlsplit(url)
    if parts.hostname is None:
        return URL_INVALID
    addresses = resolve(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
    return address_refusal(addresses, allow_private=settings.webhook_allow_private())


def send_signed(url: str, secret: str, *, message_id: str, payload: str, at: datetime) -> None:
    """Check the target, sign the JSON ``payload`` and POST exactly it; no redirect followed.

    Raises:
        ChannelError: the target is refused now (permanent), or the subscriber failed
            (a 4xx other than 408/425/429 permanent, else transient).
    """
    refusal = check_target(url)
    if refusal is not None:
        raise ChannelError(refusal, permanent=True)
    signature = signer(secret).sign(message_id, at, payload)
    post_json(
        url,
        json.loads(payload),
        headers={
            "webhook-id": message_id,
            "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": signature,
        },
        timeout_s=TIMEOUT_S,
        encoded=payload,
    )
