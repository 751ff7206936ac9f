"""Ways a queued message reaches a person: e-mail, SMS, Web Push and the app's push gateway.

Each channel takes an :class:`Outgoing` (the rendered message, the contacts read
at send time and the message's dedupe key) and returns the masked destination,
or raises :class:`ChannelError` saying whether trying again could help. Every
channel hands the dedupe key to its gateway (``Message-ID``, ``Idempotency-Key``,
``webhook-id``, the push ``Topic``), so a message sent again after a worker died
mid-send can be recognised there.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from consentkit.notify import RefuseRedirects
from consentkit.rendering.messages import RenderedMessage


class ChannelError(Exception):
    """A channel could not deliver; ``permanent`` when retrying cannot help (bad address, 4xx)."""

    def __init__(self, reason: str, *, permanent: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


@dataclass(frozen=True)
class Outgoing:
    """One message on its way out."""

    dedupe_key: str
    message: RenderedMessage
    contacts: Mapping[str, Any]
    is_essential: bool
    #: The one-tap link to stop non-essential messages (None for essential ones).
    unsubscribe_url: str | None = None


class Channel(Protocol):
    """Delivers one message; returns the masked destination."""

    name: str

    def send(self, outgoing: Outgoing) -> str:
        """Deliver ``outgoing`` or raise :class:`ChannelError`."""
        ...


#: HTTP statuses worth retrying: the gateway is overloaded, down or timed out.
RETRYABLE_HTTP = frozenset({408, 425, 429, 500, 502, 503, 504})


def post_json(
    url: str,
    body: Mapping[str, Any],
    *,
    headers: Mapping[str, str],
    timeout_s: float = 10,
    encoded: str | None = None,
) -> None:
    """POST ``body`` as JSON (exactly ``encoded`` when given: what was signed); no redirect.

    Raises:
        ChannelError: a 4xx other than 408/425/429 is permanent; anything else transient.
    """
    request = urllib.request.Request(  # noqa: S310 - callers check the scheme
        url,
        data=(json.dumps(body) if encoded is None else encoded).encode(),
        headers={"Content-Type": "application/json", **headers},
        method="POST",
    )
    opener = urllib.request.build_opener(RefuseRedirects)
    try:
        with opener.open(request, timeout=timeout_s):
            pass
    except urllib.error.HTTPError as exc:
        exc.close()
        raise ChannelError(
            f"gateway answered HTTP {exc.code}", permanent=exc.code not in RETRYABLE_HTTP
        ) from None
    except (OSError, urllib.error.URLError) as exc:
        raise ChannelError(f"gateway unreachable: {type(exc).__name__}", permanent=False) from None


class ConsoleChannel:
    """Development: print the message on the worker's console instead of sending it."""

    def __init__(self, name: str) -> None:
        """Stand in for the channel ``name``."""
        self.name = name

    def send(self, outgoing: Outgoing) -> str:
        """Print the subject and text."""
        where = outgoing.contacts.get("email") or outgoing.contacts.get("phone") or "recipient"
        print(
            f"[consentkit {self.name}] to {where}: {outgoing.message.subject}\n"
            f"{outgoing.message.text}",
            flush=True,
        )
        return "console"


def configured_channels() -> dict[str, Channel]:
    """Return the channels named by ``CONSENTKIT_MESSAGE_CHANNELS`` (or configured), by name.

    Raises:
        ConfigurationError: an unknown channel name or a channel's settings missing.
    """
    from consentkit import settings
    from consentkit.channels.app import AppPushChannel
    from consentkit.channels.email import EmailChannel
    from consentkit.channels.sms import SmsChannel
    from consentkit.channels.webpush import WebPushChannel
    from consentkit.errors import ConfigurationError

    makers: dict[str, Any] = {
        "email": EmailChannel,
        "sms": SmsChannel,
        "push": WebPushChannel,
        "app": AppPushChannel,
    }
    found: dict[str, Channel] = {}
    for name in settings.message_channels():
        if name not in makers:
            raise ConfigurationError(
                "CONSENTKIT_MESSAGE_CHANNELS names an unknown channel %(name)s.",
                params={"name": name},
            )
        found[name] = makers[name]()
    if not found and settings.environment() == "development":
        # make run without any gateway: e-mail and SMS are printed on the worker's console.
        found = {"email": ConsoleChannel("email"), "sms": ConsoleChannel("sms")}
    return found
