"""System strings (labels, messages) in the reader's language, from gettext catalogs.

Consent *text* is versioned legal content stored per locale in the database;
these catalogs (``translations/<ll>[_<CC>]/LC_MESSAGES/messages.po``) hold only
the library's own words. Catalogs are read from the ``.po`` files directly, so
a source checkout never serves stale compiled ``.mo`` files; fuzzy entries are
ignored, as gettext would.
"""

from __future__ import annotations

import functools
import io
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from consentkit.paths import translations_dir

DOMAIN = "messages"
SOURCE_LOCALE = "en"


def N_(message: str) -> str:
    """Mark ``message`` for extraction without translating it now."""
    return message


def _disk_name(locale: str) -> str:
    return locale.replace("-", "_")


@functools.cache
def _catalog(disk_locale: str) -> NullTranslations | None:
    path = translations_dir() / disk_locale / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not path.is_file():
        return None
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=disk_locale)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return Translations(buffer, domain=DOMAIN)


def translations(locale: str | None) -> NullTranslations:
    """Return the catalog for ``locale`` (``fr-BE`` falls back to ``fr``, then English)."""
    if locale:
        try:
            parsed = Locale.parse(_disk_name(locale))
        except (UnknownLocaleError, ValueError):
            parsed = None
        if parsed is not None:
            for candidate in (str(parsed), parsed.language):
                found = _catalog(candidate)
                if found is not None:
                    return found
    return NullTranslations()


def gettext(locale: str | None, message: str, /, **params: Any) -> str:
    """Translate ``message`` into ``locale`` and fill ``%(name)s`` placeholders.

    ``locale`` and ``message`` are positional-only, so a placeholder may have any
    name, ``locale`` and ``message`` included ("This form has no %(locale)s text.").
    """
    text = translations(locale).gettext(message)
    return text % params if params else text


def available_locales() -> list[str]:
    """Return the locales that have a catalog (BCP 47), sorted."""
    root = translations_dir()
    return sorted(
        path.parent.parent.name.replace("_", "-")
        for path in root.glob(f"*/LC_MESSAGES/{DOMAIN}.po")
    )
