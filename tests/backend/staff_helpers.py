"""Staff accounts for tests: set up through the real setup link, signed in through the API."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from urllib.parse import quote

import pyotp

from backend.auth.staff import COOKIE
from consentkit.clock import now_utc
from consentkit.models.participant import Participant
from consentkit.models.staff import StaffMember, StaffSession
from consentkit.policy.roles import Grant, StaffRole
from consentkit.services import audit, enrolment
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


# ---------------------------------------------------------------- staff pages

TRIAL = "DEMO-NBL-1"
STUDY = f"/staff/studies/{TRIAL}"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(response: Any) -> str:
    found = CSRF.search(response.get_data(as_text=True))
    assert found, response.get_data(as_text=True)[:2000]
    return found.group(1)


def signed_in(app: Any, client: Any, member: Member) -> Any:
    """Put a live session's cookie in the client (no TOTP step spent)."""
    client.set_cookie(COOKIE, token_for(app, member), path="/staff")
    return client


def family(
    member: Member,
    code: str,
    site: str,
    *,
    names: tuple[str, str, str] = ("Anna Jansen", "Piet Jansen", "Sem Jansen"),
    birth_date: date | None = None,
) -> Participant:
    """Enrol a participant with two parents and the child (through the library)."""
    staff = staff_doc(member)
    result = enrolment.enrol(
        TRIAL,
        code=code,
        site_code=site,
        birth_date=birth_date or now_utc().date() - timedelta(days=13 * 365 + 40),
        signers=[
            enrolment.SignerEntry("guardian", names[0], email="a@example.org"),
            enrolment.SignerEntry("guardian", names[1], email="b@example.org"),
            enrolment.SignerEntry("participant", names[2], phone="+31 6 1234 5678"),
        ],
        interviewer=staff,
        actor=enrolment.staff_actor(staff, "investigator"),
    )
    return result.participant


def colleague(email: str, role: StaffRole, sites: tuple[str, ...]) -> Member:
    """A member signed in by session only (no setup link walked: most tests need no TOTP)."""
    staff, _token = staff_service.create_staff(
        email=email, name=email.split("@")[0].title(), grants=[Grant(TRIAL, role, sites)]
    )
    return Member(email, "", [], str(staff.id))


def events_of(participant: Participant) -> int:
    return len(audit.chain_dicts(str(participant.id)))


def participant_url(code: str, suffix: str = "") -> str:
    return f"{STUDY}/participants/{quote(code, safe='')}{suffix}"


# ---------------------------------------------------------------- staff JSON API

BASE = "/api/v1/staff/studies/DEMO-NBL-1"
FAMILY = [
    {"role": "guardian", "name": "Anna de Vries", "email": "anna@example.org"},
    {"role": "guardian", "name": "Pieter de Vries", "phone": "+31 612345678"},
    {"role": "participant", "name": "Sem de Vries", "email": "sem@example.org"},
]


def enrol(client: Any, headers: dict[str, str], code: str = "NL-0001", **extra: Any) -> Any:
    body = {"code": code, "site": "NL-01", "birth_date": "2013-01-15", "signers": FAMILY, **extra}
    return client.post(f"{BASE}/participants", json=body, headers=headers)
