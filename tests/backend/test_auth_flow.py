"""Signer sign-in end to end: invitation, one-time code by e-mail, tokens, step-up."""

from __future__ import annotations

from typing import Any

from consentkit.services import access
from tests.backend.signer_helpers import Outbox
from tests.backend.signer_helpers import sign_in as _sign_in


def test_sign_in_with_invitation_and_code_gives_working_tokens(
    client: Any, outbox: Outbox, invited: Any
) -> None:
    tokens = _sign_in(client, outbox, invited[1])

    me = client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert me.status_code == 200
    assert me.get_json() == {
        "trial_id": "DEMO-NBL-1",
        "participant_code": "P-001",
        "role": "guardian",
        "device_id": "device-0001",
        "authenticator": False,
        # The guardian's recorded language first, then the site's others (the pages'
        # default and their language menu).
        "language": "fr",
        "languages": ["fr", "en"],
    }


def test_one_time_code_is_accepted_once(client: Any, outbox: Outbox, invited: Any) -> None:
    sent = client.post("/api/v1/auth/invitations/redeem", json={"code": invited[1]}).get_json()
    code = outbox.last_code()
    url = f"/api/v1/auth/challenges/{sent['challenge_id']}/verify"

    first = client.post(url, json={"code": code, "device_id": "device-0001"})
    replay = client.post(url, json={"code": code, "device_id": "device-0001"})

    assert first.status_code == 200
    assert replay.status_code == 401
    assert replay.get_json()["error"] == "authentication-failed"


def test_wrong_codes_lock_the_challenge_after_five_tries(
    client: Any, outbox: Outbox, invited: Any
) -> None:
    sent = client.post("/api/v1/auth/invitations/redeem", json={"code": invited[1]}).get_json()
    right = outbox.last_code()
    wrong = "000000" if right != "000000" else "111111"
    url = f"/api/v1/auth/challenges/{sent['challenge_id']}/verify"
    answers = [client.post(url, json={"code": wrong, "device_id": "device-0001"}) for _ in range(5)]

    locked = client.post(url, json={"code": right, "device_id": "device-0001"})

    assert {a.status_code for a in answers} == {401}
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) > 0
    events = [e["type"] for e in access_history(invited[0])]
    assert events.count("access.locked-out") == 1


def access_history(family: Any) -> list[dict[str, Any]]:
    from consentkit.services import records

    return records.history(family.participant)


def test_unknown_invitation_gets_the_same_answer_as_a_revoked_one(
    client: Any, outbox: Outbox, invited: Any
) -> None:
    unknown = client.post("/api/v1/auth/invitations/redeem", json={"code": "ZZZZZZZZZZ"})

    assert unknown.status_code == 401
    assert unknown.get_json()["message"] == access.GENERIC


def test_refresh_rotates_and_a_reused_token_revokes_the_session(
    client: Any, outbox: Outbox, invited: Any
) -> None:
    tokens = _sign_in(client, outbox, invited[1])
    body = {"refresh_token": tokens["refresh_token"], "device_id": "device-0001"}

    rotated = client.post("/api/v1/auth/tokens/refresh", json=body)
    stolen = client.post("/api/v1/auth/tokens/refresh", json=body)
    after = client.post(
        "/api/v1/auth/tokens/refresh",
        json={"refresh_token": rotated.get_json()["refresh_token"], "device_id": "device-0001"},
    )

    assert rotated.status_code == 200
    assert rotated.get_json()["refresh_token"] != tokens["refresh_token"]
    assert stolen.status_code == 401
    assert after.status_code == 401  # the whole session was revoked when reuse was seen


def test_refresh_is_bound_to_the_device(client: Any, outbox: Outbox, invited: Any) -> None:
    tokens = _sign_in(client, outbox, invited[1])

    other = client.post(
        "/api/v1/auth/tokens/refresh",
        json={"refresh_token": tokens["refresh_token"], "device_id": "someone-elses-phone"},
    )

    assert other.status_code == 401


def test_logout_ends_the_session(client: Any, outbox: Outbox, invited: Any) -> None:
    tokens = _sign_in(client, outbox, invited[1])
    auth = {"Authorization": f"Bearer {tokens['access_token']}"}

    assert client.post("/api/v1/auth/logout", headers=auth).status_code == 204
    assert client.get("/api/v1/auth/me", headers=auth).status_code == 401


def test_step_up_gives_fresh_evidence_for_signing(
    client: Any, outbox: Outbox, invited: Any
) -> None:
    tokens = _sign_in(client, outbox, invited[1])
    auth = {"Authorization": f"Bearer {tokens['access_token']}"}

    sent = client.post("/api/v1/auth/step-up", headers=auth)
    verified = client.post(
        f"/api/v1/auth/step-up/{sent.get_json()['challenge_id']}/verify",
        json={"code": outbox.last_code()},
        headers=auth,
    )

    assert sent.status_code == 202
    assert verified.status_code == 200
    assert verified.get_json()["valid_for_s"] == 600


def test_redeeming_is_rate_limited_per_address(client: Any, outbox: Outbox, invited: Any) -> None:
    answers = [
        client.post("/api/v1/auth/invitations/redeem", json={"code": f"WRONG{i:05d}"})
        for i in range(21)
    ]

    assert [a.status_code for a in answers[:20]] == [401] * 20
    assert answers[20].status_code == 429
    assert answers[20].get_json()["error"] == "too-many-attempts"


def test_protected_route_without_token_is_401(client: Any) -> None:
    response = client.get("/api/v1/auth/me")

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_auth_me_keys_are_exactly_the_declared_signed_in_signer(
    client: Any, outbox: Outbox, invited: Any
) -> None:
    tokens = _sign_in(client, outbox, invited[1])

    me = client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    ).get_json()

    assert set(me) == set(access.SignedInSigner.__required_keys__)
