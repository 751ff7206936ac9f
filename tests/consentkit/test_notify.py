"""One-time codes reach people: e-mail through a real (local) SMTP server, in their language."""

from __future__ import annotations

import re
from collections.abc import Iterator
from email import message_from_bytes
from email.header import decode_header, make_header
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from consentkit.errors import ConfigurationError, InvalidDataError
from consentkit.notify import SmtpSender, configured_sender


class Inbox:
    """An aiosmtpd handler that keeps every message it receives."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch, free_port: int) -> Iterator[Inbox]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port)
    controller.start()
    monkeypatch.setenv("CONSENTKIT_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("CONSENTKIT_SMTP_PORT", str(free_port))
    monkeypatch.setenv("CONSENTKIT_SMTP_FROM", "study@example.org")
    try:
        yield inbox
    finally:
        controller.stop()


def test_smtp_sender_delivers_the_code_in_the_signers_language(smtp: Inbox) -> None:
    where = SmtpSender().send_code(
        {"name": "Élodie", "email": "elodie@example.org"}, "482913", minutes=5, locale="fr"
    )

    [mail] = smtp.messages
    assert where == "e***@example.org"
    assert mail["To"] == "elodie@example.org"
    assert str(make_header(decode_header(mail["Subject"]))) == "Votre code consentkit"
    body = mail.get_payload(decode=True).decode()
    assert "482913" in body
    assert re.search(r"\b5\b", body)


def test_smtp_sender_delivers_a_notice_with_its_subject(smtp: Inbox) -> None:
    where = SmtpSender().send_notice(
        {"name": "Élodie", "email": "elodie@example.org"},
        subject="Votre connexion a changé",
        text="Une application a été configurée.",
    )

    [mail] = smtp.messages
    assert where == "e***@example.org"
    assert mail["To"] == "elodie@example.org"
    assert str(make_header(decode_header(mail["Subject"]))) == "Votre connexion a changé"
    assert mail.get_payload(decode=True).decode().strip() == "Une application a été configurée."


def test_smtp_sender_needs_an_email_address(smtp: Inbox) -> None:
    with pytest.raises(InvalidDataError) as refused:
        SmtpSender().send_code({"name": "x", "phone": "+3312345678"}, "1", minutes=5, locale=None)

    assert refused.value.code == "no-contact"
    assert smtp.messages == []


def test_console_sender_is_refused_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONSENTKIT_ENV", "production")
    monkeypatch.setenv("CONSENTKIT_OTP_SENDER", "console")

    with pytest.raises(ConfigurationError):
        configured_sender()
