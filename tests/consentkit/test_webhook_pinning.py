"""A webhook goes to the address that was checked, TLS is verified for the host name, and a
rotated secret keeps verifying for a day beside the new one.

The host name ``hooks.example.test`` is made to resolve (by patching
``socket.getaddrinfo`` for that name only) to the local receiver. A DNS answer
that changes between the check and the connection (DNS rebinding: the first
answer passes the check, the second points inside the network) must not move
the delivery: the worker connects to the address it checked.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from consentkit.services import participation, webhooks
from consentkit.worker import Worker
from tests.consentkit.records_helpers import STAFF, T0, make_family
from tests.consentkit.webhook_helpers import Receiver, running_receiver

HOST = "hooks.example.test"
LATER = T0 + timedelta(days=3)


class Resolver:
    """Answers for ``HOST``: 127.0.0.1 until ``rebind`` is set, then once more, then elsewhere."""

    def __init__(self) -> None:
        self.real = socket.getaddrinfo
        self.rebind = False
        self.asked = 0

    def __call__(self, host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != HOST:
            return self.real(host, port, *args, **kwargs)
        self.asked += 1
        # After the first answer of a delivery, the name points where nothing listens.
        address = "127.0.0.2" if self.rebind and self.asked > 1 else "127.0.0.1"
        return self.real(address, port, *args, **kwargs)


@pytest.fixture
def resolver(monkeypatch: pytest.MonkeyPatch) -> Resolver:
    monkeypatch.setenv("CONSENTKIT_WEBHOOK_ALLOW_PRIVATE", "1")
    found = Resolver()
    monkeypatch.setattr(socket, "getaddrinfo", found)
    return found


def _subscribe(receiver: Receiver) -> Any:
    subscription, secret = webhooks.create_subscription(
        "DEMO-NBL-1",
        url=receiver.url,
        event_types=["consent.withdrawn"],
        created_by="staff:admin",
        now=T0,
    )
    receiver.secret = secret
    return subscription


def _withdraw_and_drain(code: str = "P-001", at: datetime = LATER) -> None:
    family = make_family(code)
    participation.withdraw(family.participant, scopes=["no-new-data"], actor=STAFF, now=at)
    worker = Worker({}, clock=lambda: at)
    while worker.run_once():
        pass


def test_delivery_connects_to_the_address_checked_not_to_a_second_dns_answer(
    demo_study: Any, resolver: Resolver, monkeypatch: pytest.MonkeyPatch, free_port: int
) -> None:
    monkeypatch.setenv("CONSENTKIT_WEBHOOK_ALLOW_HTTP", "1")
    with running_receiver(free_port, host=HOST) as receiver:
        subscription = _subscribe(receiver)
        resolver.rebind, resolver.asked = True, 0

        _withdraw_and_drain()

    assert resolver.asked == 1, "the name is resolved once per delivery, for the check"
    [event] = receiver.events
    assert event["type"] == "consent.withdrawn"
    [delivery] = webhooks.deliveries(subscription)
    assert delivery.status == "sent"


def _certificate_for(name: str, folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for ``name`` (the test's own certificate authority)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
def https_receiver(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, free_port: int
) -> Iterator[tuple[Receiver, Path]]:
    cert, key = _certificate_for(HOST, tmp_path)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    with running_receiver(free_port, host=HOST, tls=tls) as receiver:
        yield receiver, cert


def test_https_delivery_to_a_pinned_address_verifies_the_certificate_for_the_name(
    demo_study: Any,
    resolver: Resolver,
    https_receiver: tuple[Receiver, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    receiver, cert = https_receiver
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # trust the test's certificate only
    subscription = _subscribe(receiver)

    _withdraw_and_drain()

    [event] = receiver.events
    assert event["data"]["scopes"] == ["no-new-data"]
    assert [d.status for d in webhooks.deliveries(subscription)] == ["sent"]


def test_https_delivery_refuses_a_certificate_the_system_does_not_trust(
    demo_study: Any, resolver: Resolver, https_receiver: tuple[Receiver, Path]
) -> None:
    receiver, _cert = https_receiver
    subscription = _subscribe(receiver)

    _withdraw_and_drain()

    assert receiver.events == []
    [delivery] = webhooks.deliveries(subscription)
    assert delivery.status != "sent"
    assert delivery.last_error is not None
    assert delivery.last_error.startswith("TLS refused")


def test_after_a_rotation_the_old_secret_verifies_for_a_day_beside_the_new_one(
    demo_study: Any, monkeypatch: pytest.MonkeyPatch, free_port: int
) -> None:
    monkeypatch.setenv("CONSENTKIT_WEBHOOK_ALLOW_HTTP", "1")
    monkeypatch.setenv("CONSENTKIT_WEBHOOK_ALLOW_PRIVATE", "1")
    with running_receiver(free_port) as receiver:
        subscription = _subscribe(receiver)
        old = receiver.secret
        new, until = webhooks.rotate_secret(subscription, by="staff:admin", now=LATER)
        assert new != old
        assert until == LATER + timedelta(hours=24)

        # A receiver not yet switched still verifies; one switched verifies too.
        _withdraw_and_drain("P-001", LATER + timedelta(hours=1))
        receiver.secret = new
        _withdraw_and_drain("P-002", LATER + timedelta(hours=2))
        # After the day, only the new secret signs: the old one no longer verifies.
        receiver.secret = old
        _withdraw_and_drain("P-003", until + timedelta(hours=1))

    assert [e["data"]["participant"] for e in receiver.events] == ["P-001", "P-002"]
    # Newest first: the one signed with the new secret only was refused by the old holder.
    statuses = [d.status for d in webhooks.deliveries(subscription)]
    assert statuses == ["failed", "sent", "sent"]
    [rotated] = [h for h in subscription.history if h["type"] == "secret-rotated"]
    assert rotated["by"] == "staff:admin"
