"""Study news and results: who is told, which languages it needs, which one a reader gets.

Pure rules, no database (docs/notifications.md#study-news-and-results):

* a family member is sent a publication when the family has a consent in force, the
  participation profile lets the study contact them (no dissent, no withdrawal of contact)
  and, when the study names a consent item for it (``settings.news_item``), every consent
  in force that asks that item was answered yes (:func:`receives_news`);
* the lay summary of results (CTR Art 37(4)) is written in every language of the study,
  so no family reads it in a language it did not choose; news may be in fewer languages
  (:func:`missing_languages`);
* a reader gets their language, else the site's, else the study's first language the
  publication has (:func:`text_for`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from consentkit.enums import RecordState
from consentkit.policy.locales import match_locale, negotiate_locale
from consentkit.policy.records import ParticipationProfile

NEWS = "news"
RESULTS = "results"
KINDS = (NEWS, RESULTS)
#: Longest title and body a publication may have (characters).
MAX_TITLE = 200
MAX_BODY = 20_000


def receives_news(profile: ParticipationProfile, news_item: str | None) -> bool:
    """Return whether the family may be sent study news and results.

    Only a family with a consent in force, whom the study may contact (no dissent,
    no withdrawal of contact). ``news_item`` is the study's consent item that means
    "send me news and the results" (``settings.news_item``): then every consent in
    force that asks it must have been answered yes, and a family no consent asked
    receives nothing (only a yes is a choice to receive them). None: every such family.
    """
    if not profile.permissions.contact:
        return False
    in_force = [r for r in profile.records if r.state == RecordState.CONSENTED]
    if not in_force:
        return False
    if news_item is None:
        return True
    answers = [r.item_grants[news_item] for r in in_force if news_item in r.item_grants]
    return bool(answers) and all(answers)


def missing_languages(
    kind: str, texts: Mapping[str, object], study_languages: Sequence[str]
) -> list[str]:
    """Return the study languages a publication of ``kind`` still needs (empty: it may go out).

    Results need every study language (each family reads the lay summary in its own
    language, CTR Art 37(4) and Annex V); news needs one of them.
    """
    present = [tag for tag in study_languages if match_locale(list(texts), tag)]
    if kind == RESULTS:
        return [tag for tag in study_languages if tag not in present]
    return [] if present else list(study_languages[:1])


def text_for(
    texts: Mapping[str, Mapping[str, str]],
    *,
    locale: str | None,
    site_default: str | None = None,
    study_languages: Sequence[str] = (),
) -> tuple[str, Mapping[str, str]]:
    """Return the language and ``{title, body}`` a reader of ``locale`` gets.

    Their language (``de-AT`` reads ``de``), else the site's default language,
    else the first of the study's languages the publication has, else the first.
    """
    available = sorted(texts)
    fallback = next(
        (found for tag in study_languages if (found := match_locale(available, tag))), None
    )
    chosen = (
        negotiate_locale(available, requested=locale, site_default=site_default or fallback)
        or available[0]
    )
    return chosen, texts[chosen]
