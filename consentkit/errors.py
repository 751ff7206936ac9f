"""Domain exceptions.

They know nothing about HTTP: ``backend/errors.py`` maps each class to a status
in one table. Clients switch on :attr:`ConsentKitError.code`, which is stable;
the message is for people and may change. It is an English gettext msgid with
``%(name)s`` placeholders filled from ``params``: :attr:`ConsentKitError.message`
is the English text, :meth:`ConsentKitError.translated` the reader's language.
Raise with a literal message so ``make i18n-extract`` finds it (every class
here is an extraction keyword in the Makefile).
"""

from __future__ import annotations

from typing import Any

from consentkit import i18n


class ConsentKitError(Exception):
    """Base class of every error consentkit raises on purpose."""

    code = "consentkit-error"

    def __init__(
        self,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        code: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> None:
        """Create the error from an English template and its placeholder values.

        ``code`` refines the class's code (e.g. ``information-incomplete``);
        ``params`` fills the template's ``%(name)s`` placeholders.
        """
        self.template = message
        self.params: dict[str, Any] = params or {}
        self.message = message % self.params if self.params else message
        super().__init__(self.message)
        self.details: dict[str, Any] = details or {}
        if code is not None:
            self.code = code

    def translated(self, locale: str | None) -> str:
        """Return the message in ``locale`` (English when there is no catalog or entry)."""
        return i18n.gettext(locale, self.template, **self.params)


class NotFoundError(ConsentKitError):
    """The thing asked for does not exist (or the caller may not know it does)."""

    code = "not-found"


class InvalidDataError(ConsentKitError):
    """Input is malformed or fails validation; ``details`` says where."""

    code = "invalid-data"


class ConflictError(ConsentKitError):
    """The request clashes with the current state (e.g. a published version)."""

    code = "conflict"


class EligibilityError(ConsentKitError):
    """A domain precondition is not met (wrong age band, missing signature...)."""

    code = "not-eligible"


class DatabaseUnavailableError(ConsentKitError):
    """The database cannot be reached; callers should retry later."""

    code = "database-unavailable"


class ConfigurationError(ConsentKitError):
    """Configuration is missing or unsafe; raised at start-up, never mid-request."""

    code = "configuration-error"


class AuthenticationError(ConsentKitError):
    """Who is asking could not be established; the message never says why in detail."""

    code = "authentication-failed"


class DeliveryFailedError(ConsentKitError):
    """A one-time code could not be handed to the e-mail or SMS service; retry later."""

    code = "code-not-sent"


class PermissionDeniedError(ConsentKitError):
    """The caller is signed in but their role or sites do not allow this."""

    code = "forbidden"


class RateLimitedError(ConsentKitError):
    """Too many attempts; ``retry_after`` says how many seconds to wait."""

    code = "too-many-attempts"

    def __init__(
        self,
        message: str,
        *,
        retry_after: int,
        params: dict[str, Any] | None = None,
        code: str | None = None,
    ) -> None:
        """Create the error with the wait in seconds (``code`` refines ``too-many-attempts``)."""
        super().__init__(message, details={"retry_after": retry_after}, params=params, code=code)
        self.retry_after = retry_after
