"""Who acted and with what proof: the values every service stores with an event.

An :class:`Actor` is written into each audit event; :class:`AuthEvidence` is
how a signer proved who they were just before signing or withdrawing (21 CFR
11.200); :class:`SignatureInput` is what a signer submits with a signature.
They are plain values with no database access, so any service may take them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from consentkit.enums import Channel, SignatureMethod
from consentkit.errors import EligibilityError
from consentkit.policy.children import IN_PRESENCE
from consentkit.services.signatures import Strokes

#: A one-time code older than this is not "fresh" for signing (Part 11 11.200 step-up).
FRESH_AUTH = timedelta(minutes=10)


@dataclass(frozen=True)
class Actor:
    """Who performs an action: a signer on their device, staff, or the system."""

    kind: str
    id: str
    role: str
    on_behalf_of: str | None = None
    channel: str = Channel.APP

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form stored in events."""
        data = {"kind": self.kind, "id": self.id, "role": self.role, "channel": self.channel}
        if self.on_behalf_of:
            data["on_behalf_of"] = self.on_behalf_of
        return data


SYSTEM = Actor(kind="system", id="consentkit", role="system")


@dataclass(frozen=True)
class AuthEvidence:
    """How the signer proved who they are just before signing (Part 11 11.200)."""

    factors: tuple[str, ...]
    verified_at: datetime
    method: str = "otp"

    def check(self, now: datetime) -> None:
        """Refuse stale or single-factor evidence.

        A young child's signature given with a parent present has no code of its own
        (:data:`consentkit.policy.children.IN_PRESENCE`): the parent's signed-in session
        and their presence; :func:`consentkit.services.ceremony.sign` accepts it only for
        the participant's own signature.
        """
        in_presence = self.method == IN_PRESENCE and set(self.factors) == {"session", IN_PRESENCE}
        if not in_presence and (len(set(self.factors)) < 2 or "otp" not in self.factors):
            raise EligibilityError(
                "Signing needs two distinct factors including a fresh one-time code.",
                code="fresh-code-required",
            )
        if now - self.verified_at > FRESH_AUTH or self.verified_at > now + timedelta(minutes=1):
            raise EligibilityError(
                "The one-time code is no longer fresh; request a new one to sign.",
                code="fresh-code-required",
            )

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form stored with the signature."""
        return {
            "factors": list(self.factors),
            "verified_at": self.verified_at.isoformat(timespec="milliseconds"),
            "method": self.method,
        }


@dataclass
class SignatureInput:
    """What a signer submits with a signature."""

    signer_id: str
    locale: str
    content_sha256: str
    printed_name: str
    strokes: Strokes
    auth: AuthEvidence
    idempotency_key: str
    client_at: datetime | None = None
    client_offset_minutes: int | None = None
    ip: str | None = None
    user_agent: str | None = None
    early_signing_justification: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: How the signature was made (policy.signing): drawn, typed or attested.
    method: str = SignatureMethod.DRAWN
    #: The explicit "I sign" of a typed signature.
    i_sign: bool = False
    #: The signer's registered name, read from their record by a caller that already has
    #: it (policy.signing.check_printed_name); None: the ceremony reads it.
    registered_name: str | None = None
