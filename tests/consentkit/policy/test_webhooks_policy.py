"""Which audit events are webhook events, and which targets are refused (pure, no database)."""

from __future__ import annotations

import pytest

from consentkit.policy.webhooks import (
    ADDRESS_REFUSED,
    SCHEME_REFUSED,
    URL_INVALID,
    address_refusal,
    covers,
    url_refusal,
    webhook_event_type,
)


@pytest.mark.parametrize(
    ("type", "before", "after", "payload", "expected"),
    [
        ("withdrawal.recorded", None, None, {}, "consent.withdrawn"),
        ("assent.dissent", None, None, {}, "assent.dissent"),
        (
            "participant.competence-reached",
            "consented",
            "suspended-awaiting-own-consent",
            {},
            "consent.suspended",
        ),
        ("task.created", None, None, {"reason": "reconsent"}, "consent.reconsent-required"),
        ("task.created", None, None, {"reason": "age-band"}, None),
        ("signature.added", "awaiting-signatures", "consented", {}, "consent.completed"),
        ("paper.recorded", "awaiting-signatures", "consented", {}, "consent.completed"),
        ("signature.added", "awaiting-signatures", "awaiting-signatures", {}, None),
        ("signature.added", "consented", "consented", {}, None),
        ("contact.sent", None, None, {}, None),
        ("items.changed", "consented", "consented", {}, "consent.choices-changed"),
    ],
)
def test_webhook_event_type_of_audit_events(
    type: str, before: str | None, after: str | None, payload: dict[str, str], expected: str | None
) -> None:
    assert webhook_event_type(type, state_before=before, state_after=after, payload=payload) == (
        expected
    )


@pytest.mark.parametrize(
    ("url", "allow_http", "expected"),
    [
        ("https://hooks.example.org/x", False, None),
        ("http://hooks.example.org/x", False, SCHEME_REFUSED),
        ("http://hooks.example.org/x", True, None),
        ("ftp://hooks.example.org/x", True, SCHEME_REFUSED),
        ("https://user:pw@hooks.example.org/x", False, URL_INVALID),
        ("https:///x", False, URL_INVALID),
        ("https://hooks.example.org:99999/x", False, URL_INVALID),
    ],
)
def test_url_refusal(url: str, allow_http: bool, expected: str | None) -> None:
    assert url_refusal(url, allow_http=allow_http) == expected


@pytest.mark.parametrize(
    ("addresses", "expected"),
    [
        (["93.184.215.14"], None),
        (["2606:2800:21f:cb07:6820:80da:af6b:8b2c"], None),
        (["127.0.0.1"], ADDRESS_REFUSED),
        (["10.0.0.1"], ADDRESS_REFUSED),
        (["172.16.5.4"], ADDRESS_REFUSED),
        (["192.168.1.1"], ADDRESS_REFUSED),
        (["169.254.169.254"], ADDRESS_REFUSED),
        (["100.64.0.1"], ADDRESS_REFUSED),  # carrier-grade NAT
        (["0.0.0.0"], ADDRESS_REFUSED),
        (["::1"], ADDRESS_REFUSED),
        (["fd00::1"], ADDRESS_REFUSED),
        (["fe80::1%eth0"], ADDRESS_REFUSED),
        (["::ffff:10.0.0.1"], ADDRESS_REFUSED),
        (["224.0.0.1"], ADDRESS_REFUSED),
        (["93.184.215.14", "10.0.0.1"], ADDRESS_REFUSED),  # any private answer refuses
        ([], URL_INVALID),  # does not resolve
    ],
)
def test_address_refusal(addresses: list[str], expected: str | None) -> None:
    assert address_refusal(addresses, allow_private=False) == expected


def test_address_refusal_allows_private_when_configured() -> None:
    assert address_refusal(["127.0.0.1"], allow_private=True) is None


def test_subscription_covers_its_sites_or_every_site() -> None:
    assert covers(["*"], "FR-01")
    assert covers(["FR-01", "NL-01"], "NL-01")
    assert not covers(["FR-01"], "NL-01")
