"""Webhook subscriptions: POST a JSON event signed per Standard Webhooks to a subscriber's URL.

Signed with the ``standardwebhooks`` library (``webhook-id`` = the delivery's
dedupe key, the same on every retry so the receiver can drop a duplicate;
``webhook-timestamp``; ``webhook-signature`` HMAC-SHA256 under the
subscription's ``whsec_`` secret). The target is checked when the subscription
is saved and again before every delivery, against the addresses its host
resolves to then (:func:`checked_target`): https only, no private, loopback or
link-local address, unless ``CONSENTKIT_WEBHOOK_ALLOW_HTTP`` /
``CONSENTKIT_WEBHOOK_ALLOW_PRIVATE`` say otherwise (tests, development). The
delivery then connects to exactly an address that was checked (:func:`post_pinned`),
never resolving the name a second time: a DNS answer that changes between the
check and the connection (DNS rebinding) cannot steer it to an inside address.
TLS still verifies the certificate for the host name (SNI and ``Host`` are the
name). A redirect is never followed (http.client does not follow them): the 3xx
is a failed delivery.
"""

from __future__ import annotations

import http.client
import socket
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import SplitResult, urlsplit

from consentkit import settings
from consentkit.channels import RETRYABLE_HTTP, ChannelError
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


@dataclass(frozen=True)
class Target:
    """A webhook URL judged now: why it is refused (None: it is not) and the addresses checked."""

    refusal: str | None
    addresses: tuple[str, ...] = ()


def checked_target(url: str) -> Target:
    """Resolve ``url``'s host once and judge the URL and every address it resolves to."""
    refusal = url_refusal(url, allow_http=settings.webhook_allow_http())
    if refusal is not None:
        return Target(refusal)
    parts = urlsplit(url)
    if parts.hostname is None:
        return Target(URL_INVALID)
    addresses = resolve(parts.hostname, _port(parts))
    refusal = address_refusal(addresses, allow_private=settings.webhook_allow_private())
    return Target(refusal, tuple(addresses) if refusal is None else ())


def check_target(url: str) -> str | None:
    """Return why ``url`` may not receive webhooks now (a refusal code), or None when it may."""
    return checked_target(url).refusal


def _port(parts: SplitResult) -> int:
    return parts.port or (443 if parts.scheme == "https" else 80)


class _PinnedHTTP(http.client.HTTPConnection):
    """An HTTP connection to ``host`` made at a given, already checked address."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def _socket(self) -> socket.socket:
        return socket.create_connection((self.address, self.port), self.timeout)

    def connect(self) -> None:
        """Connect to the checked address; ``Host`` stays the name (http.client sets it)."""
        self.sock = self._socket()


class _PinnedHTTPS(_PinnedHTTP):
    """TLS to a checked address, verifying the certificate for the host name (SNI)."""

    default_port = 443

    def connect(self) -> None:
        """Connect to the checked address and verify the certificate for ``host``."""
        tls = ssl.create_default_context()
        self.sock = tls.wrap_socket(self._socket(), server_hostname=self.host)


def post_pinned(
    url: str, addresses: Sequence[str], body: bytes, headers: Mapping[str, str]
) -> None:
    """POST ``body`` to ``url`` at the first of ``addresses`` that accepts a connection.

    Only a failure to connect moves on to the next address: once the request is
    sent, a failure is the delivery's (retried later with the same webhook-id).

    Raises:
        ChannelError: a 3xx or a 4xx other than 408/425/429 is permanent; anything
            else (no address reachable, 5xx, a broken answer) transient.
    """
    parts = urlsplit(url)
    kind = _PinnedHTTPS if parts.scheme == "https" else _PinnedHTTP
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    for address in addresses:
        connection = kind(parts.hostname or "", _port(parts), address, TIMEOUT_S)
        try:
            try:
                connection.connect()
            except ssl.SSLError as exc:  # a certificate not for this name: no other address helps
                raise ChannelError(f"TLS refused: {exc.reason}", permanent=False) from None
            except OSError:
                continue
            try:
                connection.request(
                    "POST",
                    target,
                    body=body,
                    headers={"Content-Type": "application/json", **headers},
                )
                status = connection.getresponse().status
            except (OSError, http.client.HTTPException) as exc:
                raise ChannelError(
                    f"gateway unreachable: {type(exc).__name__}", permanent=False
                ) from None
        finally:
            connection.close()
        if status >= 300:
            raise ChannelError(
                f"gateway answered HTTP {status}", permanent=status not in RETRYABLE_HTTP
            )
        return
    raise ChannelError("gateway unreachable: no address accepted a connection", permanent=False)


def send_signed(
    url: str, secrets: Sequence[str], *, message_id: str, payload: str, at: datetime
) -> None:
    """Check the target, sign the JSON ``payload`` and POST exactly it to a checked address.

    One signature per secret, space-separated as Standard Webhooks allows (the
    current secret and, just after a rotation, the one it replaced).

    Raises:
        ChannelError: the target is refused now (permanent), or the subscriber failed
            (a 4xx other than 408/425/429 permanent, else transient).
    """
    target = checked_target(url)
    if target.refusal is not None:
        raise ChannelError(target.refusal, permanent=True)
    signature = " ".join(signer(secret).sign(message_id, at, payload) for secret in secrets)
    post_pinned(
        url,
        target.addresses,
        payload.encode(),
        {
            "webhook-id": message_id,
            "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": signature,
        },
    )
