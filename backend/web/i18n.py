"""The language of a web page: an explicit ``?lang=`` (remembered in a cookie), else the browser's.

Pages are offered in the languages that have a gettext catalog
(:func:`consentkit.i18n.available_locales`). Language names are shown in their
own language and the text direction comes from Babel, so a right-to-left
catalog lays out correctly without template changes.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Response, g, has_request_context, request

from consentkit import i18n
from consentkit.policy.locales import language_option, negotiate_locale

#: Remembers an explicit choice for a year; not needed for anything else.
COOKIE_NAME = "consentkit_lang"
COOKIE_MAX_AGE_S = 365 * 24 * 3600


def _match(wanted: str | None, available: list[str]) -> str | None:
    """Return the available locale for ``wanted`` (``fr-BE`` -> ``fr``), or None."""
    if not wanted or len(wanted) > 12:
        return None
    by_key = {tag.lower(): tag for tag in available}
    key = wanted.strip().replace("_", "-").lower()
    return by_key.get(key) or by_key.get(key.split("-")[0])


def requested_locale() -> str | None:
    """Return the catalog locale named by ``?lang=``, if it names one."""
    return _match(request.args.get("lang"), i18n.available_locales())


def chosen_locale() -> str | None:
    """Return the language picked on this device: ``?lang=``, else the remembered choice."""
    if not has_request_context():
        return None
    return requested_locale() or _match(request.cookies.get(COOKIE_NAME), i18n.available_locales())


def page_locale() -> str:
    """Return the locale of this page: ``?lang=``, the remembered choice, Accept-Language, en."""
    if not has_request_context():
        return i18n.SOURCE_LOCALE
    if "page_locale" not in g:
        available = i18n.available_locales()
        g.page_locale = (
            chosen_locale()
            or negotiate_locale(
                available,
                accept_language=request.headers.get("Accept-Language"),
                site_default=i18n.SOURCE_LOCALE,
            )
            or i18n.SOURCE_LOCALE
        )
    locale: str = g.page_locale
    return locale


def remember_choice(response: Response) -> None:
    """Keep an explicit ``?lang=`` in a cookie, so the next pages follow it."""
    chosen = requested_locale()
    if chosen and request.cookies.get(COOKIE_NAME) != chosen:
        response.set_cookie(
            COOKIE_NAME,
            chosen,
            max_age=COOKIE_MAX_AGE_S,
            secure=request.is_secure,
            httponly=True,
            samesite="Lax",
        )


def gettext(message: str) -> str:
    """Translate ``message`` into the page's language (Jinja's ``_``)."""
    return i18n.translations(page_locale()).gettext(message)


def ngettext(singular: str, plural: str, count: int) -> str:
    """Translate a message with a plural into the page's language."""
    return i18n.translations(page_locale()).ngettext(singular, plural, count)


def _switch_url(tag: str) -> str:
    args = [(key, value) for key, value in request.args.items(multi=True) if key != "lang"]
    return f"{request.path}?{urlencode([*args, ('lang', tag)])}"


def template_context() -> dict[str, Any]:
    """Return ``lang``, ``dir`` and the language switcher for the page templates."""
    locale = page_locale()
    option = language_option(locale)
    return {
        "lang": locale,
        "dir": option.direction,
        "current_language": option.name,
        "languages": [
            {
                "tag": tag,
                "name": language_option(tag).name,
                "url": _switch_url(tag),
                "is_current": tag == locale,
            }
            for tag in i18n.available_locales()
        ],
    }
