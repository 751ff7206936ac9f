"""Native-app push: a webhook to the app's own push gateway (which talks to APNs / FCM).

The body is ``{"token", "title", "body", "id"}``, signed with Standard Webhooks
(``webhook-id`` = the dedupe key, ``webhook-timestamp``, ``webhook-signature``;
the ``standardwebhooks`` library), so the gateway can verify the sender and
drop a message it already has.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from consentkit import settings
from consentkit.channels import ChannelError, Outgoing, post_json
from consentkit.channels.webhook import signer
from consentkit.errors import ConfigurationError


class AppPushChannel:
    """Posts a signed notification to the app push gateway."""

    name = "app"

    def __init__(self) -> None:
        """Read the gateway URL and signing secret."""
        url = settings.push_webhook_url()
        secret = settings.push_webhook_secret()
        if not url or not url.startswith(("https://", "http://")):
            raise ConfigurationError("CONSENTKIT_PUSH_WEBHOOK_URL must be an http(s) URL.")
        if not secret:
            raise ConfigurationError(
                "CONSENTKIT_PUSH_WEBHOOK_SECRET (whsec_...) signs the app push webhook."
            )
        self.url = url
        self.webhook = signer(secret)

    def send(self, outgoing: Outgoing) -> str:
        """Send the subject as title and the text as body."""
        token = outgoing.contacts.get("app")
        if not token:
            raise ChannelError("no app device token", permanent=True)
        body = {
            "token": token,
            "title": outgoing.message.subject,
            "body": outgoing.message.text,
            "id": outgoing.dedupe_key,
        }
        now = datetime.now(UTC)
        payload = json.dumps(body)
        signature = self.webhook.sign(outgoing.dedupe_key, now, payload)
        post_json(
            self.url,
            body,
            headers={
                "webhook-id": outgoing.dedupe_key,
                "webhook-timestamp": str(int(now.timestamp())),
                "webhook-signature": signature,
            },
        )
        return f"app:{str(token)[:4]}***"
