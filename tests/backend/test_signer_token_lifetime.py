"""Signer tokens over HTTP: an access token fails only by its age; logout and refresh reuse.

The tokens are those of the signer access matrix's world (``conftest.py``): the expired
token the matrix uses is checked here to be a faithful token that fails only by its age.
"""

from __future__ import annotations

import pytest

from backend.auth import ACCESS_TOKEN_TTL_S
from tests.backend.signer_access_rows import fresh_family
from tests.backend.signer_access_world import API, World, sign_in


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
    family, _ = fresh_family()
    phones = [sign_in(world.client, family, family.guardians[0]) for _ in range(2)]

    answers = [world.client.post(f"{API}/auth/logout", headers=p.headers) for p in phones]

    assert [a.status_code for a in answers] == [204, 204]
    for phone in phones:
        assert world.client.get(f"{API}/auth/me", headers=phone.headers).status_code == 401


def test_a_reused_refresh_token_revokes_its_session_after_another_logout(world: World) -> None:
    """Reuse detection (a copied refresh token) revokes the session: here it cannot."""
    family, _ = fresh_family()
    phone = sign_in(world.client, family, family.guardians[0])
    old = {"refresh_token": phone.refresh_token, "device_id": phone.device_id}
    rotated = world.client.post(f"{API}/auth/tokens/refresh", json=old)
    assert rotated.status_code == 200
    new_access = {"Authorization": f"Bearer {rotated.get_json()['access_token']}"}

    reused = world.client.post(f"{API}/auth/tokens/refresh", json=old)

    assert reused.status_code == 401
    assert world.client.get(f"{API}/auth/me", headers=new_access).status_code == 401
