"""The signer access matrix's table: one ``Row`` per signer route, what it sends and checks.

``ROWS`` is checked against the app's URL map by ``test_signer_access_matrix.py``: a new
signer route without a row here fails the suite.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pyotp
from bson import ObjectId

from backend.auth import ACCESS_TOKEN_TTL_S
from consentkit.clock import now_utc
from consentkit.models.access import OtpChallenge, SignerSession
from consentkit.models.audit import ConsentRecord
from consentkit.models.document import StoredDocument
from consentkit.models.participant import Signer
from consentkit.models.publication import PublicationReceipt
from consentkit.models.study import FormVersion
from consentkit.models.task import ConsentTask
from consentkit.services import (
    access,
    audit,
    ceremony,
    evidence,
    news,
    participants,
    participation,
    questions,
    records,
    tasks,
)
from tests.backend.signer_access_world import (
    API,
    Phone,
    Side,
    World,
    chain_length,
    last_event,
    sign_in,
    with_code,
)
from tests.consentkit.records_helpers import STAFF, STROKES, Family, content, make_family, prepare

#: Auth routes that need no session: they are how a signer gets one.
PUBLIC_AUTH_ROUTES = {
    ("POST", "/api/v1/auth/invitations/redeem"),
    ("POST", "/api/v1/auth/challenges/<challenge_id>/verify"),
}
UNAUTHENTICATED = ("anonymous", "revoked", "expired")
CALLERS = ("anonymous", "signer-A", "signer-B", "revoked", "expired")

_codes = itertools.count(1)


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
    #: A study publication (news), for the rows that name one.
    publication_id: str | None = None


def ctx_for(side: Side, record: ConsentRecord, phone: Phone | None = None) -> Ctx:
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
    response = row.send(child.client, ctx_for(world.b, world.b.open, child), child.headers)
    assert response.status_code == 200, response.get_json()
    assert last_event(world.b.family)["type"] == "assent.dissent"
    assert (chain_length(world.a.family), chain_length(world.b.family)) == (
        before[0],
        before[1] + 1,
    )


def _b_withdrawal(world: World, row: Row) -> None:
    world.b.phone.fresh_code()
    before = chain_length(world.a.family), chain_length(world.b.family)
    response = row.send(world.client, ctx_for(world.b, world.b.open), world.b.phone.headers)
    assert response.status_code == 201, response.get_json()
    assert last_event(world.b.family)["type"] == "withdrawal.recorded"
    assert (chain_length(world.a.family), chain_length(world.b.family)) == (
        before[0],
        before[1] + 1,
    )


def _withdraw(ctx: Ctx) -> None:
    """A withdrawal that keeps contact, so later rows can still sign this family in."""
    event = participation.withdraw(
        ctx.family.participant,
        scopes=["stop-imp"],
        actor=STAFF,
        expressed_by=str(ctx.phone.signer.id),
        reason_declined=True,
    )
    ctx.seq = event.seq


def _b_withdrawal_document(world: World, row: Row) -> None:
    """B names A's withdrawal (by its event) on B's own participant: not B's, so 404."""
    family, record = fresh_family()
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
    response = row.send(world.client, ctx_for(world.b, world.b.open), world.b.phone.headers)
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
    response = row.send(world.client, ctx_for(world.b, world.b.open), world.b.phone.headers)
    assert response.status_code == 200
    assert response.get_json()["scopes"] == ["no-further-contact"]


def _task(ctx: Ctx) -> None:
    """Give A's family a re-consent task of the parents' form, due today."""
    record = ConsentRecord.objects(record_id=ctx.record_id).get()
    participant = ctx.family.participant
    ConsentTask(
        key=f"matrix-{participant.code}",
        trial_id=participant.trial_id,
        participant_id=str(participant.id),
        participant_code=participant.code,
        site_code=participant.site_code,
        reason="reconsent",
        form_kind=record.form_kind,
        form_id=record.form_id,
        version=str(record.version),
        due_date=now_utc().date(),
        created_at=now_utc(),
    ).save()


def _opened_the_task(response: Any, ctx: Ctx) -> None:
    assert response.get_json()["task_key"] == f"matrix-{ctx.family.participant.code}"
    assert response.get_json()["record_id"] == ctx.record_id  # the open record, linked


def _b_open_task(world: World, row: Row) -> None:
    """B names A's task: not found, as a task of another family is."""
    response = row.send(world.client, ctx_for(world.a, world.a.open), world.b.phone.headers)
    assert response.status_code == 404
    assert response.get_json()["error"] == "task-not-found"


def _inform(ctx: Ctx) -> None:
    """Tell A's consented record of its own version's text, as a minor version would."""
    record = ConsentRecord.objects(record_id=ctx.record_id).get()
    version = FormVersion.objects.get(
        trial_id=record.trial_id, form_id=record.form_id, version=record.version
    )
    tasks._inform(ctx.family.participant, record, version, now=now_utc())


def _is_the_information(response: Any, ctx: Ctx) -> None:
    record = ConsentRecord.objects(record_id=ctx.record_id).get()
    body = response.get_json()
    assert (body["form_id"], body["version"]) == (record.form_id, record.version)


def _b_information(world: World, row: Row) -> None:
    """B was told of nothing: A's information is not found, as B's own would not be."""
    response = row.send(world.client, ctx_for(world.a, world.a.done), world.b.phone.headers)
    assert response.status_code == 404
    assert response.get_json()["error"] == "information-not-found"


def _b_me(world: World, row: Row) -> None:
    response = row.send(world.client, ctx_for(world.b, world.b.open), world.b.phone.headers)
    assert response.status_code == 200
    assert response.get_json()["participant_code"] == "P-B01"


def _unsubscribed(response: Any, ctx: Ctx) -> None:
    assert response.get_json()["is_unsubscribed"] is True
    again = ctx.phone.client.get(f"{API}/me/contact-settings", headers=ctx.phone.headers)
    assert again.get_json()["is_unsubscribed"] is True


def _asked_and_answered(ctx: Ctx) -> None:
    """A's signer asks a question (as the app does) and the team answers it."""
    event = audit.append(
        ctx.family.participant,
        lambda _e: audit.Draft(
            type="question.asked",
            actor={"kind": "signer", "id": str(ctx.phone.signer.id), "role": "guardian"},
            payload={"text": "Can we talk to the nurse?"},
        ),
    )
    questions.answer_question(
        ctx.family.participant, event.seq, text="Yes, call the ward.", locale="fr", actor=STAFF
    )
    ctx.seq = event.seq


def _lists_the_answer(response: Any, ctx: Ctx) -> None:
    [asked] = [q for q in response.get_json() if q["seq"] == ctx.seq]
    assert (asked["status"], asked["answers"][0]["text"]) == ("answered", "Yes, call the ward.")


def _b_questions(world: World, row: Row) -> None:
    """B lists B's own questions only: none of A's."""
    response = row.send(world.client, ctx_for(world.b, world.b.open), world.b.phone.headers)
    assert response.status_code == 200
    mine = {
        e["seq"]
        for e in audit.chain_dicts(str(world.b.family.participant.id))
        if e["type"] == "question.asked" and e["actor"]["id"] == str(world.b.phone.signer.id)
    }
    assert {q["seq"] for q in response.get_json()} == mine


def _published(ctx: Ctx) -> None:
    published = news.publish_news(
        ctx.family.participant.trial_id,
        kind="news",
        texts={"fr": {"title": f"Nouvelles {uuid.uuid4().hex[:6]}", "body": "Merci."}},
        by="admin-matrix",
    )
    ctx.publication_id = published.id


def _lists_the_news(response: Any, ctx: Ctx) -> None:
    [item] = [n for n in response.get_json() if n["id"] == ctx.publication_id]
    assert (item["locale"], item["is_read"]) == ("fr", False)


def _b_news(world: World, row: Row) -> None:
    """B reads the study's news with B's own read marks: A opening one marks nothing for B."""
    ctx = ctx_for(world.b, world.b.open)
    _published(ctx)
    assert ctx.publication_id is not None
    news.mark_read(world.a.family.participant, world.a.phone.signer, ctx.publication_id)
    response = row.send(world.client, ctx, world.b.phone.headers)
    assert response.status_code == 200
    [item] = [n for n in response.get_json() if n["id"] == ctx.publication_id]
    assert item["is_read"] is False


def _marked_read(response: Any, ctx: Ctx) -> None:
    assert response.get_json() == {"is_new": True}
    assert (
        PublicationReceipt.objects(
            publication_id=ctx.publication_id, signer_id=str(ctx.phone.signer.id)
        ).count()
        == 1
    )


def _b_news_read(world: World, row: Row) -> None:
    """B's read mark is B's: A's stays unmarked."""
    ctx = ctx_for(world.b, world.b.open)
    _published(ctx)
    response = row.send(world.client, ctx, world.b.phone.headers)
    assert response.status_code == 200
    readers = {r.signer_id for r in PublicationReceipt.objects(publication_id=ctx.publication_id)}
    assert readers == {str(world.b.phone.signer.id)}


def _b_contact_settings(world: World, row: Row) -> None:
    """B changes (or reads) B's own settings, never A's."""
    response = row.send(world.client, ctx_for(world.b, world.b.open), world.b.phone.headers)
    assert response.status_code == 200
    assert response.get_json()["unsubscribe_token"].startswith(str(world.b.phone.signer.id))


def _b_logout(world: World, row: Row) -> None:
    throwaway = sign_in(world.client, world.b.family, world.b.family.guardians[0])
    response = row.send(world.client, ctx_for(world.b, world.b.open, throwaway), throwaway.headers)
    assert response.status_code == 204
    assert world.client.get(f"{API}/auth/me", headers=throwaway.headers).status_code == 401
    assert world.client.get(f"{API}/auth/me", headers=world.a.phone.headers).status_code == 200
    assert world.client.get(f"{API}/auth/me", headers=world.b.phone.headers).status_code == 200


def _b_step_up(world: World, row: Row) -> None:
    response, _ = with_code(
        lambda: row.send(world.client, ctx_for(world.b, world.b.open), world.b.phone.headers)
    )
    assert response.status_code == 202
    challenge = OtpChallenge.objects(challenge_id=response.get_json()["challenge_id"]).get()
    assert challenge.session_id == world.b.phone.session_id


def _b_verify(world: World, row: Row) -> None:
    """Even with A's right code, B cannot spend A's challenge; A still can afterwards."""
    ctx = ctx_for(world.a, world.a.open, world.b.phone)
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
    family, record = fresh_family()
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

    response, _ = with_code(
        lambda: row.send(world.client, ctx_for(world.b, world.b.open, b), b.headers)
    )

    assert response.status_code == 202, response.get_json()
    challenge = OtpChallenge.objects(challenge_id=response.get_json()["challenge_id"]).get()
    assert (challenge.signer_id, challenge.session_id) == (str(b.signer.id), b.session_id)
    assert (chain_length(world.a.family), totp_state(world.a.family.guardians[0])) == before


def _b_authenticator(world: World, row: Row) -> None:
    """B presenting A's code (even the right one) is refused, A can still use it; B's own works."""
    family, record = fresh_family()
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
    own = ctx_for(world.b, world.b.open, b)
    _contact_challenge(own)
    response = row.send(world.client, own, b.headers)
    assert response.status_code == 201, response.get_json()
    assert "P-B01" in response.get_json()["provisioning_uri"]
    assert "P-A01" not in response.get_json()["provisioning_uri"]
    assert totp_state(b.signer)[1] is not None


def _b_with_as_app(world: World, row: Row, prepare_app: Callable[[Ctx], None]) -> None:
    """B sends a code from A's authenticator app: refused, and A's app still works after."""
    family, record = fresh_family()
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


# ---------------------------------------------------------------- the family's wallet


def _wallet_ids(response: Any) -> set[str]:
    body = response.get_json()
    return {r["record_id"] for child in body["children"] for r in child["records"]} | {
        d["document_id"] for child in body["children"] for d in child["documents"]
    }


def _wallet_is_mine(response: Any, ctx: Ctx) -> None:
    listed = _wallet_ids(response)
    codes = {c["participant_code"] for c in response.get_json()["children"]}
    assert ctx.record_id in listed
    assert codes == {ctx.family.participant.code}


def _b_wallet(world: World, row: Row) -> None:
    """B's wallet holds B's records and documents, none of A's."""
    response = row.send(world.client, ctx_for(world.b, world.b.open), world.b.phone.headers)
    assert response.status_code == 200
    listed = _wallet_ids(response)
    assert world.b.ids <= listed
    assert not listed & world.a.ids


def _optional_item(ctx: Ctx) -> str:
    return next(i["id"] for i in ctx.text["items"] if not i["required"])


def _choice_change(ctx: Ctx) -> dict[str, Any]:
    return {"record_id": ctx.record_id, "item_id": _optional_item(ctx), "value": False}


def _choice_changed(response: Any, ctx: Ctx) -> None:
    _event("items.changed")(response, ctx)
    assert response.get_json()["value"] is False


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
        if "<document_id>" in url:
            # The sealed document of the record named (a made-up id for a made-up record).
            stored = StoredDocument.objects(record_id=ctx.record_id).first()
            url = url.replace("<document_id>", str(stored.id) if stored else str(ObjectId()))
        # A consent task of the family named (made by ``_task`` for the signer acting).
        url = url.replace("<task_key>", f"matrix-{ctx.family.participant.code}")
        url = url.replace("<publication_id>", ctx.publication_id or "0" * 24)
        if "<form_id>" in url:
            # The information of a version: the record's own form and version.
            named = ConsentRecord.objects(record_id=ctx.record_id).get()
            url = url.replace("<form_id>", named.form_id).replace(
                "<int:version>", str(named.version)
            )
        body = self.body(ctx) if self.body else None
        return client.open(url + self.query, method=self.method, json=body, headers=headers)


def _refresh_without_a_session(world: World, caller: str, row: Row) -> None:
    """The refresh token is the credential here: an access token is neither needed nor enough."""
    if caller == "anonymous":
        bogus = {"refresh_token": uuid.uuid4().hex * 2, "device_id": world.a.phone.device_id}
        assert_unauthenticated(world.client.post(f"{API}/auth/tokens/refresh", json=bogus))
    elif caller == "revoked":
        ctx = ctx_for(world.a, world.a.open, world.revoked)
        assert_unauthenticated(row.send(world.client, ctx, world.revoked.headers))
    else:  # expired: refreshing is exactly what an expired access token is for
        family, record = fresh_family()
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
        body=lambda ctx: {"choices": ["stop-treatment"], "reason_declined": True},
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
        f"{ME}/questions",
        scope="self",
        a_prepare=_asked_and_answered,
        a_check=_lists_the_answer,
        other=_b_questions,
    ),
    Row(
        "GET",
        f"{ME}/news",
        scope="self",
        own_family=False,
        a_prepare=_published,
        a_check=_lists_the_news,
        other=_b_news,
    ),
    Row(
        "POST",
        f"{ME}/news/<publication_id>/read",
        scope="self",
        a_prepare=_published,
        a_check=_marked_read,
        other=_b_news_read,
    ),
    Row(
        "PATCH",
        f"{ME}/contact-settings",
        body=lambda ctx: {"is_unsubscribed": True},
        scope="self",
        a_check=_unsubscribed,
        other=_b_contact_settings,
    ),
    Row(
        "GET",
        f"{ME}/contact-settings",
        scope="self",
        own_family=False,
        other=_b_contact_settings,
    ),
    Row(
        "GET",
        f"{ME}/wallet",
        scope="self",
        own_family=False,
        a_check=_wallet_is_mine,
        other=_b_wallet,
    ),
    Row(
        "GET",
        f"{ME}/wallet/documents/<document_id>",
        record="done",
        own_family=False,
        a_check=_is_a_pdf,
    ),
    Row(
        "POST",
        f"{ME}/wallet/choices",
        body=_choice_change,
        record="done",
        # A's consented record of the module's world: one more event, nothing else changes.
        own_family=False,
        a_prepare=_fresh_code,
        a_status=201,
        a_check=_choice_changed,
        b_prepare=lambda world: world.b.phone.fresh_code(),
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
        "POST",
        f"{ME}/tasks/<task_key>/open",
        scope="self",
        a_prepare=_task,
        a_check=_opened_the_task,
        other=_b_open_task,
    ),
    Row(
        "GET",
        f"{ME}/information/<form_id>/<int:version>",
        scope="self",
        record="done",
        own_family=False,
        a_prepare=_inform,
        a_check=_is_the_information,
        other=_b_information,
    ),
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


def fresh_family() -> tuple[Family, ConsentRecord]:
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


# ---------------------------------------------------------------- a young child's turn


#: The record routes a parent uses for their young child's assent ("your child's turn",
#: consentkit.policy.children), each with a valid body: (method, path under the record).
CHILD_TURN_ROUTES: list[tuple[str, str, Callable[[Ctx], dict[str, Any] | None]]] = [
    ("GET", "form", lambda ctx: None),
    ("POST", "views", _views),
    ("POST", "choices", lambda ctx: {"choices": {i["id"]: True for i in ctx.text["items"]}}),
    (
        "POST",
        "signature",
        lambda ctx: {
            "locale": "fr",
            "content_sha256": ctx.text["sha"],
            "printed_name": "Léa",
            "strokes": STROKES,
        },
    ),
]


def child_assent_family(code_prefix: str = "P-C") -> tuple[Family, ConsentRecord]:
    """A 9-year-old's family with the child's assent open (the child below 12)."""
    family = make_family(f"{code_prefix}{next(_codes):03d}", child_name="Léa Martin")
    record = records.open_record(family.participant, form_id="assent-6-9", actor=STAFF)
    return family, record
