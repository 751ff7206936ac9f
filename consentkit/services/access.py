"""How signers get in: invitations, one-time codes, device sessions, and attempt limits.

The library owns the rules (expiry, attempts, single use, replay, rotation,
limits); the code algorithm is passed in (:class:`OtpAlgorithm`), so the web
layer can use pyotp while consentkit stays free of it. Failure messages are
generic: they never say whether a code, an invitation or a contact exists.
Lockouts are audited events on the participant's chain.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol, TypedDict

from mongoengine import NotUniqueError

from consentkit import crypto, db, i18n, settings
from consentkit.clock import now_utc
from consentkit.errors import (
    AuthenticationError,
    ConflictError,
    DeliveryFailedError,
    InvalidDataError,
    NotFoundError,
    RateLimitedError,
)
from consentkit.i18n import N_, gettext
from consentkit.models.access import (
    Invitation,
    OtpChallenge,
    RateCounter,
    RetiredRefreshToken,
    SignerSession,
)
from consentkit.models.participant import Participant, Signer
from consentkit.models.study import Study
from consentkit.notify import Sender
from consentkit.policy import locales
from consentkit.policy.records import DecidingEvent, contact_withdrawn_by
from consentkit.services import audit, records
from consentkit.services.evidence import SYSTEM, Actor, AuthEvidence
from consentkit.services.participants import signer_identity
from consentkit.services.totp import TotpAlgorithm

log = logging.getLogger(__name__)

#: The step-up factor of an authenticator app (TOTP), as signature evidence names it.
TOTP_APP = "totp-app"
#: Unambiguous characters: no 0/O, 1/I/L (read aloud, typed from paper, scanned from a QR).
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
INVITATION_LENGTH = 10
INVITATION_TTL = timedelta(days=14)
OTP_TTL = timedelta(minutes=5)
OTP_ATTEMPTS = 5
SESSION_TTL = timedelta(days=30)
#: (limit, window in seconds) per kind of key.
LIMITS = {
    "redeem-ip": (20, 600),
    "redeem-invitation": (5, 3600),
    "verify-ip": (30, 600),
    # POST /documents/verify (consentkit.services.verification): each check costs a seal validation.
    "pdf-verify-ip": (30, 600),
    "step-up-session": (5, 600),
    # Codes by e-mail or SMS for setting up an authenticator app, per session.
    "authenticator-session": (3, 600),
    # Staff sign-in (consentkit.services.staff), per address whether or not it has an account.
    "staff-login-email": (10, 900),
    "staff-login-ip": (50, 900),
}
GENERIC = N_("The code is not valid. Check it and try again, or ask the study team.")


class OtpAlgorithm(Protocol):
    """Makes one-time codes (the web layer implements it with pyotp's HOTP)."""

    def new_secret(self) -> str:
        """Return a fresh random secret."""
        ...

    def code(self, secret: str, counter: int) -> str:
        """Return the code for ``counter``."""
        ...


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def grouped_code(code: str) -> str:
    """Return an invitation code in groups of four (``K7Q2-M9XD-AB``), as it is printed.

    The family page accepts it with or without the dashes (:func:`normalise_code`),
    and its hint shows this form.
    """
    plain = normalise_code(code)
    return "-".join(plain[i : i + 4] for i in range(0, len(plain), 4))


def normalise_code(code: str) -> str:
    """Uppercase and drop spaces and dashes, so ``abcd-efgh 23`` is ``ABCDEFGH23``."""
    return "".join(ch for ch in code.upper() if ch.isalnum())


def _counted(key: str, window: int, limit: int, expires_at: datetime) -> bool:
    """Add one to ``key``'s counter in ``window``; return False once ``limit`` is reached.

    One write (:func:`consentkit.db.count_under`): two first hits in a window racing
    to insert the counter are both counted, and a hit over the limit is refused
    without moving the counter.
    """
    return db.count_under(
        RateCounter._get_collection(),
        {"key": key, "window": window},
        limit,
        on_insert={"expires_at": expires_at},
    )


def hit(key: str, *, now: datetime | None = None) -> None:
    """Count one attempt for ``key`` (``kind:value``) and refuse when over its limit.

    Raises:
        RateLimitedError: over the limit; ``retry_after`` is the rest of the window.
    """
    now = now or now_utc()
    limit, seconds = LIMITS[key.split(":", 1)[0]]
    window = int(now.timestamp()) // seconds
    if not _counted(key, window, limit, now + timedelta(seconds=2 * seconds)):
        retry_after = seconds - int(now.timestamp()) % seconds
        raise RateLimitedError(
            "Too many attempts. Please wait and try again.", retry_after=max(retry_after, 1)
        )


DAY_S = 86_400


def spend_daily_allowance(key: str, cap: int, *, now: datetime | None = None) -> None:
    """Count one use of a daily allowance (a UTC day) and refuse once ``cap`` is spent.

    For what a signer adds to their own audit trail (reading progress, questions):
    the chain is append-only, so without a cap one session could grow it without end.

    Raises:
        RateLimitedError: ``daily-limit-reached``; ``retry_after`` runs to the next UTC day.
    """
    now = now or now_utc()
    day = int(now.timestamp()) // DAY_S
    if not _counted(f"daily:{key}", day, cap, now + timedelta(seconds=2 * DAY_S)):
        raise RateLimitedError(
            "You have reached today's limit for this. Please try again tomorrow.",
            retry_after=max(DAY_S - int(now.timestamp()) % DAY_S, 1),
            code="daily-limit-reached",
        )


# ---------------------------------------------------------------- invitations


def contact_withdrawal(
    participant: Participant, *, now: datetime | None = None
) -> DecidingEvent | None:
    """Return the withdrawal by which the family asked not to be contacted again, or None.

    Read from the participation profile (:func:`consentkit.services.records.participation`,
    :func:`consentkit.policy.records.contact_withdrawn_by`), so the staff API, the
    staff page and every invitation path decide alike.
    """
    return contact_withdrawn_by(records.participation(participant, at=now))


def check_contact_permitted(participant: Participant, *, now: datetime | None = None) -> None:
    """Refuse to contact a family who withdrew contact (research notes 6.3 items 3 and 7).

    Called before anything is written by every path that reaches out to the
    family: a new invitation, a new code for one, and "open and invite".

    Raises:
        ConflictError: ``contact-withdrawn``, naming the date of that withdrawal.
    """
    found = contact_withdrawal(participant, now=now)
    if found is not None:
        raise ConflictError(
            "The family asked not to be contacted again about the study (withdrawal of "
            "%(date)s): no invitation can be sent.",
            code="contact-withdrawn",
            params={"date": found.at.date().isoformat()},
            details={"withdrawal_seq": found.seq, "scopes": list(found.scopes)},
        )


def create_invitation(
    participant: Participant, signer: Signer, *, actor: Actor, now: datetime | None = None
) -> str:
    """Create an invitation for one signer and return its code (shown once, stored hashed).

    Raises:
        ConflictError: ``contact-withdrawn`` (:func:`check_contact_permitted`).
    """
    now = now or now_utc()
    check_contact_permitted(participant, now=now)
    while True:
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(INVITATION_LENGTH))
        try:
            Invitation(
                code_sha256=_sha256(code),
                trial_id=participant.trial_id,
                participant_id=str(participant.id),
                signer_id=str(signer.id),
                created_at=now,
                expires_at=now + INVITATION_TTL,
            ).save(force_insert=True)
            break
        except NotUniqueError:
            continue
    audit.append(
        participant,
        lambda _e: audit.Draft(
            type="invitation.created",
            actor=actor.to_dict(),
            payload={"signer_id": str(signer.id), "expires_at": (now + INVITATION_TTL).isoformat()},
        ),
        now=now,
    )
    return code


class InvitationState(StrEnum):
    """Whether an invitation's code still lets its signer in (labels: ``invitation_status``)."""

    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"


def invitation_state(
    revoked_at: datetime | None, expires_at: datetime, now: datetime
) -> InvitationState:
    """Decide an invitation's state at ``now``: revoked wins, then expiry (to the second).

    The one rule behind redeeming a code (:func:`redeem_invitation` accepts
    only an active one) and the status staff see, so the page never calls
    "active" a code the family would be refused with.
    """
    if revoked_at is not None:
        return InvitationState.REVOKED
    if expires_at < now:
        return InvitationState.EXPIRED
    return InvitationState.ACTIVE


@dataclass(frozen=True)
class InvitationStatus:
    """One invitation as staff see it: never its code, which is stored hashed."""

    invitation_id: str
    signer_id: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    status: InvitationState

    @property
    def is_active(self) -> bool:
        """Return whether the code still works (it can be revoked or replaced)."""
        return self.status is InvitationState.ACTIVE


def invitations_of(
    participant: Participant, *, now: datetime | None = None
) -> list[InvitationStatus]:
    """Return a participant's invitations, oldest first, each with its state at ``now``."""
    now = now or now_utc()
    return [
        InvitationStatus(
            invitation_id=str(i.id),
            signer_id=i.signer_id,
            created_at=i.created_at,
            expires_at=i.expires_at,
            revoked_at=i.revoked_at,
            status=invitation_state(i.revoked_at, i.expires_at, now),
        )
        for i in Invitation.objects(participant_id=str(participant.id)).order_by("created_at")
    ]


def revoke_invitation(
    participant: Participant, invitation_id: str, *, actor: Actor, now: datetime | None = None
) -> None:
    """Stop an invitation from working (lost letter, wrong person) and sign its signer out; audited.

    Whoever redeemed the code may be the wrong person: every session of the
    signer ends with it (a reissue revokes too), so the old code's holder keeps
    nothing. The right person signs in again with a new code.

    Raises:
        NotFoundError: not an invitation of this participant.
    """
    now = now or now_utc()
    invitation = Invitation.objects(participant_id=str(participant.id), id=invitation_id).first()
    if invitation is None:
        raise NotFoundError("This invitation was not found.")
    if not Invitation.objects(id=invitation.id, revoked_at=None).update_one(set__revoked_at=now):
        return  # already revoked: revoking again changes nothing
    ended = revoke_signer_sessions(invitation.signer_id, now=now)
    audit.append(
        participant,
        lambda _e: audit.Draft(
            type="invitation.revoked",
            actor=actor.to_dict(),
            payload={
                "invitation_id": invitation_id,
                "signer_id": invitation.signer_id,
                "sessions_ended": ended,
            },
        ),
        now=now,
    )


def resend_invitation(
    participant: Participant, invitation_id: str, *, actor: Actor, now: datetime | None = None
) -> tuple[str, str]:
    """Replace an invitation with a new code (the old code stops working); return (signer, code).

    Codes are stored hashed, so "resending" means issuing a new one. Refused
    before the old code is revoked when the family withdrew contact.

    Raises:
        NotFoundError: not an invitation of this participant.
        ConflictError: ``contact-withdrawn`` (:func:`check_contact_permitted`).
    """
    now = now or now_utc()
    invitation = Invitation.objects(participant_id=str(participant.id), id=invitation_id).first()
    if invitation is None:
        raise NotFoundError("This invitation was not found.")
    check_contact_permitted(participant, now=now)
    revoke_invitation(participant, invitation_id, actor=actor, now=now)
    signer = Signer.objects(id=invitation.signer_id).get()
    return invitation.signer_id, create_invitation(participant, signer, actor=actor, now=now)


def invitation_link(code: str) -> str:
    """Return the link (and QR payload) that opens the invitation.

    An https address, so it works in any browser (the family web flow) and, as
    a universal/app link, opens the native app where one is installed.
    """
    return f"{settings.public_url()}/family/invite/{code}"


@dataclass(frozen=True)
class ChallengeSent:
    """Where a one-time code went and until when it is valid."""

    challenge_id: str
    destination: str
    expires_at: datetime


def _new_challenge(
    signer: Signer,
    purpose: str,
    otp: OtpAlgorithm,
    sender: Sender,
    now: datetime,
    session_id: str | None = None,
) -> ChallengeSent:
    secret = otp.new_secret()
    counter = secrets.randbelow(2**31)
    challenge = OtpChallenge(
        challenge_id=uuid.uuid4().hex,
        signer_id=str(signer.id),
        purpose=purpose,
        secret=crypto.encrypt_identity({"secret": secret}),
        counter=counter,
        created_at=now,
        expires_at=now + OTP_TTL,
        session_id=session_id,
        channel=sender.channel,
    )
    challenge.save(force_insert=True)
    destination = sender.send_code(
        signer_identity(signer),
        otp.code(secret, counter),
        minutes=int(OTP_TTL.total_seconds() // 60),
        locale=signer.preferred_language,
    )
    return ChallengeSent(challenge.challenge_id, destination, challenge.expires_at)


def redeem_invitation(
    code: str, *, otp: OtpAlgorithm, sender: Sender, ip: str, now: datetime | None = None
) -> ChallengeSent:
    """Exchange an invitation code for a one-time code sent to the signer's contact.

    Raises:
        RateLimitedError: too many tries from this address or for this invitation.
        AuthenticationError: unknown, expired or revoked code (one generic message).
    """
    now = now or now_utc()
    hit(f"redeem-ip:{ip}", now=now)
    digest = _sha256(normalise_code(code))
    hit(f"redeem-invitation:{digest}", now=now)
    invitation = Invitation.objects(code_sha256=digest).first()
    if (
        invitation is None
        or invitation_state(invitation.revoked_at, invitation.expires_at, now)
        is not InvitationState.ACTIVE
    ):
        raise AuthenticationError(GENERIC)
    signer = Signer.objects(id=invitation.signer_id).first()
    if signer is None:
        raise AuthenticationError(GENERIC)
    return _new_challenge(signer, "sign-in", otp, sender, now)


def _check_code(
    challenge_id: str,
    code: str,
    purpose: str,
    otp: OtpAlgorithm,
    now: datetime,
    session_id: str | None = None,
) -> OtpChallenge:
    """Spend one attempt on a challenge and mark it used if the code is right (once only)."""
    spent = db.update_one_and_read(
        OtpChallenge._get_collection(),
        {"challenge_id": challenge_id, "purpose": purpose},
        {"$inc": {"attempts": 1}},
    )
    challenge: OtpChallenge | None = None if spent is None else OtpChallenge._from_son(spent)
    if (
        challenge is None
        or challenge.used_at is not None
        or challenge.expires_at < now
        or challenge.session_id != session_id
    ):
        raise AuthenticationError(GENERIC)
    if challenge.attempts > OTP_ATTEMPTS:
        _audit_lockout(challenge, now)
        raise RateLimitedError(
            "Too many wrong codes. Ask for a new code.",
            retry_after=int((challenge.expires_at - now).total_seconds()) + 1,
        )
    secret = crypto.decrypt_identity(challenge.secret)["secret"]
    expected = otp.code(secret, challenge.counter)
    if not secrets.compare_digest(normalise_code(code), normalise_code(expected)):
        raise AuthenticationError(GENERIC)
    # Single use even under concurrent submissions: only one request can set used_at.
    if not OtpChallenge.objects(id=challenge.id, used_at=None).update_one(set__used_at=now):
        raise AuthenticationError(GENERIC)
    return challenge


def _audit_lockout(challenge: OtpChallenge, now: datetime) -> None:
    signer = Signer.objects(id=challenge.signer_id).first()
    participant = Participant.objects(id=signer.participant_id).first() if signer else None
    if participant is None or challenge.attempts != OTP_ATTEMPTS + 1:
        return  # audit the lockout once, not every further attempt
    audit.append(
        participant,
        lambda _e: audit.Draft(
            type="access.locked-out",
            actor=SYSTEM.to_dict(),
            payload={"signer_id": challenge.signer_id, "purpose": challenge.purpose},
        ),
        now=now,
    )


@dataclass(frozen=True)
class SignIn:
    """A new device session and its refresh token (shown once)."""

    session: SignerSession
    refresh_token: str


def verify_sign_in(
    challenge_id: str,
    code: str,
    *,
    device_id: str,
    otp: OtpAlgorithm,
    ip: str,
    now: datetime | None = None,
) -> SignIn:
    """Check the one-time code and open a session bound to ``device_id``.

    Raises:
        RateLimitedError: too many attempts.
        AuthenticationError: wrong, expired or already used code (one generic message).
    """
    now = now or now_utc()
    hit(f"verify-ip:{ip}", now=now)
    challenge = _check_code(challenge_id, code, "sign-in", otp, now)
    signer = Signer.objects(id=challenge.signer_id).get()
    refresh = secrets.token_urlsafe(32)
    session = SignerSession(
        session_id=uuid.uuid4().hex,
        signer_id=str(signer.id),
        participant_id=signer.participant_id,
        trial_id=signer.trial_id,
        device_id=device_id,
        refresh_sha256=_sha256(refresh),
        created_at=now,
        refreshed_at=now,
        expires_at=now + SESSION_TTL,
    )
    session.save(force_insert=True)
    participant = Participant.objects(id=signer.participant_id).get()
    audit.append(
        participant,
        lambda _e: audit.Draft(
            type="access.signed-in",
            actor={"kind": "signer", "id": str(signer.id), "role": signer.role},
            payload={"session_id": session.session_id, "factors": ["invitation", "otp"]},
        ),
        now=now,
    )
    return SignIn(session, refresh)


def refresh_session(refresh_token: str, *, device_id: str, now: datetime | None = None) -> SignIn:
    """Rotate a refresh token; a token used twice revokes its session (it was copied).

    Raises:
        AuthenticationError: unknown, revoked, expired, reused or other-device token.
    """
    now = now or now_utc()
    digest = _sha256(refresh_token)
    session = SignerSession.objects(refresh_sha256=digest).first()
    if session is None:
        retired = RetiredRefreshToken.objects(sha256=digest).first()
        if retired is not None:
            revoke_session(retired.session_id, now=now)
        raise AuthenticationError("Please sign in again.")
    if session.revoked_at or session.expires_at < now or session.device_id != device_id:
        raise AuthenticationError("Please sign in again.")
    new = secrets.token_urlsafe(32)
    if not SignerSession.objects(id=session.id, refresh_sha256=digest).update_one(
        set__refresh_sha256=_sha256(new), set__refreshed_at=now
    ):
        raise AuthenticationError("Please sign in again.")
    RetiredRefreshToken(
        sha256=digest, session_id=session.session_id, expires_at=session.expires_at
    ).save()
    session.reload()
    return SignIn(session, new)


def revoke_session(session_id: str, *, now: datetime | None = None) -> None:
    """Sign a device out (logout, or a stolen refresh token)."""
    # Unset, not null: the sparse unique index on refresh_sha256 skips only missing fields.
    SignerSession.objects(session_id=session_id, revoked_at=None).update_one(
        set__revoked_at=now or now_utc(), unset__refresh_sha256=True
    )
    _LIVE_SESSIONS.pop(session_id, None)


def revoke_signer_sessions(signer_id: str, *, now: datetime | None = None) -> int:
    """Sign every device of a signer out at once; return how many live sessions ended.

    Also voids the signer's unused one-time codes (a code sent before could
    otherwise still open a new session) and any half-finished authenticator
    enrolment. Not audited here: the caller records why (a revoked invitation,
    staff ending the sessions, a corrected contact).
    """
    now = now or now_utc()
    ended: int = SignerSession.objects(
        signer_id=signer_id, revoked_at=None, expires_at__gt=now
    ).update(set__revoked_at=now, unset__refresh_sha256=True)
    OtpChallenge.objects(signer_id=signer_id, used_at=None, expires_at__gt=now).update(
        set__expires_at=now
    )
    Signer.objects(id=signer_id).update_one(set__totp_pending=None)
    for session_id, (session, _) in list(_LIVE_SESSIONS.items()):
        if session.signer_id == signer_id:
            _LIVE_SESSIONS.pop(session_id, None)
    return ended


#: session id -> (session, monotonic time it was read); see :func:`active_session`.
_LIVE_SESSIONS: dict[str, tuple[SignerSession, float]] = {}
_LIVE_SESSIONS_MAX = 10_000


def active_session(
    session_id: str, *, now: datetime | None = None, max_age_s: float = 0.0
) -> SignerSession:
    """Return a live session.

    ``max_age_s`` lets a caller accept a check made up to that many seconds ago
    in this process, saving a database read. Only for reads of non-personal
    data (the published form text): a session revoked in another process stays
    usable there for at most ``max_age_s``. Revocation in this process, and
    every call with the default 0, always see the database.

    Raises:
        AuthenticationError: revoked, expired or unknown.
    """
    now = now or now_utc()
    if max_age_s > 0:
        recent = _LIVE_SESSIONS.get(session_id)
        if (
            recent is not None
            and time.monotonic() - recent[1] <= max_age_s
            and recent[0].expires_at >= now
        ):
            return recent[0]
    session: SignerSession | None = SignerSession.objects(session_id=session_id).first()
    if session is None or session.revoked_at or session.expires_at < now:
        _LIVE_SESSIONS.pop(session_id, None)
        raise AuthenticationError("Please sign in again.")
    if len(_LIVE_SESSIONS) >= _LIVE_SESSIONS_MAX:
        _LIVE_SESSIONS.clear()  # crude but bounded; a miss costs one read
    _LIVE_SESSIONS[session_id] = (session, time.monotonic())
    return session


def start_step_up(
    session: SignerSession, *, otp: OtpAlgorithm, sender: Sender, now: datetime | None = None
) -> ChallengeSent:
    """Send a fresh one-time code for signing or withdrawing (Part 11 11.200)."""
    now = now or now_utc()
    hit(f"step-up-session:{session.session_id}", now=now)
    signer = Signer.objects(id=session.signer_id).get()
    return _new_challenge(signer, "step-up", otp, sender, now, session_id=session.session_id)


def verify_step_up(
    session: SignerSession,
    challenge_id: str,
    code: str,
    *,
    otp: OtpAlgorithm,
    now: datetime | None = None,
) -> AuthEvidence:
    """Check a step-up code; return the evidence a signature or withdrawal needs.

    The evidence names the channel the code travelled by (``otp-email``,
    ``otp-sms``): the signature's record says which factor was used (21 CFR 11.200).
    """
    now = now or now_utc()
    challenge = _check_code(challenge_id, code, "step-up", otp, now, session_id=session.session_id)
    method = _otp_method(challenge)
    SignerSession.objects(id=session.id).update_one(set__step_up_at=now, set__step_up_method=method)
    return AuthEvidence(factors=("session", "otp"), verified_at=now, method=method)


def _otp_method(challenge: OtpChallenge) -> str:
    """Name a one-time code factor by its channel: ``otp-email``, ``otp-sms``, ``otp-console``."""
    return f"otp-{challenge.channel}" if challenge.channel else "otp"


# ---------------------------------------------------------------- authenticator app

#: After the code by e-mail or SMS, the app must be confirmed within this time.
AUTHENTICATOR_WINDOW = timedelta(minutes=10)
NOTICE_SUBJECT = N_("Your consentkit sign-in has changed")
NOTICE_ENROLLED = N_(
    "An authenticator app was set up for your consentkit sign-in. "
    "If this was not you, contact the study team now."
)
NOTICE_REPLACED = N_(
    "The authenticator app of your consentkit sign-in was replaced by another one. "
    "If this was not you, contact the study team now."
)


@dataclass(frozen=True)
class AuthenticatorStart:
    """What the app shows to enrol an authenticator: the secret and its otpauth:// URI."""

    secret: str
    provisioning_uri: str


def send_authenticator_code(
    session: SignerSession, *, otp: OtpAlgorithm, sender: Sender, now: datetime | None = None
) -> ChallengeSent:
    """Send a one-time code to the signer's contact, needed to set up or replace an app.

    A session alone must not be enough: the app's codes stand in for codes by
    e-mail or SMS when signing or withdrawing, so whoever holds a stolen session
    could otherwise enrol their own app and sign. Proving the contact again
    keeps the out-of-band factor (21 CFR 11.200).

    Raises:
        RateLimitedError: too many codes asked for this session.
    """
    now = now or now_utc()
    hit(f"authenticator-session:{session.session_id}", now=now)
    signer = Signer.objects(id=session.signer_id).get()
    return _new_challenge(signer, "authenticator", otp, sender, now, session_id=session.session_id)


def start_authenticator(
    session: SignerSession,
    challenge_id: str,
    code: str,
    *,
    otp: OtpAlgorithm,
    totp: TotpAlgorithm,
    issuer: str = "consentkit",
    now: datetime | None = None,
) -> AuthenticatorStart:
    """Offer a returning signer an authenticator app, once a code by e-mail or SMS is proved.

    The code comes from :func:`send_authenticator_code` for this session. The
    new secret stays pending, bound to this session and to the proof, until
    :func:`confirm_authenticator` sees a first code from it, so a half-finished
    enrolment never locks anyone out and an existing app keeps working until then.

    Raises:
        AuthenticationError: wrong, expired, used or another session's code (generic).
        RateLimitedError: too many wrong codes.
    """
    now = now or now_utc()
    challenge = _check_code(
        challenge_id, code, "authenticator", otp, now, session_id=session.session_id
    )
    secret = totp.new_secret()
    pending = {
        "totp": secret,
        "session_id": session.session_id,
        "proved_at": now.isoformat(),
        "proved_by": _otp_method(challenge),
    }
    Signer.objects(id=session.signer_id).update_one(
        set__totp_pending=crypto.encrypt_identity(pending)
    )
    participant = Participant.objects(id=session.participant_id).only("code").get()
    return AuthenticatorStart(
        secret=secret,
        provisioning_uri=totp.provisioning_uri(
            secret, name=f"{participant.code} ({session.trial_id})", issuer=issuer
        ),
    )


def _proved_pending(signer: Signer, session: SignerSession, now: datetime) -> dict[str, Any]:
    """Return the pending enrolment if this session proved the contact for it just now."""
    if not signer.totp_pending:
        raise AuthenticationError(GENERIC)
    pending: dict[str, Any] = crypto.decrypt_identity(signer.totp_pending)
    proved_at = pending.get("proved_at")
    if (
        pending.get("session_id") != session.session_id
        or not proved_at
        or now - datetime.fromisoformat(proved_at) > AUTHENTICATOR_WINDOW
    ):
        raise AuthenticationError(GENERIC)
    return pending


def confirm_authenticator(
    session: SignerSession,
    code: str,
    *,
    totp: TotpAlgorithm,
    sender: Sender,
    now: datetime | None = None,
) -> None:
    """Switch the signer to the authenticator once a first code from it matches; tell them.

    The enrolment (or replacement of an earlier app) is an audited event, and
    a notice goes to the signer's contact, so a change they did not make does
    not go unnoticed. A notice that cannot be delivered does not undo the
    change (the contact was just proved); the event records whether it went.

    Raises:
        AuthenticationError: no enrolment started on this session with a code by e-mail or
            SMS in the last 10 minutes, or the code does not match (generic).
        RateLimitedError: too many tries.
    """
    now = now or now_utc()
    hit(f"step-up-session:{session.session_id}", now=now)
    signer = Signer.objects(id=session.signer_id).get()
    pending = _proved_pending(signer, session, now)
    step = totp.matching_step(pending["totp"], normalise_code(code), now)
    replaced = bool(signer.totp_secret)
    if step is None or not Signer.objects(
        id=signer.id, totp_pending=signer.totp_pending
    ).update_one(
        set__totp_secret=crypto.encrypt_identity({"totp": pending["totp"]}),
        set__totp_pending=None,
        set__totp_last_step=step,
    ):
        raise AuthenticationError(GENERIC)
    notified = _notify(signer, NOTICE_REPLACED if replaced else NOTICE_ENROLLED, sender)
    audit.append(
        Participant.objects(id=session.participant_id).get(),
        lambda _e: audit.Draft(
            type="signer.authenticator-replaced" if replaced else "signer.authenticator-enrolled",
            actor=Actor(kind="signer", id=str(signer.id), role=signer.role).to_dict(),
            payload={
                "signer_id": str(signer.id),
                "session_id": session.session_id,
                "proved_by": pending["proved_by"],
                "notified": notified,
            },
        ),
        now=now,
    )


def _notify(signer: Signer, text: str, sender: Sender) -> bool:
    """Send a notice about the signer's sign-in in their language; False if it could not go."""
    locale = signer.preferred_language
    try:
        sender.send_notice(
            signer_identity(signer),
            subject=gettext(locale, NOTICE_SUBJECT),
            text=gettext(locale, text),
        )
    except (DeliveryFailedError, InvalidDataError):
        log.warning("A sign-in notice for signer %s could not be sent", signer.id)
        return False
    return True


def verify_step_up_authenticator(
    session: SignerSession, code: str, *, totp: TotpAlgorithm, now: datetime | None = None
) -> AuthEvidence:
    """Step up with a code from the signer's authenticator app (each time step works once).

    Raises:
        AuthenticationError: no authenticator, wrong or replayed code (generic).
        RateLimitedError: too many tries.
    """
    now = now or now_utc()
    hit(f"step-up-session:{session.session_id}", now=now)
    signer = Signer.objects(id=session.signer_id).get()
    if not signer.totp_secret:
        raise AuthenticationError(GENERIC)
    secret = crypto.decrypt_identity(signer.totp_secret)["totp"]
    step = totp.matching_step(secret, normalise_code(code), now)
    if step is None or not Signer.objects(id=signer.id, totp_last_step__lt=step).update_one(
        set__totp_last_step=step
    ):
        raise AuthenticationError(GENERIC)
    SignerSession.objects(id=session.id).update_one(
        set__step_up_at=now, set__step_up_method=TOTP_APP
    )
    return AuthEvidence(factors=("session", "otp"), verified_at=now, method=TOTP_APP)


class SignedInSigner(TypedDict):
    """Who a signer session belongs to (``GET /auth/me``): this JSON is the contract."""

    trial_id: str
    participant_code: str
    role: str
    device_id: str
    authenticator: bool
    #: The language of this signer's pages (:func:`locales.family_page_language`).
    language: str
    #: The languages their site offers, for the language menu (:func:`locales.site_languages`).
    languages: list[str]


def whoami(
    session: SignerSession, *, chosen: str | None = None, accept_language: str | None = None
) -> SignedInSigner:
    """Return the study, participant code and role of a session's signer, and their language.

    ``chosen``: the language picked on this device, if any; ``accept_language``:
    the phone's preferences. The signer's recorded language comes before the phone's.
    """
    signer = Signer.objects(id=session.signer_id).get()
    participant = Participant.objects(id=session.participant_id).get()
    study = Study.objects(trial_id=session.trial_id).only("sites").first()
    site = study.site(participant.site_code) if study else None
    spoken = list(site.languages) if site else []
    catalogs = i18n.available_locales()
    language = locales.family_page_language(
        catalogs,
        chosen=chosen,
        recorded=signer.preferred_language or participant.preferred_language,
        accept_language=accept_language,
        site=spoken,
    )
    return {
        "trial_id": session.trial_id,
        "participant_code": participant.code,
        "role": signer.role,
        "device_id": session.device_id,
        "authenticator": bool(signer.totp_secret),
        "language": language or i18n.SOURCE_LOCALE,
        "languages": locales.site_languages(catalogs, spoken) if spoken else catalogs,
    }
