"""Sending one-time codes and notices: to the development console, by SMTP e-mail, or by SMS.

Chosen with ``CONSENTKIT_OTP_SENDER`` (``console`` | ``smtp`` | ``webhook``). SMTP works
with any server (``CONSENTKIT_SMTP_HOST``, ``_PORT``, ``_FROM``, ``_USER``, ``_PASSWORD``,
``_TLS``, ``_CA_FILE``); the webhook receives ``{"to", "text"}`` as JSON at
``CONSENTKIT_SMS_WEBHOOK_URL``. The text is in the signer's language. The same channel
carries short notices about the signer's sign-in (an authenticator app set up or replaced),
so a signer learns of a change they did not make where only they receive messages.

SMTP over TLS always verifies the server's certificate and host name
(``ssl.create_default_context``; a private CA through ``CONSENTKIT_SMTP_CA_FILE``), and
never falls back to a clear connection when STARTTLS is asked for but not offered: a
one-time code or a password read on the way is a signature made by someone else.
Credentials are never sent over a clear connection (refused as a configuration error).
"""

from __future__ import annotations

import json
import logging
import smtplib
import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping
from email.message import EmailMessage
from typing import Any, Protocol

from consentkit import settings
from consentkit.errors import ConfigurationError, DeliveryFailedError, InvalidDataError
from consentkit.i18n import N_, gettext

# Re-exported: the TLS mode is read with the other settings; callers know it from here.
from consentkit.settings import IMPLICIT_TLS_PORT as IMPLICIT_TLS_PORT
from consentkit.settings import SmtpTls as SmtpTls
from consentkit.settings import smtp_tls_mode as smtp_tls_mode

log = logging.getLogger(__name__)

SUBJECT = N_("Your consentkit code")
NOT_SENT = N_("The code could not be sent just now. Please try again in a minute.")
BODY = N_("Your code is %(code)s. It is valid for %(minutes)s minutes. Never share it.")


class Sender(Protocol):
    """Delivers a one-time code or a notice to a signer's contact; returns where it went, masked."""

    #: How messages travel (``email``, ``sms``, ``console``): signature evidence names the
    #: factor by it, e.g. ``otp-email`` (21 CFR 11.200).
    channel: str

    def send_code(
        self, contact: Mapping[str, Any], code: str, *, minutes: int, locale: str | None
    ) -> str:
        """Send ``code``; return the masked destination (e.g. ``j***@example.org``)."""
        ...

    def send_notice(self, contact: Mapping[str, Any], *, subject: str, text: str) -> str:
        """Send an already translated notice; return the masked destination."""
        ...


def mask_email(address: str) -> str:
    """Return an address as staff and logs may see it: ``j***@example.org``."""
    name, _, domain = address.partition("@")
    return f"{name[:1]}***@{domain}"


def mask_phone(number: str) -> str:
    """Return a phone number as staff and logs may see it: ``***678``."""
    return f"***{number[-3:]}"


def _text(code: str, minutes: int, locale: str | None) -> str:
    return gettext(locale, BODY, code=code, minutes=minutes)


class ConsoleSender:
    """Development: print the code on the server console (never in production)."""

    channel = "console"

    def send_code(
        self, contact: Mapping[str, Any], code: str, *, minutes: int, locale: str | None
    ) -> str:
        """Log the code."""
        destination = contact.get("email") or contact.get("phone") or "signer"
        print(f"[consentkit one-time code] to {destination}: {code}", flush=True)
        return "console"

    def send_notice(self, contact: Mapping[str, Any], *, subject: str, text: str) -> str:
        """Log the notice."""
        destination = contact.get("email") or contact.get("phone") or "signer"
        print(f"[consentkit notice] to {destination}: {subject}: {text}", flush=True)
        return "console"


class SmtpSender:
    """E-mail through any SMTP server, the certificate verified whenever TLS is used."""

    channel = "email"

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        """Read the SMTP settings (:func:`consentkit.settings.smtp`, from ``env`` if given).

        Raises:
            ConfigurationError: an unknown TLS mode, an unreadable CA file, or a
                user name and password to be sent over a clear connection.
        """
        configured = settings.smtp(env)
        self.host = configured.host
        self.port = configured.port
        self.sender = configured.sender
        self.user = configured.user
        self.password = configured.password
        self.tls = configured.tls
        if self.tls == SmtpTls.OFF and (self.user or self.password):
            raise ConfigurationError(
                "CONSENTKIT_SMTP_USER and CONSENTKIT_SMTP_PASSWORD are set but the SMTP "
                "connection is not encrypted: the password would travel in clear. Set "
                "CONSENTKIT_SMTP_TLS to starttls (port 587) or implicit (port 465)."
            )
        self.context: ssl.SSLContext | None = None
        if self.tls != SmtpTls.OFF:
            ca_file = configured.ca_file
            try:
                # Certificate and host name verified (CERT_REQUIRED, check_hostname).
                self.context = ssl.create_default_context(cafile=ca_file)
            except (OSError, ssl.SSLError) as exc:
                raise ConfigurationError(
                    "CONSENTKIT_SMTP_CA_FILE %(path)s cannot be read as PEM certificates.",
                    params={"path": ca_file},
                ) from exc

    def _connect(self) -> smtplib.SMTP:
        if self.tls == SmtpTls.IMPLICIT:
            return smtplib.SMTP_SSL(self.host, self.port, timeout=10, context=self.context)
        smtp = smtplib.SMTP(self.host, self.port, timeout=10)
        if self.tls == SmtpTls.STARTTLS:
            try:
                # Raises SMTPNotSupportedError when not offered: never carry on in clear.
                smtp.starttls(context=self.context)
            except BaseException:
                smtp.close()
                raise
        return smtp

    def transmit(self, message: EmailMessage) -> None:
        """Hand ``message`` to the server (TLS verified, login if configured); errors raised as is.

        Raises:
            OSError, smtplib.SMTPException: the server refused or could not be reached.
        """
        with self._connect() as smtp:
            if self.user and self.password:
                smtp.login(self.user, self.password)
            smtp.send_message(message)

    def send_code(
        self, contact: Mapping[str, Any], code: str, *, minutes: int, locale: str | None
    ) -> str:
        """Send the code by e-mail."""
        return self._send(contact, gettext(locale, SUBJECT), _text(code, minutes, locale))

    def send_notice(self, contact: Mapping[str, Any], *, subject: str, text: str) -> str:
        """Send the notice by e-mail."""
        return self._send(contact, subject, text)

    def _send(self, contact: Mapping[str, Any], subject: str, text: str) -> str:
        address = contact.get("email")
        if not address:
            raise InvalidDataError("This signer has no e-mail address.", code="no-contact")
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = address
        message["Subject"] = subject
        message.set_content(text)
        try:
            self.transmit(message)
        except (OSError, smtplib.SMTPException) as exc:  # ssl.SSLError is an OSError
            log.warning(
                "SMTP server %s:%s (TLS %s) refused or failed: %s",
                self.host,
                self.port,
                self.tls.value,
                type(exc).__name__,
            )
            raise DeliveryFailedError(NOT_SENT) from None
        return mask_email(address)


class RefuseRedirects(urllib.request.HTTPRedirectHandler):
    """urllib would follow a 301/302/303 to a POST with a body-less GET: the text would be lost."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        """Refuse; the 3xx then surfaces as an error, never as "sent"."""
        return None


class WebhookSender:
    """SMS through a gateway that accepts a JSON webhook."""

    channel = "sms"
    #: Seconds to wait for the gateway.
    timeout_s: float = 10

    def __init__(self) -> None:
        """Read the webhook URL."""
        url = settings.sms_webhook_url()
        if not url or not url.startswith(("https://", "http://")):
            raise ConfigurationError("CONSENTKIT_SMS_WEBHOOK_URL must be an http(s) URL.")
        self.url = url

    def send_code(
        self, contact: Mapping[str, Any], code: str, *, minutes: int, locale: str | None
    ) -> str:
        """Post the text to the gateway."""
        return self._send(contact, _text(code, minutes, locale))

    def send_notice(self, contact: Mapping[str, Any], *, subject: str, text: str) -> str:
        """Post the notice to the gateway (an SMS has no subject)."""
        return self._send(contact, text)

    def _send(self, contact: Mapping[str, Any], text: str) -> str:
        phone = contact.get("phone")
        if not phone:
            raise InvalidDataError("This signer has no phone number.", code="no-contact")
        body = json.dumps({"to": phone, "text": text}).encode()
        request = urllib.request.Request(  # noqa: S310 - URL scheme checked above
            self.url, data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        opener = urllib.request.build_opener(RefuseRedirects)
        try:
            with opener.open(request, timeout=self.timeout_s):
                pass
        except urllib.error.HTTPError as exc:
            exc.close()  # release the gateway's connection now, not at garbage collection
            log.warning("SMS gateway answered HTTP %s", exc.code)
            raise DeliveryFailedError(NOT_SENT) from None
        except (OSError, urllib.error.URLError) as exc:
            log.warning("SMS gateway unreachable: %s", type(exc).__name__)
            raise DeliveryFailedError(NOT_SENT) from None
        return mask_phone(phone)


def configured_sender() -> Sender:
    """Return the sender named by ``CONSENTKIT_OTP_SENDER``.

    Raises:
        ConfigurationError: unknown sender, or the console sender in production.
    """
    name = settings.otp_sender()
    if name == "console":
        if settings.environment() == "production":
            raise ConfigurationError("Set CONSENTKIT_OTP_SENDER to smtp or webhook in production.")
        return ConsoleSender()
    if name == "smtp":
        return SmtpSender()
    if name == "webhook":
        return WebhookSender()
    raise ConfigurationError("CONSENTKIT_OTP_SENDER must be console, smtp or webhook.")
