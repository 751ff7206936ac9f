"""A real (local) SMTP server's mailbox for tests of the e-mail sender."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from email import message_from_bytes
from typing import Any

import pytest
from aiosmtpd.controller import Controller


class Inbox:
    """An aiosmtpd handler that keeps every message it receives."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


@contextlib.contextmanager
def running_inbox(monkeypatch: pytest.MonkeyPatch, port: int) -> Iterator[Inbox]:
    """Serve an :class:`Inbox` on ``port`` and point consentkit's SMTP settings at it."""
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("CONSENTKIT_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("CONSENTKIT_SMTP_PORT", str(port))
    monkeypatch.setenv("CONSENTKIT_SMTP_FROM", "study@example.org")
    try:
        yield inbox
    finally:
        controller.stop()
