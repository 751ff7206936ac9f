"""Sending one-time codes and notices: to the development console, by SMTP e-mail, or by SMS.

Chosen with ``CONSENTKIT_OTP_SENDER`` (``console`` | ``smtp`` | ``webhook``). SMTP works
with any server (``CONSENTKIT_SMTP_HOST``, ``_PORT``, ``_FROM``, ``_USER``, ``_PASSWORD``,
``_STARTTLS``); the webhook receives ``{"to", "text"}`` as JSON at
``CONSENTKIT_SMS_WEBHOOK_URL``. The text is in the signer's language. The same channel
carries short notices about the signer's sign-in (an authenticator app set up or replaced),
so a signer learns of a change they did not make where only they receive messages.
"""

from __future__ import annotations

import json
import logging
import os
import smtplib
import urllib.error
import urllib.request
from email.message import EmailMessage
from typing import Any, Protocol

from consentkit.errors import ConfigurationError, DeliveryFailedError, InvalidDataError
from consentkit.i18n import N_, gettext

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
        self, contact: dict[str, Any], code: str, *, minutes: int, locale: str | None
    ) -> str:
        """Send ``code``; return the masked destination (e.g. ``j***@example.org``)."""
        ...

    def send_notice(self, contact: dict[str, Any], *, subject: str, text: str) -> str:
        """Send an already translated notice; return the masked destination."""
        ...


def _mask_email(address: str) -> str:
    name, _, domain = address.partition("@")
    return f"{name[:1]}***@{domain}"


def _mask_phone(number: str) -> str:
    return f"***{number[-3:]}"


def _text(code: str, minutes: int, locale: str | None) -> str:
    return gettext(locale, BODY, code=code, minutes=minutes)


class ConsoleSender:
    """Development: print the code on the server console (never in production)."""

    channel = "console"

    def send_code(
        self, contact: dict[str, Any], code: str, *, minutes: int, locale: str | None
    ) -> str:
        """Log the code."""
        destination = contact.get("email") or contact.get("phone") or "signer"
        print(f"[consentkit one-time code] to {destination}: {code}", flush=True)
        return "console"

    def send_notice(self, contact: dict[str, Any], *, subject: str, text: str) -> str:
        """Log the notice."""
        destination = contact.get("email") or contact.get("phone") or "signer"
        print(f"[consentkit notice] to {destination}: {subject}: {text}", flush=True)
        return "console"


class SmtpSender:
    """E-mail through any SMTP server."""

    channel = "email"

    def __init__(self) -> None:
        """Read the SMTP settings."""
        self.host = os.environ.get("CONSENTKIT_SMTP_HOST", "localhost")
        self.port = int(os.environ.get("CONSENTKIT_SMTP_PORT", "25"))
        self.sender = os.environ.get("CONSENTKIT_SMTP_FROM", "consentkit@localhost")
        self.user = os.environ.get("CONSENTKIT_SMTP_USER")
        self.password = os.environ.get("CONSENTKIT_SMTP_PASSWORD")
        self.starttls = os.environ.get("CONSENTKIT_SMTP_STARTTLS", "").lower() in {"1", "true"}

    def send_code(
        self, contact: dict[str, Any], code: str, *, minutes: int, locale: str | None
    ) -> str:
        """Send the code by e-mail."""
        return self._send(contact, gettext(locale, SUBJECT), _text(code, minutes, locale))

    def send_notice(self, contact: dict[str, Any], *, subject: str, text: str) -> str:
        """Send the notice by e-mail."""
        return self._send(contact, subject, text)

    def _send(self, contact: dict[str, Any], subject: str, text: str) -> str:
        address = contact.get("email")
        if not address:
            raise InvalidDataError("This signer has no e-mail address.", code="no-contact")
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = address
        message["Subject"] = subject
        message.set_content(text)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=10) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self.user and self.password:
                    smtp.login(self.user, self.password)
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            log.warning("SMTP server %s:%s refused or failed: %s", self.host, self.port, type(exc))
            raise DeliveryFailedError(NOT_SENT) from None
        return _mask_email(address)


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
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
        url = os.environ.get("CONSENTKIT_SMS_WEBHOOK_URL")
        if not url or not url.startswith(("https://", "http://")):
            raise ConfigurationError("CONSENTKIT_SMS_WEBHOOK_URL must be an http(s) URL.")
        self.url = url

    def send_code(
        self, contact: dict[str, Any], code: str, *, minutes: int, locale: str | None
    ) -> str:
        """Post the text to the gateway."""
        return self._send(contact, _text(code, minutes, locale))

    def send_notice(self, contact: dict[str, Any], *, subject: str, text: str) -> str:
        """Post the notice to the gateway (an SMS has no subject)."""
        return self._send(contact, text)

    def _send(self, contact: dict[str, Any], text: str) -> str:
        phone = contact.get("phone")
        if not phone:
            raise InvalidDataError("This signer has no phone number.", code="no-contact")
        body = json.dumps({"to": phone, "text": text}).encode()
        request = urllib.request.Request(  # noqa: S310 - URL scheme checked above
            self.url, data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        opener = urllib.request.build_opener(_RefuseRedirects)
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
        return _mask_phone(phone)


def configured_sender() -> Sender:
    """Return the sender named by ``CONSENTKIT_OTP_SENDER``.

    Raises:
        ConfigurationError: unknown sender, or the console sender in production.
    """
    name = os.environ.get("CONSENTKIT_OTP_SENDER", "console")
    if name == "console":
        if os.environ.get("CONSENTKIT_ENV", "production") == "production":
            raise ConfigurationError("Set CONSENTKIT_OTP_SENDER to smtp or webhook in production.")
        return ConsoleSender()
    if name == "smtp":
        return SmtpSender()
    if name == "webhook":
        return WebhookSender()
    raise ConfigurationError("CONSENTKIT_OTP_SENDER must be console, smtp or webhook.")
