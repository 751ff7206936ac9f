"""Channels through real local servers: SMTP (aiosmtpd), SMS and app gateways, a push service."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import http_ece
import pytest
from standardwebhooks import Webhook

from consentkit.channels import ChannelError, Outgoing
from consentkit.channels.app import AppPushChannel
from consentkit.channels.email import EmailChannel
from consentkit.channels.sms import SmsChannel
from consentkit.channels.webpush import WebPushChannel, topic
from consentkit.rendering.messages import render_message
from tests.consentkit.message_helpers import Gateway, http_gateway, new_browser, vapid_keys
from tests.consentkit.smtp_helpers import Inbox, running_inbox

UNSUBSCRIBE = "http://127.0.0.1:5000/family/unsubscribe/abc.def"


def _outgoing(contacts: dict[str, Any], *, essential: bool = False, locale: str = "en") -> Outgoing:
    rendered = render_message(
        "notice",
        {
            "subject": "Time to sign",
            "text": "Your partner has signed <b>",
            "locale": locale,
            "unsubscribe_link": None if essential else UNSUBSCRIBE,
        },
        locale=locale,
    )
    return Outgoing(
        dedupe_key="reminder:P-001:7:signer1",
        message=rendered,
        contacts=contacts,
        is_essential=essential,
        unsubscribe_url=None if essential else UNSUBSCRIBE,
    )


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch, free_port: int) -> Iterator[Inbox]:
    with running_inbox(monkeypatch, free_port) as inbox:
        yield inbox


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    with http_gateway() as running:
        yield running


def test_email_sends_text_and_html_with_the_dedupe_key_as_message_id(smtp: Inbox) -> None:
    where = EmailChannel().send(_outgoing({"email": "elodie@example.org"}))

    [mail] = smtp.messages
    assert where == "e***@example.org"
    assert mail.get_content_type() == "multipart/alternative"
    text, html = mail.get_payload()
    assert "Your partner has signed <b>" in text.get_payload(decode=True).decode()
    assert "Your partner has signed &lt;b&gt;" in html.get_payload(decode=True).decode()
    assert mail["Message-ID"] == EmailChannel().compose(_outgoing({"email": "e@x"}))["Message-ID"]


def test_email_non_essential_carries_one_click_list_unsubscribe(smtp: Inbox) -> None:
    EmailChannel().send(_outgoing({"email": "elodie@example.org"}))

    [mail] = smtp.messages
    assert mail["List-Unsubscribe"] == f"<{UNSUBSCRIBE}>"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_email_essential_has_no_list_unsubscribe(smtp: Inbox) -> None:
    EmailChannel().send(_outgoing({"email": "elodie@example.org"}, essential=True))

    [mail] = smtp.messages
    assert mail["List-Unsubscribe"] is None


def test_email_without_address_is_a_permanent_failure(smtp: Inbox) -> None:
    with pytest.raises(ChannelError) as caught:
        EmailChannel().send(_outgoing({"phone": "+33600000000"}))
    assert caught.value.permanent


def test_email_server_down_is_a_transient_failure(
    monkeypatch: pytest.MonkeyPatch, free_port: int
) -> None:
    monkeypatch.setenv("CONSENTKIT_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("CONSENTKIT_SMTP_PORT", str(free_port))
    with pytest.raises(ChannelError) as caught:
        EmailChannel().send(_outgoing({"email": "elodie@example.org"}))
    assert not caught.value.permanent


def test_sms_posts_the_text_with_the_dedupe_key(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONSENTKIT_SMS_WEBHOOK_URL", gateway.url + "/sms")

    where = SmsChannel().send(_outgoing({"phone": "+33612345678"}))

    [call] = gateway.received
    assert where == "***678"
    assert call.headers["idempotency-key"] == "reminder:P-001:7:signer1"
    assert call.json()["to"] == "+33612345678"
    assert "Your partner has signed <b>" in call.json()["text"]


@pytest.mark.parametrize(
    ("status", "permanent"), [(400, True), (404, True), (429, False), (503, False)]
)
def test_sms_gateway_refusal_is_permanent_only_for_a_client_error(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch, status: int, permanent: bool
) -> None:
    monkeypatch.setenv("CONSENTKIT_SMS_WEBHOOK_URL", gateway.url + "/sms")
    gateway.status = status
    with pytest.raises(ChannelError) as caught:
        SmsChannel().send(_outgoing({"phone": "+33612345678"}))
    assert caught.value.permanent is permanent


def test_web_push_reaches_the_push_service_and_decrypts_with_the_subscription_keys(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    private, public = vapid_keys()
    monkeypatch.setenv("CONSENTKIT_VAPID_PRIVATE_KEY", private)
    monkeypatch.setenv("CONSENTKIT_VAPID_SUBJECT", "mailto:study@example.org")
    browser = new_browser()

    WebPushChannel().send(_outgoing({"push": browser.subscription(gateway.url + "/push/abc")}))

    [call] = gateway.received
    assert call.path == "/push/abc"
    assert call.headers["content-encoding"] == "aes128gcm"
    assert call.headers["topic"] == topic("reminder:P-001:7:signer1")
    assert f"k={public}" in call.headers["authorization"]
    plain = http_ece.decrypt(
        call.body, private_key=browser.private_key, auth_secret=browser.auth, version="aes128gcm"
    )
    payload = json.loads(plain)
    assert payload["title"] == "Time to sign"
    assert payload["id"] == "reminder:P-001:7:signer1"
    assert "Your partner has signed <b>" in payload["body"]


def test_web_push_subscription_gone_is_a_permanent_failure(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONSENTKIT_VAPID_PRIVATE_KEY", vapid_keys()[0])
    gateway.status = 410
    with pytest.raises(ChannelError) as caught:
        WebPushChannel().send(_outgoing({"push": new_browser().subscription(gateway.url + "/p")}))
    assert caught.value.permanent


def test_app_push_webhook_is_signed_with_the_dedupe_key_as_webhook_id(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    monkeypatch.setenv("CONSENTKIT_PUSH_WEBHOOK_URL", gateway.url + "/app")
    monkeypatch.setenv("CONSENTKIT_PUSH_WEBHOOK_SECRET", secret)

    AppPushChannel().send(_outgoing({"app": "device-token-1"}))

    [call] = gateway.received
    verified = Webhook(secret).verify(call.body, call.headers)
    assert verified["token"] == "device-token-1"
    assert call.headers["webhook-id"] == "reminder:P-001:7:signer1"
