"""Machine clients: service accounts, their OAuth2 client-credentials tokens, and every use.

A sponsor admin creates an account for a system in one study, with scopes and
the sites it may see; the system exchanges its client id and secret for a
short-lived bearer token (``POST /api/v1/oauth/token``, Authlib's client
credentials grant in the backend). The secret is shown once and stored as an
argon2id hash like a staff password; it can be rotated, and the account revoked
(with all its tokens). Each authenticated call is one write
(:func:`record_use`): it logs the call and counts it against
:data:`CALLS_PER_MINUTE` in the same update.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from argon2.exceptions import InvalidHashError, VerificationError

from consentkit import db
from consentkit.clock import aware_utc, now_utc
from consentkit.errors import (
    AuthenticationError,
    InvalidDataError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
)
from consentkit.models.service_account import (
    ServiceAccount as ServiceAccount,  # the type callers hold
)
from consentkit.models.service_account import ServiceCall, ServiceToken, ServiceUse
from consentkit.models.staff import SecurityEvent
from consentkit.services.staff import password_hasher

#: What a service account may be given (docs/permissions.md#service-accounts).
SCOPES = ("permissions:read", "fhir:read", "webhooks:manage", "export:read")
ALL_SITES = "*"
TOKEN_TTL = timedelta(minutes=15)
#: Calls per account per minute; the next one answers 429 until the minute ends.
CALLS_PER_MINUTE = 600
GENERIC = "The access token is not valid."


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _log(kind: str, account: ServiceAccount, by: str | None, now: datetime) -> None:
    SecurityEvent(
        type=kind,
        staff_id=by,
        detail={"client_id": account.client_id, "trial_id": account.trial_id},
        at=now,
    ).save(force_insert=True)


def _check(scopes: Sequence[str], sites: Sequence[str], name: str) -> tuple[list[str], list[str]]:
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise InvalidDataError(
            "Unknown scope: %(scope)s.",
            code="unknown-client-scope",
            params={"scope": ", ".join(unknown) or "-"},
        )
    if not sites or not name.strip():
        raise InvalidDataError("Name the account and the sites it may see.")
    return sorted(set(scopes)), sorted(set(sites))


def create_service_account(
    trial_id: str,
    *,
    name: str,
    scopes: Sequence[str],
    sites: Sequence[str],
    created_by: str,
    now: datetime | None = None,
) -> tuple[ServiceAccount, str]:
    """Create an account and return it with its client secret (shown this once).

    Raises:
        InvalidDataError: ``unknown-client-scope``, or no name or no site.
    """
    now = now or now_utc()
    chosen, seen = _check(scopes, sites, name)
    secret = secrets.token_urlsafe(32)
    account = ServiceAccount(
        client_id=f"ck_{secrets.token_urlsafe(12)}",
        trial_id=trial_id,
        name=name.strip(),
        scopes=chosen,
        sites=seen,
        secret_hash=password_hasher().hash(secret),
        secret_rotated_at=now,
        created_by=created_by,
        created_at=now,
    )
    account.save(force_insert=True)
    _log("service-account.created", account, created_by, now)
    return account, secret


def get_account(trial_id: str, client_id: str) -> ServiceAccount:
    """Return an account of the study.

    Raises:
        NotFoundError: none with that client id in that study.
    """
    account = ServiceAccount.objects(trial_id=trial_id, client_id=client_id).first()
    if account is None:
        raise NotFoundError("No such service account.", code="service-account-not-found")
    return cast(ServiceAccount, account)


def list_accounts(trial_id: str) -> list[ServiceAccount]:
    """Return the study's accounts, revoked ones included, oldest first."""
    return list(ServiceAccount.objects(trial_id=trial_id).order_by("created_at"))


def rotate_secret(
    trial_id: str, client_id: str, *, by: str, now: datetime | None = None
) -> tuple[ServiceAccount, str]:
    """Replace the secret (the old one stops working; issued tokens run out on their own).

    Raises:
        NotFoundError: no such account. ConflictError-free: a revoked account is refused
        with PermissionDeniedError ``service-account-revoked``.
    """
    now = now or now_utc()
    account = get_account(trial_id, client_id)
    if account.revoked_at is not None:
        raise PermissionDeniedError(
            "This service account is revoked.", code="service-account-revoked"
        )
    secret = secrets.token_urlsafe(32)
    account.secret_hash = password_hasher().hash(secret)
    account.secret_rotated_at = now
    ServiceAccount.objects(id=account.id).update_one(
        set__secret_hash=account.secret_hash, set__secret_rotated_at=now
    )
    _log("service-account.rotated", account, by, now)
    return account, secret


def revoke(
    trial_id: str, client_id: str, *, by: str, now: datetime | None = None
) -> ServiceAccount:
    """Revoke the account and every token it holds, at once (kept, never deleted)."""
    now = now or now_utc()
    account = get_account(trial_id, client_id)
    if account.revoked_at is None:
        ServiceAccount.objects(id=account.id, revoked_at=None).update_one(
            set__revoked_at=now, set__revoked_by=by
        )
        ServiceToken.objects(client_id=client_id, revoked_at=None).update(set__revoked_at=now)
        account.revoked_at, account.revoked_by = now, by
        _log("service-account.revoked", account, by, now)
    return account


def last_used(client_ids: Sequence[str]) -> dict[str, datetime]:
    """Return when each account last called the API (accounts never used are absent).

    One indexed read per account (the newest minute window of its use log), so a
    sponsor admin sees at a glance which system still calls and which is stale.
    """
    found: dict[str, datetime] = {}
    for client_id in client_ids:
        use = (
            ServiceUse.objects(client_id=client_id)
            .order_by("-window")
            .only("last_at", "calls")
            .first()
        )
        if use is not None and use.last_at is not None:
            found[client_id] = aware_utc(use.last_at)
        elif use is not None and use.calls:  # a window logged before ServiceCall
            found[client_id] = aware_utc(max(call["at"] for call in use.calls))
    return found


_dummy_hash: str | None = None


def check_client(client_id: str, secret: str) -> ServiceAccount | None:
    """Return the live account these credentials name, or None (the same work either way)."""
    global _dummy_hash
    account = ServiceAccount.objects(client_id=client_id, revoked_at=None).first()
    hasher = password_hasher()
    if account is None:
        if _dummy_hash is None:
            _dummy_hash = hasher.hash(secrets.token_urlsafe(32))
        with contextlib.suppress(VerificationError, InvalidHashError):
            hasher.verify(_dummy_hash, secret)
        return None
    try:
        hasher.verify(account.secret_hash, secret)
    except (VerificationError, InvalidHashError):
        return None
    return cast(ServiceAccount, account)


def active_account(client_id: str) -> ServiceAccount | None:
    """The account a client id names, unless revoked (the OAuth server asks before any check)."""
    return cast(
        "ServiceAccount | None",
        ServiceAccount.objects(client_id=client_id, revoked_at=None).first(),
    )


def save_token(
    account: ServiceAccount,
    access_token: str,
    scopes: Sequence[str],
    *,
    now: datetime | None = None,
) -> ServiceToken:
    """Keep an issued token by its hash, with the scopes granted and when it runs out."""
    now = now or now_utc()
    token = ServiceToken(
        token_sha256=_sha256(access_token),
        client_id=account.client_id,
        scopes=sorted(set(scopes) & set(account.scopes)),
        trial_id=account.trial_id,
        sites=list(account.sites),
        issued_at=now,
        expires_at=now + TOKEN_TTL,
    )
    token.save(force_insert=True)
    # A revocation that ran between the account check and this save could not see the
    # token: read the account again and revoke the token if it is gone (calls trust the
    # token alone, see authenticate).
    if ServiceAccount.objects(id=account.id, revoked_at__ne=None).count():
        ServiceToken.objects(id=token.id).update_one(set__revoked_at=now)
        token.revoked_at = now
    _log("service-account.token-issued", account, None, now)
    return token


@dataclass(frozen=True)
class Client:
    """An authenticated machine caller: which account, in which study, what it may do."""

    client_id: str
    trial_id: str
    scopes: frozenset[str]
    #: None: every site of the study.
    sites: frozenset[str] | None

    def sees(self, site_code: str) -> bool:
        """Whether the account may see participants of ``site_code``."""
        return self.sites is None or site_code in self.sites


def authenticate(access_token: str, *, now: datetime | None = None) -> Client:
    """Return the caller a bearer token names.

    Raises:
        AuthenticationError: unknown, expired or revoked token, or a revoked account.
    """
    now = now or now_utc()
    token = ServiceToken.objects(token_sha256=_sha256(access_token)).first()
    if token is None or token.revoked_at is not None or aware_utc(token.expires_at) <= now:
        raise AuthenticationError(GENERIC)
    if token.trial_id is not None:
        # The token carries its account's study and sites; revoking the account revoked it.
        sites = None if ALL_SITES in token.sites else frozenset(token.sites)
        return Client(token.client_id, token.trial_id, frozenset(token.scopes), sites)
    account = (
        ServiceAccount.objects(client_id=token.client_id)
        .only("trial_id", "sites", "revoked_at")
        .first()
    )
    if account is None or account.revoked_at is not None:
        raise AuthenticationError(GENERIC)
    sites = None if ALL_SITES in account.sites else frozenset(account.sites)
    return Client(token.client_id, account.trial_id, frozenset(token.scopes), sites)


def authorise(client: Client, scope: str, trial_id: str, site_code: str | None = None) -> None:
    """Refuse unless the token carries ``scope`` for this study (and site).

    Raises:
        PermissionDeniedError: missing scope, another study or another site.
    """
    if (
        scope not in client.scopes
        or client.trial_id != trial_id
        or (site_code is not None and not client.sees(site_code))
    ):
        raise PermissionDeniedError("You do not have access to this.")


def record_use(client: Client, method: str, path: str, *, now: datetime | None = None) -> None:
    """Count one call and log it; refuse (and count the refusal) past the limit.

    The limit is :data:`CALLS_PER_MINUTE` per account. Two small writes of a constant
    size: the minute's counter and the call's own log document.

    Raises:
        RateLimitedError: over the limit; ``retry_after`` is the rest of the minute.
    """
    now = now or now_utc()
    window = int(now.timestamp()) // 60
    counted = db.count_under(
        ServiceUse._get_collection(),
        {"client_id": client.client_id, "window": window},
        CALLS_PER_MINUTE,
        also={"$max": {"last_at": now}},
    )
    if not counted:
        # The refusal is counted too (a rare second write): staff see an account hammering.
        ServiceUse.objects(client_id=client.client_id, window=window).update_one(inc__refused=1)
        raise RateLimitedError(
            "Too many attempts. Please wait and try again.",
            retry_after=max(60 - int(now.timestamp()) % 60, 1),
        )
    ServiceCall._get_collection().insert_one(
        {"client_id": client.client_id, "at": now, "method": method, "path": path}
    )
