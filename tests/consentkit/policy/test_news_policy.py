"""Which languages a publication needs and which one a reader gets (pure rules)."""

from __future__ import annotations

from consentkit.policy.news import missing_languages, text_for

STUDY = ("fr", "en", "de")
TEXT = {"title": "t", "body": "b"}


def test_results_need_every_study_language() -> None:
    assert missing_languages("results", {"fr": TEXT, "en": TEXT}, STUDY) == ["de"]
    assert missing_languages("results", dict.fromkeys(STUDY, TEXT), STUDY) == []


def test_news_needs_one_study_language() -> None:
    assert missing_languages("news", {"de": TEXT}, STUDY) == []
    assert missing_languages("news", {}, STUDY) == ["fr"]


def test_a_reader_gets_their_language_else_the_sites_else_the_studys_first() -> None:
    texts = {"fr": {"title": "fr", "body": ""}, "en": {"title": "en", "body": ""}}

    assert text_for(texts, locale="en-GB", study_languages=STUDY)[0] == "en"
    assert text_for(texts, locale="de", site_default="en", study_languages=STUDY)[0] == "en"
    assert text_for(texts, locale="de", study_languages=STUDY)[0] == "fr"
