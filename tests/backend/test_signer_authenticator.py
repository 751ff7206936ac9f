"""A returning signer's authenticator app: set up only with a code by e-mail or SMS, then used.

A stolen session alone must not be enough to sign or withdraw (issue 11, item 2): the app's
codes stand in for the codes by e-mail or SMS at step-up, so setting up or replacing an app
needs a fresh code sent to the signer's contact, and the contact is told of the change.
Signatures name the factor used (21 CFR 11.200): ``otp-email``, ``otp-sms`` or ``totp-app``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from email.header import decode_header, make_header
from typing import Any

import pyotp
import pytest
from aiosmtpd.controller import Controller

from consentkit import crypto
from consentkit.clock import now_utc
from consentkit.models.access import SignerSession
from consentkit.models.participant import Signer
from consentkit.services import access, audit, participants, records
from tests.backend.signer_helpers import Outbox, sign_in
from tests.consentkit.records_helpers import STAFF, STROKES, Family, content, make_family, prepare
from tests.consentkit.smtp_helpers import Inbox

API = "/api/v1"
NOTICE = re.compile(r"\[consentkit notice\] to .*: (.*)")


def _code(secret: str, steps: int = 0) -> str:
    return pyotp.TOTP(secret).at(now_utc() + timedelta(seconds=30 * steps))


def _secret(started: Any) -> str:
    found = re.search(r"secret=([A-Z2-7]+)", started.get_json()["provisioning_uri"])
    assert found, started.get_json()
    return found.group(1)


def _contact_code(client: Any, outbox: Outbox, auth: dict[str, str]) -> dict[str, str]:
    """Ask for the code by e-mail or SMS that setting up an app needs; return the body to send."""
    sent = client.post(f"{API}/auth/authenticator/challenge", headers=auth)
    assert sent.status_code == 202, sent.get_json()
    return {"challenge_id": sent.get_json()["challenge_id"], "code": outbox.last_code()}


def _events(family: Family) -> list[dict[str, Any]]:
    return audit.chain_dicts(str(family.participant.id))


def test_enrol_an_authenticator_and_step_up_with_it(
    client: Any,
    outbox: Outbox,
    invited: Any,
) -> None:
    family, invitation = invited
    tokens = sign_in(client, outbox, invitation)
    auth = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert client.get(f"{API}/auth/me", headers=auth).get_json()["authenticator"] is False

    # Stepping up with an app before enrolling one is refused.
    early = client.post(f"{API}/auth/step-up/authenticator", json={"code": "123456"}, headers=auth)
    assert early.status_code == 401

    started = client.post(
        f"{API}/auth/authenticator", json=_contact_code(client, outbox, auth), headers=auth
    )
    assert started.status_code == 201, started.get_json()
    body = started.get_json()
    assert body["provisioning_uri"].startswith("otpauth://totp/")
    assert body["qr_svg"].startswith("<svg")
    secret = _secret(started)
    stored = Signer.objects.get(id=family.guardians[0].id)
    assert secret not in (stored.totp_pending or "")  # encrypted at rest

    wrong = client.post(f"{API}/auth/authenticator/confirm", json={"code": "000000"}, headers=auth)
    assert wrong.status_code == 401
    confirmed = client.post(
        f"{API}/auth/authenticator/confirm", json={"code": _code(secret)}, headers=auth
    )
    assert confirmed.status_code == 204
    assert client.get(f"{API}/auth/me", headers=auth).get_json()["authenticator"] is True
    kinds = [e["type"] for e in _events(family)]
    assert "signer.authenticator-enrolled" in kinds

    # The confirming code's step is spent: the next step's code steps up, once.
    code = _code(secret, 1)
    first = client.post(f"{API}/auth/step-up/authenticator", json={"code": code}, headers=auth)
    assert first.status_code == 200
    assert first.get_json()["valid_for_s"] == 600
    session = SignerSession.objects.get(signer_id=str(family.guardians[0].id))
    assert session.step_up_at is not None
    replay = client.post(f"{API}/auth/step-up/authenticator", json={"code": code}, headers=auth)
    assert replay.status_code == 401


# ---------------------------------------------------------------- a stolen session alone


def _ready_to_sign(family: Family) -> tuple[str, dict[str, Any]]:
    """Open a record the first guardian has read and chosen for; return it and a signature."""
    record = records.open_record(family.participant, form_id="parental-consent", actor=STAFF)
    prepare(family, record, family.guardians[0], at=now_utc())
    text = content(record, "fr")
    return record.record_id, {
        "locale": "fr",
        "content_sha256": text["sha"],
        "printed_name": participants.signer_identity(family.guardians[0])["name"],
        "strokes": STROKES,
        "early_signing_justification": "The family asked to sign today",
    }


def test_a_stolen_session_alone_cannot_enrol_an_authenticator(
    client: Any,
    outbox: Outbox,
    invited: Any,
) -> None:
    """Only a bearer token: no code by e-mail or SMS, so no app, no step-up, no signature."""
    family, invitation = invited
    stolen = {"Authorization": f"Bearer {sign_in(client, outbox, invitation)['access_token']}"}
    record_id, signature = _ready_to_sign(family)
    # Even a code from the signer's own step-up is not the proof for setting up an app.
    step_up = client.post(f"{API}/auth/step-up", headers=stolen).get_json()
    not_for_this = {"challenge_id": step_up["challenge_id"], "code": outbox.last_code()}

    bare = client.post(f"{API}/auth/authenticator", headers=stolen)
    guessed = client.post(
        f"{API}/auth/authenticator",
        json={"challenge_id": "0" * 32, "code": "123456"},
        headers=stolen,
    )
    wrong_purpose = client.post(f"{API}/auth/authenticator", json=not_for_this, headers=stolen)

    assert bare.status_code == 422
    assert guessed.status_code == 401
    assert wrong_purpose.status_code == 401
    assert Signer.objects.get(id=family.guardians[0].id).totp_pending is None
    # Whatever app the thief set up, its codes neither step up nor sign.
    app_code = {"code": pyotp.TOTP(pyotp.random_base32()).now()}
    assert (
        client.post(f"{API}/auth/authenticator/confirm", json=app_code, headers=stolen).status_code
        == 401
    )
    assert (
        client.post(f"{API}/auth/step-up/authenticator", json=app_code, headers=stolen).status_code
        == 401
    )
    signed = client.post(f"{API}/me/records/{record_id}/signature", json=signature, headers=stolen)
    assert signed.status_code == 409
    assert signed.get_json()["error"] == "fresh-code-required"
    assert "signature.added" not in {e["type"] for e in _events(family)}


def test_an_app_enrolment_started_without_the_contact_code_cannot_sign(
    client: Any,
    outbox: Outbox,
    invited: Any,
) -> None:
    """A pending app that no code by e-mail or SMS proved (as the old flow left them) is refused."""
    family, invitation = invited
    stolen = {"Authorization": f"Bearer {sign_in(client, outbox, invitation)['access_token']}"}
    record_id, signature = _ready_to_sign(family)
    secret = pyotp.random_base32()
    Signer.objects(id=family.guardians[0].id).update_one(
        set__totp_pending=crypto.encrypt_identity({"totp": secret})
    )

    confirmed = client.post(
        f"{API}/auth/authenticator/confirm", json={"code": _code(secret)}, headers=stolen
    )
    stepped_up = client.post(
        f"{API}/auth/step-up/authenticator", json={"code": _code(secret, 1)}, headers=stolen
    )
    signed = client.post(f"{API}/me/records/{record_id}/signature", json=signature, headers=stolen)

    assert confirmed.status_code == 401
    assert stepped_up.status_code == 401
    assert signed.status_code == 409
    assert Signer.objects.get(id=family.guardians[0].id).totp_secret is None


def test_a_stolen_session_alone_cannot_replace_an_authenticator(
    client: Any,
    outbox: Outbox,
    invited: Any,
) -> None:
    """The family's app stays; the thief's device cannot swap in its own app."""
    family, invitation = invited
    owner = {"Authorization": f"Bearer {sign_in(client, outbox, invitation)['access_token']}"}
    started = client.post(
        f"{API}/auth/authenticator", json=_contact_code(client, outbox, owner), headers=owner
    )
    secret = _secret(started)
    assert (
        client.post(
            f"{API}/auth/authenticator/confirm", json={"code": _code(secret)}, headers=owner
        ).status_code
        == 204
    )
    before = Signer.objects.get(id=family.guardians[0].id).totp_secret
    stolen_tokens = sign_in(client, outbox, invitation, "thief-device")
    thief = {"Authorization": f"Bearer {stolen_tokens['access_token']}"}

    replaced = client.post(f"{API}/auth/authenticator", headers=thief)

    assert replaced.status_code == 422
    assert Signer.objects.get(id=family.guardians[0].id).totp_secret == before
    assert "signer.authenticator-replaced" not in {e["type"] for e in _events(family)}


def test_setting_up_and_replacing_an_app_tells_the_signer(
    client: Any,
    outbox: Outbox,
    invited: Any,
) -> None:
    family, invitation = invited
    auth = {"Authorization": f"Bearer {sign_in(client, outbox, invitation)['access_token']}"}
    notices = []
    for _ in range(2):
        started = client.post(
            f"{API}/auth/authenticator", json=_contact_code(client, outbox, auth), headers=auth
        )
        confirmed = client.post(
            f"{API}/auth/authenticator/confirm",
            json={"code": _code(_secret(started))},
            headers=auth,
        )
        assert confirmed.status_code == 204, confirmed.get_json()
        notices += NOTICE.findall(outbox.capsys.readouterr().out)

    assert len(notices) == 2
    assert "authenticator app was set up" in notices[0]
    assert "was replaced" in notices[1]
    changes = [e for e in _events(family) if e["type"].startswith("signer.authenticator-")]
    assert [e["type"] for e in changes] == [
        "signer.authenticator-enrolled",
        "signer.authenticator-replaced",
    ]
    assert all(e["payload"]["proved_by"] == "otp-console" for e in changes)
    assert all(e["payload"]["notified"] is True for e in changes)


# ---------------------------------------------------------------- which factor signed


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch, free_port: int) -> Iterator[Inbox]:
    """Codes and notices by e-mail through a real local SMTP server."""
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port)
    controller.start()
    monkeypatch.setenv("CONSENTKIT_OTP_SENDER", "smtp")
    monkeypatch.setenv("CONSENTKIT_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("CONSENTKIT_SMTP_PORT", str(free_port))
    monkeypatch.setenv("CONSENTKIT_SMTP_FROM", "study@example.org")
    try:
        yield inbox
    finally:
        controller.stop()


class Mailbox:
    """The guardian reading their e-mail: the last code, the notices."""

    def __init__(self, inbox: Inbox) -> None:
        self.inbox = inbox

    def bodies(self) -> list[str]:
        return [m.get_payload(decode=True).decode() for m in self.inbox.messages]

    def last_code(self) -> str:
        return re.findall(r"\b(\d{6})\b", self.bodies()[-1])[-1]


def _family_with_email() -> tuple[Family, str]:
    family = make_family()
    guardian = family.guardians[0]
    identity = {**participants.signer_identity(guardian), "email": "eleni@example.org"}
    Signer.objects(id=guardian.id).update_one(
        set__identity=crypto.encrypt_identity(identity), set__preferred_language="fr"
    )
    family.guardians[0] = Signer.objects.get(id=guardian.id)
    return family, access.create_invitation(family.participant, family.guardians[0], actor=STAFF)


def _signed_in_by_email(client: Any, mail: Mailbox, invitation: str) -> dict[str, str]:
    sent = client.post(f"{API}/auth/invitations/redeem", json={"code": invitation})
    assert sent.status_code == 202, sent.get_json()
    tokens = client.post(
        f"{API}/auth/challenges/{sent.get_json()['challenge_id']}/verify",
        json={"code": mail.last_code(), "device_id": "phone-0001"},
    )
    assert tokens.status_code == 200, tokens.get_json()
    return {"Authorization": f"Bearer {tokens.get_json()['access_token']}"}


def _signature_method(family: Family) -> str:
    [signed] = [e for e in _events(family) if e["type"] == "signature.added"]
    method: str = signed["payload"]["auth"]["method"]
    return method


def test_a_signature_after_a_code_by_email_names_otp_email(
    client: Any, smtp: Inbox, demo_study: Any
) -> None:
    family, invitation = _family_with_email()
    mail = Mailbox(smtp)
    auth = _signed_in_by_email(client, mail, invitation)
    record_id, signature = _ready_to_sign(family)
    challenge = client.post(f"{API}/auth/step-up", headers=auth).get_json()["challenge_id"]
    verified = client.post(
        f"{API}/auth/step-up/{challenge}/verify", json={"code": mail.last_code()}, headers=auth
    )
    assert verified.status_code == 200

    signed = client.post(f"{API}/me/records/{record_id}/signature", json=signature, headers=auth)

    assert signed.status_code == 200, signed.get_json()
    assert _signature_method(family) == "otp-email"


def test_a_signature_after_an_app_step_up_names_totp_app_and_the_mail_tells_of_the_app(
    client: Any, smtp: Inbox, demo_study: Any
) -> None:
    family, invitation = _family_with_email()
    mail = Mailbox(smtp)
    auth = _signed_in_by_email(client, mail, invitation)
    record_id, signature = _ready_to_sign(family)
    challenge = client.post(f"{API}/auth/authenticator/challenge", headers=auth).get_json()
    started = client.post(
        f"{API}/auth/authenticator",
        json={"challenge_id": challenge["challenge_id"], "code": mail.last_code()},
        headers=auth,
    )
    secret = _secret(started)
    mails_before = len(smtp.messages)
    assert (
        client.post(
            f"{API}/auth/authenticator/confirm", json={"code": _code(secret)}, headers=auth
        ).status_code
        == 204
    )
    [notice] = smtp.messages[mails_before:]
    assert notice["To"] == "eleni@example.org"
    assert str(make_header(decode_header(notice["Subject"]))) == access.gettext(
        "fr", access.NOTICE_SUBJECT
    )
    assert mail.bodies()[-1].strip() == access.gettext("fr", access.NOTICE_ENROLLED)
    stepped_up = client.post(
        f"{API}/auth/step-up/authenticator", json={"code": _code(secret, 1)}, headers=auth
    )
    assert stepped_up.status_code == 200

    signed = client.post(f"{API}/me/records/{record_id}/signature", json=signature, headers=auth)

    assert signed.status_code == 200, signed.get_json()
    assert _signature_method(family) == "totp-app"
    enrolled = next(e for e in _events(family) if e["type"] == "signer.authenticator-enrolled")
    assert enrolled["payload"]["proved_by"] == "otp-email"


def test_a_withdrawal_names_the_factor_that_confirmed_it(
    client: Any,
    outbox: Outbox,
    invited: Any,
) -> None:
    family, invitation = invited
    auth = {"Authorization": f"Bearer {sign_in(client, outbox, invitation)['access_token']}"}
    challenge = client.post(f"{API}/auth/step-up", headers=auth).get_json()["challenge_id"]
    client.post(
        f"{API}/auth/step-up/{challenge}/verify", json={"code": outbox.last_code()}, headers=auth
    )

    done = client.post(
        f"{API}/me/withdrawals",
        json={"choices": ["no-contact"], "reason_declined": True},
        headers=auth,
    )

    assert done.status_code == 201, done.get_json()
    withdrawn = _events(family)[-1]
    assert withdrawn["payload"]["auth"]["method"] == "otp-console"
    assert withdrawn["payload"]["auth"]["factors"] == ["session", "otp"]
