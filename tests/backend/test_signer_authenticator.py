"""A returning signer's authenticator app: enrol with a first code, then step up with it."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pyotp

from consentkit.clock import now_utc
from consentkit.models.access import SignerSession
from consentkit.models.participant import Signer
from consentkit.services import audit
from tests.backend.test_auth_flow import Outbox, _sign_in, invited, outbox  # noqa: F401


def _code(secret: str, steps: int = 0) -> str:
    return pyotp.TOTP(secret).at(now_utc() + timedelta(seconds=30 * steps))


def test_enrol_an_authenticator_and_step_up_with_it(
    client: Any,
    outbox: Outbox,  # noqa: F811
    invited: Any,  # noqa: F811
) -> None:
    family, invitation = invited
    tokens = _sign_in(client, outbox, invitation)
    auth = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert client.get("/api/v1/auth/me", headers=auth).get_json()["authenticator"] is False

    # Stepping up with an app before enrolling one is refused.
    early = client.post("/api/v1/auth/step-up/authenticator", json={"code": "123456"}, headers=auth)
    assert early.status_code == 401

    started = client.post("/api/v1/auth/authenticator", headers=auth)
    assert started.status_code == 201
    body = started.get_json()
    assert body["provisioning_uri"].startswith("otpauth://totp/")
    assert body["qr_svg"].startswith("<svg")
    secret = re.search(r"secret=([A-Z2-7]+)", body["provisioning_uri"]).group(1)
    stored = Signer.objects.get(id=family.guardians[0].id)
    assert secret not in (stored.totp_pending or "")  # encrypted at rest

    wrong = client.post("/api/v1/auth/authenticator/confirm", json={"code": "000000"}, headers=auth)
    assert wrong.status_code == 401
    confirmed = client.post(
        "/api/v1/auth/authenticator/confirm", json={"code": _code(secret)}, headers=auth
    )
    assert confirmed.status_code == 204
    assert client.get("/api/v1/auth/me", headers=auth).get_json()["authenticator"] is True
    kinds = [e["type"] for e in audit.chain_dicts(str(family.participant.id))]
    assert "signer.authenticator-enrolled" in kinds

    # The confirming code's step is spent: the next step's code steps up, once.
    code = _code(secret, 1)
    first = client.post("/api/v1/auth/step-up/authenticator", json={"code": code}, headers=auth)
    assert first.status_code == 200
    assert first.get_json()["valid_for_s"] == 600
    session = SignerSession.objects.get(signer_id=str(family.guardians[0].id))
    assert session.step_up_at is not None
    replay = client.post("/api/v1/auth/step-up/authenticator", json={"code": code}, headers=auth)
    assert replay.status_code == 401
