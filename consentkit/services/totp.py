"""The authenticator-app algorithm (TOTP, RFC 6238) as consentkit sees it: injected, not imported.

The web layer implements it with pyotp; consentkit keeps the rules (one use per
time step, who may enrol, what counts as a fresh factor) and stays free of it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class TotpAlgorithm(Protocol):
    """Time-based codes from an authenticator app."""

    def new_secret(self) -> str:
        """Return a fresh base32 secret."""
        ...

    def matching_step(self, secret: str, code: str, at: datetime) -> int | None:
        """Return the time step ``code`` belongs to (allowing one step of drift), or None."""
        ...

    def provisioning_uri(self, secret: str, *, name: str, issuer: str) -> str:
        """Return the ``otpauth://`` URI an authenticator app scans."""
        ...
