"""The signer access matrix's world: two families at one site, their phones, and a forged token.

Used by ``test_signer_access_matrix.py`` and ``test_signer_token_lifetime.py`` through the
module-scoped ``world`` fixture in ``conftest.py``.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from itsdangerous import TimestampSigner

from backend.auth import _serializer
from consentkit.models.access import SignerSession
from consentkit.models.audit import ConsentRecord
from consentkit.models.participant import Signer
from consentkit.services import access, audit, documents, participants, records
from tests.consentkit.records_helpers import STAFF, Family, consented_family

API = "/api/v1"
CODE_SENT = re.compile(r"one-time code\] to .*: (\d{6})")

_addresses = itertools.count(1)


def _new_address() -> dict[str, str]:
    """A client address of its own for each sign-in, so per-address limits never interfere."""
    n = next(_addresses)
    return {"REMOTE_ADDR": f"10.91.{n // 250}.{n % 250 + 1}"}


def with_code(send: Callable[[], Any]) -> tuple[Any, str]:
    """Send a request that makes the console sender print a one-time code; return both."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        response = send()
    found = CODE_SENT.findall(printed.getvalue())
    assert found, f"no one-time code was sent: {response.status_code} {response.get_json()}"
    return response, found[-1]


@dataclass
class Phone:
    """One signed-in device."""

    client: Any
    family: Family
    signer: Signer
    access_token: str
    refresh_token: str
    device_id: str
    session_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}

    @property
    def name(self) -> str:
        """The signer's name as the study team registered it: the name a signature carries."""
        return str(participants.signer_identity(self.signer)["name"])

    def step_up(self) -> tuple[str, str]:
        """Ask for a fresh code; return the challenge id and the code."""
        sent, code = with_code(
            lambda: self.client.post(f"{API}/auth/step-up", headers=self.headers)
        )
        assert sent.status_code == 202, sent.get_json()
        return sent.get_json()["challenge_id"], code

    def contact_code(self) -> tuple[str, str]:
        """Ask for the code by e-mail or SMS that setting up an app needs; return id and code."""
        sent, code = with_code(
            lambda: self.client.post(f"{API}/auth/authenticator/challenge", headers=self.headers)
        )
        assert sent.status_code == 202, sent.get_json()
        return sent.get_json()["challenge_id"], code

    def fresh_code(self) -> None:
        """Verify a fresh code, as the app does right before signing or withdrawing."""
        challenge, code = self.step_up()
        verified = self.client.post(
            f"{API}/auth/step-up/{challenge}/verify", json={"code": code}, headers=self.headers
        )
        assert verified.status_code == 200, verified.get_json()


def sign_in(client: Any, family: Family, signer: Signer) -> Phone:
    """Invitation -> redeem -> one-time code -> tokens, as the app does it."""
    invitation = access.create_invitation(family.participant, signer, actor=STAFF)
    address = _new_address()
    sent, code = with_code(
        lambda: client.post(
            f"{API}/auth/invitations/redeem", json={"code": invitation}, environ_base=address
        )
    )
    assert sent.status_code == 202, sent.get_json()
    device = f"device-{uuid.uuid4().hex[:16]}"
    tokens = client.post(
        f"{API}/auth/challenges/{sent.get_json()['challenge_id']}/verify",
        json={"code": code, "device_id": device},
        environ_base=address,
    )
    assert tokens.status_code == 200, tokens.get_json()
    body = tokens.get_json()
    session = SignerSession.objects(device_id=device).get()
    return Phone(
        client,
        family,
        signer,
        body["access_token"],
        body["refresh_token"],
        device,
        session.session_id,
    )


def chain_length(family: Family) -> int:
    return len(audit.chain_dicts(str(family.participant.id)))


def last_event(family: Family) -> dict[str, Any]:
    return audit.chain_dicts(str(family.participant.id))[-1]


@dataclass
class Side:
    """One family of the module's world: an open record, a consented one and its document."""

    family: Family
    open: ConsentRecord
    done: ConsentRecord
    document_id: str
    phone: Phone
    child: Phone | None = None

    @property
    def ids(self) -> set[str]:
        return {self.open.record_id, self.done.record_id, self.document_id}


@dataclass
class World:
    app: Any
    client: Any
    a: Side
    b: Side
    revoked: Phone
    expired_token: str
    #: A step-up challenge of A's session and its code.
    a_challenge: tuple[str, str]

    def forge_token(self, session_id: str, age_s: int) -> str:
        """An access token for ``session_id`` made with the app's own serializer ``age_s`` ago."""

        class _SignedEarlier(TimestampSigner):
            def get_timestamp(self) -> int:
                return int(time.time()) - age_s

        with self.app.app_context():
            serializer = _serializer()
        serializer.signer = _SignedEarlier
        token: str = serializer.dumps({"sid": session_id})
        return token


def build_side(client: Any, code: str) -> Side:
    family, done = consented_family(code)
    document = documents.consent_document(family.participant, done.record_id)
    # Version 1 is still published: a second record the guardian must sign, open now.
    opened = records.open_record(
        family.participant, form_id="parental-consent", version=1, actor=STAFF
    )
    return Side(
        family,
        opened,
        done,
        str(document.document.id),
        sign_in(client, family, family.guardians[0]),
    )
