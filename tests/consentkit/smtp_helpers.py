"""A real (local) SMTP server's mailbox for tests of the e-mail sender."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from email import message_from_bytes
from email.header import decode_header, make_header
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from consentkit import i18n


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


def subject(mail: Any) -> str:
    """Return a received message's subject, decoded."""
    return str(make_header(decode_header(mail["Subject"])))


def is_about(mail: Any, msgid: str) -> bool:
    """Whether ``mail``'s subject is the message ``msgid``, in the language the mail says it is in.

    Every fixed part of the translation must be there (the placeholders' values aside), so a
    test written in English still checks the French or German a family really receives.
    """
    text = i18n.translations(mail["Content-Language"]).gettext(msgid)
    fixed = [part for part in re.split(r"%\(\w+\)s", text) if part.strip()]
    received = subject(mail)
    return all(part in received for part in fixed)


def recipients_of(inbox: Inbox, msgid: str) -> list[str]:
    """Return, sorted, who received the message ``msgid`` (each in their own language)."""
    return sorted(m["To"] for m in inbox.messages if is_about(m, msgid))
