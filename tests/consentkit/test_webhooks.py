"""Webhook subscriptions end to end: a real local receiver verifies every signature.

The receiver (tests/consentkit/webhook_helpers.py) checks each delivery with
``standardwebhooks.Webhook(secret).verify``; the worker sends from the durable
outbox with its clock moved forward past the retries' backoff.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from consentkit.errors import InvalidDataError
from consentkit.models.outbox import OutboxMessage
from consentkit.services import audit, participation, wallet, webhooks
from consentkit.services.competence import record_competence_reached
from consentkit.services.evidence import AuthEvidence
from consentkit.services.importing import import_study
from consentkit.worker import Worker
from tests.consentkit.records_helpers import STAFF, T0, consented_family, make_family
from tests.consentkit.webhook_helpers import Receiver, running_receiver

LATER = T0 + timedelta(days=3)
ALL_EVENTS = ["consent.completed", "consent.withdrawn", "assent.dissent"]


@pytest.fixture
def local_targets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests deliver to 127.0.0.1 over http, which production refuses."""
    monkeypatch.setenv("CONSENTKIT_WEBHOOK_ALLOW_HTTP", "1")
    monkeypatch.setenv("CONSENTKIT_WEBHOOK_ALLOW_PRIVATE", "1")


@pytest.fixture
def receiver(local_targets: None, free_port: int) -> Iterator[Receiver]:
    with running_receiver(free_port) as found:
        yield found


def _subscribe(receiver: Receiver, event_types: list[str] | None = None, **kwargs: Any) -> Any:
    subscription, secret = webhooks.create_subscription(
        "DEMO-NBL-1",
        url=receiver.url,
        event_types=event_types or ALL_EVENTS,
        created_by="staff:admin",
        now=T0,
        **kwargs,
    )
    receiver.secret = secret
    return subscription


def _drain(at: datetime) -> Worker:
    worker = Worker({}, clock=lambda: at)
    while worker.run_once():
        pass
    return worker


def _drain_until_quiet(start: datetime, *, rounds: int = 40) -> None:
    """Run the worker, moving its clock an hour on each round (past any backoff)."""
    for step in range(rounds):
        _drain(start + timedelta(hours=step))


def test_withdrawal_reaches_the_receiver_signed_with_the_new_permissions(
    demo_study: Any, receiver: Receiver
) -> None:
    family, _record = consented_family()
    _subscribe(receiver, ["consent.withdrawn"])

    participation.withdraw(family.participant, scopes=["samples-destroy"], actor=STAFF, now=LATER)
    _drain(LATER)

    [event] = receiver.events
    assert event["type"] == "consent.withdrawn"
    data = event["data"]
    assert data["participant"] == "P-001"
    assert data["trial_id"] == "DEMO-NBL-1"
    assert data["scopes"] == ["samples-destroy"]
    decisions = {a["activity"]: a["decision"] for a in data["permissions"]}
    assert decisions["sample-storage"] == "deny"
    assert decisions["study-procedures"] == "permit"


def test_choice_changed_in_the_wallet_reaches_the_receiver_with_the_new_permissions(
    demo_study: Any, receiver: Receiver
) -> None:
    family, record = consented_family()
    _subscribe(receiver, ["consent.choices-changed"])

    wallet.change_choice(
        str(family.guardians[0].id),
        record.record_id,
        item_id="sample-storage",
        value=False,
        auth=AuthEvidence(factors=("session", "otp"), verified_at=LATER),
        now=LATER,
    )
    _drain(LATER)

    [event] = receiver.events
    assert event["type"] == "consent.choices-changed"
    assert event["data"]["record_id"] == record.record_id
    assert event["data"]["changes"] == {"sample-storage": False}
    decisions = {a["activity"]: a["decision"] for a in event["data"]["permissions"]}
    assert decisions["sample-storage"] == "deny"
    assert decisions["treatment"] == "permit"


def test_payload_names_no_family_member(demo_study: Any, receiver: Receiver) -> None:
    family, _record = consented_family()
    _subscribe(receiver, ["consent.withdrawn"])
    participation.withdraw(family.participant, scopes=["no-new-data"], actor=STAFF, now=LATER)

    _drain(LATER)

    assert receiver.events
    text = str(receiver.events)
    for name in ("Ελένη", "Иван", "Dr Demo", "Child"):
        assert name not in text


def test_completed_consent_is_one_event_with_its_record_and_version(
    demo_study: Any, receiver: Receiver
) -> None:
    _subscribe(receiver, ["consent.completed"])
    _family, record = consented_family()

    _drain(LATER)

    [event] = receiver.events
    assert event["type"] == "consent.completed"
    assert event["data"]["record_id"] == record.record_id
    assert event["data"]["form_id"] == "parental-consent"
    assert event["data"]["version"] == record.version


def test_subscription_hears_only_its_event_types_and_sites(
    demo_study: Any, receiver: Receiver
) -> None:
    _subscribe(receiver, ["consent.withdrawn"], sites=["BE-01"])
    family = make_family(site="FR-01")

    participation.withdraw(family.participant, scopes=["no-new-data"], actor=STAFF, now=LATER)

    assert OutboxMessage.objects(channel=webhooks.CHANNEL).count() == 0


def test_receiver_failing_five_times_gets_every_event_once_in_order(
    demo_study: Any, receiver: Receiver
) -> None:
    _subscribe(receiver)
    receiver.failures_left = 5
    families = [make_family(code) for code in ("P-001", "P-002")]
    for offset, family in enumerate(families):
        at = LATER + timedelta(minutes=offset)
        participation.record_dissent(family.participant, actor=STAFF, now=at)
        participation.withdraw(family.participant, scopes=["no-new-data"], actor=STAFF, now=at)
        participation.withdraw(family.participant, scopes=["samples-destroy"], actor=STAFF, now=at)

    _drain_until_quiet(LATER)

    assert receiver.requests > len(receiver.events)  # the five failures were real
    assert len(receiver.webhook_ids) == len(set(receiver.webhook_ids)) == 6
    for code in ("P-001", "P-002"):
        seen = [e["data"]["event_seq"] for e in receiver.events if e["data"]["participant"] == code]
        assert seen == sorted(seen)
        kinds = [e["type"] for e in receiver.events if e["data"]["participant"] == code]
        assert kinds == ["assent.dissent", "consent.withdrawn", "consent.withdrawn"]


def test_event_found_again_by_a_retry_is_queued_once(demo_study: Any, receiver: Receiver) -> None:
    family = make_family()
    _subscribe(receiver, ["consent.withdrawn"])
    event = participation.withdraw(
        family.participant, scopes=["no-new-data"], actor=STAFF, now=LATER
    )

    # A retried request whose build finds its event written (audit.append_to_chain's retry path).
    audit.append_to_chain(family.participant, lambda _events: event, now=LATER)
    _drain(LATER)

    assert OutboxMessage.objects(channel=webhooks.CHANNEL).count() == 1
    assert len(receiver.events) == 1


def test_subscription_switched_off_after_failures_in_a_row_with_a_notice(
    demo_study: Any, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONSENTKIT_WEBHOOK_DISABLE_AFTER", "3")
    subscription = _subscribe(receiver, ["consent.withdrawn"])
    receiver.failures_left = 100
    family = make_family()
    participation.withdraw(family.participant, scopes=["no-new-data"], actor=STAFF, now=LATER)

    _drain_until_quiet(LATER, rounds=6)

    subscription.reload()
    assert subscription.is_active is False
    assert subscription.disabled_reason == "failures"
    assert subscription.history[-1]["type"] == "disabled"
    assert receiver.requests == 3
    [delivery] = webhooks.deliveries(subscription)
    assert delivery.status == "skipped"
    assert delivery.last_error == "gateway answered HTTP 503"


def test_manual_redelivery_sends_the_same_event_again(demo_study: Any, receiver: Receiver) -> None:
    subscription = _subscribe(receiver, ["consent.withdrawn"])
    family = make_family()
    participation.withdraw(family.participant, scopes=["no-new-data"], actor=STAFF, now=LATER)
    _drain(LATER)
    [delivery] = webhooks.deliveries(subscription)

    webhooks.redeliver(subscription, delivery.delivery_id, by="staff:admin", now=LATER)
    _drain(LATER)

    assert len(receiver.events) == 2
    assert receiver.webhook_ids[0] == receiver.webhook_ids[1]
    assert receiver.events[0] == receiver.events[1]


# ---------------------------------------------------------------- SSRF


def test_http_target_refused_unless_allowed(demo_study: Any) -> None:
    with pytest.raises(InvalidDataError) as refused:
        webhooks.create_subscription(
            "DEMO-NBL-1",
            url="http://hooks.example.org/x",
            event_types=ALL_EVENTS,
            created_by="staff:admin",
        )
    assert refused.value.code == "webhook-url-not-https"


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hooks",
        "https://10.1.2.3/hooks",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hooks",
        "https://[::ffff:192.168.0.1]/hooks",
        "https://localhost/hooks",
    ],
)
def test_private_address_refused_unless_allowed(demo_study: Any, url: str) -> None:
    with pytest.raises(InvalidDataError) as refused:
        webhooks.create_subscription(
            "DEMO-NBL-1", url=url, event_types=ALL_EVENTS, created_by="staff:admin"
        )
    assert refused.value.code == "webhook-url-private-address"


def test_redirect_is_not_followed(demo_study: Any, local_targets: None, free_port: int) -> None:
    with (
        running_receiver(free_port, "/elsewhere") as target,
        running_receiver(_other_port(free_port)) as receiver,
    ):
        receiver.redirect_to = target.url
        subscription = _subscribe(receiver, ["consent.withdrawn"])
        family = make_family()
        participation.withdraw(family.participant, scopes=["no-new-data"], actor=STAFF, now=LATER)

        _drain(LATER)

    assert receiver.requests == 1
    assert target.requests == 0
    [delivery] = webhooks.deliveries(subscription)
    assert delivery.status == "failed"
    assert delivery.last_error == "gateway answered HTTP 302"


def _other_port(taken: int) -> int:
    from tests.conftest import free_port

    while (port := free_port()) == taken:
        pass
    return port


def test_reconsent_required_after_a_major_version(
    clean_db: Any, study_folder: Path, receiver: Receiver
) -> None:
    _set_version(study_folder, 1, status="approved")
    import_study(study_folder)
    consented_family("P-RE")
    _subscribe(receiver, ["consent.reconsent-required"])
    _set_version(study_folder, 1, status="published")
    import_study(study_folder)  # publishes v2 (major): the re-consent task

    _drain(datetime.now(UTC))

    [event] = receiver.events
    assert event["type"] == "consent.reconsent-required"
    assert event["data"]["participant"] == "P-RE"
    assert event["data"]["form_kind"] == "parental-consent"


def test_suspension_at_competence_names_the_suspended_records(
    demo_study: Any, receiver: Receiver
) -> None:
    # PL: 18 is the age of legal competence and the row asks for re-consent then.
    _family, record = consented_family("PL-18", site="PL-01", birth_date=date(2008, 6, 10))
    _subscribe(receiver, ["consent.suspended"])
    after_18 = datetime(2026, 6, 12, 9, 0, tzinfo=UTC)

    record_competence_reached(on=after_18.date(), now=after_18)
    _drain(after_18)

    [event] = receiver.events
    assert event["type"] == "consent.suspended"
    assert event["data"]["suspended_record_ids"] == [record.record_id]
    decisions = {a["activity"]: a["decision"] for a in event["data"]["permissions"]}
    assert decisions["study-procedures"] == "deny"


def _set_version(folder: Path, index: int, **changes: Any) -> None:
    path = folder / "forms" / "parental-consent" / "form.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["versions"][index].update(changes)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def test_worker_without_the_signing_library_keeps_the_event_and_says_what_to_install(
    demo_study: Any, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A core install (no ``interop`` extra) must not lose a withdrawal the receiver relies on."""
    family = make_family()
    _subscribe(receiver, ["consent.withdrawn"])
    participation.withdraw(family.participant, scopes=["no-new-data"], actor=STAFF, now=LATER)

    with monkeypatch.context() as without:
        without.setitem(sys.modules, "standardwebhooks", None)  # import now raises ImportError
        _drain(LATER)
    waiting = OutboxMessage.objects.get(channel=webhooks.CHANNEL)
    assert receiver.events == []
    assert "pip install 'consentkit[interop]'" in (waiting.last_error or "")

    _drain_until_quiet(LATER + timedelta(hours=1))
    assert [e["type"] for e in receiver.events] == ["consent.withdrawn"]
