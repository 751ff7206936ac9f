"""Keys: encryption of signers' identifying data, and the MAC that seals audit chains.

Identifying data (names, contacts) is kept apart from trial data and encrypted
at rest with Fernet (AES-128-CBC + HMAC-SHA256) from ``cryptography``.
``CONSENTKIT_IDENTITY_KEYS`` holds one or more keys, comma-separated, newest
first: new data is encrypted with the first, and every key can still decrypt,
so a key is rotated by prepending a new one, re-encrypting
(:func:`rotate_token`), then dropping the old key.

``CONSENTKIT_AUDIT_KEY`` keys the HMAC over each participant's audit chain
head, so that someone who can write the database but not read the
configuration cannot rewrite a chain and its head consistently.

In production both must be set; in development and tests a random key is
generated once under the data directory (with a warning), so data written
there stays readable across restarts.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import logging
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from consentkit import settings
from consentkit.errors import ConfigurationError

log = logging.getLogger(__name__)


def _generated(name: str, make: Any) -> str:
    """Return a development key kept under the data dir, creating it once."""
    if settings.environment() == "production":
        raise ConfigurationError(
            "%(variable)s must be set in production (see README, Configuration).",
            params={"variable": f"CONSENTKIT_{name.upper()}"},
        )
    path: Path = settings.data_dir() / "keys" / f"{name}.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(make())
        path.chmod(0o600)
        log.warning("generated a development %s key in %s: never use it in production", name, path)
    return path.read_text().strip()


@functools.cache
def _fernet() -> MultiFernet:
    raw = settings.identity_keys() or _generated(
        "identity_keys", lambda: Fernet.generate_key().decode()
    )
    try:
        return MultiFernet([Fernet(key.strip()) for key in raw.split(",") if key.strip()])
    except ValueError as exc:
        raise ConfigurationError(
            "CONSENTKIT_IDENTITY_KEYS must be Fernet keys (32 url-safe base64 bytes), "
            'e.g. from `python -c "from cryptography.fernet import Fernet; '
            'print(Fernet.generate_key().decode())"`.'
        ) from exc


@functools.cache
def _audit_key() -> bytes:
    raw = settings.audit_key() or _generated("audit_key", lambda: secrets.token_urlsafe(48))
    if len(raw) < 32:
        raise ConfigurationError("CONSENTKIT_AUDIT_KEY must be at least 32 characters.")
    return raw.encode()


@functools.cache
def _blind_index_key() -> bytes:
    raw = settings.blind_index_key() or _generated(
        "blind_index_key", lambda: secrets.token_urlsafe(48)
    )
    if len(raw) < 32:
        raise ConfigurationError("CONSENTKIT_BLIND_INDEX_KEY must be at least 32 characters.")
    return raw.encode()


def reset_keys() -> None:
    """Forget cached keys (after the environment changed, e.g. in tests or a rotation)."""
    _fernet.cache_clear()
    _audit_key.cache_clear()
    _blind_index_key.cache_clear()


def normalise_contact(kind: str, value: str) -> str:
    """Return the form of an e-mail address or phone number that two spellings share.

    E-mail: trimmed and lower-cased (providers treat the local part so in practice).
    Phone: the digits alone, with a leading ``+`` kept (``+32 470 12 34 56`` and
    ``+32470123456`` are one number).
    """
    text = value.strip()
    if kind == "email":
        return text.lower()
    digits = "".join(ch for ch in text if ch.isdigit())
    return ("+" + digits) if text.startswith("+") else digits


def blind_index(kind: str, value: str | None) -> str | None:
    """Return the keyed blind index of a contact (``email`` or ``phone``), or None.

    HMAC-SHA256 under ``CONSENTKIT_BLIND_INDEX_KEY`` of the normalised contact,
    prefixed with its kind: equal contacts give equal values, so one person's
    signers across siblings and studies are found by an indexed equality, while
    the stored value reveals nothing without the key (the contact itself stays
    Fernet-encrypted).
    """
    if not value or not value.strip():
        return None
    text = f"{kind}:{normalise_contact(kind, value)}"
    return kind[0] + ":" + hmac.new(_blind_index_key(), text.encode(), hashlib.sha256).hexdigest()


def contact_index(identity: Mapping[str, Any]) -> list[str]:
    """Return the blind indexes of an identity's e-mail and phone (either may be missing)."""
    found = [blind_index(kind, identity.get(kind)) for kind in ("email", "phone")]
    return [value for value in found if value]


def encrypt_identity(data: Mapping[str, object]) -> str:
    """Encrypt identifying data with the newest identity key."""
    return _fernet().encrypt(json.dumps(data, ensure_ascii=False).encode()).decode()


def decrypt_identity(token: str) -> dict[str, Any]:
    """Decrypt identifying data with whichever configured key encrypted it.

    The result is whatever JSON object was encrypted (an identity, a TOTP secret,
    a pending enrolment), hence ``Any``; the services that own each kind of blob
    give it its type (e.g. :class:`consentkit.services.participants.SignerIdentity`).

    Raises:
        ConfigurationError: no configured key can decrypt it (a key was dropped too early).
    """
    try:
        result: dict[str, Any] = json.loads(_fernet().decrypt(token.encode()))
    except InvalidToken as exc:
        raise ConfigurationError(
            "Identifying data cannot be decrypted with the configured keys."
        ) from exc
    return result


def rotate_token(token: str) -> str:
    """Re-encrypt a token with the newest key (for key rotation).

    Raises:
        ConfigurationError: no configured key can decrypt it.
    """
    try:
        return _fernet().rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise ConfigurationError(
            "Identifying data cannot be decrypted with the configured keys."
        ) from exc


def seal(text: str) -> str:
    """Return the HMAC-SHA256 of ``text`` under the audit key (hex)."""
    return hmac.new(_audit_key(), text.encode(), hashlib.sha256).hexdigest()


def seal_matches(text: str, mac: str) -> bool:
    """Check a seal in constant time."""
    return hmac.compare_digest(seal(text), mac)
