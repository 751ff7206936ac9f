"""Staff accounts: setup links, password + TOTP sign-in, recovery codes, lockout, sessions.

Part 11 asks for two distinct identification components (11.200(a)(1)), unique
accounts never reassigned (11.300(a)), and detection of attempts at
unauthorised use (11.300(d)): a password (argon2id, argon2-cffi) plus a TOTP
code from the member's authenticator, each code accepted once; repeated
failures lock the account and are logged as security events.

Sign-in answers the same, in the same time, whether or not an address has an
account: an unknown address, a wrong password, a wrong code, a deactivated or a
locked account all get the generic 401 after one argon2 verification (against a
dummy hash when there is no account), so neither the answer nor its delay tells
an outsider which addresses are staff. Why an attempt failed (and that an account
is locked) is written only to the security log. Failures count for
:data:`FAILURE_WINDOW` (an old typo does not help lock an account today), and
each lock in a row lasts twice the one before, up to :data:`LOCKOUT_MAX`.

The TOTP algorithm is passed in (:class:`TotpAlgorithm`), so the web layer uses
pyotp while consentkit stays free of it. Failure messages are generic: they
never say whether an e-mail address has an account.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from mongoengine import NotUniqueError
from pymongo import ReturnDocument

from consentkit import crypto
from consentkit.clock import aware_utc, now_utc
from consentkit.enums import Channel
from consentkit.errors import (
    AuthenticationError,
    ConflictError,
    InvalidDataError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
)
from consentkit.models.participant import Participant
from consentkit.models.staff import SecurityEvent, StaffMember, StaffSession
from consentkit.policy.roles import Action, Grant, allowed, visible_sites
from consentkit.services import access, enrolment, participants
from consentkit.services.evidence import Actor
from consentkit.services.totp import TotpAlgorithm

SETUP_TTL = timedelta(hours=72)
#: Idle and absolute session limits (a clinic workstation left unattended).
IDLE_TIMEOUT = timedelta(minutes=30)
SESSION_MAX = timedelta(hours=12)
#: Sensitive actions (countersigning, withdrawal, staff changes) need a sign-in this recent.
REAUTH_WINDOW = timedelta(minutes=5)
#: Failures within :data:`FAILURE_WINDOW` that lock the account; older ones stop counting.
LOCKOUT_AFTER = 5
FAILURE_WINDOW = timedelta(hours=1)
#: The first lock; each further lock in a row doubles it, up to :data:`LOCKOUT_MAX`.
LOCKOUT_FOR = timedelta(minutes=15)
LOCKOUT_MAX = timedelta(hours=4)
#: A lock that ended longer ago than this is forgotten: the next lock is the first again.
LOCKOUT_MEMORY = timedelta(hours=24)
RECOVERY_CODES = 10
MIN_PASSWORD = 12  # NIST SP 800-63B 5.1.1: length, not composition rules
MAX_PASSWORD = 256
GENERIC = "The e-mail address, password or code is not valid."

_hasher = PasswordHasher()
#: A hash of a random password with the current parameters: verified when there is no
#: account (or no password yet), so every failed sign-in costs the same argon2 work.
_dummy_hash: str | None = None


def use_password_hasher(hasher: PasswordHasher) -> None:
    """Swap the argon2 parameters (tests use argon2's cheapest profile; production never)."""
    global _hasher, _dummy_hash
    _hasher = hasher
    _dummy_hash = None


def password_hasher() -> PasswordHasher:
    """Return the argon2 hasher in use (service-account secrets are hashed like passwords)."""
    return _hasher


def _verify_dummy(password: str) -> None:
    """Spend one argon2 verification that always fails (timing equal to a real account)."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = _hasher.hash(secrets.token_urlsafe(32))
    with contextlib.suppress(VerificationError, InvalidHashError):
        _hasher.verify(_dummy_hash, password)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def normalise_email(email: str) -> str:
    """Return the address as stored: trimmed and lower-cased."""
    return email.strip().lower()


def _log(kind: str, staff: StaffMember | None, now: datetime, **detail: object) -> None:
    SecurityEvent(
        type=kind,
        staff_id=str(staff.id) if staff else None,
        email=staff.email if staff else None,
        ip=str(detail.pop("ip", "")) or None,
        detail=detail,
        at=now,
    ).save(force_insert=True)


def grants_of(staff: StaffMember) -> list[Grant]:
    """Return a member's role grants."""
    return [Grant.from_dict(g) for g in staff.grants]


def create_staff(
    *,
    email: str,
    name: str,
    grants: Sequence[Grant],
    created_by: str | None = None,
    locale: str = "en",
    time_zone: str = "Europe/Brussels",
    now: datetime | None = None,
) -> tuple[StaffMember, str]:
    """Create an account and return it with its one-time setup token (shown once).

    The member chooses their password and enrols their authenticator through
    the setup link; nobody else ever knows the password.

    Raises:
        InvalidDataError: no usable e-mail address or name.
        ConflictError: the address already has an account (accounts are never reassigned).
    """
    now = now or now_utc()
    address = normalise_email(email)
    if "@" not in address or not name.strip():
        raise InvalidDataError("An e-mail address and a name are required.")
    token = secrets.token_urlsafe(32)
    staff = StaffMember(
        email=address,
        name=name.strip(),
        grants=[g.to_dict() for g in grants],
        locale=locale,
        time_zone=time_zone,
        setup_sha256=_sha256(token),
        setup_expires_at=now + SETUP_TTL,
        created_at=now,
        created_by=created_by,
    )
    try:
        staff.save(force_insert=True)
    except NotUniqueError as exc:
        raise ConflictError("This e-mail address already has an account.") from exc
    _log("staff.created", staff, now, by=created_by, grants=[g.to_dict() for g in grants])
    return staff, token


def reissue_setup(staff_id: str, *, by: str, now: datetime | None = None) -> str:
    """Reset a member's password and authenticator (lost phone): a new setup token.

    11.300(c): a lost token is deauthorised and replaced under control; every
    session of the member ends.
    """
    now = now or now_utc()
    staff = _staff(staff_id)
    token = secrets.token_urlsafe(32)
    StaffMember.objects(id=staff.id).update_one(
        set__setup_sha256=_sha256(token),
        set__setup_expires_at=now + SETUP_TTL,
        set__password_hash=None,
        set__totp_secret=None,
        set__recovery_sha256=[],
        set__failed_attempts=0,
        set__failures_at=[],
        set__lockouts=0,
        set__locked_until=None,
    )
    StaffSession.objects(staff_id=str(staff.id), revoked_at=None).update(set__revoked_at=now)
    _log("staff.setup-reissued", staff, now, by=by)
    return token


def set_grants(
    staff_id: str, grants: Sequence[Grant], *, by: str, now: datetime | None = None
) -> None:
    """Replace a member's role grants (logged)."""
    now = now or now_utc()
    staff = _staff(staff_id)
    StaffMember.objects(id=staff.id).update_one(set__grants=[g.to_dict() for g in grants])
    _log("staff.grants-changed", staff, now, by=by, grants=[g.to_dict() for g in grants])


def deactivate(staff_id: str, *, by: str, now: datetime | None = None) -> None:
    """Disable an account and end its sessions; the account stays for the audit trail."""
    now = now or now_utc()
    staff = _staff(staff_id)
    StaffMember.objects(id=staff.id).update_one(set__active=False)
    StaffSession.objects(staff_id=str(staff.id), revoked_at=None).update(set__revoked_at=now)
    _log("staff.deactivated", staff, now, by=by)


def _staff(staff_id: str) -> StaffMember:
    staff: StaffMember | None = StaffMember.objects(id=staff_id).first()
    if staff is None:
        raise NotFoundError("This staff member was not found.")
    return staff


@dataclass(frozen=True)
class SetupStart:
    """What the setup page shows: the authenticator secret and its provisioning URI."""

    email: str
    name: str
    secret: str
    provisioning_uri: str


def _link_invalid() -> AuthenticationError:
    return AuthenticationError(
        "This setup link is not valid or has expired. Ask your study administrator for a new one.",
        code="setup-link-invalid",
    )


def _pending(token: str, now: datetime) -> StaffMember:
    staff: StaffMember | None = StaffMember.objects(setup_sha256=_sha256(token)).first()
    if staff is None or not staff.active or staff.setup_expires_at < now:
        raise _link_invalid()
    return staff


def _setup_start(staff: StaffMember, secret: str, totp: TotpAlgorithm, issuer: str) -> SetupStart:
    return SetupStart(
        email=staff.email,
        name=staff.name,
        secret=secret,
        provisioning_uri=totp.provisioning_uri(secret, name=staff.email, issuer=issuer),
    )


def start_setup(
    token: str,
    *,
    totp: TotpAlgorithm,
    issuer: str = "consentkit",
    ip: str = "unknown",
    now: datetime | None = None,
) -> SetupStart:
    """Return a new authenticator secret for a setup link: a fresh one each time it is opened.

    Only the latest secret completes set-up, so a screenshot, a cached copy or
    a shoulder-surfed QR code of an earlier page is useless once the link is
    opened again; a member who reloads simply scans the new code. Each opening
    is a security event (a leaked link shows up in the log).

    Raises:
        AuthenticationError: unknown, used or expired link.
    """
    now = now or now_utc()
    staff = _pending(token, now)
    secret = totp.new_secret()
    if not StaffMember.objects(id=staff.id, setup_sha256=staff.setup_sha256).update_one(
        set__totp_secret=crypto.encrypt_identity({"totp": secret})
    ):
        raise _link_invalid()  # completed or reissued in between
    _log("staff.setup-opened", staff, now, ip=ip)
    return _setup_start(staff, secret, totp, issuer)


def resume_setup(
    token: str,
    code: str,
    *,
    totp: TotpAlgorithm,
    issuer: str = "consentkit",
    ip: str = "unknown",
    now: datetime | None = None,
) -> SetupStart:
    """Return the setup page's secret after a form post: the same one only if ``code`` proves it.

    A member who mistyped the password keeps the QR code they scanned, because
    their code shows they hold it; anyone else gets a new secret, exactly as if
    the link were opened again, so a post never reveals the current secret.

    Raises:
        AuthenticationError: unknown, used or expired link.
    """
    now = now or now_utc()
    staff = _pending(token, now)
    if staff.totp_secret:
        secret = crypto.decrypt_identity(staff.totp_secret)["totp"]
        if totp.matching_step(secret, code.strip(), now) is not None:
            return _setup_start(staff, secret, totp, issuer)
    return start_setup(token, totp=totp, issuer=issuer, ip=ip, now=now)


def check_password_rules(password: str, email: str) -> None:
    """Refuse passwords too short, too long, or built from the e-mail address.

    Raises:
        InvalidDataError: with the rule broken.
    """
    if len(password) < MIN_PASSWORD:
        raise InvalidDataError(
            "Choose a password of at least %(n)s characters.",
            params={"n": MIN_PASSWORD},
            code="password-too-short",
        )
    if len(password) > MAX_PASSWORD:
        raise InvalidDataError("This password is too long.", code="password-too-long")
    local = normalise_email(email).split("@", 1)[0]
    if len(local) >= 4 and local in password.lower():
        raise InvalidDataError(
            "The password must not contain your e-mail address.", code="password-weak"
        )


def complete_setup(
    token: str, *, password: str, code: str, totp: TotpAlgorithm, now: datetime | None = None
) -> list[str]:
    """Set the password, confirm the authenticator with a first code; return recovery codes.

    The ten recovery codes are shown once and stored hashed; each works once,
    in place of a TOTP code, when the phone is lost.

    Raises:
        AuthenticationError: bad link, or the code does not match the authenticator.
        InvalidDataError: the password breaks a rule.
    """
    now = now or now_utc()
    staff = _pending(token, now)
    check_password_rules(password, staff.email)
    if not staff.totp_secret:
        raise AuthenticationError("Open the setup link again to see the QR code.")
    secret = crypto.decrypt_identity(staff.totp_secret)["totp"]
    step = totp.matching_step(secret, code.strip(), now)
    if step is None:
        raise AuthenticationError(
            "The code does not match. Check the time on your phone and try again.",
            code="totp-invalid",
        )
    recovery = [_recovery_code() for _ in range(RECOVERY_CODES)]
    updated = StaffMember.objects(
        # The secret checked must still be the latest: a reopened link made a new one.
        id=staff.id,
        setup_sha256=staff.setup_sha256,
        totp_secret=staff.totp_secret,
    ).update_one(
        set__password_hash=_hasher.hash(password),
        set__password_changed_at=now,
        set__totp_last_step=step,
        set__recovery_sha256=[_sha256(_plain_recovery(c)) for c in recovery],
        # Unset, not null: the sparse unique index skips only missing fields.
        unset__setup_sha256=True,
        unset__setup_expires_at=True,
        set__failed_attempts=0,
        set__failures_at=[],
        set__lockouts=0,
        set__locked_until=None,
    )
    if not updated:
        if StaffMember.objects(id=staff.id, setup_sha256=staff.setup_sha256).count():
            raise AuthenticationError(
                "Open the setup link again to see the QR code.", code="setup-secret-changed"
            )
        raise AuthenticationError(
            "This setup link has already been used.", code="setup-link-invalid"
        )
    _log("staff.setup-completed", staff, now)
    return recovery


def _recovery_code() -> str:
    raw = "".join(secrets.choice(access.CODE_ALPHABET) for _ in range(10))
    return f"{raw[:5]}-{raw[5:]}"


def _plain_recovery(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


def _second_factor(staff: StaffMember, code: str, totp: TotpAlgorithm, now: datetime) -> str | None:
    """Spend a TOTP code (once: its step must be newer) or a recovery code; return which."""
    code = code.strip()
    secret = crypto.decrypt_identity(staff.totp_secret)["totp"] if staff.totp_secret else None
    if secret and code.isdigit():
        step = totp.matching_step(secret, code, now)
        if step is not None and StaffMember.objects(
            id=staff.id, totp_last_step__lt=step
        ).update_one(set__totp_last_step=step):
            return "totp"
        return None
    digest = _sha256(_plain_recovery(code))
    if digest in staff.recovery_sha256 and StaffMember.objects(
        id=staff.id, recovery_sha256=digest
    ).update_one(pull__recovery_sha256=digest):
        return "recovery-code"
    return None


def _password_ok(staff: StaffMember | None, password: str) -> bool:
    """Verify the password; without an account (or a password yet) verify a dummy hash.

    Either way one argon2 verification is spent, so the delay says nothing.
    """
    if staff is None or not staff.password_hash:
        _verify_dummy(password)
        return False
    try:
        _hasher.verify(staff.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
    if _hasher.check_needs_rehash(staff.password_hash):
        StaffMember.objects(id=staff.id).update_one(set__password_hash=_hasher.hash(password))
    return True


def _locked(staff: StaffMember, now: datetime) -> bool:
    return staff.locked_until is not None and staff.locked_until > now


def lock_duration(locks_in_a_row: int) -> timedelta:
    """Return how long the ``locks_in_a_row``-th lock lasts (1: 15 min, then doubling, capped)."""
    doubled: timedelta = LOCKOUT_FOR * (2 ** min(max(locks_in_a_row - 1, 0), 16))
    return min(doubled, LOCKOUT_MAX)


def _failed(staff: StaffMember, now: datetime, ip: str, reason: str) -> None:
    """Count a failure; lock the account when :data:`LOCKOUT_AFTER` fall within the window.

    The failure times are pushed atomically (the last few only), so concurrent
    guesses are all counted; the lock is set once, by whichever failure reached
    the limit first.
    """
    after = StaffMember._get_collection().find_one_and_update(
        {"_id": staff.id},
        {"$push": {"failures_at": {"$each": [now], "$slice": -LOCKOUT_AFTER}}},
        projection={"failures_at": 1, "lockouts": 1, "locked_until": 1},
        return_document=ReturnDocument.AFTER,
    )
    recent = [
        t for t in (after or {}).get("failures_at", []) if aware_utc(t) > now - FAILURE_WINDOW
    ]
    StaffMember.objects(id=staff.id).update_one(set__failed_attempts=len(recent))
    _log("staff.sign-in-failed", staff, now, ip=ip, reason=reason, attempts=len(recent))
    if len(recent) < LOCKOUT_AFTER:
        return
    previous = (after or {}).get("locked_until")
    in_a_row = int((after or {}).get("lockouts") or 0)
    if previous is None or aware_utc(previous) + LOCKOUT_MEMORY < now:
        in_a_row = 0  # the last lock is long past: start again at the shortest
    duration = lock_duration(in_a_row + 1)
    # Not locked, or the lock has ended; one condition, not an ``$or``, which the embedded
    # database answers by examining every member.
    locked = StaffMember.objects(id=staff.id, locked_until__not__gt=now).update_one(
        set__locked_until=now + duration,
        set__lockouts=in_a_row + 1,
        set__failures_at=[],
        set__failed_attempts=0,
    )
    if locked:
        _log(
            "staff.locked",
            staff,
            now,
            ip=ip,
            minutes=int(duration.total_seconds() // 60),
            locks_in_a_row=in_a_row + 1,
        )


def _check_credentials(
    staff: StaffMember | None, password: str, code: str, totp: TotpAlgorithm, ip: str, now: datetime
) -> tuple[StaffMember, str]:
    """Return the member and the second factor used, or raise the generic failure.

    Every path spends one argon2 verification and answers the same
    :class:`AuthenticationError`; only the security log says why.
    """
    password_ok = _password_ok(staff if staff is not None and staff.active else None, password)
    if staff is None:
        _log("staff.sign-in-failed", None, now, ip=ip, reason="unknown-address")
        raise AuthenticationError(GENERIC)
    if not staff.active:
        _log("staff.sign-in-failed", staff, now, ip=ip, reason="deactivated")
        raise AuthenticationError(GENERIC)
    if _locked(staff, now):
        # Nothing is checked or counted while locked: the lock is not extended by
        # guessing, and the answer is the generic one (the lock is in the log only).
        _log("staff.sign-in-refused", staff, now, ip=ip, reason="locked")
        raise AuthenticationError(GENERIC)
    if not password_ok:
        _failed(staff, now, ip, "password")
        raise AuthenticationError(GENERIC)
    factor = _second_factor(staff, code, totp, now)
    if factor is None:
        _failed(staff, now, ip, "code")
        raise AuthenticationError(GENERIC)
    return staff, factor


def sign_in(
    email: str,
    password: str,
    code: str,
    *,
    totp: TotpAlgorithm,
    ip: str = "unknown",
    now: datetime | None = None,
) -> StaffSession:
    """Check password and second factor; open a session.

    Raises:
        AuthenticationError: generic, whatever was wrong (a locked account included).
        RateLimitedError: too many attempts for this address (whether or not it has an
            account) or from this client.
    """
    now = now or now_utc()
    address = normalise_email(email)
    access.hit(f"staff-login-email:{_sha256(address)}", now=now)
    access.hit(f"staff-login-ip:{ip}", now=now)
    staff: StaffMember | None = StaffMember.objects(email=address).first()
    staff, factor = _check_credentials(staff, password, code, totp, ip, now)
    session = StaffSession(
        session_id=uuid.uuid4().hex,
        staff_id=str(staff.id),
        created_at=now,
        last_seen_at=now,
        expires_at=now + SESSION_MAX,
        reauth_at=now,
    )
    session.save(force_insert=True)
    StaffMember.objects(id=staff.id).update_one(
        set__failed_attempts=0, set__failures_at=[], set__lockouts=0
    )
    _log("staff.signed-in", staff, now, ip=ip, factor=factor)
    return session


@dataclass(frozen=True)
class Signed:
    """A live staff session with its member (what every staff route needs)."""

    session: StaffSession
    staff: StaffMember

    @property
    def grants(self) -> list[Grant]:
        """The member's role grants."""
        return grants_of(self.staff)


def active_session(session_id: str, *, now: datetime | None = None) -> Signed:
    """Return a live session and its member; touch its idle timer.

    Raises:
        AuthenticationError: unknown, revoked, idle too long, past its maximum, or deactivated.
    """
    now = now or now_utc()
    session: StaffSession | None = StaffSession.objects(session_id=session_id).first()
    if (
        session is None
        or session.revoked_at
        or session.expires_at < now
        or session.last_seen_at + IDLE_TIMEOUT < now
    ):
        raise AuthenticationError("Your session has ended. Please sign in again.")
    staff: StaffMember | None = StaffMember.objects(id=session.staff_id).first()
    if staff is None or not staff.active:
        raise AuthenticationError("Your session has ended. Please sign in again.")
    if now - session.last_seen_at > timedelta(seconds=60):  # one write a minute, not per request
        StaffSession.objects(id=session.id).update_one(set__last_seen_at=now)
    return Signed(session, staff)


def sign_out(session_id: str, *, now: datetime | None = None) -> None:
    """End a session."""
    StaffSession.objects(session_id=session_id, revoked_at=None).update_one(
        set__revoked_at=now or now_utc()
    )


def reauthenticate(
    signed: Signed,
    password: str,
    code: str,
    *,
    totp: TotpAlgorithm,
    ip: str = "unknown",
    now: datetime | None = None,
) -> None:
    """Prove presence again before a sensitive action (both components: 11.200(a)(1)(ii)).

    Raises:
        AuthenticationError: generic.
        RateLimitedError: locked (the member is signed in, so the lock can be told).
    """
    now = now or now_utc()
    staff = StaffMember.objects(id=signed.staff.id).get()
    if _locked(staff, now):
        retry = int((staff.locked_until - now).total_seconds()) + 1
        raise RateLimitedError("Too many attempts. Please wait and try again.", retry_after=retry)
    _check_credentials(staff, password, code, totp, ip, now)
    StaffSession.objects(id=signed.session.id).update_one(set__reauth_at=now)
    signed.session.reauth_at = now
    _log("staff.reauthenticated", staff, now, ip=ip)


def require_recent_auth(signed: Signed, *, now: datetime | None = None) -> None:
    """Refuse a sensitive action unless the member signed in or re-authenticated just now.

    Raises:
        AuthenticationError: ``reauthentication-required``.
    """
    now = now or now_utc()
    if signed.session.reauth_at + REAUTH_WINDOW < now:
        raise AuthenticationError(
            "Confirm your password and code to continue.", code="reauthentication-required"
        )


def change_password(signed: Signed, current: str, new: str, *, now: datetime | None = None) -> None:
    """Change the password; other sessions of the member end.

    Raises:
        AuthenticationError: the current password is wrong, or re-authentication is due.
        InvalidDataError: the new password breaks a rule.
    """
    now = now or now_utc()
    require_recent_auth(signed, now=now)
    staff = StaffMember.objects(id=signed.staff.id).get()
    if not _password_ok(staff, current):
        _failed(staff, now, "unknown", "password")
        raise AuthenticationError(GENERIC)
    check_password_rules(new, staff.email)
    if current == new:
        raise InvalidDataError("Choose a password you have not used here.", code="password-reused")
    StaffMember.objects(id=staff.id).update_one(
        set__password_hash=_hasher.hash(new), set__password_changed_at=now
    )
    StaffSession.objects(
        staff_id=str(staff.id), revoked_at=None, session_id__ne=signed.session.session_id
    ).update(set__revoked_at=now)
    _log("staff.password-changed", staff, now)


def authorise(signed: Signed, action: Action, trial_id: str, site_code: str | None = None) -> None:
    """Refuse unless the member's grants allow ``action`` there (consentkit.policy.roles).

    Raises:
        PermissionDeniedError: not allowed (the same answer for another site and another role).
    """
    if not allowed(signed.grants, action, trial_id, site_code):
        raise PermissionDeniedError("You do not have access to this.")


def participant_for(signed: Signed, trial_id: str, code: str, action: Action) -> Participant:
    """Return a participant on whom the member may do ``action``.

    A participant at a site the member cannot see answers exactly like a code
    that does not exist, so a member learns nothing about other sites' codes; a
    member who sees the participant but may not do ``action`` is refused.

    Raises:
        NotFoundError: no such participant, or one the member cannot see.
        PermissionDeniedError: the member sees the participant but may not do ``action``.
    """
    participant = participants.get_participant(trial_id, code)
    if not allowed(signed.grants, Action.VIEW, trial_id, participant.site_code):
        # The very words of participants.get_participant: the answers must not differ.
        raise NotFoundError(
            "Participant %(code)s was not found in %(trial_id)s.",
            params={"code": code, "trial_id": trial_id},
        )
    authorise(signed, action, trial_id, participant.site_code)
    return participant


def sites_for(signed: Signed, action: Action, trial_id: str) -> set[str] | None:
    """Return the sites where the member may do ``action`` (None: every site).

    Raises:
        PermissionDeniedError: none at all.
    """
    sites = visible_sites(signed.grants, trial_id, action)
    if sites is not None and not sites:
        raise PermissionDeniedError("You do not have access to this.")
    return sites


def site_filter(
    signed: Signed, action: Action, trial_id: str, site: str | None = None
) -> list[str] | None:
    """Return the sites a read of the study covers: ``site`` if asked, else all the member's.

    The one answer to "which sites may this list, count or export show": the API
    routes and the staff pages pass it as ``site_codes`` to the dashboard and
    worklist services. None means every site (a sponsor's or a study-wide
    grant); a list is sorted, so the same member gets the same query.

    Raises:
        PermissionDeniedError: ``site`` is not one of the member's sites for
            ``action``, or the member has none at all.
    """
    if site:
        authorise(signed, action, trial_id, site)
        return [site]
    allowed_sites = sites_for(signed, action, trial_id)
    return None if allowed_sites is None else sorted(allowed_sites)


def acting_as(
    signed: Signed, trial_id: str, site_code: str, channel: str = Channel.IN_PERSON
) -> Actor:
    """Return the audit actor for the member at a site: their role there, and the channel."""
    roles = [g.role.value for g in signed.grants if g.trial_id == trial_id and g.covers(site_code)]
    return enrolment.staff_actor(signed.staff, (roles or ["staff"])[0], channel)


def recovery_codes_left(staff: StaffMember) -> int:
    """How many recovery codes remain (the page warns when few are left)."""
    return len(staff.recovery_sha256)
