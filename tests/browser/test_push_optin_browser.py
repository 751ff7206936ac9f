"""A parent who has signed turns on notifications for their phone (issue 15, Web Push).

After signing, while the others still have to sign, the done page offers "Be told on
this phone". Nothing is asked before the tap; on the tap the browser asks permission,
the page registers the family pages' service worker and subscribes with the study's
VAPID key, and the server keeps the subscription with push as the parent's channel.
Chromium's own push service (on Google's servers) is out of reach here, so the browser's
subscribe() is replaced by one that returns a subscription of the same shape; the
worker's delivery to a push service and its decryption are tested in test_worker.py.
"""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from consentkit.clock import now_utc
from consentkit.services import access, outbox, records
from tests.browser.conftest import Outbox
from tests.browser.family_steps import LANG, sign, sign_in
from tests.consentkit.records_helpers import STAFF, make_family, prepare

pytestmark = pytest.mark.browser

playwright_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
expect = playwright_api.expect

ENDPOINT = "https://push.example.test/send/parent-phone"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _public_key() -> str:
    point = ec.generate_private_key(ec.SECP256R1()).public_key()
    return _b64(
        point.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
    )


def test_a_parent_turns_on_notifications_after_signing(
    demo_study: Any, phones: Any, outbox: Outbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    vapid = _public_key()
    monkeypatch.setenv("CONSENTKIT_VAPID_PUBLIC_KEY", vapid)
    family = make_family(
        "NL-PUSH",
        site="NL-01",
        birth_date=now_utc().date() - timedelta(days=13 * 365 + 100),
        names=("Anna de Vries", "Pieter de Vries"),
    )
    parental = records.open_record(family.participant, form_id="parental-consent", actor=STAFF)
    prepare(family, parental, family.guardians[0], locale=LANG, at=now_utc())
    phone = phones()
    page = phone.page
    phone.context.grant_permissions(["notifications"])
    page.add_init_script(
        """
        PushManager.prototype.subscribe = async function (options) {
          window.ckSubscribed = {
            userVisibleOnly: options.userVisibleOnly,
            keyLength: options.applicationServerKey.byteLength,
          };
          return {
            toJSON() {
              return {
                endpoint: "ENDPOINT",
                keys: { p256dh: "P256DH", auth: "c2VjcmV0LWF1dGgtMTY" },
              };
            },
          };
        };
        """.replace("ENDPOINT", ENDPOINT).replace("P256DH", _public_key())
    )
    sign_in(
        phone,
        access.create_invitation(family.participant, family.guardians[0], actor=STAFF),
        outbox,
    )
    page.goto(f"/family/records/{parental.record_id}/sign?lang={LANG}")
    sign(phone, outbox, "Anna de Vries")

    panel = page.locator("#push-panel")
    expect(panel).to_be_visible()
    before = outbox_preferences(str(family.guardians[0].id))
    page.click("#push-on")
    expect(panel).to_be_hidden()

    subscribed = page.evaluate("window.ckSubscribed")
    worker = page.evaluate(
        "navigator.serviceWorker.getRegistration('/family/').then((r) => r ? r.scope : null)"
    )
    after = outbox_preferences(str(family.guardians[0].id))
    assert before is None or not before.push_subscription
    assert subscribed == {"userVisibleOnly": True, "keyLength": 65}
    assert worker is not None and worker.endswith("/family/")
    assert after is not None
    assert after.push_subscription["endpoint"] == ENDPOINT
    assert after.preferred_channel == "push"
    assert not phone.problems, phone.problems


def outbox_preferences(signer_id: str) -> Any:
    return outbox.preferences_of(signer_id)


def test_the_service_worker_is_served_for_the_family_pages(client: Any) -> None:
    response = client.get("/family/sw.js")

    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert response.headers["Service-Worker-Allowed"] == "/family/"
    assert "showNotification" in response.get_data(as_text=True)
