"""E-mail: text and HTML alternatives through the SMTP server of the one-time codes.

The server and its settings are :class:`consentkit.notify.SmtpSender`'s.

The TLS rules are the one-time codes' (certificate and host name verified, never
a fallback to clear text). The dedupe key becomes the ``Message-ID``, so a message
sent again after a crash is one conversation in the recipient's mail client.
Non-essential messages carry ``List-Unsubscribe`` and one-click
``List-Unsubscribe-Post`` (RFC 8058), pointing at the family's one-tap link.
"""

from __future__ import annotations

import hashlib
import smtplib
from email import policy
from email.message import EmailMessage
from email.utils import formatdate

from consentkit.channels import ChannelError, Outgoing
from consentkit.notify import SmtpSender, mask_email

HEADERS_UNFOLDED = policy.SMTP.clone(max_line_length=998)


class EmailChannel:
    """Sends rendered messages by SMTP."""

    name = "email"

    def __init__(self) -> None:
        """Read the SMTP settings (raises ConfigurationError as :class:`SmtpSender` does)."""
        self.smtp = SmtpSender()

    def compose(self, outgoing: Outgoing) -> EmailMessage:
        """Return the e-mail for ``outgoing`` (text + HTML, headers set)."""
        address = outgoing.contacts.get("email")
        if not address:
            raise ChannelError("no e-mail address", permanent=True)
        domain = self.smtp.sender.rpartition("@")[2] or "consentkit.invalid"
        digest = hashlib.sha256(outgoing.dedupe_key.encode()).hexdigest()[:32]
        # Long header lines kept whole (RFC 5322 allows 998): a folded, encoded
        # List-Unsubscribe is not recognised by mail clients.
        email = EmailMessage(policy=HEADERS_UNFOLDED)
        email["From"] = self.smtp.sender
        email["To"] = address
        email["Subject"] = outgoing.message.subject
        email["Date"] = formatdate(localtime=False)
        email["Message-ID"] = f"<{digest}@{domain}>"
        if outgoing.unsubscribe_url and not outgoing.is_essential:
            email["List-Unsubscribe"] = f"<{outgoing.unsubscribe_url}>"
            email["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        email.set_content(outgoing.message.text)
        email.add_alternative(outgoing.message.html, subtype="html")
        # After the body: set_content() clears every Content-* header set before it.
        if outgoing.message.locale:
            email["Content-Language"] = outgoing.message.locale
        return email

    def send(self, outgoing: Outgoing) -> str:
        """Send by e-mail; a refused recipient is permanent, anything else transient."""
        email = self.compose(outgoing)
        try:
            self.smtp.transmit(email)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise ChannelError(
                f"recipient refused ({codes})", permanent=all(c >= 500 for c in codes)
            ) from None
        except smtplib.SMTPResponseException as exc:
            raise ChannelError(
                f"SMTP {exc.smtp_code}", permanent=500 <= exc.smtp_code < 600
            ) from None
        except (OSError, smtplib.SMTPException) as exc:
            raise ChannelError(f"SMTP failed: {type(exc).__name__}", permanent=False) from None
        return mask_email(str(email["To"]))
