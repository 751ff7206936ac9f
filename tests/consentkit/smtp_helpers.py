"""A real (local) SMTP server's mailbox for tests of the e-mail sender."""

from __future__ import annotations

from email import message_from_bytes
from typing import Any


class Inbox:
    """An aiosmtpd handler that keeps every message it receives."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"
