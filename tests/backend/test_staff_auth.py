"""Staff sign-in: setup link, password + TOTP, replay, lockout, recovery codes, re-auth."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import pyotp
import pytest
from argon2 import PasswordHasher, profiles

from backend.auth.staff import TOTP
from consentkit import crypto
from consentkit.clock import now_utc
from consentkit.errors import AuthenticationError
from consentkit.models.staff import SecurityEvent, StaffMember, StaffSession
from consentkit.policy.roles import Grant, StaffRole
from consentkit.services import access
from consentkit.services import staff as staff_service
from tests.backend.staff_helpers import PASSWORD, auth, make_member, staff_doc


def sign_in(client: Any, email: str, password: str, code: str) -> Any:
    return client.post(
        "/api/v1/staff/sessions", json={"email": email, "password": password, "code": code}
    )


def test_setup_link_shows_a_qr_code_once_and_gives_ten_recovery_codes(client: Any) -> None:
    _, token = staff_service.create_staff(
        email="Nurse@Example.org",
        name="Nurse",
        grants=[Grant("DEMO-NBL-1", StaffRole.SITE_STAFF, ("NL-01",))],
    )
    shown = client.get(f"/api/v1/staff/setup/{token}")
    assert shown.status_code == 200
    body = shown.get_json()
    assert body["email"] == "nurse@example.org"
    assert body["provisioning_uri"].startswith("otpauth://totp/")
    assert body["qr_svg"].startswith("<svg")
    wrong = client.post(
        f"/api/v1/staff/setup/{token}", json={"password": PASSWORD, "code": "000000"}
    )
    assert wrong.status_code == 401
    assert wrong.get_json()["error"] == "totp-invalid"

    short = client.post(
        f"/api/v1/staff/setup/{token}",
        json={"password": "short", "code": pyotp.TOTP(body["secret"]).now()},
    )
    assert short.status_code == 422
    assert short.get_json()["error"] == "password-too-short"

    done = client.post(
        f"/api/v1/staff/setup/{token}",
        json={"password": PASSWORD, "code": pyotp.TOTP(body["secret"]).now()},
    )
    assert done.status_code == 201
    codes = done.get_json()["recovery_codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    used = client.get(f"/api/v1/staff/setup/{token}")
    assert used.status_code == 401  # the link worked once
    stored = StaffMember.objects.get(email="nurse@example.org")
    assert PASSWORD not in (stored.password_hash or "")
    assert stored.password_hash.startswith("$argon2id$")
    assert not any(c.replace("-", "") in str(stored.to_mongo()) for c in codes)


def test_setup_link_shows_a_new_secret_each_time_and_only_the_latest_completes(
    client: Any,
) -> None:
    _, token = staff_service.create_staff(
        email="leak@example.org", name="Leak", grants=[Grant("DEMO-NBL-1", StaffRole.MONITOR, ())]
    )
    leaked = client.get(f"/api/v1/staff/setup/{token}").get_json()["secret"]  # a screenshot
    latest = client.get(f"/api/v1/staff/setup/{token}").get_json()["secret"]  # the member reloads
    assert leaked != latest

    old = client.post(
        f"/api/v1/staff/setup/{token}",
        json={"password": PASSWORD, "code": pyotp.TOTP(leaked).now()},
    )
    assert old.status_code == 401
    assert old.get_json()["error"] == "totp-invalid"
    done = client.post(
        f"/api/v1/staff/setup/{token}",
        json={"password": PASSWORD, "code": pyotp.TOTP(latest).now()},
    )
    assert done.status_code == 201
    stored = StaffMember.objects.get(email="leak@example.org")
    assert crypto.decrypt_identity(stored.totp_secret)["totp"] == latest
    opened = SecurityEvent.objects(staff_id=str(stored.id), type="staff.setup-opened").count()
    assert opened == 2  # every opening of the link is in the security log


def test_setup_is_refused_when_the_link_was_opened_again_while_it_completed(client: Any) -> None:
    _, token = staff_service.create_staff(
        email="race@example.org", name="Race", grants=[Grant("DEMO-NBL-1", StaffRole.MONITOR, ())]
    )
    secret = staff_service.start_setup(token, totp=TOTP).secret

    class ReopenedMeanwhile:
        """The real algorithm; someone opens the link between the code check and the write."""

        def new_secret(self) -> str:
            return TOTP.new_secret()

        def provisioning_uri(self, secret: str, *, name: str, issuer: str) -> str:
            return TOTP.provisioning_uri(secret, name=name, issuer=issuer)

        def matching_step(self, secret: str, code: str, at: datetime) -> int | None:
            step = TOTP.matching_step(secret, code, at)
            staff_service.start_setup(token, totp=TOTP)
            return step

    with pytest.raises(AuthenticationError) as refused:
        staff_service.complete_setup(
            token, password=PASSWORD, code=pyotp.TOTP(secret).now(), totp=ReopenedMeanwhile()
        )
    assert refused.value.code == "setup-secret-changed"
    assert StaffMember.objects.get(email="race@example.org").password_hash is None


def test_a_completed_setup_link_cannot_be_used_again(client: Any) -> None:
    _, token = staff_service.create_staff(
        email="once@example.org", name="Once", grants=[Grant("DEMO-NBL-1", StaffRole.MONITOR, ())]
    )
    secret = client.get(f"/api/v1/staff/setup/{token}").get_json()["secret"]
    first = client.post(
        f"/api/v1/staff/setup/{token}",
        json={"password": PASSWORD, "code": pyotp.TOTP(secret).now()},
    )
    assert first.status_code == 201
    stored = StaffMember.objects.get(email="once@example.org")

    again = client.post(
        f"/api/v1/staff/setup/{token}",
        json={"password": "an attacker's new password", "code": pyotp.TOTP(secret).now()},
    )
    reopened = client.get(f"/api/v1/staff/setup/{token}")
    page = client.get(f"/staff/setup/{token}")

    assert again.status_code == reopened.status_code == 401
    assert again.get_json()["error"] == reopened.get_json()["error"] == "setup-link-invalid"
    assert page.status_code == 404
    after = StaffMember.objects.get(email="once@example.org")
    assert after.password_hash == stored.password_hash
    assert after.totp_secret == stored.totp_secret


def test_sign_in_needs_password_and_code_and_a_code_works_once(client: Any) -> None:
    member = make_member(client, "inv@example.org", StaffRole.INVESTIGATOR, ("NL-01",))
    code = member.code(1)  # setup spent the current step
    ok = sign_in(client, "INV@example.org ", PASSWORD, code)
    assert ok.status_code == 201, ok.get_json()
    token = ok.get_json()["access_token"]
    me = client.get("/api/v1/staff/me", headers=auth(token)).get_json()
    assert me["email"] == "inv@example.org"
    assert me["grants"] == [{"trial_id": "DEMO-NBL-1", "role": "investigator", "sites": ["NL-01"]}]

    replay = sign_in(client, "inv@example.org", PASSWORD, code)
    assert replay.status_code == 401  # the same code again is refused (replay)
    no_code = sign_in(client, "inv@example.org", PASSWORD, "123456")
    assert no_code.status_code == 401
    bad_password = sign_in(client, "inv@example.org", "not the password", member.code())
    unknown = sign_in(client, "nobody@example.org", PASSWORD, member.code())
    assert bad_password.status_code == unknown.status_code == 401
    assert bad_password.get_json()["message"] == unknown.get_json()["message"]  # nothing revealed


def test_a_signer_token_is_not_a_staff_token(client: Any) -> None:
    from backend.auth import _serializer as signer_serializer

    with client.application.app_context():
        forged = signer_serializer().dumps({"ssid": "x", "sid": "x"})
    assert client.get("/api/v1/staff/me", headers=auth(forged)).status_code == 401


def test_five_failures_lock_the_account_silently_and_are_logged(client: Any) -> None:
    member = make_member(client, "lock@example.org", StaffRole.MONITOR, ("NL-01",))
    for _ in range(staff_service.LOCKOUT_AFTER):
        assert sign_in(client, member.email, "wrong password!!", member.code(1)).status_code == 401
    locked = sign_in(client, member.email, PASSWORD, member.code(1))
    assert locked.status_code == 401  # the right password is refused, with the generic answer
    assert locked.get_json()["message"] == staff_service.GENERIC
    assert "Retry-After" not in locked.headers
    kinds = [e.type for e in SecurityEvent.objects(staff_id=member.staff_id).order_by("at")]
    assert kinds.count("staff.sign-in-failed") == staff_service.LOCKOUT_AFTER
    assert "staff.locked" in kinds
    refused = SecurityEvent.objects(staff_id=member.staff_id, type="staff.sign-in-refused").get()
    assert refused.detail["reason"] == "locked"  # why is told to the log only


def test_sign_in_answers_the_same_for_an_unknown_address_even_after_many_attempts(
    client: Any,
) -> None:
    member = make_member(client, "known@example.org", StaffRole.SITE_STAFF, ("NL-01",))
    seen = []
    for attempt in range(12):  # past the lock (5) and the per-address limit (10)
        password = PASSWORD if attempt % 3 == 2 else "not the password"  # wrong code, then
        known = sign_in(client, member.email, password, "000000")
        unknown = sign_in(client, "unknown@example.org", password, "000000")
        assert known.status_code == unknown.status_code, attempt
        assert known.get_json() == unknown.get_json(), attempt
        assert ("Retry-After" in known.headers) == ("Retry-After" in unknown.headers), attempt
        seen.append(known.status_code)
    assert seen == [401] * 10 + [429] * 2  # only the per-address limit says "wait"


class CountingHasher(PasswordHasher):
    """argon2's cheapest profile, counting the verifications spent."""

    def __init__(self) -> None:
        cheap = profiles.CHEAPEST
        super().__init__(
            time_cost=cheap.time_cost,
            memory_cost=cheap.memory_cost,
            parallelism=cheap.parallelism,
            hash_len=cheap.hash_len,
            salt_len=cheap.salt_len,
            type=cheap.type,
        )
        self.verified = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        self.verified += 1
        return super().verify(hash, password)


@pytest.fixture
def counting() -> Iterator[CountingHasher]:
    hasher = CountingHasher()
    staff_service.use_password_hasher(hasher)
    try:
        yield hasher
    finally:
        staff_service.use_password_hasher(PasswordHasher.from_parameters(profiles.CHEAPEST))


def test_every_failed_sign_in_spends_one_password_verification(
    client: Any, counting: CountingHasher
) -> None:
    member = make_member(client, "timing@example.org", StaffRole.MONITOR, ("NL-01",))
    staff_service.create_staff(  # set-up not finished: no password yet
        email="pending@example.org", name="P", grants=[Grant("DEMO-NBL-1", StaffRole.MONITOR, ())]
    )
    gone = make_member(client, "gone@example.org", StaffRole.MONITOR, ("NL-01",))
    staff_service.deactivate(gone.staff_id, by="tests")
    cases = [
        ("nobody@example.org", "not the password"),
        ("pending@example.org", "not the password"),
        (gone.email, PASSWORD),
        (member.email, "not the password"),
    ]
    for email, password in cases:
        counting.verified = 0
        assert sign_in(client, email, password, "123456").status_code == 401
        assert counting.verified == 1, email  # the same argon2 work, so the same delay


def test_failures_older_than_the_window_stop_counting(client: Any) -> None:
    member = make_member(client, "decay@example.org", StaffRole.MONITOR, ("NL-01",))
    long_ago = now_utc() - staff_service.FAILURE_WINDOW - timedelta(minutes=5)
    for _ in range(staff_service.LOCKOUT_AFTER - 1):
        with pytest.raises(AuthenticationError):
            staff_service.sign_in(member.email, "old typo!!", "123456", totp=TOTP, now=long_ago)
    assert sign_in(client, member.email, "a fresh typo", "123456").status_code == 401
    ok = sign_in(client, member.email, PASSWORD, member.code(1))
    assert ok.status_code == 201, ok.get_json()  # one recent failure, not five
    assert staff_doc(member).locked_until is None


def _window_start(after: datetime) -> datetime:
    """The start of the next per-address rate-limit window (so counts stay apart)."""
    seconds = access.LIMITS["staff-login-email"][1]
    return datetime.fromtimestamp((int(after.timestamp()) // seconds + 1) * seconds, tz=UTC)


def test_locks_in_a_row_last_longer_up_to_a_cap_and_are_forgotten(client: Any) -> None:
    member = make_member(client, "progressive@example.org", StaffRole.MONITOR, ("NL-01",))

    def attempt(at: datetime, password: str = "wrong password!!") -> bool:
        try:
            staff_service.sign_in(
                member.email, password, pyotp.TOTP(member.secret).at(at), totp=TOTP, now=at
            )
        except AuthenticationError:
            return False
        return True

    def lock_at(at: datetime) -> timedelta:
        for i in range(staff_service.LOCKOUT_AFTER):
            assert not attempt(at + timedelta(seconds=i))
        locked_until = staff_doc(member).locked_until
        assert locked_until is not None
        return locked_until - (at + timedelta(seconds=staff_service.LOCKOUT_AFTER - 1))

    at = _window_start(now_utc())
    durations = []
    for _ in range(6):
        duration = lock_at(at)
        durations.append(duration)
        assert not attempt(at + duration - timedelta(minutes=1), PASSWORD)  # still locked
        at = _window_start(at + duration)
    minutes = [int(d.total_seconds() // 60) for d in durations]
    assert minutes == [15, 30, 60, 120, 240, 240]  # doubling, capped at four hours

    forgotten = _window_start(at + staff_service.LOCKOUT_MEMORY)
    assert lock_at(forgotten) == staff_service.LOCKOUT_FOR  # a day later: the first lock again
    after = _window_start(forgotten + staff_service.LOCKOUT_FOR)
    assert attempt(after, PASSWORD)  # the lock ends by itself
    assert staff_doc(member).lockouts == 0


def test_a_recovery_code_replaces_the_phone_once(client: Any) -> None:
    member = make_member(client, "lost@example.org", StaffRole.SITE_STAFF, ("NL-01",))
    first = member.recovery[0]
    assert sign_in(client, member.email, PASSWORD, first.lower()).status_code == 201
    assert sign_in(client, member.email, PASSWORD, first).status_code == 401
    token = sign_in(client, member.email, PASSWORD, member.recovery[1]).get_json()["access_token"]
    me = client.get("/api/v1/staff/me", headers=auth(token)).get_json()
    assert me["recovery_codes_left"] == 8


def test_sessions_end_when_idle_or_signed_out(client: Any) -> None:
    member = make_member(client, "idle@example.org", StaffRole.MONITOR, ("NL-01",))
    token = sign_in(client, member.email, PASSWORD, member.code(1)).get_json()["access_token"]
    assert client.get("/api/v1/staff/me", headers=auth(token)).status_code == 200
    StaffSession.objects(staff_id=member.staff_id).update(
        set__last_seen_at=now_utc() - staff_service.IDLE_TIMEOUT - timedelta(minutes=1)
    )
    idle = client.get("/api/v1/staff/me", headers=auth(token))
    assert idle.status_code == 401

    token = sign_in(client, member.email, PASSWORD, member.recovery[0]).get_json()["access_token"]
    assert client.delete("/api/v1/staff/sessions/current", headers=auth(token)).status_code == 204
    assert client.get("/api/v1/staff/me", headers=auth(token)).status_code == 401


def test_password_change_needs_recent_sign_in_and_ends_other_sessions(client: Any) -> None:
    member = make_member(client, "pw@example.org", StaffRole.SITE_STAFF, ("NL-01",))
    one = sign_in(client, member.email, PASSWORD, member.code(1)).get_json()["access_token"]
    two = sign_in(client, member.email, PASSWORD, member.recovery[0]).get_json()["access_token"]
    body = {"current_password": PASSWORD, "new_password": "a much longer new passphrase"}
    StaffSession.objects(staff_id=member.staff_id).update(
        set__reauth_at=now_utc() - timedelta(minutes=10)
    )
    stale = client.post("/api/v1/staff/password", json=body, headers=auth(one))
    assert stale.status_code == 401
    assert stale.get_json()["error"] == "reauthentication-required"
    reauth = client.post(
        "/api/v1/staff/reauth",
        json={"password": PASSWORD, "code": member.recovery[1]},
        headers=auth(one),
    )
    assert reauth.status_code == 204
    changed = client.post("/api/v1/staff/password", json=body, headers=auth(one))
    assert changed.status_code == 204
    assert client.get("/api/v1/staff/me", headers=auth(one)).status_code == 200
    assert client.get("/api/v1/staff/me", headers=auth(two)).status_code == 401
    old = sign_in(client, member.email, PASSWORD, member.recovery[2])
    assert old.status_code == 401
    assert staff_doc(member).password_changed_at is not None


@pytest.mark.parametrize("bad", ["my-Anna.Jansen-password", "short", "x" * 257])
def test_password_rules(bad: str) -> None:
    from consentkit.errors import InvalidDataError

    with pytest.raises(InvalidDataError):
        staff_service.check_password_rules(bad, "anna.jansen@example.org")
    staff_service.check_password_rules("a long enough passphrase", "anna.jansen@example.org")
