"""Choosing the language a family reads a form in, and how languages are named in a picker."""

from __future__ import annotations

import pytest

from consentkit.policy.locales import (
    family_page_language,
    language_option,
    negotiate_locale,
    parse_accept_language,
    site_languages,
)

FORM_LANGUAGES = ["de", "en", "fr", "nl"]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("fr;q=0.5, de, en;q=0.8", ["de", "en", "fr"]),
        ("nl;q=0.2, fr;q=0.9", ["fr", "nl"]),
        ("en, de", ["en", "de"]),  # equal weights keep the header's order
        ("de; q=0.3, en ;q=0.7", ["en", "de"]),  # optional whitespace around ';'
    ],
)
def test_parse_accept_language_orders_by_q_value(header: str, expected: list[str]) -> None:
    assert parse_accept_language(header) == expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("de;q=0.4, nl;q=0.9", "nl"),
        ("en;q=0.1, fr;q=0.2, de;q=0.3", "de"),
        ("fr, de;q=0.9", "fr"),
    ],
)
def test_negotiate_locale_picks_the_highest_q_value_available(header: str, expected: str) -> None:
    assert negotiate_locale(FORM_LANGUAGES, accept_language=header) == expected


def test_negotiate_locale_skips_unavailable_preferences() -> None:
    chosen = negotiate_locale(FORM_LANGUAGES, accept_language="ja, pt;q=0.9, nl;q=0.1")

    assert chosen == "nl"


@pytest.mark.parametrize("header", ["de-AT", "de-AT,en;q=0.5", "de-CH;q=0.9, en;q=0.8"])
def test_negotiate_locale_regional_request_falls_back_to_the_language(header: str) -> None:
    assert negotiate_locale(FORM_LANGUAGES, accept_language=header) == "de"


def test_negotiate_locale_prefers_an_exact_regional_match() -> None:
    chosen = negotiate_locale(["fr", "fr-BE", "en"], accept_language="fr-BE")

    assert chosen == "fr-BE"


@pytest.mark.parametrize("requested", ["nl", "NL", "nl-BE"])
def test_negotiate_locale_explicit_choice_beats_the_header(requested: str) -> None:
    chosen = negotiate_locale(
        FORM_LANGUAGES, requested=requested, accept_language="de, en;q=0.9", site_default="fr"
    )

    assert chosen == "nl"


def test_negotiate_locale_unavailable_explicit_choice_falls_back_to_the_header() -> None:
    chosen = negotiate_locale(
        FORM_LANGUAGES, requested="lt", accept_language="en", site_default="fr"
    )

    assert chosen == "en"


@pytest.mark.parametrize("header", [None, "", "ja", "ja, zh;q=0.5"])
def test_negotiate_locale_unknown_language_falls_back_to_the_site_default(
    header: str | None,
) -> None:
    assert negotiate_locale(FORM_LANGUAGES, accept_language=header, site_default="nl") == "nl"


@pytest.mark.parametrize("site_default", [None, "lt"])
def test_negotiate_locale_falls_back_to_the_first_available(site_default: str | None) -> None:
    chosen = negotiate_locale(["nl", "fr", "de"], accept_language="ja", site_default=site_default)

    assert chosen == "de"


@pytest.mark.parametrize(
    ("header", "site_default"),
    [("fr", None), ("ja", "fr"), ("fr-FR", None)],
)
def test_negotiate_locale_uses_a_regional_text_when_only_that_exists(
    header: str, site_default: str | None
) -> None:
    chosen = negotiate_locale(["en", "fr-BE"], accept_language=header, site_default=site_default)

    assert chosen == "fr-BE"


def test_negotiate_locale_matches_on_disk_style_tags() -> None:
    assert negotiate_locale(["en", "fr_BE"], accept_language="fr-be") == "fr_BE"


@pytest.mark.parametrize(
    ("header", "expected"),
    [("*", "fr"), ("*, nl;q=0.5", "nl"), ("nl;q=0.5, *;q=1", "nl")],
)
def test_negotiate_locale_ignores_the_wildcard(header: str, expected: str) -> None:
    assert negotiate_locale(FORM_LANGUAGES, accept_language=header, site_default="fr") == expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [("de;q=0", "fr"), ("de;q=0.0, nl;q=0.1", "nl"), ("de;q=0.000", "fr")],
)
def test_negotiate_locale_ignores_languages_refused_with_q_zero(header: str, expected: str) -> None:
    assert negotiate_locale(FORM_LANGUAGES, accept_language=header, site_default="fr") == expected


def test_parse_accept_language_drops_q_zero_and_wildcard() -> None:
    assert parse_accept_language("*, de;q=0, en;q=0.5") == ["en"]


@pytest.mark.parametrize(
    "header",
    [
        ";;;,,,",
        "en;q=abc",
        "q=1",
        "en;q=",
        "\x00\xff\u202e",
        "," * 5000,
        "x" * 10_000,
        "en;q=0.5;q=0.4;;",
        "ü-ß;q=1e999",
    ],
)
def test_negotiate_locale_survives_a_garbage_header(header: str) -> None:
    chosen = negotiate_locale(FORM_LANGUAGES, accept_language=header, site_default="fr")

    assert chosen == "fr"


def test_negotiate_locale_malformed_weight_does_not_hide_good_preferences() -> None:
    chosen = negotiate_locale(FORM_LANGUAGES, accept_language="de;q=oops, nl;q=0.5")

    assert chosen == "nl"


def test_negotiate_locale_nothing_available_is_none() -> None:
    assert negotiate_locale([], requested="fr", accept_language="fr", site_default="fr") is None


@pytest.mark.parametrize(
    ("tag", "name", "english_name"),
    [
        ("lt", "Lietuvių", "Lithuanian"),
        ("pl", "Polski", "Polish"),
        ("de", "Deutsch", "German"),
        ("fr", "Français", "French"),
        ("nl", "Nederlands", "Dutch"),
    ],
)
def test_language_option_names_a_language_in_itself(tag: str, name: str, english_name: str) -> None:
    option = language_option(tag)

    assert (option.tag, option.name, option.english_name) == (tag, name, english_name)


@pytest.mark.parametrize(("tag", "direction"), [("ar", "rtl"), ("he", "rtl"), ("lt", "ltr")])
def test_language_option_gives_the_text_direction(tag: str, direction: str) -> None:
    assert language_option(tag).direction == direction


def test_language_option_accepts_a_bcp47_regional_tag() -> None:
    option = language_option("fr-BE")

    assert option.tag == "fr-BE"
    assert option.name.startswith("Français")
    assert "Belg" in option.name


@pytest.mark.parametrize("tag", ["xx", "zz-ZZ", "not a tag"])
def test_language_option_unknown_tag_is_shown_as_is(tag: str) -> None:
    option = language_option(tag)

    assert option.to_dict() == {
        "tag": tag,
        "name": tag,
        "english_name": tag,
        "direction": "ltr",
    }


def test_parse_accept_language_weight_is_case_insensitive() -> None:
    from consentkit.policy.locales import negotiate_locale

    assert negotiate_locale(["de", "en"], accept_language="de;Q=0.1, en;q=0.5") == "en"


CATALOGS = ["de", "en", "es", "fr", "it", "lt", "nl", "pl"]


def test_site_languages_are_the_catalogs_the_site_speaks_in_its_order() -> None:
    assert site_languages(CATALOGS, ["nl-NL", "en"]) == ["nl", "en"]


def test_site_languages_without_a_catalog_offer_every_catalog() -> None:
    assert site_languages(CATALOGS, ["ga"]) == CATALOGS


@pytest.mark.parametrize(
    ("chosen", "recorded", "phone", "expected"),
    [
        (None, "nl", "en-GB,en;q=0.9", "nl"),  # the recorded language before the phone's
        (None, None, "en-GB,en;q=0.9", "en"),  # then the phone's
        (None, None, "de-DE", "nl"),  # not offered at the site: the site's default
        (None, "pl", "en", "en"),  # a recorded language the site does not offer is skipped
        ("en", "nl", "nl", "en"),  # a language picked on the device comes first
    ],
)
def test_family_page_language_prefers_the_recorded_language_to_the_phone(
    chosen: str | None, recorded: str | None, phone: str, expected: str
) -> None:
    language = family_page_language(
        CATALOGS, chosen=chosen, recorded=recorded, accept_language=phone, site=["nl", "en"]
    )

    assert language == expected
