"""Which audit events other systems hear about, and whether a webhook target may be called.

Pure: the audit event's fields in, a webhook event type (or None) out; a URL's
parts and its resolved addresses in, a refusal code (or None) out. The
services call these (docs/webhooks.md).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

#: The event types a subscription may ask for, and what each means (docs/webhooks.md#events).
CONSENT_COMPLETED = "consent.completed"
CONSENT_WITHDRAWN = "consent.withdrawn"
ASSENT_DISSENT = "assent.dissent"
RECONSENT_REQUIRED = "consent.reconsent-required"
CONSENT_SUSPENDED = "consent.suspended"
CHOICES_CHANGED = "consent.choices-changed"
EVENT_TYPES = (
    CONSENT_COMPLETED,
    CONSENT_WITHDRAWN,
    ASSENT_DISSENT,
    RECONSENT_REQUIRED,
    CONSENT_SUSPENDED,
    CHOICES_CHANGED,
)
CONSENTED = "consented"


def webhook_event_type(
    type: str,
    *,
    state_before: str | None,
    state_after: str | None,
    payload: Mapping[str, Any],
) -> str | None:
    """Return the webhook event an audit event is, or None when it is none."""
    if type == "withdrawal.recorded":
        return CONSENT_WITHDRAWN
    if type == "assent.dissent":
        return ASSENT_DISSENT
    if type == "items.changed":
        return CHOICES_CHANGED
    if type == "participant.competence-reached":
        return CONSENT_SUSPENDED
    if type == "task.created":
        return RECONSENT_REQUIRED if payload.get("reason") == "reconsent" else None
    if state_after == CONSENTED and state_before != CONSENTED:
        return CONSENT_COMPLETED
    return None


def covers(sites: Iterable[str], site_code: str | None) -> bool:
    """Return whether a subscription for ``sites`` (``*``: every site) hears about a site."""
    listed = set(sites)
    return "*" in listed or (site_code is not None and site_code in listed)


# ---------------------------------------------------------------- targets (SSRF)

#: Refusal codes of :func:`target_refusal`.
SCHEME_REFUSED = "webhook-url-not-https"
ADDRESS_REFUSED = "webhook-url-private-address"
URL_INVALID = "webhook-url-invalid"


def url_refusal(url: str, *, allow_http: bool) -> str | None:
    """Return why a URL can never be a target (scheme, no host, credentials), or None."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port out of range
    except ValueError:
        return URL_INVALID
    if parts.scheme not in (("https", "http") if allow_http else ("https",)):
        return SCHEME_REFUSED
    if not parts.hostname or parts.username or parts.password or parts.fragment:
        return URL_INVALID
    return None


def address_refusal(addresses: Iterable[str], *, allow_private: bool) -> str | None:
    """Return ``webhook-url-private-address`` when any address is not public, else None.

    Loopback, private (RFC 1918, fc00::/7), link-local (the cloud metadata address
    169.254.169.254), multicast, reserved and unspecified addresses are refused:
    a target that resolves to one would let a subscriber reach inside our network.
    An IPv4-mapped IPv6 address is judged as the IPv4 address it maps.
    """
    found = list(addresses)
    if not found:
        return URL_INVALID
    if allow_private:
        return None
    for text in found:
        ip = ipaddress.ip_address(text.split("%", 1)[0])
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if not ip.is_global or ip.is_multicast:
            return ADDRESS_REFUSED
    return None
