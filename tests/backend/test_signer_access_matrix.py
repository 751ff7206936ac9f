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

The route table (``ROWS`` in ``signer_access_rows.py``) is checked against the app's URL
map: a new signer route without a row there fails
:func:`test_the_matrix_covers_every_signer_route`.

The database is built once for the module (the ``world`` fixture in ``conftest.py``: two
consented families with a sealed document each, plus sessions); rows that change state
(signing, declining, logging out, refreshing) run signer A on a family of their own, made
for that one test.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from consentkit.models.access import SignerSession
from tests.backend.signer_access_rows import (
    CALLERS,
    CHILD_TURN_ROUTES,
    ME,
    PUBLIC_AUTH_ROUTES,
    ROWS,
    UNAUTHENTICATED,
    Ctx,
    Row,
    assert_not_found,
    assert_unauthenticated,
    child_assent_family,
    ctx_for,
    fresh_family,
    totp_state,
)
from tests.backend.signer_access_world import API, World, chain_length, sign_in
from tests.consentkit.records_helpers import content


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
    ctx = ctx_for(world.a, world.a.done if row.record == "done" else world.a.open)
    ctx.challenge = world.a_challenge
    before = chain_length(world.a.family), totp_state(world.a.family.guardians[0])

    response = row.send(world.client, ctx, headers)

    assert_unauthenticated(response)
    assert (chain_length(world.a.family), totp_state(world.a.family.guardians[0])) == before
    assert SignerSession.objects(session_id=world.a.phone.session_id).get().revoked_at is None


def _as_owner(world: World, row: Row) -> None:
    if row.own_family:
        family, record = fresh_family()
        signer = family.child if row.a_role == "participant" else family.guardians[0]
        ctx = Ctx(
            family,
            record.record_id,
            content(record, "fr"),
            sign_in(world.client, family, signer),
        )
    else:
        ctx = ctx_for(world.a, world.a.done if row.record == "done" else world.a.open)
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
        response = row.send(world.client, ctx_for(world.b, world.b.open), b.headers)
        assert response.status_code == 200
        listed = _listed_ids(response)
        assert row.ids_of(world.b) <= listed
        assert not listed & world.a.ids
        return
    if row.b_prepare is not None:
        row.b_prepare(world)
    target = world.a.done if row.record == "done" else world.a.open
    ctx = ctx_for(world.a, target, b)
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


# ---------------------------------------------------------------- a young child's turn


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [*CHILD_TURN_ROUTES, ("POST", "dissent", lambda ctx: {"record_id": ctx.record_id})],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_another_familys_parent_cannot_open_a_childs_assent(
    world: World, method: str, path: str, body: Any
) -> None:
    # B's parent has a young child too, so "your child's turn" is open to them, for B's child.
    family, record = child_assent_family()
    ctx = Ctx(family, record.record_id, content(record, "fr"), world.b.phone)
    before = chain_length(family)
    url = f"{ME}/dissent" if path == "dissent" else f"{ME}/records/{record.record_id}/{path}"

    response = world.client.open(url, method=method, json=body(ctx), headers=world.b.phone.headers)

    assert_not_found(response)
    assert chain_length(family) == before


def test_a_parent_opens_only_their_own_childs_assent(world: World) -> None:
    family, record = child_assent_family()
    parent = sign_in(world.client, family, family.guardians[0])
    ctx = Ctx(family, record.record_id, content(record, "fr"), parent)

    answers = [
        world.client.open(
            f"{ME}/records/{record.record_id}/{path}",
            method=method,
            json=body(ctx),
            headers=parent.headers,
        )
        for method, path, body in CHILD_TURN_ROUTES
    ]

    assert [a.status_code for a in answers] == [200] * len(CHILD_TURN_ROUTES), [
        a.get_json() for a in answers
    ]
    tasks = world.client.get(f"{ME}/tasks", headers=world.b.phone.headers).get_json()
    assert record.record_id not in {t["record_id"] for t in tasks}
