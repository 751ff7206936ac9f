"""One-time codes reach people: e-mail through a real (local) SMTP server, in their language."""

from __future__ import annotations

import ipaddress
import re
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.header import decode_header, make_header
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from consentkit.errors import ConfigurationError, DeliveryFailedError, InvalidDataError
from consentkit.notify import SmtpSender, SmtpTls, configured_sender, smtp_tls_mode
from tests.consentkit.smtp_helpers import Inbox, running_inbox


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch, free_port: int) -> Iterator[Inbox]:
    with running_inbox(monkeypatch, free_port) as inbox:
        yield inbox


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


# ---------------------------------------------------------------- TLS


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (no public CA vouches for it)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "consentkit test SMTP")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("smtp-tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


class Logins:
    """An aiosmtpd authenticator that accepts one user and remembers who logged in."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        self.seen.append(data.login.decode())
        ok = data.login == b"mailer" and data.password == b"s3cret"
        return AuthResult(success=ok)


@pytest.fixture
def tls_server(
    monkeypatch: pytest.MonkeyPatch, free_port: int, self_signed: tuple[Path, Path]
) -> Iterator[tuple[Inbox, Logins, str]]:
    """A STARTTLS-only server (no mail before TLS) with a self-signed certificate."""
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(*self_signed)
    inbox, logins = Inbox(), Logins()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=free_port,
        tls_context=server_context,
        require_starttls=True,
        authenticator=logins,
    )
    controller.start()
    for name in ("CONSENTKIT_SMTP_TLS", "CONSENTKIT_SMTP_STARTTLS", "CONSENTKIT_SMTP_CA_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CONSENTKIT_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("CONSENTKIT_SMTP_PORT", str(free_port))
    monkeypatch.setenv("CONSENTKIT_SMTP_FROM", "study@example.org")
    try:
        yield inbox, logins, str(self_signed[0])
    finally:
        controller.stop()


ELODIE = {"name": "Élodie", "email": "elodie@example.org"}


@pytest.mark.parametrize(
    "setting", [("CONSENTKIT_SMTP_TLS", "starttls"), ("CONSENTKIT_SMTP_STARTTLS", "true")]
)
def test_smtp_starttls_refuses_a_certificate_no_trusted_ca_signed(
    tls_server: tuple[Inbox, Logins, str], monkeypatch: pytest.MonkeyPatch, setting: Any
) -> None:
    inbox, _logins, _ca = tls_server
    monkeypatch.setenv(*setting)

    with pytest.raises(DeliveryFailedError):
        SmtpSender().send_code(ELODIE, "482913", minutes=5, locale="fr")

    assert inbox.messages == []


def test_smtp_starttls_delivers_when_the_servers_ca_is_configured(
    tls_server: tuple[Inbox, Logins, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox, logins, ca_file = tls_server
    monkeypatch.setenv("CONSENTKIT_SMTP_TLS", "starttls")
    monkeypatch.setenv("CONSENTKIT_SMTP_CA_FILE", ca_file)
    monkeypatch.setenv("CONSENTKIT_SMTP_USER", "mailer")
    monkeypatch.setenv("CONSENTKIT_SMTP_PASSWORD", "s3cret")

    where = SmtpSender().send_code(ELODIE, "482913", minutes=5, locale="fr")

    assert where == "e***@example.org"
    assert logins.seen == ["mailer"]  # the password went only inside TLS
    [mail] = inbox.messages
    assert "482913" in mail.get_payload(decode=True).decode()


def test_smtp_login_over_a_clear_connection_is_refused(
    tls_server: tuple[Inbox, Logins, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox, logins, _ca = tls_server
    monkeypatch.setenv("CONSENTKIT_SMTP_TLS", "off")
    monkeypatch.setenv("CONSENTKIT_SMTP_USER", "mailer")
    monkeypatch.setenv("CONSENTKIT_SMTP_PASSWORD", "s3cret")
    monkeypatch.setenv("CONSENTKIT_OTP_SENDER", "smtp")

    with pytest.raises(ConfigurationError) as refused:
        configured_sender()

    assert "CONSENTKIT_SMTP_TLS" in refused.value.message
    assert logins.seen == [] and inbox.messages == []


def test_smtp_implicit_tls_verifies_the_certificate(
    monkeypatch: pytest.MonkeyPatch, free_port: int, self_signed: tuple[Path, Path]
) -> None:
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(*self_signed)
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port, ssl_context=server_context)
    controller.start()
    env = {
        "CONSENTKIT_SMTP_HOST": "127.0.0.1",
        "CONSENTKIT_SMTP_PORT": str(free_port),
        "CONSENTKIT_SMTP_TLS": "implicit",
    }
    try:
        with pytest.raises(DeliveryFailedError):
            SmtpSender(env).send_code(ELODIE, "111111", minutes=5, locale=None)
        trusted = {**env, "CONSENTKIT_SMTP_CA_FILE": str(self_signed[0])}
        SmtpSender(trusted).send_code(ELODIE, "222222", minutes=5, locale=None)
    finally:
        controller.stop()

    [mail] = inbox.messages
    assert "222222" in mail.get_payload(decode=True).decode()


@pytest.mark.parametrize(
    ("env", "mode"),
    [
        ({}, SmtpTls.OFF),
        ({"CONSENTKIT_SMTP_PORT": "465"}, SmtpTls.IMPLICIT),
        ({"CONSENTKIT_SMTP_PORT": "587", "CONSENTKIT_SMTP_STARTTLS": "1"}, SmtpTls.STARTTLS),
        ({"CONSENTKIT_SMTP_STARTTLS": "false"}, SmtpTls.OFF),
        ({"CONSENTKIT_SMTP_TLS": "STARTTLS", "CONSENTKIT_SMTP_PORT": "465"}, SmtpTls.STARTTLS),
    ],
)
def test_smtp_tls_mode_from_the_settings(env: dict[str, str], mode: SmtpTls) -> None:
    assert smtp_tls_mode(env) == mode


@pytest.mark.parametrize(
    "env",
    [
        {"CONSENTKIT_SMTP_TLS": "maybe"},
        {"CONSENTKIT_SMTP_TLS": "starttls", "CONSENTKIT_SMTP_CA_FILE": "/nonexistent/ca.pem"},
    ],
)
def test_smtp_settings_that_cannot_work_are_configuration_errors(env: dict[str, str]) -> None:
    with pytest.raises(ConfigurationError):
        SmtpSender(env)
