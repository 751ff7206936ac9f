"""SMS through the webhook gateway of the one-time codes (``CONSENTKIT_SMS_WEBHOOK_URL``).

The gateway receives ``{"to", "text", "id"}`` and an ``Idempotency-Key`` header
with the dedupe key, so it can drop a message sent again after a crash.
"""

from __future__ import annotations

from consentkit import settings
from consentkit.channels import ChannelError, Outgoing, post_json
from consentkit.errors import ConfigurationError
from consentkit.notify import mask_phone


class SmsChannel:
    """Posts the message's text to the SMS gateway."""

    name = "sms"

    def __init__(self) -> None:
        """Read the gateway URL."""
        url = settings.sms_webhook_url()
        if not url or not url.startswith(("https://", "http://")):
            raise ConfigurationError("CONSENTKIT_SMS_WEBHOOK_URL must be an http(s) URL.")
        self.url = url

    def send(self, outgoing: Outgoing) -> str:
        """Send the plain text (an SMS has no subject or HTML)."""
        phone = outgoing.contacts.get("phone")
        if not phone:
            raise ChannelError("no phone number", permanent=True)
        post_json(
            self.url,
            {"to": phone, "text": outgoing.message.text, "id": outgoing.dedupe_key},
            headers={"Idempotency-Key": outgoing.dedupe_key},
        )
        return mask_phone(str(phone))
