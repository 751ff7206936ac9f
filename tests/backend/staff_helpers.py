"""Staff accounts for tests: set up through the real setup link, signed in through the API."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pyotp

from consentkit.clock import now_utc
from consentkit.models.staff import StaffMember, StaffSession
from consentkit.policy.roles import Grant, StaffRole
from consentkit.services import staff as staff_service

PASSWORD = "correct horse battery staple"


@dataclass
class Member:
    email: str
    secret: str
    recovery: list[str]
    staff_id: str

    def code(self, offset_steps: int = 0) -> str:
        """The authenticator code ``offset_steps`` steps from now (each step accepts once)."""
        return pyotp.TOTP(self.secret).at(now_utc() + timedelta(seconds=30 * offset_steps))


def make_member(
    client: Any,
    email: str,
    role: StaffRole | str,
    sites: tuple[str, ...] = (),
    trial_id: str = "DEMO-NBL-1",
    name: str | None = None,
) -> Member:
    """Create a member and finish setup through ``/api/v1/staff/setup/<token>``."""
    member, token = staff_service.create_staff(
        email=email,
        name=name or email.split("@")[0].title(),
        grants=[Grant(trial_id, StaffRole(role), sites or ("*",))],
        created_by="tests",
    )
    shown = client.get(f"/api/v1/staff/setup/{token}").get_json()
    secret = re.search(r"secret=([A-Z2-7]+)", shown["provisioning_uri"]).group(1)
    done = client.post(
        f"/api/v1/staff/setup/{token}",
        json={"password": PASSWORD, "code": pyotp.TOTP(secret).now()},
    )
    assert done.status_code == 201, done.get_json()
    return Member(email, secret, done.get_json()["recovery_codes"], str(member.id))


def token_for(app: Any, member: Member) -> str:
    """A signed-in bearer token without spending a TOTP step (sessions made directly)."""
    from backend.auth.staff import issue_staff_token

    now = now_utc()
    session = StaffSession(
        session_id=f"test-{member.staff_id}-{now.timestamp()}",
        staff_id=member.staff_id,
        created_at=now,
        last_seen_at=now,
        expires_at=now + staff_service.SESSION_MAX,
        reauth_at=now,
    )
    session.save(force_insert=True)
    with app.app_context():
        return issue_staff_token(session)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def staff_doc(member: Member) -> StaffMember:
    return StaffMember.objects.get(id=member.staff_id)
