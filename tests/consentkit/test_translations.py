"""Every shipped catalog is complete, final and keeps the template's placeholders."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po

from consentkit import i18n
from consentkit.paths import translations_dir

LOCALES = ["en", "fr", "de", "it", "es", "nl", "pl", "lt"]

_PLACEHOLDER = re.compile(r"%\((\w+)\)s|%s")


def _read(path_parts: tuple[str, ...], locale: str | None = None) -> Catalog:
    path = translations_dir().joinpath(*path_parts)
    with path.open("rb") as handle:
        return read_po(handle, locale=locale)


def _template() -> Catalog:
    return _read(("messages.pot",))


def _catalog(locale: str) -> Catalog:
    return _read((locale, "LC_MESSAGES", "messages.po"), locale=locale)


def _entries(catalog: Catalog) -> Iterator[Message]:
    """The catalog's messages, without the header entry."""
    return (message for message in catalog if message.id)


def _texts(value: str | tuple[str, ...] | list[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _placeholders(text: str) -> tuple[frozenset[str], int]:
    """Named placeholders (as a set) and the count of positional ``%s``."""
    found = _PLACEHOLDER.findall(text.replace("%%", ""))
    return frozenset(name for name in found if name), sum(1 for name in found if not name)


def _key(message: Message) -> str:
    return message.id if isinstance(message.id, str) else message.id[0]


@pytest.mark.parametrize("locale", LOCALES)
def test_catalog_has_every_template_msgid(locale: str) -> None:
    catalog = _catalog(locale)

    missing = [_key(m) for m in _entries(_template()) if catalog.get(m.id, m.context) is None]

    assert not missing, f"{locale}: msgids missing from the catalog: {missing}"


@pytest.mark.parametrize("locale", LOCALES)
def test_catalog_has_no_empty_msgstr(locale: str) -> None:
    empty = [
        _key(m)
        for m in _entries(_catalog(locale))
        if not _texts(m.string) or not all(_texts(m.string))
    ]

    assert not empty, f"{locale}: empty msgstr for msgids: {empty}"


@pytest.mark.parametrize("locale", LOCALES)
def test_catalog_has_no_fuzzy_entries(locale: str) -> None:
    catalog = _catalog(locale)

    fuzzy = [_key(m) for m in _entries(catalog) if m.fuzzy]

    assert not catalog.fuzzy, f"{locale}: the catalog header is marked fuzzy"
    assert not fuzzy, f"{locale}: fuzzy entries for msgids: {fuzzy}"


@pytest.mark.parametrize("locale", LOCALES)
def test_catalog_keeps_placeholders_of_msgid(locale: str) -> None:
    mismatched = []
    for message in _entries(_catalog(locale)):
        # A plural msgstr is checked against the plural msgid; all forms share names.
        source = _placeholders(_texts(message.id)[-1])
        for translated in _texts(message.string):
            if translated and _placeholders(translated) != source:
                mismatched.append((_key(message), translated))

    assert not mismatched, f"{locale}: placeholders differ from the msgid: {mismatched}"


def test_gettext_returns_catalog_text_for_language() -> None:
    expected = _catalog("fr").get("Investigator")
    assert expected is not None
    assert expected.string

    assert i18n.gettext("fr", "Investigator") == expected.string
    assert expected.string != "Investigator"


def test_gettext_falls_back_from_region_to_language() -> None:
    assert i18n.gettext("fr-BE", "Investigator") == i18n.gettext("fr", "Investigator")


def test_gettext_returns_msgid_for_unknown_locale() -> None:
    assert i18n.gettext("xx", "Investigator") == "Investigator"
