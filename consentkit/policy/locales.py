"""Choosing the language a family reads a form in.

Order: the explicit choice, then the Accept-Language preferences (by q-value;
``de-AT`` falls back to ``de``), then the site's default language, then the
first available. Names are given in their own language and with their text
direction, so right-to-left languages can be laid out correctly.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

from babel import Locale, UnknownLocaleError

_MAX_PREFERENCES = 20  # a header longer than this is not a real browser's


def parse_accept_language(header: str | None) -> list[str]:
    """Return the tags of an Accept-Language header, most preferred first (q=0 dropped)."""
    if not header:
        return []
    weighted: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")[:_MAX_PREFERENCES]):
        tag, _, params = part.strip().partition(";")
        tag = tag.strip()
        if not tag or tag == "*":
            continue
        quality = 1.0
        params = params.strip().lower()  # the HTTP grammar is case-insensitive ("Q=0.5")
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                continue
        if quality > 0:
            weighted.append((-quality, index, tag))
    return [tag for _, _, tag in sorted(weighted)]


def _key(tag: str) -> str:
    return tag.replace("_", "-").lower()


def negotiate_locale(
    available: Sequence[str],
    *,
    requested: str | None = None,
    accept_language: str | None = None,
    site_default: str | None = None,
) -> str | None:
    """Return the best of ``available`` for the reader, or None when nothing is available."""
    if not available:
        return None
    by_key = {_key(tag): tag for tag in available}
    preferences = ([requested] if requested else []) + parse_accept_language(accept_language)
    if site_default:
        preferences.append(site_default)
    for wanted in preferences:
        key = _key(wanted)
        if key in by_key:
            return by_key[key]
        language = key.split("-")[0]
        if language in by_key:
            return by_key[language]
        regional = sorted(tag for k, tag in by_key.items() if k.split("-")[0] == language)
        if regional:
            return regional[0]
    return sorted(available)[0]


@dataclass(frozen=True)
class LanguageOption:
    """A language as shown in a language picker."""

    tag: str
    name: str
    english_name: str
    direction: str

    def to_dict(self) -> dict[str, str]:
        """Return the JSON form."""
        return {
            "tag": self.tag,
            "name": self.name,
            "english_name": self.english_name,
            "direction": self.direction,
        }


@functools.lru_cache(maxsize=256)
def language_option(tag: str) -> LanguageOption:
    """Describe ``tag`` in its own language, with its text direction."""
    try:
        locale = Locale.parse(tag.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        return LanguageOption(tag, tag, tag, "ltr")
    own = locale.get_display_name(locale) or tag
    return LanguageOption(
        tag=tag,
        name=own[:1].upper() + own[1:],
        english_name=locale.get_display_name("en") or tag,
        direction=locale.text_direction,
    )
