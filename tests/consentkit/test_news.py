"""Study news and results through the real services: who is told, in which language, who read it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from marshmallow import ValidationError

from consentkit.authoring.schemas import SettingsSchema
from consentkit.channels.email import EmailChannel
from consentkit.errors import ConflictError, InvalidDataError, NotFoundError
from consentkit.models.outbox import OutboxMessage
from consentkit.models.publication import Publication
from consentkit.models.staff import SecurityEvent
from consentkit.models.study import Study
from consentkit.services import news, outbox, participants, participation, records, wallet
from consentkit.services.evidence import Actor
from consentkit.worker import Worker
from tests.consentkit.records_helpers import STAFF, T0, Family, make_family, prepare, sign
from tests.consentkit.smtp_helpers import Inbox, is_about, running_inbox
from tests.consentkit.wallet_helpers import AUTH, LATER, consented, family_with_email

TRIAL = "DEMO-NBL-1"
LANGUAGES = ("fr", "en", "de", "it", "es", "nl", "pl", "lt")
NEWS = {"fr": {"title": "Nouvelles", "body": "Le recrutement est terminé.\n\nMerci."}}
#: A lay summary of results: it needs every study language.
RESULTS = {tag: {"title": f"Results {tag}", "body": "Summary."} for tag in LANGUAGES}


def _consented(code: str, **choices: bool) -> Family:
    family = make_family(code)
    record = records.open_record(
        family.participant, form_id="parental-consent", actor=STAFF, now=T0
    )
    for guardian in family.guardians:
        prepare(family, record, guardian, at=T0, choices=choices or None)
    for signer in (family.guardians[0], family.investigator, family.guardians[1]):
        sign(family, record, signer, at=T0 + timedelta(hours=25))
    return family


def _publish_and_tell(**kwargs: Any) -> tuple[news.PublicationView, int]:
    """Publish, then run what the worker's job runs: the families are told."""
    published = news.publish_news(TRIAL, by="admin-1", **kwargs)
    return published, news.tell_families(published.id)


def _members(family: Family) -> set[str]:
    """The family's signers a publication is for: the parents and the child, no investigator."""
    return {str(s.id) for s in (*family.guardians, family.child)}


def _told(publication_id: str) -> set[str]:
    return {
        m.recipient["signer_id"]
        for m in OutboxMessage.objects(kind="study-news")
        if m.dedupe_key.startswith(f"study-news:{publication_id}:")
    }


def test_publish_news_queues_one_message_per_family_member_not_the_investigator(
    demo_study: Any,
) -> None:
    family = _consented("P-001")

    published, queued = _publish_and_tell(kind="news", texts=NEWS)

    assert _told(published.id) == _members(family)
    assert queued == 3
    assert news.publications(TRIAL)[0].queued == 3
    message = OutboxMessage.objects(kind="study-news").first()
    assert message.is_essential is False  # no-contact and unsubscribe apply at send time
    assert message.params["link"].endswith("/family/news")
    assert "Nouvelles" not in str(message.params)  # the text stays behind the sign-in
    assert SecurityEvent.objects(type="publication.published", staff_id="admin-1").count() == 1


def test_publish_news_skips_families_without_consent_or_who_stopped_contact(
    demo_study: Any,
) -> None:
    make_family("P-001")  # enrolled, never consented
    stopped = _consented("P-002")
    participation.withdraw(
        stopped.participant,
        scopes=["no-further-contact"],
        actor=Actor(kind="staff", id="s", role="investigator", channel="phone"),
        now=T0 + timedelta(days=2),
    )
    told = _consented("P-003")

    published, _queued = _publish_and_tell(kind="news", texts=NEWS)

    assert _told(published.id) == _members(told)


def test_publish_news_with_a_news_item_tells_only_families_that_said_yes(demo_study: Any) -> None:
    Study.objects(trial_id=TRIAL).update_one(set__settings__news_item="re-contact")
    said_yes = _consented("P-001")
    _consented("P-002", **{"re-contact": False})

    published, _queued = _publish_and_tell(kind="news", texts=NEWS)

    assert _told(published.id) == _members(said_yes)


def test_the_demo_study_sends_the_results_only_to_families_that_asked_for_them(
    demo_study: Any,
) -> None:
    """The demo's parental consent asks "send me news and the results" (its news_item)."""
    asked = _consented("P-001")  # every optional item yes
    _consented("P-002", **{"study-results": False})  # yes to re-contact, no to the results

    published, queued = _publish_and_tell(kind="results", texts=RESULTS)

    assert _told(published.id) == _members(asked)
    assert queued == 3


def test_a_family_that_asks_for_the_results_in_the_wallet_is_sent_the_next_publication(
    demo_study: Any,
) -> None:
    family = family_with_email("P-W01", "ana@example.org")
    record = consented(family, {"study-results": False})
    before, _queued = _publish_and_tell(kind="news", texts=NEWS)

    for guardian in family.guardians:  # one "no" is a no: both parents change their answer
        wallet.change_choice(
            str(guardian.id),
            record.record_id,
            item_id="study-results",
            value=True,
            auth=AUTH,
            now=LATER,
        )
    after, _queued = _publish_and_tell(kind="results", texts=RESULTS)

    assert _told(before.id) == set()
    assert _told(after.id) == _members(family)


def test_publish_results_needs_every_study_language_and_writes_nothing_otherwise(
    demo_study: Any,
) -> None:
    _consented("P-001")
    texts = {tag: {"title": f"Results {tag}", "body": "Summary."} for tag in LANGUAGES[:-1]}

    with pytest.raises(InvalidDataError) as raised:
        news.publish_news(TRIAL, kind="results", texts=texts, by="admin-1")

    assert raised.value.code == "publication-languages-missing"
    assert "lt" in raised.value.translated("en")
    assert Publication.objects.count() == 0
    assert OutboxMessage.objects(kind="study-news").count() == 0


def test_publish_results_in_every_language_goes_out(demo_study: Any) -> None:
    _consented("P-001")

    published, queued = _publish_and_tell(kind="results", texts=RESULTS)

    assert published.kind == "results"
    assert queued == 3


@pytest.mark.parametrize(
    ("texts", "code"),
    [
        ({"fr": {"title": "Titre", "body": ""}}, "publication-text-invalid"),
        ({"ja": {"title": "Title", "body": "Body"}}, "unknown-locale"),
        ({}, "publication-languages-missing"),
    ],
)
def test_publish_news_refuses_bad_texts(demo_study: Any, texts: Any, code: str) -> None:
    with pytest.raises(InvalidDataError) as raised:
        news.publish_news(TRIAL, kind="news", texts=texts, by="admin-1")

    assert raised.value.code == code
    assert Publication.objects.count() == 0


def test_news_for_reads_the_signers_language_else_the_sites(demo_study: Any) -> None:
    family = _consented("P-001")
    news.publish_news(
        TRIAL,
        kind="news",
        texts={**NEWS, "en": {"title": "News", "body": "Recruitment is complete."}},
        by="admin-1",
    )
    family.guardians[0].update(set__preferred_language="en")
    family.guardians[1].update(set__preferred_language="de")  # not written in German
    family.guardians[0].reload()
    family.guardians[1].reload()

    english = news.news_for(family.participant, family.guardians[0])
    fallback = news.news_for(family.participant, family.guardians[1])

    assert (english[0].locale, english[0].title) == ("en", "News")
    assert (fallback[0].locale, fallback[0].title) == ("fr", "Nouvelles")  # FR-01's language


def test_mark_read_counts_each_family_member_once(demo_study: Any) -> None:
    family = _consented("P-001")
    published = news.publish_news(TRIAL, kind="news", texts=NEWS, by="admin-1")

    first = news.mark_read(family.participant, family.guardians[0], published.id)
    again = news.mark_read(family.participant, family.guardians[0], published.id)
    news.mark_read(family.participant, family.guardians[1], published.id)

    assert (first, again) == (True, False)
    assert [p.read for p in news.publications(TRIAL)] == [2]
    assert news.news_for(family.participant, family.guardians[0])[0].is_read is True
    assert news.news_for(family.participant, family.child)[0].is_read is False


def test_mark_read_of_an_unknown_publication_is_not_found(demo_study: Any) -> None:
    family = _consented("P-001")

    with pytest.raises(NotFoundError) as raised:
        news.mark_read(family.participant, family.guardians[0], "not-an-id")

    assert raised.value.code == "publication-not-found"


def test_study_settings_accept_only_a_consent_item_as_news_item() -> None:
    assert SettingsSchema().load({"news_item": "re-contact"})["news_item"] == "re-contact"
    assert SettingsSchema().load({})["news_item"] is None
    with pytest.raises(ValidationError):
        SettingsSchema().load({"news_item": "send-me-everything"})


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch, free_port: int) -> Iterator[Inbox]:
    monkeypatch.setenv("CONSENTKIT_QUIET_HOURS", "")  # the worker runs on the real clock here
    with running_inbox(monkeypatch, free_port) as inbox:
        yield inbox


def test_the_worker_sends_the_news_in_each_language_and_skips_the_unsubscribed(
    demo_study: Any, smtp: Inbox
) -> None:
    family = _consented("P-001")
    for name, email, language in (
        ("Anna", "anna@example.org", "de"),
        ("Élodie", "elodie@example.org", "fr"),
    ):
        participants.add_signer(
            family.participant,
            role="guardian",
            identity={"name": name, "email": email},
            preferred_language=language,
            actor=STAFF,
        )
    unsubscribed = participants.add_signer(
        family.participant,
        role="guardian",
        identity={"name": "Marc", "email": "marc@example.org"},
        actor=STAFF,
    )
    outbox.set_preferences(str(unsubscribed.id), is_unsubscribed=True)
    news.publish_news(TRIAL, kind="news", texts=NEWS, by="admin-1")

    worker = Worker({"email": EmailChannel()})
    while worker.run_once():
        pass

    received = {m["To"]: m for m in smtp.messages}
    assert set(received) == {"anna@example.org", "elodie@example.org"}
    assert received["anna@example.org"]["Content-Language"] == "de"
    assert is_about(received["elodie@example.org"], "News from %(study)s")
    assert "Nouvelles" not in received["elodie@example.org"].as_string()
    skipped = OutboxMessage.objects(recipient__signer_id=str(unsubscribed.id)).get()
    assert (skipped.status, skipped.reason) == ("skipped", "unsubscribed")


def test_the_same_publication_again_soon_is_refused_and_sends_nothing_twice(
    demo_study: Any,
) -> None:
    _consented("P-001")
    first = news.publish_news(TRIAL, kind="news", texts=NEWS, by="admin-1", now=T0)

    with pytest.raises(ConflictError) as raised:
        news.publish_news(
            TRIAL, kind="news", texts=NEWS, by="admin-1", now=T0 + timedelta(minutes=5)
        )
    later = news.publish_news(
        TRIAL, kind="news", texts=NEWS, by="admin-1", now=T0 + timedelta(days=1)
    )

    assert raised.value.code == "publication-repeated"
    assert OutboxMessage.objects(kind="news.tell-families").count() == 2
    assert (news.tell_families(first.id), news.tell_families(later.id)) == (3, 3)
    assert OutboxMessage.objects(kind="study-news").count() == 6


def test_telling_the_families_again_queues_nothing_twice(demo_study: Any) -> None:
    _consented("P-001")
    published, _queued = _publish_and_tell(kind="news", texts=NEWS)

    assert news.tell_families(published.id) == 3  # a retried job
    assert OutboxMessage.objects(kind="study-news").count() == 3
