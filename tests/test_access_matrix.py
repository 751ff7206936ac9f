"""Who may call which signer route: every ``/me`` and signed-in ``/auth`` route x every caller.

Callers:

* ``anonymous``: no ``Authorization`` header;
* ``signer-A``: the guardian who must sign the record (owns it);
* ``signer-B``: a guardian of another participant at the same site, with a live session;
* ``revoked``: A's access token after that device logged out;
* ``expired``: A's access token, signed longer ago than the token lifetime.

Expected: anonymous, revoked and expired get 401 (problem+json, ``WWW-Authenticate``) and
change nothing; B gets 404 on anything naming A's record (the same answer as for a record
that does not exist, so existence is not revealed), sees only B's own items in lists, and
acts only on B's own participant and session; A is let through (2xx). Request bodies are
valid for A's record, so a refusal is about access and never about validation.

Rows that name no record act on the caller's own things: B's dissent (by B's child: only a
participant signer may dissent), withdrawal, ``/auth/me``, logout, step-up and the code by
e-mail or SMS for an authenticator touch only B's participant, signer and session; starting
an app with A's contact code (even the right one) or confirming or stepping up with a code
from A's authenticator app is refused to B (generic 401) and still works for A afterwards. On
``/auth/step-up/<id>/verify``, B presenting A's challenge, even with A's right code, gets
the generic 401 of the code routes and A can still use it.
``/auth/tokens/refresh`` takes a refresh token, not a bearer token: a made-up one
(anonymous) or the logged-out session's (revoked) is 401; B presenting A's from B's device is
401; A's expired access token does not stop A's live refresh token (200: that is what
refreshing is for).

The route table is checked against the app's URL map: a new signer route without a row
here fails :func:`test_the_matrix_covers_every_signer_route`.

The database is built once for the module (two consented families with a sealed document
each, plus sessions); rows that change state (signing, declining, logging out, refreshing)
run signer A on a family of their own, made for that one test.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mongoengine
import pyotp
import pytest
from itsdangerous import TimestampSigner

from backend.auth import ACCESS_TOKEN_TTL_S, _serializer
from consentkit import db as database
from consentkit.clock import now_utc
from consentkit.models.access import OtpChallenge, SignerSession
from consentkit.models.audit import ConsentRecord
from consentkit.models.participant import Signer
from consentkit.services import (
    access,
    audit,
    ceremony,
    documents,
    evidence,
    participants,
    participation,
    records,
)
from tests.consentkit.records_helpers import (
    STAFF,
    STROKES,
    Family,
    consented_family,
    content,
    make_family,
    prepare,
)

API = "/api/v1"
CODE_SENT = re.compile(r"one-time code\] to .*: (\d{6})")
#: Auth routes that need no session: they are how a signer gets one.
PUBLIC_AUTH_ROUTES = {
    ("POST", "/api/v1/auth/invitations/redeem"),
    ("POST", "/api/v1/auth/challenges/<challenge_id>/verify"),
}
UNAUTHENTICATED = ("anonymous", "revoked", "expired")
CALLERS = ("anonymous", "signer-A", "signer-B", "revoked", "expired")

_addresses = itertools.count(1)
_codes = itertools.count(1)


def _new_address() -> dict[str, str]:
    """A client address of its own for each sign-in, so per-address limits never interfere."""
    n = next(_addresses)
    return {"REMOTE_ADDR": f"10.91.{n // 250}.{n % 250 + 1}"}


def _with_code(send: Callable[[], Any]) -> tuple[Any, str]:
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

    def step_up(self) -> tuple[str, str]:
        """Ask for a fresh code; return the challenge id and the code."""
        sent, code = _with_code(
            lambda: self.client.post(f"{API}/auth/step-up", headers=self.headers)
        )
        assert sent.status_code == 202, sent.get_json()
        return sent.get_json()["challenge_id"], code

    def contact_code(self) -> tuple[str, str]:
        """Ask for the code by e-mail or SMS that setting up an app needs; return id and code."""
        sent, code = _with_code(
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
    sent, code = _with_code(
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


def _side(client: Any, code: str) -> Side:
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


@pytest.fixture(scope="module")
def world(
    connected: str, db_name: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """Two families at the same site, built once for the module on an emptied database."""
    from backend import create_app
    from consentkit.services.forms import forget_catalogs
    from consentkit.services.importing import import_demo_study

    database.connect(connected, db_name=db_name)
    forget_catalogs()
    db = mongoengine.get_db()
    for name in db.list_collection_names():
        if not name.startswith("system."):
            db[name].delete_many({})
    import_demo_study()
    with pytest.MonkeyPatch.context() as patch:
        data_dir: Path = tmp_path_factory.mktemp("access-matrix")
        patch.setenv("CONSENTKIT_OTP_SENDER", "console")
        patch.setenv("CONSENTKIT_DATA_DIR", str(data_dir))
        app = create_app(
            {
                "TESTING": True,
                "MONGODB_URI": connected,
                "MONGODB_DB": db_name,
                "DATA_DIR": str(data_dir),
            }
        )
        client = app.test_client()
        a = _side(client, "P-A01")
        b = _side(client, "P-B01")
        b.child = sign_in(client, b.family, b.family.child)
        revoked = sign_in(client, a.family, a.family.guardians[0])
        assert client.post(f"{API}/auth/logout", headers=revoked.headers).status_code == 204
        world = World(app, client, a, b, revoked, "", a.phone.step_up())
        world.expired_token = world.forge_token(a.phone.session_id, ACCESS_TOKEN_TTL_S + 60)
        yield world


# ---------------------------------------------------------------- what a row sends


@dataclass
class Ctx:
    """What a request names: a record (its id and text), a phone, maybe a step-up challenge."""

    family: Family
    record_id: str
    text: dict[str, Any]
    phone: Phone
    challenge: tuple[str, str] | None = None
    #: The secret of an authenticator app the phone enrolled.
    totp_secret: str | None = None
    #: A withdrawal of the family (its event), for the rows that name one.
    seq: int | None = None


def _ctx(side: Side, record: ConsentRecord, phone: Phone | None = None) -> Ctx:
    return Ctx(side.family, record.record_id, content(record, "fr"), phone or side.phone)


def _views(ctx: Ctx) -> dict[str, Any]:
    return {
        "locale": "fr",
        "sections": [{"id": s["id"], "seconds": 25} for s in ctx.text["sections"]],
    }


def _answers(ctx: Ctx) -> dict[str, Any]:
    return {"locale": "fr", "answers": {q["id"]: q["correct"] for q in ctx.text["questions"]}}


def _choices(ctx: Ctx) -> dict[str, Any]:
    return {"choices": {i["id"]: True for i in ctx.text["items"]}}


def _signature(ctx: Ctx) -> dict[str, Any]:
    return {
        "locale": "fr",
        "content_sha256": ctx.text["sha"],
        "printed_name": participants.signer_identity(ctx.phone.signer)["name"],
        "strokes": STROKES,
        "early_signing_justification": "The family asked to sign today",
    }


def _refresh(ctx: Ctx) -> dict[str, Any]:
    return {"refresh_token": ctx.phone.refresh_token, "device_id": ctx.phone.device_id}


def _app_code(ctx: Ctx, ahead_s: int = 0) -> dict[str, str]:
    """The code the authenticator app shows (``ahead_s`` later); any well-formed code without."""
    if ctx.totp_secret is None:
        return {"code": "123456"}
    return {"code": pyotp.TOTP(ctx.totp_secret).at(int(time.time()) + ahead_s)}


# ---------------------------------------------------------------- preparing signer A


def _read(ctx: Ctx) -> None:
    ceremony.record_views(
        ctx.family.participant,
        ctx.record_id,
        signer_id=str(ctx.phone.signer.id),
        locale="fr",
        sections=_views(ctx)["sections"],
        actor=evidence.Actor(kind="signer", id=str(ctx.phone.signer.id), role="guardian"),
    )


def _read_and_answer(ctx: Ctx) -> None:
    _read(ctx)
    ceremony.answer_questions(
        ctx.family.participant,
        ctx.record_id,
        signer_id=str(ctx.phone.signer.id),
        locale="fr",
        answers=_answers(ctx)["answers"],
        actor=evidence.Actor(kind="signer", id=str(ctx.phone.signer.id), role="guardian"),
    )


def _ready_to_sign(ctx: Ctx) -> None:
    record = ConsentRecord.objects(record_id=ctx.record_id).get()
    prepare(ctx.family, record, ctx.phone.signer, at=now_utc())
    ctx.phone.fresh_code()


def _fresh_code(ctx: Ctx) -> None:
    ctx.phone.fresh_code()


def _challenge(ctx: Ctx) -> None:
    ctx.challenge = ctx.phone.step_up()


def _contact_challenge(ctx: Ctx) -> None:
    ctx.challenge = ctx.phone.contact_code()


def _proof(ctx: Ctx) -> dict[str, str]:
    """The body that starts an app: the code by e-mail or SMS (any well-formed one without)."""
    challenge_id, code = ctx.challenge or ("0" * 32, "000000")
    return {"challenge_id": challenge_id, "code": code}


def _start_authenticator(ctx: Ctx) -> None:
    _contact_challenge(ctx)
    started = ctx.phone.client.post(
        f"{API}/auth/authenticator", json=_proof(ctx), headers=ctx.phone.headers
    )
    assert started.status_code == 201, started.get_json()
    ctx.totp_secret = started.get_json()["secret"]


def _enrol_authenticator(ctx: Ctx) -> None:
    """Enrol with the app's current code; step-ups then use the next one (each works once)."""
    _start_authenticator(ctx)
    confirmed = ctx.phone.client.post(
        f"{API}/auth/authenticator/confirm", json=_app_code(ctx), headers=ctx.phone.headers
    )
    assert confirmed.status_code == 204, confirmed.get_json()


# ---------------------------------------------------------------- checking signer A


def _event(kind: str, state: str | None = None) -> Callable[[Any, Ctx], None]:
    def check(response: Any, ctx: Ctx) -> None:
        body = response.get_json()
        assert body["type"] == kind
        assert last_event(ctx.family)["type"] == kind
        assert last_event(ctx.family)["seq"] == body["seq"]
        if state is not None:
            assert body["state"] == state

    return check


def _is_the_records_text(response: Any, ctx: Ctx) -> None:
    body = response.get_json()
    assert body["locale"] == "fr"
    assert body["content_sha256"] == ctx.text["sha"]


def _passed(response: Any, ctx: Ctx) -> None:
    assert response.get_json()["passed"] is True


def _is_a_pdf(response: Any, ctx: Ctx) -> None:
    assert response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF")


def _is_me(response: Any, ctx: Ctx) -> None:
    assert response.get_json()["participant_code"] == ctx.family.participant.code
    assert response.get_json()["device_id"] == ctx.phone.device_id


def _logged_out(response: Any, ctx: Ctx) -> None:
    again = ctx.phone.client.get(f"{API}/auth/me", headers=ctx.phone.headers)
    assert again.status_code == 401


def _challenge_sent(response: Any, ctx: Ctx) -> None:
    challenge = OtpChallenge.objects(challenge_id=response.get_json()["challenge_id"]).get()
    assert challenge.session_id == ctx.phone.session_id


def _fresh_for_ten_minutes(response: Any, ctx: Ctx) -> None:
    assert response.get_json()["valid_for_s"] == 600


def _contact_code_sent(response: Any, ctx: Ctx) -> None:
    challenge = OtpChallenge.objects(challenge_id=response.get_json()["challenge_id"]).get()
    assert (challenge.session_id, challenge.purpose) == (ctx.phone.session_id, "authenticator")


def _authenticator_offered(response: Any, ctx: Ctx) -> None:
    offer = response.get_json()
    assert offer["provisioning_uri"].startswith("otpauth://totp/")
    assert ctx.family.participant.code in offer["provisioning_uri"]
    assert "<svg" in offer["qr_svg"]
    assert totp_state(ctx.phone.signer)[1] is not None  # pending until a first code


def _authenticator_on(response: Any, ctx: Ctx) -> None:
    me = ctx.phone.client.get(f"{API}/auth/me", headers=ctx.phone.headers)
    assert me.get_json()["authenticator"] is True
    assert last_event(ctx.family)["type"] == "signer.authenticator-enrolled"


def _stepped_up(response: Any, ctx: Ctx) -> None:
    assert response.get_json()["valid_for_s"] == 600
    assert SignerSession.objects(session_id=ctx.phone.session_id).get().step_up_at is not None


def _rotated(response: Any, ctx: Ctx) -> None:
    tokens = response.get_json()
    me = ctx.phone.client.get(
        f"{API}/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert me.status_code == 200
    assert tokens["refresh_token"] != ctx.phone.refresh_token


# ---------------------------------------------------------------- signer B on their own things


def _b_dissent(world: World, row: Row) -> None:
    child = world.b.child
    assert child is not None
    before = chain_length(world.a.family), chain_length(world.b.family)
    response = row.send(child.client, _ctx(world.b, world.b.open, child), child.headers)
    assert response.status_code == 200, response.get_json()
    assert last_event(world.b.family)["type"] == "assent.dissent"
    assert (chain_length(world.a.family), chain_length(world.b.family)) == (
        before[0],
        before[1] + 1,
    )


def _b_withdrawal(world: World, row: Row) -> None:
    world.b.phone.fresh_code()
    before = chain_length(world.a.family), chain_length(world.b.family)
    response = row.send(world.client, _ctx(world.b, world.b.open), world.b.phone.headers)
    assert response.status_code == 201, response.get_json()
    assert last_event(world.b.family)["type"] == "withdrawal.recorded"
    assert (chain_length(world.a.family), chain_length(world.b.family)) == (
        before[0],
        before[1] + 1,
    )


def _withdraw(ctx: Ctx) -> None:
    event = participation.withdraw(
        ctx.family.participant,
        scopes=["no-further-contact"],
        actor=STAFF,
        expressed_by=str(ctx.phone.signer.id),
        reason_declined=True,
    )
    ctx.seq = event.seq


def _b_withdrawal_document(world: World, row: Row) -> None:
    """B names A's withdrawal (by its event) on B's own participant: not B's, so 404."""
    family, record = _fresh_family()
    a = Ctx(family, record.record_id, content(record, "fr"), world.a.phone)
    _withdraw(a)
    b = Ctx(world.b.family, world.b.open.record_id, a.text, world.b.phone, seq=a.seq)

    assert_not_found(row.send(world.client, b, world.b.phone.headers))


def _lists_the_withdrawal(response: Any, ctx: Ctx) -> None:
    [listed] = [w for w in response.get_json() if w["seq"] == ctx.seq]
    assert listed["document"] == f"/me/withdrawals/{ctx.seq}/document"
    assert listed["summary"]


def _b_withdrawals(world: World, row: Row) -> None:
    """B lists B's own participant's withdrawals only."""
    response = row.send(world.client, _ctx(world.b, world.b.open), world.b.phone.headers)
    theirs = [
        e["seq"]
        for e in audit.chain_dicts(str(world.b.family.participant.id))
        if e["type"] == "withdrawal.recorded"
    ]
    assert response.status_code == 200
    assert [w["seq"] for w in response.get_json()] == theirs


def _summarised(response: Any, ctx: Ctx) -> None:
    assert response.get_json()["scopes"] == ["no-further-contact"]


def _b_summary(world: World, row: Row) -> None:
    response = row.send(world.client, _ctx(world.b, world.b.open), world.b.phone.headers)
    assert response.status_code == 200
    assert response.get_json()["scopes"] == ["no-further-contact"]


def _b_me(world: World, row: Row) -> None:
    response = row.send(world.client, _ctx(world.b, world.b.open), world.b.phone.headers)
    assert response.status_code == 200
    assert response.get_json()["participant_code"] == "P-B01"


def _b_logout(world: World, row: Row) -> None:
    throwaway = sign_in(world.client, world.b.family, world.b.family.guardians[0])
    response = row.send(world.client, _ctx(world.b, world.b.open, throwaway), throwaway.headers)
    assert response.status_code == 204
    assert world.client.get(f"{API}/auth/me", headers=throwaway.headers).status_code == 401
    assert world.client.get(f"{API}/auth/me", headers=world.a.phone.headers).status_code == 200
    assert world.client.get(f"{API}/auth/me", headers=world.b.phone.headers).status_code == 200


def _b_step_up(world: World, row: Row) -> None:
    response, _ = _with_code(
        lambda: row.send(world.client, _ctx(world.b, world.b.open), world.b.phone.headers)
    )
    assert response.status_code == 202
    challenge = OtpChallenge.objects(challenge_id=response.get_json()["challenge_id"]).get()
    assert challenge.session_id == world.b.phone.session_id


def _b_verify(world: World, row: Row) -> None:
    """Even with A's right code, B cannot spend A's challenge; A still can afterwards."""
    ctx = _ctx(world.a, world.a.open, world.b.phone)
    ctx.challenge = world.a_challenge
    b_fresh_at = SignerSession.objects(session_id=world.b.phone.session_id).get().step_up_at

    refused = row.send(world.client, ctx, world.b.phone.headers)

    assert_unauthenticated(refused)
    assert refused.get_json()["message"] == access.GENERIC
    assert SignerSession.objects(session_id=world.b.phone.session_id).get().step_up_at == b_fresh_at
    ctx.phone = world.a.phone
    assert row.send(world.client, ctx, world.a.phone.headers).status_code == 200


def _b_refresh(world: World, row: Row) -> None:
    """A's refresh token presented with B's device is refused, and A's keeps working."""
    family, record = _fresh_family()
    owner = sign_in(world.client, family, family.guardians[0])
    stolen = {"refresh_token": owner.refresh_token, "device_id": world.b.phone.device_id}
    refused = world.client.post(
        f"{API}/auth/tokens/refresh", json=stolen, headers=world.b.phone.headers
    )
    assert_unauthenticated(refused)
    ctx = Ctx(family, record.record_id, content(record, "fr"), owner)
    assert row.send(world.client, ctx, owner.headers).status_code == 200


def totp_state(signer: Signer) -> tuple[Any, ...]:
    found = Signer.objects(id=signer.id).get()
    return found.totp_secret, found.totp_pending, found.totp_last_step


def _b_contact_challenge(world: World, row: Row) -> None:
    """B's code goes to B's contact, for B's session; A's signer is untouched."""
    before = chain_length(world.a.family), totp_state(world.a.family.guardians[0])
    b = sign_in(world.client, world.b.family, world.b.family.guardians[0])

    response, _ = _with_code(
        lambda: row.send(world.client, _ctx(world.b, world.b.open, b), b.headers)
    )

    assert response.status_code == 202, response.get_json()
    challenge = OtpChallenge.objects(challenge_id=response.get_json()["challenge_id"]).get()
    assert (challenge.signer_id, challenge.session_id) == (str(b.signer.id), b.session_id)
    assert (chain_length(world.a.family), totp_state(world.a.family.guardians[0])) == before


def _b_authenticator(world: World, row: Row) -> None:
    """B presenting A's code (even the right one) is refused, A can still use it; B's own works."""
    family, record = _fresh_family()
    owner = sign_in(world.client, family, family.guardians[0])
    a_ctx = Ctx(family, record.record_id, content(record, "fr"), owner)
    _contact_challenge(a_ctx)
    b = sign_in(world.client, world.b.family, world.b.family.guardians[0])
    with_a_code = Ctx(world.b.family, world.b.open.record_id, a_ctx.text, b, a_ctx.challenge)

    refused = row.send(world.client, with_a_code, b.headers)

    assert_unauthenticated(refused)
    assert refused.get_json()["message"] == access.GENERIC
    assert totp_state(b.signer)[1] is None
    assert row.send(world.client, a_ctx, owner.headers).status_code == 201
    own = _ctx(world.b, world.b.open, b)
    _contact_challenge(own)
    response = row.send(world.client, own, b.headers)
    assert response.status_code == 201, response.get_json()
    assert "P-B01" in response.get_json()["provisioning_uri"]
    assert "P-A01" not in response.get_json()["provisioning_uri"]
    assert totp_state(b.signer)[1] is not None


def _b_with_as_app(world: World, row: Row, prepare_app: Callable[[Ctx], None]) -> None:
    """B sends a code from A's authenticator app: refused, and A's app still works after."""
    family, record = _fresh_family()
    owner = sign_in(world.client, family, family.guardians[0])
    ctx = Ctx(family, record.record_id, content(record, "fr"), owner)
    prepare_app(ctx)
    before = totp_state(owner.signer)
    b = sign_in(world.client, world.b.family, world.b.family.guardians[0])
    with_a_code = Ctx(world.b.family, world.b.open.record_id, ctx.text, b, None, ctx.totp_secret)

    refused = row.send(world.client, with_a_code, b.headers)

    assert_unauthenticated(refused)
    assert refused.get_json()["message"] == access.GENERIC
    assert SignerSession.objects(session_id=b.session_id).get().step_up_at is None
    assert totp_state(owner.signer) == before
    assert row.send(world.client, ctx, owner.headers).status_code < 300


def _b_confirm(world: World, row: Row) -> None:
    _b_with_as_app(world, row, _start_authenticator)


def _b_step_up_authenticator(world: World, row: Row) -> None:
    _b_with_as_app(world, row, _enrol_authenticator)


# ---------------------------------------------------------------- the table


@dataclass(frozen=True)
class Row:
    """One route and what each caller should get from it."""

    method: str
    rule: str
    body: Callable[[Ctx], dict[str, Any]] | None = None
    #: record: names A's record (B gets 404); list: the caller's own items; self: acts on the
    #: caller's own participant or session (B gets its own, see ``other``).
    scope: str = "record"
    #: Which of A's records the URL or body names: open, or done (consented, with a document).
    record: str = "open"
    #: Signer A runs on a family made for the test (the row changes state), else the module's.
    own_family: bool = True
    a_role: str = "guardian"
    a_prepare: Callable[[Ctx], None] | None = None
    a_status: int = 200
    a_check: Callable[[Any, Ctx], None] | None = None
    #: Signer B: made ready so that only access can refuse them (e.g. a fresh code to sign).
    b_prepare: Callable[[World], None] | None = None
    #: Signer B on a "self" row: runs and checks the call itself.
    other: Callable[[World, Row], None] | None = None
    #: The unauthenticated callers, when the route takes no bearer token.
    unauthenticated: Callable[[World, str, Row], None] | None = None
    ids_of: Callable[[Side], set[str]] = field(default=lambda side: side.ids)
    query: str = ""

    @property
    def id(self) -> str:
        return f"{self.method} {self.rule.removeprefix(API)}"

    def send(self, client: Any, ctx: Ctx, headers: dict[str, str]) -> Any:
        url = self.rule.replace("<record_id>", ctx.record_id).replace(
            "<int:seq>", str(ctx.seq or 1)
        )
        if "<challenge_id>" in url:
            assert ctx.challenge is not None
            url = url.replace("<challenge_id>", ctx.challenge[0])
        body = self.body(ctx) if self.body else None
        return client.open(url + self.query, method=self.method, json=body, headers=headers)


def _refresh_without_a_session(world: World, caller: str, row: Row) -> None:
    """The refresh token is the credential here: an access token is neither needed nor enough."""
    if caller == "anonymous":
        bogus = {"refresh_token": uuid.uuid4().hex * 2, "device_id": world.a.phone.device_id}
        assert_unauthenticated(world.client.post(f"{API}/auth/tokens/refresh", json=bogus))
    elif caller == "revoked":
        ctx = _ctx(world.a, world.a.open, world.revoked)
        assert_unauthenticated(row.send(world.client, ctx, world.revoked.headers))
    else:  # expired: refreshing is exactly what an expired access token is for
        family, record = _fresh_family()
        owner = sign_in(world.client, family, family.guardians[0])
        expired = world.forge_token(owner.session_id, ACCESS_TOKEN_TTL_S + 60)
        ctx = Ctx(family, record.record_id, content(record, "fr"), owner)
        response = row.send(world.client, ctx, {"Authorization": f"Bearer {expired}"})
        assert response.status_code == 200, response.get_json()


ME = f"{API}/me"
RECORD = f"{ME}/records/<record_id>"
ROWS = [
    Row(
        "GET",
        f"{ME}/tasks",
        scope="list",
        own_family=False,
        ids_of=lambda s: s.ids - {s.document_id},
    ),
    Row("GET", f"{RECORD}/form", own_family=False, a_check=_is_the_records_text),
    Row("POST", f"{RECORD}/views", body=_views, a_check=_event("information.viewed")),
    Row(
        "POST",
        f"{RECORD}/answers",
        body=_answers,
        a_prepare=_read,
        a_check=_passed,
    ),
    Row(
        "POST",
        f"{RECORD}/choices",
        body=_choices,
        a_prepare=_read_and_answer,
        a_check=_event("items.chosen"),
    ),
    Row(
        "POST",
        f"{RECORD}/signature",
        body=_signature,
        a_prepare=_ready_to_sign,
        a_check=_event("signature.added"),
        b_prepare=lambda world: world.b.phone.fresh_code(),
    ),
    Row(
        "POST",
        f"{RECORD}/decline",
        body=lambda ctx: {"reason": "We would rather not"},
        a_check=_event("consent.declined", "declined"),
    ),
    Row(
        "POST",
        f"{ME}/dissent",
        body=lambda ctx: {"note": "Said no at the visit"},
        scope="self",
        a_role="participant",
        a_check=_event("assent.dissent"),
        other=_b_dissent,
    ),
    Row(
        "POST",
        f"{ME}/withdrawals",
        body=lambda ctx: {"choices": ["no-contact"], "reason_declined": True},
        scope="self",
        a_prepare=_fresh_code,
        a_status=201,
        a_check=_event("withdrawal.recorded"),
        other=_b_withdrawal,
    ),
    Row(
        "GET",
        f"{ME}/withdrawals",
        scope="self",
        a_prepare=_withdraw,
        a_check=_lists_the_withdrawal,
        other=_b_withdrawals,
    ),
    Row(
        "GET",
        f"{ME}/withdrawals/summary",
        query="?choice=no-contact",
        scope="self",
        own_family=False,
        a_check=_summarised,
        other=_b_summary,
    ),
    Row(
        "POST",
        f"{ME}/questions",
        body=lambda ctx: {"text": "Can we talk to the nurse?", "record_id": ctx.record_id},
        a_status=201,
        a_check=_event("question.asked"),
    ),
    Row(
        "GET",
        f"{ME}/documents",
        scope="list",
        own_family=False,
        ids_of=lambda s: {s.done.record_id, s.document_id},
    ),
    Row("GET", f"{RECORD}/document", record="done", own_family=False, a_check=_is_a_pdf),
    Row(
        "GET",
        f"{ME}/withdrawals/<int:seq>/document",
        scope="self",
        a_prepare=_withdraw,
        a_check=_is_a_pdf,
        other=_b_withdrawal_document,
    ),
    Row("GET", f"{API}/auth/me", scope="self", own_family=False, a_check=_is_me, other=_b_me),
    Row(
        "POST",
        f"{API}/auth/logout",
        scope="self",
        a_status=204,
        a_check=_logged_out,
        other=_b_logout,
    ),
    Row(
        "POST",
        f"{API}/auth/step-up",
        scope="self",
        a_status=202,
        a_check=_challenge_sent,
        other=_b_step_up,
    ),
    Row(
        "POST",
        f"{API}/auth/step-up/<challenge_id>/verify",
        body=lambda ctx: {"code": ctx.challenge[1] if ctx.challenge else "000000"},
        scope="self",
        a_prepare=_challenge,
        a_check=_fresh_for_ten_minutes,
        other=_b_verify,
    ),
    Row(
        "POST",
        f"{API}/auth/authenticator/challenge",
        scope="self",
        a_status=202,
        a_check=_contact_code_sent,
        other=_b_contact_challenge,
    ),
    Row(
        "POST",
        f"{API}/auth/authenticator",
        body=_proof,
        scope="self",
        a_prepare=_contact_challenge,
        a_status=201,
        a_check=_authenticator_offered,
        other=_b_authenticator,
    ),
    Row(
        "POST",
        f"{API}/auth/authenticator/confirm",
        body=_app_code,
        scope="self",
        a_prepare=_start_authenticator,
        a_status=204,
        a_check=_authenticator_on,
        other=_b_confirm,
    ),
    Row(
        "POST",
        f"{API}/auth/step-up/authenticator",
        body=lambda ctx: _app_code(ctx, ahead_s=30),
        scope="self",
        a_prepare=_enrol_authenticator,
        a_check=_stepped_up,
        other=_b_step_up_authenticator,
    ),
    Row(
        "POST",
        f"{API}/auth/tokens/refresh",
        body=_refresh,
        scope="self",
        a_check=_rotated,
        other=_b_refresh,
        unauthenticated=_refresh_without_a_session,
    ),
]


def _fresh_family() -> tuple[Family, ConsentRecord]:
    family = make_family(f"P-F{next(_codes):03d}")
    record = records.open_record(family.participant, form_id="parental-consent", actor=STAFF)
    return family, record


def assert_unauthenticated(response: Any) -> None:
    assert response.status_code == 401, response.get_json()
    assert response.mimetype == "application/problem+json"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    body = response.get_json()
    assert body["code"] == 401
    assert body["error"] == "authentication-failed"


def assert_not_found(response: Any) -> None:
    assert response.status_code == 404, response.get_json()
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["error"] == "not-found"


def _listed_ids(response: Any) -> set[str]:
    return {v for item in response.get_json() for v in item.values() if isinstance(v, str)}


# ---------------------------------------------------------------- the tests


def test_the_matrix_covers_every_signer_route(world: World) -> None:
    routes = {
        (method, rule.rule)
        for rule in world.app.url_map.iter_rules()
        if rule.rule == ME or rule.rule.startswith((f"{ME}/", f"{API}/auth/"))
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }

    assert routes - PUBLIC_AUTH_ROUTES == {(row.method, row.rule) for row in ROWS}


def _as_unauthenticated(world: World, row: Row, caller: str) -> None:
    if row.unauthenticated is not None:
        row.unauthenticated(world, caller, row)
        return
    headers = {
        "anonymous": {},
        "revoked": world.revoked.headers,
        "expired": {"Authorization": f"Bearer {world.expired_token}"},
    }[caller]
    ctx = _ctx(world.a, world.a.done if row.record == "done" else world.a.open)
    ctx.challenge = world.a_challenge
    before = chain_length(world.a.family), totp_state(world.a.family.guardians[0])

    response = row.send(world.client, ctx, headers)

    assert_unauthenticated(response)
    assert (chain_length(world.a.family), totp_state(world.a.family.guardians[0])) == before
    assert SignerSession.objects(session_id=world.a.phone.session_id).get().revoked_at is None


def _as_owner(world: World, row: Row) -> None:
    if row.own_family:
        family, record = _fresh_family()
        signer = family.child if row.a_role == "participant" else family.guardians[0]
        ctx = Ctx(
            family,
            record.record_id,
            content(record, "fr"),
            sign_in(world.client, family, signer),
        )
    else:
        ctx = _ctx(world.a, world.a.done if row.record == "done" else world.a.open)
    if row.a_prepare is not None:
        row.a_prepare(ctx)

    response = row.send(world.client, ctx, ctx.phone.headers)

    assert response.status_code == row.a_status, response.get_json()
    if row.scope == "list":
        listed = _listed_ids(response)
        assert row.ids_of(world.a) <= listed
        assert not listed & world.b.ids
    if row.a_check is not None:
        row.a_check(response, ctx)


def _as_other_signer(world: World, row: Row) -> None:
    b = world.b.phone
    if row.scope == "self":
        assert row.other is not None
        row.other(world, row)
        return
    if row.scope == "list":
        response = row.send(world.client, _ctx(world.b, world.b.open), b.headers)
        assert response.status_code == 200
        listed = _listed_ids(response)
        assert row.ids_of(world.b) <= listed
        assert not listed & world.a.ids
        return
    if row.b_prepare is not None:
        row.b_prepare(world)
    target = world.a.done if row.record == "done" else world.a.open
    ctx = _ctx(world.a, target, b)
    before = chain_length(world.a.family), chain_length(world.b.family)

    theirs = row.send(world.client, ctx, b.headers)
    nobodys = row.send(
        world.client,
        Ctx(ctx.family, uuid.uuid4().hex, ctx.text, b),
        b.headers,
    )

    assert_not_found(theirs)
    assert (nobodys.status_code, nobodys.get_json()) == (404, theirs.get_json())
    assert (chain_length(world.a.family), chain_length(world.b.family)) == before


def _cases() -> list[Any]:
    return [
        pytest.param(row, caller, id=f"{row.id} as {caller}") for row in ROWS for caller in CALLERS
    ]


@pytest.mark.parametrize(("row", "caller"), _cases())
def test_access(world: World, row: Row, caller: str) -> None:
    if caller in UNAUTHENTICATED:
        _as_unauthenticated(world, row, caller)
    elif caller == "signer-A":
        _as_owner(world, row)
    else:
        _as_other_signer(world, row)


@pytest.mark.parametrize(
    ("age_s", "status"),
    [(0, 200), (ACCESS_TOKEN_TTL_S - 30, 200), (ACCESS_TOKEN_TTL_S + 60, 401)],
)
def test_forged_tokens_fail_only_by_age(world: World, age_s: int, status: int) -> None:
    """The expired token of the matrix is a faithful token: only its age makes it fail."""
    token = world.forge_token(world.a.phone.session_id, age_s)

    response = world.client.get(f"{API}/auth/me", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == status


def test_two_devices_can_both_log_out(world: World) -> None:
    family, _ = _fresh_family()
    phones = [sign_in(world.client, family, family.guardians[0]) for _ in range(2)]

    answers = [world.client.post(f"{API}/auth/logout", headers=p.headers) for p in phones]

    assert [a.status_code for a in answers] == [204, 204]
    for phone in phones:
        assert world.client.get(f"{API}/auth/me", headers=phone.headers).status_code == 401


def test_a_reused_refresh_token_revokes_its_session_after_another_logout(world: World) -> None:
    """Reuse detection (a copied refresh token) revokes the session: here it cannot."""
    family, _ = _fresh_family()
    phone = sign_in(world.client, family, family.guardians[0])
    old = {"refresh_token": phone.refresh_token, "device_id": phone.device_id}
    rotated = world.client.post(f"{API}/auth/tokens/refresh", json=old)
    assert rotated.status_code == 200
    new_access = {"Authorization": f"Bearer {rotated.get_json()['access_token']}"}

    reused = world.client.post(f"{API}/auth/tokens/refresh", json=old)

    assert reused.status_code == 401
    assert world.client.get(f"{API}/auth/me", headers=new_access).status_code == 401
