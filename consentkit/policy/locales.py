"""Choosing the language a family reads a form in.

Order: the explicit choice, then the Accept-Language preferences (by q-value;
``de-AT`` falls back to ``de``), then the site's default language, then the
first available. A family member's pages (:func:`family_page_language`) put
the language recorded for them before their phone's, and offer only the
languages of their site (:func:`site_languages`). Names are given in their
own language and with their text direction, so right-to-left languages can be laid out correctly.
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


def match_locale(available: Sequence[str], wanted: str | None) -> str | None:
    """Return the tag of ``available`` that serves ``wanted`` (``de-AT`` -> ``de``), or None."""
    if not wanted or len(wanted) > 35:
        return None
    by_key = {_key(tag): tag for tag in available}
    key = _key(wanted.strip())
    if key in by_key:
        return by_key[key]
    language = key.split("-")[0]
    if language in by_key:
        return by_key[language]
    regional = sorted(tag for k, tag in by_key.items() if k.split("-")[0] == language)
    return regional[0] if regional else None


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
    preferences = ([requested] if requested else []) + parse_accept_language(accept_language)
    if site_default:
        preferences.append(site_default)
    for wanted in preferences:
        found = match_locale(available, wanted)
        if found:
            return found
    return sorted(available)[0]


def site_languages(available: Sequence[str], site: Sequence[str]) -> list[str]:
    """Return the page languages a site offers: those of ``available`` it speaks, in its order.

    ``site`` is the site's languages (its first is its default). A site whose
    languages have no catalog is offered every catalog rather than none.
    """
    offered: list[str] = []
    for tag in site:
        found = match_locale(available, tag)
        if found and found not in offered:
            offered.append(found)
    return offered or list(available)


def family_page_language(
    available: Sequence[str],
    *,
    chosen: str | None = None,
    recorded: str | None = None,
    accept_language: str | None = None,
    site: Sequence[str] = (),
) -> str | None:
    """Return the language of a family member's pages.

    The language they chose on this device (any of ``available``: a link may
    name one), then the one recorded for them at enrolment, then their phone's
    (Accept-Language), then the site's default; all but the first among the
    languages the site offers (:func:`site_languages`).
    """
    offered = site_languages(available, site) if site else list(available)
    found = match_locale(available, chosen) or match_locale(offered, recorded)
    if found:
        return found
    return negotiate_locale(
        offered, accept_language=accept_language, site_default=site[0] if site else None
    )


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
