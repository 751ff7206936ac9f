"""Study news and the lay summary of results: publish, tell the families, count who read them.

A sponsor admin publishes (:func:`publish_news`): the publication is checked first
(kind, texts, the languages :func:`consentkit.policy.news.missing_languages` asks),
stored once and never changed, and logged as a staff action; a worker job then
(:func:`tell_families`) queues a ``study-news`` message to every family member the
rule lets receive it (:func:`consentkit.policy.news.receives_news`, read off the
participation profile), once per publication and member. The message says only
that there is news; the text stays behind the family's sign-in. Whether and when it
reaches them (no-contact, unsubscribe, quiet hours) is the worker's rules of contact
at send time.

A family member reads the study's publications in their language (:func:`news_for`)
and opening one records a read receipt once (:func:`mark_read`); staff see the
counts (:func:`publications`). docs/notifications.md#study-news-and-results.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId
from mongoengine import NotUniqueError

from consentkit.clock import now_utc
from consentkit.errors import ConflictError, InvalidDataError, NotFoundError
from consentkit.models.access import SignerSession
from consentkit.models.participant import Participant, Signer
from consentkit.models.publication import Publication, PublicationReceipt
from consentkit.models.staff import SecurityEvent
from consentkit.models.study import Study
from consentkit.policy import news as rules
from consentkit.services import audit, jobs, outbox, records, triggers
from consentkit.services.forms import get_study

#: Participants whose chains are read at once when finding who receives a publication.
BATCH = 200
#: The message kind (templates/messages/study-news.html).
KIND = "study-news"
#: The same publication again within this time is a repeated request, not a new one.
REPEAT_WINDOW = timedelta(minutes=10)


@dataclass(frozen=True)
class PublicationView:
    """A publication as staff see it: every language, and how many were told and read it."""

    id: str
    kind: str
    texts: dict[str, dict[str, str]]
    published_at: datetime
    published_by: str
    queued: int
    read: int


@dataclass(frozen=True)
class NewsItem:
    """A publication as one family member reads it, in their language."""

    id: str
    kind: str
    locale: str
    title: str
    body: str
    published_at: datetime
    is_read: bool


def study_languages(study: Study) -> list[str]:
    """Return the study's languages: every site's, in the order the sites list them."""
    found: list[str] = []
    for site in study.sites:
        for tag in site.languages:
            if tag not in found:
                found.append(tag)
    return found


def _clean_texts(texts: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, str]]:
    cleaned: dict[str, dict[str, str]] = {}
    errors: dict[str, list[str]] = {}
    for tag, text in texts.items():
        title = str(text.get("title") or "").strip()
        body = str(text.get("body") or "").strip()
        if not title and not body:
            continue  # an empty language on a form: not written in it
        if not title or not body or len(title) > rules.MAX_TITLE or len(body) > rules.MAX_BODY:
            errors[tag] = [f"A title (at most {rules.MAX_TITLE}) and a text are needed."]
            continue
        cleaned[tag] = {"title": title, "body": body}
    if errors:
        raise InvalidDataError(
            "Each language needs a title and a text.",
            code="publication-text-invalid",
            details={"errors": {"texts": errors}},
        )
    return cleaned


def _recipients(trial_id: str, news_item: str | None, at: datetime) -> Iterator[Participant]:
    """Yield the study's participants whose family receives news (chains read in batches)."""
    batch: list[Participant] = []

    def decide(chunk: list[Participant]) -> Iterator[Participant]:
        chains = audit.chains_dicts([str(p.id) for p in chunk])
        for participant in chunk:
            profile = records.participation(participant, at=at, events=chains[str(participant.id)])
            if rules.receives_news(profile, news_item):
                yield participant

    for participant in Participant.objects(trial_id=trial_id).order_by("id"):
        batch.append(participant)
        if len(batch) >= BATCH:
            yield from decide(batch)
            batch = []
    if batch:
        yield from decide(batch)


def publish_news(
    trial_id: str,
    *,
    kind: str,
    texts: Mapping[str, Mapping[str, Any]],
    by: str,
    now: datetime | None = None,
) -> PublicationView:
    """Publish news or the lay summary of results; a worker job then tells the families.

    Who may publish (a sponsor admin) is the caller's check. Every check runs
    before anything is written.

    Raises:
        NotFoundError: no such study.
        InvalidDataError: ``unknown-publication-kind``, ``publication-text-invalid``,
            ``unknown-locale`` (a language the study does not offer),
            ``publication-languages-missing`` (results not in every study language,
            news in none).
        ConflictError: ``publication-repeated``, the same kind and texts published in the
            last ten minutes (a double click or a retried request sends nothing twice).
    """
    now = now or now_utc()
    study = get_study(trial_id)
    if kind not in rules.KINDS:
        raise InvalidDataError(
            "Unknown publication kind %(kind)s.",
            code="unknown-publication-kind",
            params={"kind": kind},
        )
    cleaned = _clean_texts(texts)
    languages = study_languages(study)
    unknown = sorted(tag for tag in cleaned if tag not in languages)
    if unknown:
        raise InvalidDataError(
            "The study is not offered in %(locale)s.",
            code="unknown-locale",
            params={"locale": ", ".join(unknown)},
        )
    missing = rules.missing_languages(kind, cleaned, languages)
    if missing:
        raise InvalidDataError(
            "Write it in these languages too: %(languages)s.",
            code="publication-languages-missing",
            params={"languages": ", ".join(missing)},
        )
    digest = hashlib.sha256(
        json.dumps({"kind": kind, "texts": cleaned}, sort_keys=True).encode("utf-8")
    ).hexdigest()
    if Publication.objects(
        trial_id=trial_id, sha256=digest, published_at__gte=now - REPEAT_WINDOW
    ).first():
        raise ConflictError(
            "This was published a moment ago; it is not sent twice.",
            code="publication-repeated",
        )
    publication = Publication(
        trial_id=trial_id,
        kind=kind,
        texts=cleaned,
        sha256=digest,
        published_at=now,
        published_by=by,
    )
    publication.save(force_insert=True)
    SecurityEvent(
        type="publication.published",
        staff_id=by,
        detail={"trial_id": trial_id, "publication_id": str(publication.id), "kind": kind},
        at=now,
    ).save(force_insert=True)
    jobs.tell_families_later(trial_id, str(publication.id), now=now)
    return _view(publication, 0)


def tell_families(publication_id: str, *, now: datetime | None = None) -> int:
    """Queue a ``study-news`` message to each family member told of a publication; return how many.

    The worker's job (:data:`consentkit.services.jobs.TELL_FAMILIES`), queued by
    :func:`publish_news`. Run again (a retried job), it queues nothing twice: each
    message's dedupe key names the publication and the family member.

    Raises:
        NotFoundError: ``publication-not-found``.
    """
    publication = Publication.objects(id=publication_id).first()
    if publication is None:
        raise NotFoundError("No such publication.", code="publication-not-found")
    now = now or now_utc()
    trial_id = publication.trial_id
    news_item = (get_study(trial_id).settings or {}).get("news_item")
    queued = 0
    for participant in _recipients(trial_id, news_item, now):
        for signer in outbox.family_recipients(participant):
            outbox.enqueue(
                KIND,
                {"signer_id": str(signer.id)},
                dedupe_key=f"{KIND}:{publication.id}:{signer.id}",
                trial_id=trial_id,
                participant_id=str(participant.id),
                locale=signer.preferred_language or participant.preferred_language,
                params={
                    "study": trial_id,
                    "kind": publication.kind,
                    "link": f"{triggers.family_link()}news",
                },
                now=now,
            )
            queued += 1
    Publication.objects(id=publication.id).update_one(set__queued=queued)
    return queued


def _view(publication: Publication, read: int) -> PublicationView:
    return PublicationView(
        id=str(publication.id),
        kind=publication.kind,
        texts={tag: dict(text) for tag, text in publication.texts.items()},
        published_at=publication.published_at,
        published_by=publication.published_by,
        queued=publication.queued,
        read=read,
    )


def read_counts(trial_id: str, publication_ids: Sequence[str]) -> dict[str, int]:
    """Return how many family members opened each publication."""
    found = PublicationReceipt._get_collection().aggregate(
        [
            {"$match": {"trial_id": trial_id, "publication_id": {"$in": list(publication_ids)}}},
            {"$group": {"_id": "$publication_id", "n": {"$sum": 1}}},
        ]
    )
    return {row["_id"]: int(row["n"]) for row in found}


def publications(trial_id: str) -> list[PublicationView]:
    """Return the study's publications, newest first, with how many were told and read each."""
    found = list(Publication.objects(trial_id=trial_id).order_by("-published_at", "-id"))
    counts = read_counts(trial_id, [str(p.id) for p in found])
    return [_view(p, counts.get(str(p.id), 0)) for p in found]


def latest(trial_id: str) -> PublicationView | None:
    """Return the study's newest publication with its counts (the dashboard's line), or None."""
    found = Publication.objects(trial_id=trial_id).order_by("-published_at", "-id").first()
    if found is None:
        return None
    return _view(found, read_counts(trial_id, [str(found.id)]).get(str(found.id), 0))


def title_in(view: PublicationView, locale: str | None) -> str:
    """Return a publication's title in ``locale`` (or the nearest language it has)."""
    return str(rules.text_for(view.texts, locale=locale)[1]["title"])


def _publication(trial_id: str, publication_id: str) -> Publication:
    try:
        oid = ObjectId(publication_id)
    except (InvalidId, TypeError):
        oid = None
    found: Publication | None = (
        None if oid is None else Publication.objects(id=oid, trial_id=trial_id).first()
    )
    if found is None:
        raise NotFoundError(
            "No such publication.",
            code="publication-not-found",
        )
    return found


def news_for(
    participant: Participant, signer: Signer, *, locale: str | None = None
) -> list[NewsItem]:
    """Return the study's publications for one family member, newest first, in their language.

    Every publication of the study is listed: the choice not to receive news
    concerns the messages, and the lay summary of results is public anyway.
    """
    study = get_study(participant.trial_id)
    site = study.site(participant.site_code)
    site_default = site.languages[0] if site is not None and site.languages else None
    wanted = locale or signer.preferred_language or participant.preferred_language
    found = list(
        Publication.objects(trial_id=participant.trial_id).order_by("-published_at", "-id")
    )
    read = {
        r.publication_id
        for r in PublicationReceipt.objects(
            trial_id=participant.trial_id,
            publication_id__in=[str(p.id) for p in found],
            signer_id=str(signer.id),
        ).only("publication_id")
    }
    items = []
    for publication in found:
        tag, text = rules.text_for(
            publication.texts,
            locale=wanted,
            site_default=site_default,
            study_languages=study_languages(study),
        )
        items.append(
            NewsItem(
                id=str(publication.id),
                kind=publication.kind,
                locale=tag,
                title=text["title"],
                body=text["body"],
                published_at=publication.published_at,
                is_read=str(publication.id) in read,
            )
        )
    return items


def mark_read(
    participant: Participant, signer: Signer, publication_id: str, *, now: datetime | None = None
) -> bool:
    """Record that a family member opened a publication; return False when it was recorded before.

    Raises:
        NotFoundError: ``publication-not-found`` (another study's, or none).
    """
    publication = _publication(participant.trial_id, publication_id)
    try:
        PublicationReceipt(
            publication_id=str(publication.id),
            trial_id=participant.trial_id,
            signer_id=str(signer.id),
            read_at=now or now_utc(),
        ).save(force_insert=True)
    except NotUniqueError:
        return False
    return True


def _signer_of(session: SignerSession) -> tuple[Participant, Signer]:
    return (
        Participant.objects(id=session.participant_id).get(),
        Signer.objects(id=session.signer_id).get(),
    )


def my_news(session: SignerSession, *, locale: str | None = None) -> list[NewsItem]:
    """Return the study's publications for the signed-in family member (see :func:`news_for`)."""
    participant, signer = _signer_of(session)
    return news_for(participant, signer, locale=locale)


def mark_my_read(session: SignerSession, publication_id: str) -> bool:
    """Record that the signed-in family member opened a publication (see :func:`mark_read`)."""
    participant, signer = _signer_of(session)
    return mark_read(participant, signer, publication_id)
