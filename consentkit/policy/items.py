"""The consent items of a form: an answer names only items the form has.

A form's items (optional samples, future research, re-contact...) are fixed by
its published version; an answer to an item it does not have is a mistake in
the request, never a new item (docs/regulatory-basis.md#checklist-4). The app's
choices (``ceremony.choose_items``) and the ticked boxes of a paper form
(``paper.paper_choices``) are both checked here, with the same refusal.
"""

from __future__ import annotations

from collections.abc import Iterable

from consentkit.errors import InvalidDataError


def refuse_unknown_items(answered: Iterable[str], known: Iterable[str]) -> None:
    """Refuse answers that name an item the form does not have.

    Raises:
        InvalidDataError: ``items-incomplete``, listing the unknown item ids.
    """
    unknown = sorted(set(answered) - set(known))
    if unknown:
        raise InvalidDataError(
            "Unknown item(s): %(items)s",
            code="items-incomplete",
            params={"items": ", ".join(unknown)},
        )
