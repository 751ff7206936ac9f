"""One-time codes by SMS: the webhook sender against a real local HTTP gateway.

``CONSENTKIT_OTP_SENDER=webhook`` posts ``{"to", "text"}`` as JSON to
``CONSENTKIT_SMS_WEBHOOK_URL`` (consentkit/notify.py, README configuration table); the text
is in the signer's language. The sender neither retries nor swallows a failure: an HTTP
error status or a timeout propagates to the caller, so no challenge is reported as sent
when the gateway did not take it. The sender logs nothing, so the code is never logged.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from consentkit.errors import ConfigurationError, DeliveryFailedError, InvalidDataError
from consentkit.notify import WebhookSender, configured_sender
from consentkit.services import access, participants
from tests.consentkit.records_helpers import STAFF, make_family

PHONE = "+33612345678"
CODE = "482913"


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Gateway:
    """What the SMS gateway received, and how it answers."""

    url: str = ""
    requests: list[Received] = field(default_factory=list)
    status: int = 200
    #: Path -> Location: answer 301 there (e.g. a gateway moved to another address).
    redirects: dict[str, str] = field(default_factory=dict)
    #: Accept the request but never answer (until the test ends).
    hang: bool = False
    release: threading.Event = field(default_factory=threading.Event)

    def texts(self) -> list[str]:
        return [r.json["text"] for r in self.requests if r.body]


class _Handler(BaseHTTPRequestHandler):
    server: Any

    def do_POST(self) -> None:
        self._answer("POST")

    def do_GET(self) -> None:
        self._answer("GET")

    def _answer(self, method: str) -> None:
        gateway: Gateway = self.server.gateway
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        gateway.requests.append(Received(method, self.path, dict(self.headers), body))
        if gateway.hang:
            gateway.release.wait(10)
            return
        location = gateway.redirects.get(self.path)
        self.send_response(301 if location else gateway.status)
        if location:
            self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test gateway quiet."""


@pytest.fixture
def gateway(monkeypatch: pytest.MonkeyPatch) -> Iterator[Gateway]:
    """A gateway on 127.0.0.1 (a free port chosen by the system), configured as the sender's."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    received = Gateway()
    server.gateway = received  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    received.url = f"http://127.0.0.1:{server.server_address[1]}/sms/send?tenant=demo"
    monkeypatch.setenv("CONSENTKIT_OTP_SENDER", "webhook")
    monkeypatch.setenv("CONSENTKIT_SMS_WEBHOOK_URL", received.url)
    try:
        yield received
    finally:
        received.release.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


LEAK_BUG = (
    "Product bug: on a gateway error status WebhookSender lets urllib's HTTPError escape "
    "with the gateway's response still open, so its socket stays open until garbage "
    "collection (ResourceWarning)"
)


def _close_left_open_responses(caplog: pytest.LogCaptureFixture) -> None:
    """Close the gateway responses a logged error still holds (see LEAK_BUG).

    Otherwise the socket is freed by a later garbage collection, and its ResourceWarning
    (an error in this suite) would fail whichever test happens to be running then.
    """
    for record in caplog.records:
        for error in _chain(record.exc_info[1] if record.exc_info else None):
            if isinstance(error, urllib.error.HTTPError):
                error.close()


def _chain(error: BaseException | None) -> Iterator[BaseException]:
    """An exception and the ones it was raised from or while handling."""
    while error is not None:
        yield error
        error = error.__cause__ or error.__context__


# ---------------------------------------------------------------- the sender alone


@pytest.mark.parametrize(
    ("locale", "opening"),
    [
        ("fr", f"Votre code est {CODE}."),
        ("de", f"Ihr Code lautet {CODE}."),
        ("fr-BE", f"Votre code est {CODE}."),
        (None, f"Your code is {CODE}."),
        ("pt", f"Your code is {CODE}."),  # no Portuguese catalog: English
    ],
)
def test_the_gateway_gets_the_number_and_the_code_in_the_signers_language(
    gateway: Gateway, caplog: pytest.LogCaptureFixture, locale: str | None, opening: str
) -> None:
    caplog.set_level(logging.DEBUG)

    where = configured_sender().send_code(
        {"name": "Élodie", "phone": PHONE, "email": "elodie@example.org"},
        CODE,
        minutes=5,
        locale=locale,
    )

    [sent] = gateway.requests
    assert sent.method == "POST"
    assert sent.path == "/sms/send?tenant=demo"
    assert sent.headers["Content-Type"] == "application/json"
    assert set(sent.json) == {"to", "text"}
    assert sent.json["to"] == PHONE
    assert sent.json["text"].startswith(opening)
    assert re.search(r"\b5\b", sent.json["text"])
    assert where == "***678"
    assert CODE not in caplog.text


def test_a_notice_reaches_the_gateway_as_its_text(gateway: Gateway) -> None:
    """Sign-in notices (an authenticator app set up) travel like codes; an SMS has no subject."""
    where = configured_sender().send_notice(
        {"name": "Élodie", "phone": PHONE}, subject="Subject", text="An app was set up."
    )

    [sent] = gateway.requests
    assert sent.json == {"to": PHONE, "text": "An app was set up."}
    assert where == "***678"


def test_a_signer_without_a_phone_number_gets_no_request(gateway: Gateway) -> None:
    with pytest.raises(InvalidDataError) as refused:
        WebhookSender().send_code(
            {"name": "x", "email": "x@example.org"}, CODE, minutes=5, locale="fr"
        )

    assert refused.value.code == "no-contact"
    assert gateway.requests == []


@pytest.mark.parametrize("url", [None, "", "ftp://gateway.example/sms", "file:///etc/passwd"])
def test_the_webhook_url_must_be_http(monkeypatch: pytest.MonkeyPatch, url: str | None) -> None:
    monkeypatch.setenv("CONSENTKIT_OTP_SENDER", "webhook")
    if url is None:
        monkeypatch.delenv("CONSENTKIT_SMS_WEBHOOK_URL", raising=False)
    else:
        monkeypatch.setenv("CONSENTKIT_SMS_WEBHOOK_URL", url)

    with pytest.raises(ConfigurationError):
        configured_sender()


@pytest.mark.parametrize("status", [500, 502, 503])
def test_a_gateway_error_is_raised_not_reported_as_sent(
    gateway: Gateway, caplog: pytest.LogCaptureFixture, status: int
) -> None:
    caplog.set_level(logging.DEBUG)
    gateway.status = status

    with pytest.raises(DeliveryFailedError) as failed:
        WebhookSender().send_code({"name": "x", "phone": PHONE}, CODE, minutes=5, locale="fr")

    assert failed.value.code == "code-not-sent"
    assert f"HTTP {status}" in caplog.text  # the operator sees why
    assert len(gateway.requests) == 1  # no retry storm against a failing gateway
    assert CODE not in caplog.text
    assert CODE not in str(failed.value)


def test_a_gateway_error_leaves_no_connection_open(gateway: Gateway) -> None:
    gateway.status = 502

    with pytest.raises(Exception) as failed:  # whichever error the sender chooses
        WebhookSender().send_code({"name": "x", "phone": PHONE}, CODE, minutes=5, locale="fr")

    left_open = [
        error
        for error in _chain(failed.value)
        if isinstance(error, urllib.error.HTTPError)
        and error.fp is not None
        and not error.fp.closed
    ]
    for error in left_open:
        error.close()
    assert left_open == []


def test_a_gateway_that_never_answers_times_out(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sender's own timeout is 10 s; the test keeps it but waits half a second."""
    gateway.hang = True
    assert WebhookSender.timeout_s == 10
    monkeypatch.setattr(WebhookSender, "timeout_s", 0.5)

    with pytest.raises(DeliveryFailedError):
        WebhookSender().send_code({"name": "x", "phone": PHONE}, CODE, minutes=5, locale="fr")

    assert len(gateway.requests) == 1


def test_a_redirected_gateway_never_loses_the_code_silently(gateway: Gateway) -> None:
    gateway.redirects["/sms/send?tenant=demo"] = "/v2/sms/send"

    try:
        WebhookSender().send_code({"name": "x", "phone": PHONE}, CODE, minutes=5, locale="fr")
    except DeliveryFailedError:
        return  # refusing to follow the redirect is a correct answer too
    # Reported as sent: then the request the gateway accepted must carry the text.
    accepted = gateway.requests[-1]
    assert accepted.method == "POST"
    assert accepted.body and CODE in accepted.json["text"]


# ---------------------------------------------------------------- through the sign-in API


@pytest.fixture
def german_guardian(demo_study: Any) -> tuple[Any, str]:
    """A guardian with a mobile number who reads German, and their invitation code."""
    family = make_family()
    signer = participants.add_signer(
        family.participant,
        role="guardian",
        identity={"name": "Jonas Weber", "phone": "+4915112345678"},
        preferred_language="de",
        actor=STAFF,
    )
    return family, access.create_invitation(family.participant, signer, actor=STAFF)


def test_sign_in_by_sms_end_to_end(
    client: Any,
    gateway: Gateway,
    german_guardian: tuple[Any, str],
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)

    sent = client.post("/api/v1/auth/invitations/redeem", json={"code": german_guardian[1]})
    [sms] = gateway.requests
    code = re.findall(r"\b\d{6}\b", sms.json["text"])[0]
    tokens = client.post(
        f"/api/v1/auth/challenges/{sent.get_json()['challenge_id']}/verify",
        json={"code": code, "device_id": "phone-de-0001"},
    )

    assert sent.status_code == 202
    assert sent.get_json()["destination"] == "***678"
    assert sms.json["to"] == "+4915112345678"
    assert sms.json["text"].startswith(f"Ihr Code lautet {code}.")
    assert tokens.status_code == 200, tokens.get_json()
    printed = capsys.readouterr()
    assert code not in caplog.text
    assert code not in printed.out + printed.err


def test_a_failing_gateway_at_sign_in_is_a_server_error_that_leaks_nothing(
    client: Any,
    gateway: Gateway,
    german_guardian: tuple[Any, str],
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    gateway.status = 503

    response = client.post("/api/v1/auth/invitations/redeem", json={"code": german_guardian[1]})

    _close_left_open_responses(caplog)
    [sms] = gateway.requests
    code = re.findall(r"\b\d{6}\b", sms.json["text"])[0]
    assert response.status_code == 503  # the app can say "try again in a minute"
    assert response.headers["Retry-After"]
    assert response.get_json()["error"] == "code-not-sent"
    assert response.mimetype == "application/problem+json"
    body = response.get_data(as_text=True)
    for secret in (code, "+4915112345678", gateway.url, "127.0.0.1"):
        assert secret not in body
    printed = capsys.readouterr()
    assert code not in caplog.text
    assert code not in printed.out + printed.err
