"""Which version of a form is in force on a date, and what to call each version's state.

"Superseded" is derived, not stored: a published version is superseded once a
later published version has taken effect. Storing it would need a write on the
effective date; deriving it cannot drift.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Protocol, TypeVar

from consentkit.enums import VersionStatus


class VersionLike(Protocol):
    """What version selection needs to know of a version."""

    @property
    def version(self) -> int: ...  # noqa: D102

    @property
    def status(self) -> str: ...  # noqa: D102

    @property
    def effective_from(self) -> date | None: ...  # noqa: D102


V = TypeVar("V", bound=VersionLike)


def version_in_force(versions: Sequence[V], on: date) -> V | None:
    """Return the published version in force on ``on``: the latest one already effective.

    A version published with a future ``effective_from`` leaves its
    predecessor in force until that day.
    """
    candidates = [
        v
        for v in versions
        if v.status == VersionStatus.PUBLISHED
        and v.effective_from is not None
        and v.effective_from <= on
    ]
    return max(candidates, key=lambda v: v.version, default=None)


def display_status(version: VersionLike, versions: Sequence[VersionLike], on: date) -> str:
    """Return the state to show: draft, approved, scheduled, published, superseded, retired."""
    if version.status != VersionStatus.PUBLISHED:
        return version.status
    if version.effective_from is not None and version.effective_from > on:
        return "scheduled"
    current = version_in_force(versions, on)
    if current is not None and current.version > version.version:
        return VersionStatus.SUPERSEDED.value
    return VersionStatus.PUBLISHED.value
